#include "daemon/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

#include "collectors/discovery.h"
#include "core/kinds.h"
#include "core/target_fs.h"
#include "core/units.h"
#include "daemon/quiet_reads.h"
#include "daemon/report.h"

namespace oomsentinel {

namespace {

// What every alert and incident carries: the host, and where it runs when in a pod.
std::vector<std::pair<std::string, std::string>> daemonLabels() {
  std::vector<std::pair<std::string, std::string>> labels;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) labels.emplace_back("host", host);
  // The Downward API's usual names, when oomsentinel runs in a pod.
  for (const auto& [label, env] :
       {std::pair<const char*, const char*>{"namespace", "POD_NAMESPACE"},
        {"pod", "POD_NAME"},
        {"container", "CONTAINER_NAME"}})
    if (const char* v = std::getenv(env); v && *v) labels.emplace_back(label, v);
  return labels;
}

}  // namespace

Watchdog::Watchdog(const HostPaths& paths, const Clock& clock, Logger& log, Collaborators with)
    : guard_(paths, clock),
      paths_(paths),
      clock_(clock),
      log_(log),
      policy_(PollSpec{}),
      targets_(paths, clock, log, engine_, &null_metrics_),
      labels_(daemonLabels()),
      injected_(with),
      action_log_(log),
      runners_(clock, action_log_),
      notifiers_(clock, action_log_),
      log_action_(action_log_),
      alert_action_(labels_),
      dump_action_(paths, action_log_, labels_),
      dispatcher_({&log_action_, &alert_action_, &dump_action_}, action_log_),
      reads_(clock, log) {
  firings_.reserve(16);
  notices_.reserve(16);
  if (injected_.metrics) metrics_ = injected_.metrics;
  targets_.setMetrics(metrics_);
  alert_action_.setSink(injected_.alerts);
  setDumpSink(injected_.dumps);
}

Watchdog::~Watchdog() = default;

void Watchdog::setMetrics(DaemonMetrics* metrics) {
  daemon_metrics_ = metrics ? std::make_unique<DaemonMetricsSink>(*metrics) : nullptr;
  metrics_ = daemon_metrics_ ? daemon_metrics_.get() : &null_metrics_;
  targets_.setMetrics(metrics_);
}

bool Watchdog::apply(const Config& config) {
  auto errors = engine_.setRules(config.rules);
  if (!errors.empty()) {
    for (const auto& e : errors) log_.log(LogLevel::kError, "rule does not compile: " + e.format());
    return false;
  }
  targets_.apply(config);
  configureDumps(config);
  if (!throttles_recovered_) {
    // Whatever this config says: a run that crashed while throttling may have had another one.
    throttles_recovered_ = true;
    for (const auto& e : recoverThrottles(ThrottleRecords(config.dump.throttle_records), clock_))
      logThrottle(e);
  }
  configureAlerts(config);
  dispatcher_.reset();  // which actions run, and each rule's, may have changed
  config_ = config;
  policy_.setSpec(config.poll);
  guard_.setMark(guard_on_ ? config.poll.degrade_above : 0);
  targets_.refresh(clock_.steadyNow());
  return true;
}

void Watchdog::pollRuntime() { targets_.pollRuntime(); }

bool Watchdog::waitForRuntime(Duration max) const { return targets_.waitForRuntime(max); }

// Resolve, read, evaluate, act, summarise. Each read that is done within the interval is
// evaluated (and its firings acted on) as the round collects it; a skim on which a rule may fire
// is read again in full within the same interval.
Duration Watchdog::tick() {
  ++ticks_;
  checkSelf();
  Round round{clock_.steadyNow(), policy_.interval()};
  reads_.beginRound();
  targets_.discover(clock_.steadyNow());
  startReads();  // resolves the targets without a collector that are due for a retry
  escalated_.clear();
  reads_.collect(started_, round.budget, round.budget,
                 [&](const std::shared_ptr<Watched>& wp) { settle(wp, round); });
  if (!escalated_.empty()) readEscalated(round);
  return summarise(round);
}

// A read of every resolved target that is not still busy with an earlier one: a skim when the
// target is quiet (docs/design/quiet-targets.md), in full every full_read_interval. Degraded (the
// daemon near its own limit): a skim always, no runtime fetch, and a target with nothing to fold a
// skim into (no full read yet) is not read; the host, which has no skim, is read as always (its
// read is /proc/meminfo and the pressure file, no per-process work).
void Watchdog::startReads() {
  started_.clear();
  for (auto& wp : targets_.all()) {
    Watched& w = *wp;
    if (!w.collector) {
      SteadyTime now = clock_.steadyNow();
      if (w.next_retry && now < *w.next_retry) continue;
      targets_.resolve(w, now);
      if (!w.collector) continue;
    }
    if (!reads_.ready(w)) continue;
    const bool degraded = guard_.degraded();
    if (degraded && w.collector->canSkim() && !w.has_snapshot) {
      metrics_->degradedDropped("full_read");
      continue;
    }
    if (!degraded) targets_.pollEndpoints(w);
    const Duration full_every = config_.poll.full_read_interval;
    bool skim = full_every.count() > 0 && w.has_snapshot && w.collector->canSkim() &&
                clock_.steadyNow() - w.last_full < full_every;
    if (degraded && w.collector->canSkim()) {
      if (!skim) metrics_->degradedDropped("full_read");
      skim = true;
    }
    reads_.post(wp, skim);
    started_.push_back(wp);
  }
}

// A read that came back: a skim that stays quiet is folded into the snapshot; one on which a rule
// may fire is read again in full (readEscalated); a full read is evaluated.
void Watchdog::settle(const std::shared_ptr<Watched>& wp, Round& round) {
  Watched& w = *wp;
  if (w.read_skim && !w.read_full && w.result) {
    bool stays = quiet(w);
    if (stays) {
      finishSkim(w);
    } else if (guard_.degraded()) {
      // No full read while degraded: the rules are evaluated on the skim folded into the last
      // full read (foldDegraded).
      metrics_->degradedDropped("full_read");
      foldDegraded(w);
      finish(w, round, /*folded=*/true);
    } else {
      escalated_.push_back(wp);
    }
    return;
  }
  finish(w, round);
}

// The escalated skims read in full, in what is left of the interval.
void Watchdog::readEscalated(Round& round) {
  reads_.beginRound();
  for (auto& wp : escalated_) reads_.post(wp, /*skim=*/false);
  Duration left = round.budget - (clock_.steadyNow() - round.started);
  reads_.collect(escalated_, std::max(left, Duration(0)), round.budget,
                 [&](const std::shared_ptr<Watched>& wp) { finish(*wp, round); });
}

// What the sinks reported (finished dumps, the notifier's counters), the tick's metrics, and the
// next interval from the poll policy.
Duration Watchdog::summarise(const Round& round) {
  collectDumpReports();
  noteStuckTargetReads();
  pollAlerts();
  std::size_t resolved = resolvedTargets();
  metrics_->tick(clock_.wallNow(), clock_.steadyNow() - round.started, policy_.interval(), resolved,
                 targets_.all().size() - resolved);
  std::string why;
  Duration before = policy_.interval();
  if (policy_.update(clock_.steadyNow(), round.max_ratio, round.min_tto, &why, round.max_projected))
    log_.log(LogLevel::kInfo, "poll interval changed",
             {{"from", formatDuration(before)},
              {"to", formatDuration(policy_.interval())},
              {"why", why}});
  return policy_.interval();
}

// Whether a skimmed target stays quiet: its runtime and kernel signals merged first, as a full
// read's would be (daemon/quiet_reads.h).
bool Watchdog::quiet(Watched& w) {
  targets_.mergeRuntime(w, w.work);
  if (kernel_signals_) kernel_signals_(w.spec.target.name, w.work);
  return staysQuiet(w, config_.poll, engine_);
}

void Watchdog::finishSkim(Watched& w) {
  foldSkim(w);
  checkOomKills(w);
  metrics_->updateTarget(w.spec.target.name, w.snapshot);
}

// A read that failed: a target that is gone is resolved again later (its gauges go), another
// error is logged once.
void Watchdog::readFailed(Watched& w) {
  std::string err = w.result.error().describe();
  if (w.result.error().isGone() || w.result.error().errnum == ESRCH) {
    log_.log(LogLevel::kWarning, "target is gone; retrying every 5s",
             {{"target", w.spec.target.name}, {"error", err}});
    metrics_->targetGone(w.spec.target.name);
    w.oom_kills.reset();
    w.last_ratio.reset();
    w.collector.reset();
    w.last_error = err;
    w.next_retry = clock_.steadyNow() + kRetryUnresolved;
  } else if (err != w.last_error) {
    log_.log(LogLevel::kError, "cannot read target",
             {{"target", w.spec.target.name}, {"error", err}});
    w.last_error = err;
  }
}

// Evaluate: a full read becomes the target's snapshot (runtime and kernel signals merged), is
// counted, evaluated, and its firings acted on.
void Watchdog::finish(Watched& w, Round& round, bool folded) {
  if (!w.result) return readFailed(w);
  if (!folded) {
    // The finished read becomes the target's snapshot; the old one is reused by the next read.
    std::swap(w.snapshot, w.work);
    w.has_snapshot = true;
    targets_.mergeRuntime(w, w.snapshot);
    if (kernel_signals_) kernel_signals_(w.spec.target.name, w.snapshot);
    w.last_full = w.snapshot.steady;
  }
  noteUsageRatio(w, w.snapshot, nullptr, nullptr);
  w.snapshot.set(Sig::kCaptureSeconds, w.capture.seconds(w.dump_plan.dumpers));
  checkOomKills(w);
  metrics_->updateTarget(w.spec.target.name, w.snapshot);
  if (dumpSink() && !w.dumpers_declared) {
    metrics_->declareDumpers(w.spec.target.name, names(w.spec.dump.dumpers));
    w.dumpers_declared = true;
  }
  noteJvm(w);
  firings_.clear();
  notices_.clear();
  engine_.evaluate(w.handle, w.snapshot, firings_, notices_);
  for (const auto& n : notices_)
    log_.log(LogLevel::kWarning, "rule " + n.rule + " " + n.message, {{"target", n.target}});
  keepHistory(w);
  for (const auto& f : firings_) dispatch(f, w);
  round.add(w, clock_.steadyNow(), config_.poll.interval);
}

// A change in what the JVM's perf data says (a problem, or reading it again), logged once.
void Watchdog::noteJvm(Watched& w) {
  const JvmPerfCollector* jvm = w.collector ? w.collector->jvm() : nullptr;
  // The read is done: its problem can be looked at from this thread.
  if (!jvm || (w.jvm_problem && *w.jvm_problem == jvm->lastProblem())) return;
  if (!jvm->lastProblem().empty())
    log_.log(LogLevel::kWarning, "jvm perf data: no JVM signals",
             {{"target", w.spec.target.name}, {"why", jvm->lastProblem()}});
  else
    log_.log(LogLevel::kInfo, "reading jvm perf data",
             {{"target", w.spec.target.name},
              {"pid", std::to_string(jvm->jvmPid().value_or(0))},
              {"file", jvm->filePath()}});
  w.jvm_problem = jvm->lastProblem();
}

// The last dump.history snapshots, for a dump's incident manifest (only when dumps can run).
// Only the signals the manifest shows (a full Snapshot spans every interned signal). The ring is
// made whole at the target's first full read, or when a reload changes its length: every entry's
// storage taken at once, sized to this read's signals and a few more, so that the daemon's memory
// does not creep up over the next dump.history full reads (10 minutes for a quiet target at the
// defaults: issue 19's soak saw it as RSS growth). Writing into an entry reuses its storage;
// entries not written yet hold no signals, and the manifest leaves them out.
void Watchdog::keepHistory(Watched& w) {
  const std::size_t n = config_.dump.history;
  if (n == 0 || !dumpSink()) return;
  if (w.history.size() != n) {
    constexpr std::size_t kSpare = 8;  // signals that appear later (time_to_oom, a runtime's)
    SparseSnapshot first;
    first.assign(w.snapshot, inIncidentHistory);
    w.history.assign(n, SparseSnapshot{});
    for (auto& e : w.history) e.signals.reserve(first.signals.size() + kSpare);
    w.history_next = 0;
  }
  w.history[w.history_next].assign(w.snapshot, inIncidentHistory);
  w.history_next = (w.history_next + 1) % n;
}

// The target's part of what the poll policy decides on: the highest working_set_ratio (and where
// its growth since the last read projects it one interval on), the lowest time_to_oom.
void Watchdog::Round::add(Watched& w, SteadyTime now, Duration interval) {
  if (auto r = w.snapshot.get(Sig::kWorkingSetRatio)) {
    max_ratio = std::isnan(max_ratio) ? *r : std::max(max_ratio, *r);
    if (w.last_ratio && now > w.last_ratio->first && *r > w.last_ratio->second) {
      double per_second = (*r - w.last_ratio->second) / toSeconds(now - w.last_ratio->first);
      double projected = *r + per_second * toSeconds(interval);
      max_projected = std::isnan(max_projected) ? projected : std::max(max_projected, projected);
    }
    w.last_ratio = {now, *r};
  }
  if (auto t = w.snapshot.get(Sig::kTimeToOomSeconds))
    min_tto = std::isnan(min_tto) ? *t : std::min(min_tto, *t);
}

void Watchdog::noteStuckTargetReads() {
  TargetWorkStats st = targetWorkStats();
  if (st.stuck == stuck_target_reads_) return;
  bool more = st.stuck > stuck_target_reads_;
  stuck_target_reads_ = st.stuck;
  log_.log(more ? LogLevel::kWarning : LogLevel::kInfo,
           more ? "reads of targets' files left stuck on a file system that does not answer "
                  "(a stalled FUSE mount?); those targets' files are not read until they return"
                : "stuck reads of targets' files returned",
           {{"stuck", std::to_string(st.stuck)},
            {"max", std::to_string(kMaxStuckTargetWorkers)},
            {"abandoned_total", std::to_string(st.abandoned_total)}});
}

void Watchdog::checkOomKills(Watched& w) {
  auto kills = w.snapshot.get(Sig::kEventsOomKill);
  if (!kills) return;
  if (w.oom_kills && *kills > *w.oom_kills) {
    SteadyTime now = clock_.steadyNow();
    bool warned = w.last_critical && now - *w.last_critical <= std::chrono::minutes(10);
    double n = *kills - *w.oom_kills;
    for (double i = 0; i < n && i < 1000; ++i) metrics_->oomKill(w.spec.target.name, warned);
    log_.log(warned ? LogLevel::kWarning : LogLevel::kError,
             warned ? "the kernel OOM-killed a process of the target, after a critical firing"
                    : "the kernel OOM-killed a process of the target with no critical firing "
                      "before it (unwarned)",
             {{"target", w.spec.target.name}, {"oom_kills", formatValue(*kills)}});
  }
  w.oom_kills = *kills;
}

std::size_t Watchdog::resolvedTargets() const { return targets_.resolved(); }

std::vector<std::string> Watchdog::unresolvedTargets() const {
  std::vector<std::string> out;
  for (const auto& w : targets_.all())
    if (!w->collector) out.push_back(w->spec.target.name);
  return out;
}

const TargetCollector* Watchdog::collector(const std::string& target) const {
  const Watched* w = targets_.find(target);
  return w ? w->collector.get() : nullptr;
}

void Watchdog::forEachResolved(
    const std::function<void(const std::string&, const TargetCollector&, const Snapshot&,
                             RuleEngine::TargetHandle, bool)>& f) const {
  for (const auto& w : targets_.all())
    if (w->collector && w->has_snapshot && w->handle)
      f(w->spec.target.name, *w->collector, w->snapshot, w->handle, !w->read_skim || w->read_full);
}

std::string Watchdog::lastError(const std::string& target) const {
  const Watched* w = targets_.find(target);
  return w ? w->last_error : std::string();
}

std::string Watchdog::layoutName() const {
  return targets_.layout() ? layoutKindName(targets_.layout()->kind) : std::string();
}

std::vector<Watchdog::RuntimeView> Watchdog::runtimeEndpoints(const std::string& target) const {
  std::vector<RuntimeView> out;
  for (const auto& w : targets_.all())
    if (w->spec.target.name == target)
      for (const auto& e : w->endpoints)
        out.push_back({e->spec().format, e->spec().url.str(), e->state()});
  return out;
}

std::vector<Watchdog::CapturePart> Watchdog::captureParts(const std::string& target) const {
  std::vector<CapturePart> out;
  if (const Watched* w = targets_.find(target))
    for (DumperKind k : w->dump_plan.dumpers) {
      CapturePart p{k};
      p.seconds = w->capture.p90Seconds(k, &p.learned);
      out.push_back(p);
    }
  return out;
}

const Snapshot* Watchdog::lastSnapshot(const std::string& target) const {
  for (const auto& w : targets_.all())
    if (w->spec.target.name == target && w->has_snapshot) return &w->snapshot;
  return nullptr;
}

}  // namespace oomsentinel
