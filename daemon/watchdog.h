// daemon/: wiring and lifetime of the oomsentinel executable.
// Watchdog: one tick = collect every target -> evaluate every rule -> dispatch transitions.
// It owns the targets' collectors and the rule engine; the scheduler decides when it ticks.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actions/alert_action.h"
#include "actions/dispatcher.h"
#include "actions/dump_action.h"
#include "actions/log_action.h"
#include "actions/metrics_sink.h"
#include "alerts/alertmanager.h"
#include "alerts/metrics.h"
#include "collectors/layout.h"
#include "collectors/runtime_endpoint.h"
#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "daemon/logger.h"
#include "daemon/poll_policy.h"
#include "dumpers/dump_runner.h"
#include "rules/engine.h"

namespace oomsentinel {

// The notifier's settings from the config's alerts section (also what check-config checks).
AlertmanagerSpec alertmanagerSpecFor(const AlertsSpec& alerts);
// A target's dump action settings from its `dump:` section.
DumpPlan dumpPlanFor(const TargetSpec& target);

class Watchdog {
 public:
  // How often a target that cannot be resolved (a cgroup not created yet, a process gone) is
  // tried again.
  static constexpr Duration kRetryUnresolved = std::chrono::seconds(5);
  // Threads that read targets. A read that hangs (smaps_rollup waits for the mmap lock of a
  // thrashing process; a FUSE-backed /proc) holds one; the others go on.
  static constexpr std::size_t kReadThreads = 4;

  // Stand-ins for what the config would make (tests: recording fakes instead of an Alertmanager,
  // a dump runner and /metrics). A null one: made from the config, as without them.
  struct Collaborators {
    AlertSink* alerts = nullptr;     // instead of alerts.alertmanager's notifier
    DumpSink* dumps = nullptr;       // instead of the dump runner (and its incident store)
    MetricsSink* metrics = nullptr;  // instead of setMetrics()
  };
  Watchdog(const HostPaths& paths, const Clock& clock, Logger& log)
      : Watchdog(paths, clock, log, Collaborators{}) {}
  Watchdog(const HostPaths& paths, const Clock& clock, Logger& log, Collaborators with);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Installs a validated config: rules first (all or nothing), then targets, keeping the
  // collectors and rule state of the targets and rules that did not change. Returns false and
  // changes nothing when the rules do not compile.
  bool apply(const Config& config);

  // Collects every target in parallel, waits at most one interval for them (a target still
  // reading then is skipped this tick and logged as slow, once, and is not read again until
  // that read returns), evaluates and dispatches; returns the interval until the next tick.
  Duration tick();

  // Signals the kernel's notifications make (KernelWakeups::addSignals), added to a target's
  // snapshot before its rules are evaluated; on the tick's thread.
  void setKernelSignals(std::function<void(const std::string& target, Snapshot&)> f) {
    kernel_signals_ = std::move(f);
  }
  // Series for /metrics, updated every tick (optional; not owned; null: none).
  void setMetrics(DaemonMetrics* metrics);
  // Before the process exits (SIGTERM): throttled targets are let go at once; the resolves and
  // firings not yet accepted by Alertmanager are sent, waiting at most
  // alerts.alertmanager.timeout; the dumps in progress finish (by their deadline) and are logged.
  void shutdown();
  // How many configured targets are resolved, and the names of those that are not.
  std::size_t resolvedTargets() const;
  std::vector<std::string> unresolvedTargets() const;
  // Dumpers left behind past their deadline that have not returned yet (DumpRunner).
  std::size_t stuckDumpers() const { return runner_ ? runner_->stuckDumpers() : 0; }

  Duration interval() const { return policy_.interval(); }
  const Config& config() const { return config_; }
  const RuleEngine& engine() const { return engine_; }
  std::size_t ticks() const { return ticks_; }
  // A target name -> its last snapshot (nullptr if it has none yet).
  const Snapshot* lastSnapshot(const std::string& target) const;
  // Its collector (nullptr while unresolved), and why it is unresolved or unreadable.
  const TargetCollector* collector(const std::string& target) const;
  // Each resolved target with a snapshot, for the kernel wake-ups: its name, collector, last
  // snapshot, rule handle, and whether the last read was a full one (not a quiet tick's skim).
  void forEachResolved(
      const std::function<void(const std::string& name, const TargetCollector&,
                               const Snapshot& last, RuleEngine::TargetHandle rules, bool full)>& f)
      const;
  std::string lastError(const std::string& target) const;
  std::string layoutName() const;  // "unified", "legacy", "hybrid"; empty before detection

  struct RuntimeView {
    RuntimeFormat format;
    std::string url;
    RuntimeEndpointState state;
  };
  std::vector<RuntimeView> runtimeEndpoints(const std::string& target) const;
  // Starts a fetch of every resolved target's endpoints that is due, without ticking.
  void pollRuntime();
  // Waits (real time: the network) until no endpoint has a fetch in flight, at most `max`.
  bool waitForRuntime(Duration max) const;

 private:
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
    // the watchdog's mutex; only then does the tick's thread look at them.
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
    // The last dump.history snapshots, a ring, for the incident manifest.
    std::vector<Snapshot> history;
    std::size_t history_next = 0;
    bool dumpers_declared = false;  // their series at 0 in the metrics
    DumpPlan dump_plan;             // the dump action's settings (dumpPlanFor)
    // The last working_set_ratio and when it was read: its growth projects the next one.
    std::optional<std::pair<SteadyTime, double>> last_ratio;
    // Quiet ticks (docs/design/quiet-targets.md): this read is a skim; the skim read in full (a new
    // collector); the last full read; the last usage_ratio, whose growth widens the bounds.
    bool read_skim = false, read_full = false;
    SteadyTime last_full{};
    std::optional<std::pair<SteadyTime, double>> last_usage_ratio;
  };
  // Margin added to a quiet target's usage_ratio before the rules' thresholds are compared with
  // it: the full reads (and the history time_to_oom needs) start this far below a threshold.
  static constexpr double kQuietMargin = 0.05;
  // A usage_ratio that fell this much since the last tick is read in full at once: an OOM kill
  // frees what the killed process held, and the skim does not read the kill counters.
  static constexpr double kQuietDrop = 0.10;
  void post(const std::shared_ptr<Watched>& wp, std::uint64_t gen, bool skim);
  bool quiet(Watched& w);
  void finishSkim(Watched& w);
  void noteUsageRatio(Watched& w, const Snapshot& s, double* growth, double* drop);
  // A selector target (process, pid_file, cgroup_glob, systemd_unit): evaluated again every
  // discovery.interval; each match becomes a Watched whose `group` is the selector's name.
  struct Group {
    TargetSpec spec;
    std::optional<SteadyTime> next_scan;
    std::string last_error;  // logged once per distinct error
    bool kept = false;       // apply(): unchanged by the reload, its members stay
    std::vector<std::string> collisions_logged;
  };
  void discoverTargets(SteadyTime now);
  void scanGroup(Group& g, SteadyTime now);
  bool ensureLayout(const std::string& who, std::string* last_error);
  std::vector<Group> groups_;
  void collectDumpReports();
  // Logs a change in the number of reads of targets' files left stuck on file systems that do not
  // answer (core/target_fs.h): a stalled FUSE mount shows in the log, not only as missing data.
  void noteStuckTargetReads();
  std::size_t stuck_target_reads_ = 0;
  void logThrottle(const ThrottleEvent& e);
  bool throttles_recovered_ = false;
  std::function<void(const std::string&, Snapshot&)>
      kernel_signals_;  // the first apply() puts back what a crashed run left
  void buildEndpoints(Watched& w);
  void mergeRuntime(Watched& w, Snapshot& into);
  void resolve(Watched& w, SteadyTime now);
  void dispatch(const Firing& f, Watched& w);
  void checkOomKills(Watched& w);

  HostPaths paths_;
  const Clock& clock_;
  Logger& log_;
  std::optional<CgroupLayout> layout_;
  Config config_;
  RuleEngine engine_;
  PollPolicy policy_;
  void finish(Watched& w, double& max_ratio, double& min_tto, double& max_projected);

  std::vector<std::shared_ptr<Watched>> targets_;  // shared with reads in flight
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::unique_ptr<RuntimeFetcher> fetcher_;  // started with the first runtime endpoint
  // The dump action: made when a rule has it. The runner's destructor waits for the bundles in
  // progress (each ends by its deadline).
  std::shared_ptr<IncidentStore> store_;
  std::unique_ptr<DumpRunner> runner_;
  std::vector<std::pair<std::string, std::string>> labels_;  // host, and pod labels from env
  // Never null: the null object (counts nothing) until setMetrics() or an injected sink.
  MetricsSink null_metrics_;
  std::unique_ptr<DaemonMetricsSink> daemon_metrics_;
  MetricsSink* metrics_ = &null_metrics_;
  // The `alert` action's notifier: made when alerts.alertmanager is configured.
  std::unique_ptr<AlertmanagerNotifier> notifier_;
  // The actions (actions/), and the sinks they drive: injected, or the notifier's and the runner's.
  Collaborators injected_;
  std::unique_ptr<NotifierAlertSink> notifier_sink_;
  std::unique_ptr<RunnerDumpSink> runner_sink_;
  DumpSink* dumpSink() const { return injected_.dumps ? injected_.dumps : runner_sink_.get(); }
  class LoggerActionLog final : public ActionLog {
   public:
    explicit LoggerActionLog(Logger& log) : log_(log) {}
    void write(Level level, const std::string& msg, const LogFields& fields) override;

   private:
    Logger& log_;
  };
  LoggerActionLog action_log_;
  LogAction log_action_;
  AlertAction alert_action_;
  DumpAction dump_action_;
  ActionDispatcher dispatcher_;
  void configureDumps(const Config& config);
  std::uint64_t notifier_changes_seen_ = ~std::uint64_t{0};  // its changes() at the last copy
  void configureAlerts(const Config& config);
  void pollAlerts();
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;  // the tick; a read that finishes late belongs to an older one
  std::size_t pending_ = 0;       // this tick's reads not done yet
  std::vector<std::shared_ptr<Watched>> started_, escalated_;
  std::vector<Firing> firings_;
  std::vector<RuleNotice> notices_;
  std::size_t ticks_ = 0;
};

}  // namespace oomsentinel
