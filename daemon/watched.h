// daemon/: wiring and lifetime of the oomsentinel executable.
// Watched: one target as the daemon follows it from tick to tick: its config, collector, rule
// handle, last snapshot, the read in flight (daemon/read_scheduler.h), and what each step of the
// tick remembers of it. Only the tick's thread touches it, apart from the read's fields.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actions/dump_action.h"
#include "collectors/runtime_endpoint.h"
#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/result.h"
#include "core/snapshot.h"
#include "daemon/capture_times.h"
#include "rules/engine.h"

namespace oomsentinel {

struct Watched {
  TargetSpec spec;
  // A target found by a selector: the selector target's name, and what discovery said of it
  // (Kubernetes names and ids). Empty for a target the config names itself.
  std::string group;
  std::vector<std::pair<std::string, std::string>> labels;
  std::unique_ptr<TargetCollector> collector;  // null while unresolved
  RuleEngine::TargetHandle handle = nullptr;
  Snapshot snapshot;  // the last complete one; only the tick's thread touches it
  // A read in progress on a pool thread writes `work` and `result`, then sets `done` under
  // the read scheduler's mutex; only then does the tick's thread look at them.
  Snapshot work;
  Status result = Ok{};
  bool in_flight = false, done = false, slow_logged = false;
  SteadyTime read_started{};
  bool has_snapshot = false;
  std::optional<SteadyTime> next_retry;
  std::string last_error;    // logged once per distinct error
  std::string layout_error;  // a limit_env target's: why it has no cgroup view
  // Runtime endpoints (expvar first, then metrics): fetched on the fetcher's thread, merged
  // into the snapshot by the tick's thread.
  std::vector<std::unique_ptr<RuntimeEndpoint>> endpoints;
  std::optional<std::string> jvm_problem;  // the last one logged
  // events_oom_kill at the last snapshot, and when a critical rule last fired: an OOM kill
  // with no critical firing in the 10 minutes before it was not warned.
  std::optional<double> oom_kills;
  std::optional<SteadyTime> last_critical;
  // The last dump.history snapshots, a ring, for the incident manifest: only the signals it
  // shows (inIncidentHistory), every entry's storage taken at the first full read.
  std::vector<SparseSnapshot> history;
  std::size_t history_next = 0;
  bool dumpers_declared = false;  // their series at 0 in the metrics
  DumpPlan dump_plan;             // the dump action's settings (dumpPlanFor)
  CaptureTimes capture;           // how long its dumps took: the capture_seconds signal
  // The last working_set_ratio and when it was read: its growth projects the next one.
  std::optional<std::pair<SteadyTime, double>> last_ratio;
  // Quiet ticks (docs/design/quiet-targets.md): this read is a skim; the skim read in full (a new
  // collector); the last full read; the last usage_ratio, whose growth widens the bounds.
  bool read_skim = false, read_full = false;
  SteadyTime last_full{};
  std::optional<std::pair<SteadyTime, double>> last_usage_ratio;
};

// A target's dump action settings from its `dump:` section (daemon/watchdog_actions.cc).
DumpPlan dumpPlanFor(const TargetSpec& target);

}  // namespace oomsentinel
