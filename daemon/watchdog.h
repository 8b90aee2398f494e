// daemon/: wiring and lifetime of the oomsentinel executable.
// Watchdog: one tick = resolve targets -> read them -> evaluate every rule -> act on the
// transitions -> summarise. It wires the target set, the read scheduler, the rule engine and the
// actions (actions/); the daemon's loop decides when it ticks.
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actions/alert_action.h"
#include "actions/dispatcher.h"
#include "actions/dump_action.h"
#include "actions/log_action.h"
#include "actions/metrics_sink.h"
#include "actions/sinks.h"
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
#include "daemon/read_scheduler.h"
#include "daemon/self_guard.h"
#include "daemon/target_set.h"
#include "daemon/watched.h"
#include "dumpers/dump_runner.h"
#include "rules/engine.h"

namespace oomsentinel {

// The notifier's settings from the config's alerts section (also what check-config checks).
AlertmanagerSpec alertmanagerSpecFor(const AlertsSpec& alerts);

class Watchdog {
 public:
  // How often a target that cannot be resolved (a cgroup not created yet, a process gone) is
  // tried again.
  static constexpr Duration kRetryUnresolved = TargetSet::kRetryUnresolved;
  // Threads that read targets (daemon/read_scheduler.h).
  static constexpr std::size_t kReadThreads = ReadScheduler::kReadThreads;

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
  std::size_t stuckDumpers() const { return runner() ? runner()->stuckDumpers() : 0; }

  // The self guard (daemon/self_guard.h): whether the daemon is degraded (its own memory near its
  // cgroup's limit), and the one line that says so ("" when not).
  bool degraded() const { return guard_.degraded(); }
  // The guard runs only when the daemon turns it on (Daemon::start): a Watchdog elsewhere (tests,
  // replay) has no process of its own to guard, and its fixture's `self` is not it.
  void guardSelf(bool on) { guard_on_ = on; }
  std::string degradedLine() const;
  const SelfGuard& selfGuard() const { return guard_; }

  Duration interval() const { return policy_.interval(); }
  const Config& config() const { return config_; }
  const RuleEngine& engine() const { return engine_; }
  std::size_t ticks() const { return ticks_; }
  // A target name -> its last snapshot (nullptr if it has none yet).
  const Snapshot* lastSnapshot(const std::string& target) const;
  // What its capture_seconds is made of: each dumper it runs, its p90 (or default) and how many
  // durations it learned from (daemon/capture_times.h). Empty for a target it does not know.
  struct CapturePart {
    DumperKind dumper;
    double seconds = 0;
    std::size_t learned = 0;
  };
  std::vector<CapturePart> captureParts(const std::string& target) const;
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
  // One tick's figures for the poll policy, gathered as its reads are evaluated (NaN: none).
  struct Round {
    SteadyTime started;
    Duration budget;  // the interval: how long the tick waits for its reads
    double max_ratio = std::numeric_limits<double>::quiet_NaN();
    double min_tto = std::numeric_limits<double>::quiet_NaN();
    double max_projected = std::numeric_limits<double>::quiet_NaN();
    void add(Watched& w, SteadyTime now, Duration interval);
  };
  // The tick's steps (tick() calls them in this order).
  void startReads();
  void settle(const std::shared_ptr<Watched>& wp, Round& round);
  void readEscalated(Round& round);
  Duration summarise(const Round& round);
  bool quiet(Watched& w);
  void finishSkim(Watched& w);
  void collectDumpReports();
  void learnCaptureTimes(const DumpReport& r);
  // Logs a change in the number of reads of targets' files left stuck on file systems that do not
  // answer (core/target_fs.h): a stalled FUSE mount shows in the log, not only as missing data.
  void noteStuckTargetReads();
  // The self guard's check, at the start of a tick: the mode entered or left is logged once, with
  // what malloc_trim gave back on entering.
  void checkSelf();
  // A skim on which a rule may fire, while degraded: folded into the last full read, with the
  // working set (and its ratio) estimated from the skim's usage less the last inactive file, so
  // that the rules on it (the built-in ones) still see a crossing.
  void foldDegraded(Watched& w);
  SelfGuard guard_;
  bool guard_on_ = false;
  // While degraded a dump is refused here, before it reaches the runner, with the reason; every
  // refusal, this one's and the runner's, is counted here (oomsentinel_dumps_refused_total).
  class GuardedDumpSink final : public DumpSink {
   public:
    explicit GuardedDumpSink(Watchdog& dog) : dog_(dog) {}
    std::optional<DumpRefusal> submit(DumpJob job) override;
    std::optional<DumpRefusal> refusal() override;
    DumpSink* inner = nullptr;

   private:
    std::optional<DumpRefusal> counted(std::optional<DumpRefusal> r);
    Watchdog& dog_;
  };
  GuardedDumpSink guarded_dumps_{*this};
  void setDumpSink(DumpSink* sink);
  std::size_t stuck_target_reads_ = 0;
  void logThrottle(const ThrottleEvent& e);
  bool throttles_recovered_ = false;  // the first apply() puts back what a crashed run left
  std::function<void(const std::string&, Snapshot&)> kernel_signals_;
  void dispatch(const Firing& f, Watched& w);
  void checkOomKills(Watched& w);

  HostPaths paths_;
  const Clock& clock_;
  Logger& log_;
  Config config_;
  RuleEngine engine_;
  PollPolicy policy_;
  // `folded`: the snapshot is a skim folded into the last full read (degraded), not w.work.
  void finish(Watched& w, Round& round, bool folded = false);
  void readFailed(Watched& w);
  void noteJvm(Watched& w);
  void keepHistory(Watched& w);

  TargetSet targets_;
  std::vector<std::pair<std::string, std::string>> labels_;  // host, and pod labels from env
  // Never null: the null object (counts nothing) until setMetrics() or an injected sink.
  MetricsSink null_metrics_;
  std::unique_ptr<DaemonMetricsSink> daemon_metrics_;
  MetricsSink* metrics_ = &null_metrics_;
  // The actions (actions/), and the sinks they drive: injected, or the notifier's and the runner's.
  Collaborators injected_;
  class LoggerActionLog final : public ActionLog {
   public:
    explicit LoggerActionLog(Logger& log) : log_(log) {}
    void write(Level level, const std::string& msg, const LogFields& fields) override;

   private:
    Logger& log_;
  };
  LoggerActionLog action_log_;
  // The dump action's runner and incident store, made when a rule dumps; the `alert` action's
  // notifier, made when alerts.alertmanager is configured (actions/sinks.h).
  RunnerHolder runners_;
  NotifierHolder notifiers_;
  DumpRunner* runner() const { return runners_.runner(); }
  AlertmanagerNotifier* notifier() const { return notifiers_.notifier(); }
  DumpSink* dumpSink() const { return injected_.dumps ? injected_.dumps : runners_.sink(); }
  AlertSink* alertSink() const { return injected_.alerts ? injected_.alerts : notifiers_.sink(); }
  LogAction log_action_;
  AlertAction alert_action_;
  DumpAction dump_action_;
  ActionDispatcher dispatcher_;
  void configureDumps(const Config& config);
  std::uint64_t notifier_changes_seen_ = ~std::uint64_t{0};  // its changes() at the last copy
  void configureAlerts(const Config& config);
  void pollAlerts();
  std::vector<std::shared_ptr<Watched>> started_, escalated_;
  std::vector<Firing> firings_;
  std::vector<RuleNotice> notices_;
  std::size_t ticks_ = 0;
  // Last, so that it goes first: its destructor waits for (or leaves) the reads in flight before
  // anything they might use goes.
  ReadScheduler reads_;
};

}  // namespace oomsentinel
