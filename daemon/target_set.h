// daemon/: wiring and lifetime of the oomsentinel executable.
// TargetSet: the targets the daemon watches, from the config to a collector each: a reload keeps
// what did not change; selectors are looked at again every discovery.interval (their matches come
// and go); a target without a collector is resolved again every kRetryUnresolved; runtime
// endpoints are fetched on their own thread and merged into a read.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actions/metrics_sink.h"
#include "collectors/layout.h"
#include "collectors/runtime_endpoint.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "daemon/logger.h"
#include "daemon/watched.h"
#include "rules/engine.h"

namespace oomsentinel {

class TargetSet {
 public:
  // How often a target that cannot be resolved (a cgroup not created yet, a process gone) is
  // tried again.
  static constexpr Duration kRetryUnresolved = std::chrono::seconds(5);

  // `engine` gets a rule handle per target; `metrics` (never null, not owned) loses a target's
  // series when it goes.
  TargetSet(const HostPaths& paths, const Clock& clock, Logger& log, RuleEngine& engine,
            MetricsSink* metrics);
  void setMetrics(MetricsSink* metrics) { metrics_ = metrics; }

  // A new config's targets: keep the unchanged ones (collector, history, rule state), drop the
  // rest with their rule state and series. A selector that did not change keeps what it found.
  void apply(const Config& config);
  // After apply(): every selector looked at again at once, every unresolved target tried.
  void refresh(SteadyTime now);
  // The selectors due for another look (discovery.interval).
  void discover(SteadyTime now);
  // Makes `w`'s collector; a failure is logged once per distinct error and tried again later.
  void resolve(Watched& w, SteadyTime now);
  // Starts a fetch of `w`'s runtime endpoints that are due.
  void pollEndpoints(Watched& w);
  // Merges `w`'s runtime values into `into` (and runtime_age_seconds), logging error changes.
  void mergeRuntime(Watched& w, Snapshot& into);
  void pollRuntime();
  bool waitForRuntime(Duration max) const;

  std::vector<std::shared_ptr<Watched>>& all() { return targets_; }
  const std::vector<std::shared_ptr<Watched>>& all() const { return targets_; }
  const Watched* find(const std::string& name) const;
  Watched* find(const std::string& name);
  std::size_t resolved() const;
  const std::optional<CgroupLayout>& layout() const { return layout_; }

 private:
  // A selector target (process, pid_file, cgroup_glob, systemd_unit): evaluated again every
  // discovery.interval; each match becomes a Watched whose `group` is the selector's name.
  struct Group {
    TargetSpec spec;
    std::optional<SteadyTime> next_scan;
    std::string last_error;  // logged once per distinct error
    bool kept = false;       // apply(): unchanged by the reload, its members stay
    std::vector<std::string> collisions_logged;
  };
  void scanGroup(Group& g, SteadyTime now);
  bool ensureLayout(const std::string& who, std::string* last_error);
  std::shared_ptr<Watched> make(const TargetSpec& spec);
  void buildEndpoints(Watched& w);

  HostPaths paths_;
  const Clock& clock_;
  Logger& log_;
  RuleEngine& engine_;
  MetricsSink* metrics_;
  DiscoverySpec discovery_;
  std::optional<CgroupLayout> layout_;
  std::vector<Group> groups_;
  std::vector<std::shared_ptr<Watched>> targets_;  // shared with reads in flight
  std::unique_ptr<RuntimeFetcher> fetcher_;        // started with the first runtime endpoint
};

}  // namespace oomsentinel
