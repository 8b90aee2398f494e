// daemon/: wiring and lifetime of the oomsentinel executable.
// Watchdog: one tick = collect every target -> evaluate every rule -> dispatch transitions.
// It owns the targets' collectors and the rule engine; the scheduler decides when it ticks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "daemon/logger.h"
#include "daemon/poll_policy.h"
#include "rules/engine.h"

namespace oomsentinel {

class Watchdog {
 public:
  // How often a target that cannot be resolved (a cgroup not created yet, a process gone) is
  // tried again.
  static constexpr Duration kRetryUnresolved = std::chrono::seconds(5);

  Watchdog(const HostPaths& paths, const Clock& clock, Logger& log);

  // Installs a validated config: rules first (all or nothing), then targets, keeping the
  // collectors and rule state of the targets and rules that did not change. Returns false and
  // changes nothing when the rules do not compile.
  bool apply(const Config& config);

  // Collects, evaluates and dispatches once; returns the interval until the next tick.
  Duration tick();

  Duration interval() const { return policy_.interval(); }
  const Config& config() const { return config_; }
  const RuleEngine& engine() const { return engine_; }
  std::size_t ticks() const { return ticks_; }
  // A target name -> its last snapshot (nullptr if it has none yet).
  const Snapshot* lastSnapshot(const std::string& target) const;

 private:
  struct Watched {
    TargetSpec spec;
    std::unique_ptr<TargetCollector> collector;  // null while unresolved
    RuleEngine::TargetHandle handle = nullptr;
    Snapshot snapshot;
    bool has_snapshot = false;
    std::optional<SteadyTime> next_retry;
    std::string last_error;  // logged once per distinct error
  };
  void resolve(Watched& w, SteadyTime now);
  void dispatch(const Firing& f, const Watched& w);

  HostPaths paths_;
  const Clock& clock_;
  Logger& log_;
  std::optional<CgroupLayout> layout_;
  Config config_;
  RuleEngine engine_;
  PollPolicy policy_;
  std::vector<std::unique_ptr<Watched>> targets_;
  std::vector<Firing> firings_;
  std::vector<RuleNotice> notices_;
  std::vector<std::string> unavailable_actions_logged_;
  std::size_t ticks_ = 0;
};

}  // namespace oomsentinel
