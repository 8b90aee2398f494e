#include "daemon/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

#include "collectors/discovery.h"
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
    : paths_(paths),
      clock_(clock),
      log_(log),
      policy_(PollSpec{}),
      labels_(daemonLabels()),
      injected_(with),
      action_log_(log),
      log_action_(action_log_),
      alert_action_(labels_),
      dump_action_(paths, action_log_, labels_),
      dispatcher_({&log_action_, &alert_action_, &dump_action_}, action_log_),
      reads_(clock, log) {
  firings_.reserve(16);
  notices_.reserve(16);
  if (injected_.metrics) metrics_ = injected_.metrics;
  alert_action_.setSink(injected_.alerts);
  dump_action_.setSink(injected_.dumps);
}

Watchdog::~Watchdog() = default;

void Watchdog::setMetrics(DaemonMetrics* metrics) {
  daemon_metrics_ = metrics ? std::make_unique<DaemonMetricsSink>(*metrics) : nullptr;
  metrics_ = daemon_metrics_ ? daemon_metrics_.get() : &null_metrics_;
}

bool Watchdog::apply(const Config& config) {
  auto errors = engine_.setRules(config.rules);
  if (!errors.empty()) {
    for (const auto& e : errors) log_.log(LogLevel::kError, "rule does not compile: " + e.format());
    return false;
  }
  // Targets: keep the unchanged ones (collector, history, rule state), drop the rest. A selector
  // that did not change keeps what it found.
  std::vector<std::shared_ptr<Watched>> next;
  std::vector<Group> groups;
  for (const auto& spec : config.targets) {
    if (spec.selector.any()) {
      auto same = std::find_if(groups_.begin(), groups_.end(),
                               [&](const Group& g) { return g.spec == spec; });
      if (same != groups_.end()) {
        groups.push_back(std::move(*same));
        groups.back().kept = true;
      } else {
        groups.push_back(Group{spec, std::nullopt, {}, false, {}});
      }
      continue;
    }
    auto same = std::find_if(targets_.begin(), targets_.end(), [&](const auto& w) {
      return w && w->group.empty() && w->spec == spec;
    });
    if (same != targets_.end()) {
      next.push_back(std::move(*same));
      continue;
    }
    if (engine_.findTarget(spec.target.name)) engine_.removeTarget(spec.target.name);
    auto w = std::make_shared<Watched>();
    w->spec = spec;
    w->handle = engine_.addTarget(spec.target.name, spec.predict_window);
    w->dump_plan = dumpPlanFor(w->spec);
    buildEndpoints(*w);
    next.push_back(std::move(w));
  }
  for (auto& w : targets_)
    if (w && !w->group.empty() && std::any_of(groups.begin(), groups.end(), [&](const Group& g) {
          return g.kept && g.spec.target.name == w->group;
        }))
      next.push_back(w);
  groups_ = std::move(groups);
  for (const auto& old : targets_)
    if (old) {
      bool kept = std::any_of(next.begin(), next.end(), [&](const auto& w) {
        return w->spec.target.name == old->spec.target.name;
      });
      if (!kept) {
        engine_.removeTarget(old->spec.target.name);
        metrics_->removeTarget(old->spec.target.name);
      }
    }
  targets_ = std::move(next);
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
  SteadyTime now = clock_.steadyNow();
  for (auto& g : groups_) g.next_scan.reset();  // a reload looks again at once
  discoverTargets(now);
  for (auto& w : targets_)
    if (!w->collector) resolve(*w, now);
  return true;
}

bool Watchdog::ensureLayout(const std::string& who, std::string* last_error) {
  if (layout_) return true;
  auto l = detectLayout(paths_);
  if (!l) {
    if (*last_error != l.error().describe()) {
      *last_error = l.error().describe();
      log_.log(LogLevel::kError, "cannot find the memory cgroup controller",
               {{"target", who}, {"error", *last_error}});
    }
    return false;
  }
  layout_ = *l;
  return true;
}

void Watchdog::discoverTargets(SteadyTime now) {
  for (auto& g : groups_)
    if (!g.next_scan || now >= *g.next_scan) scanGroup(g, now);
}

// One look at what a selector matches now: new matches become targets (read from the next
// tick), matches that went away take their state and series with them, and a match whose
// process or cgroup changed under the same name starts again. A failed look keeps what was found.
void Watchdog::scanGroup(Group& g, SteadyTime now) {
  g.next_scan = now + config_.discovery.interval;
  const std::string& name = g.spec.target.name;
  if (!ensureLayout(name, &g.last_error)) return;
  DiscoveryOptions opts;
  opts.containers_log_dir = config_.discovery.containers_log_dir;
  auto found = discover(paths_, *layout_, name, g.spec.selector, opts);
  if (!found) {
    if (g.last_error != found.error().describe()) {
      g.last_error = found.error().describe();
      log_.log(LogLevel::kWarning, "target discovery failed; keeping what it found before",
               {{"target", name},
                {"selector", selectorKindName(g.spec.selector.kind)},
                {"error", g.last_error},
                {"retry_every", formatDuration(config_.discovery.interval)}});
    }
    return;
  }
  if (!g.last_error.empty())
    log_.log(LogLevel::kInfo, "target discovery works again", {{"target", name}});
  g.last_error.clear();
  auto sameTarget = [](const Target& a, const Target& b) {
    return a.kind == b.kind && a.cgroup == b.cgroup && a.pid == b.pid;
  };
  auto drop = [&](const std::shared_ptr<Watched>& w, const char* why) {
    log_.log(LogLevel::kInfo, why, {{"target", w->spec.target.name}, {"selector", name}});
    engine_.removeTarget(w->spec.target.name);
    metrics_->removeTarget(w->spec.target.name);
  };
  std::vector<std::shared_ptr<Watched>> kept;
  for (auto& w : targets_) {
    if (w->group != name) {
      kept.push_back(w);
      continue;
    }
    auto match = std::find_if(found->begin(), found->end(), [&](const Discovered& d) {
      return d.target.name == w->spec.target.name && sameTarget(d.target, w->spec.target);
    });
    if (match == found->end()) {
      drop(w, "discovered target went away");
      continue;
    }
    w->labels = match->labels;
    kept.push_back(w);
  }
  targets_ = std::move(kept);
  for (const auto& d : *found) {
    auto existing = std::find_if(targets_.begin(), targets_.end(), [&](const auto& w) {
      return w->spec.target.name == d.target.name;
    });
    if (existing != targets_.end()) {
      if ((*existing)->group != name &&
          std::find(g.collisions_logged.begin(), g.collisions_logged.end(), d.target.name) ==
              g.collisions_logged.end()) {
        g.collisions_logged.push_back(d.target.name);
        log_.log(LogLevel::kWarning, "discovered target not watched: another target has its name",
                 {{"target", d.target.name}, {"selector", name}});
      }
      continue;
    }
    auto w = std::make_shared<Watched>();
    w->spec = g.spec;
    w->spec.target = d.target;
    w->spec.selector = {};
    w->group = name;
    w->labels = d.labels;
    w->handle = engine_.addTarget(d.target.name, w->spec.predict_window);
    w->dump_plan = dumpPlanFor(w->spec);
    buildEndpoints(*w);
    std::vector<std::pair<std::string, std::string>> fields = {
        {"target", d.target.name},
        {"selector", name},
        {"kind", targetKindName(d.target.kind)},
        {d.target.kind == TargetKind::kPid ? "pid" : "cgroup",
         d.target.kind == TargetKind::kPid ? std::to_string(d.target.pid) : d.target.cgroup}};
    for (const auto& l : d.labels) fields.push_back(l);
    log_.log(LogLevel::kInfo, "discovered target", fields);
    targets_.push_back(std::move(w));
  }
}

void Watchdog::buildEndpoints(Watched& w) {
  const RuntimeSpec& rt = w.spec.runtime;
  auto add = [&](RuntimeFormat format, const std::string& url) {
    RuntimeEndpointSpec es;
    es.format = format;
    auto parsed = Url::parse(url);
    if (!parsed) {  // the config checked it; a hand-built Config may not have been
      log_.log(LogLevel::kError, "runtime endpoint ignored",
               {{"target", w.spec.target.name}, {"error", parsed.error().describe()}});
      return;
    }
    es.url = *parsed;
    es.interval = rt.interval;
    es.timeout = rt.timeout;
    es.stale_after = rt.stale_after;
    es.max_bytes = rt.max_bytes;
    if (format == RuntimeFormat::kPromText)
      for (const auto& [signal, selector] : rt.signals)
        if (auto sel = PromSelector::parse(selector)) es.mappings.push_back({signal, *sel});
    w.endpoints.push_back(std::make_unique<RuntimeEndpoint>(std::move(es), clock_));
    log_.log(LogLevel::kInfo, "reading runtime endpoint",
             {{"target", w.spec.target.name},
              {"format", runtimeFormatName(format)},
              {"url", url},
              {"every", formatDuration(rt.interval)}});
  };
  if (!rt.go_expvar_url.empty()) add(RuntimeFormat::kGoExpvar, rt.go_expvar_url);
  if (!rt.metrics_url.empty()) add(RuntimeFormat::kPromText, rt.metrics_url);
  if (!w.endpoints.empty() && !fetcher_) fetcher_ = std::make_unique<RuntimeFetcher>();
}

void Watchdog::pollRuntime() {
  for (auto& w : targets_)
    if (w->collector)
      for (auto& e : w->endpoints) e->poll(*fetcher_);
}

bool Watchdog::waitForRuntime(Duration max) const {
  SystemClock real;
  SteadyTime until = real.steadyNow() + max;
  for (;;) {
    bool busy = false;
    for (const auto& w : targets_)
      for (const auto& e : w->endpoints) busy = busy || e->state().in_flight;
    if (!busy) return true;
    if (real.steadyNow() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void Watchdog::mergeRuntime(Watched& w, Snapshot& into) {
  std::optional<Duration> oldest;
  for (auto& e : w.endpoints) {
    if (auto age = e->merge(into)) oldest = oldest ? std::max(*oldest, *age) : *age;
    std::string err;
    if (e->takeErrorChange(&err)) {
      std::vector<std::pair<std::string, std::string>> fields = {
          {"target", w.spec.target.name},
          {"format", runtimeFormatName(e->spec().format)},
          {"url", e->spec().url.str()}};
      if (err.empty()) {
        log_.log(LogLevel::kInfo, "runtime endpoint answers again", fields);
      } else {
        fields.emplace_back("error", err);
        fields.emplace_back("stale_after", formatDuration(e->spec().stale_after));
        log_.log(LogLevel::kWarning,
                 "runtime endpoint failed; its last values are kept until stale_after", fields);
      }
    }
  }
  static const SignalId kAge = internSignal("runtime_age_seconds");
  if (oldest) into.set(kAge, std::chrono::duration<double>(*oldest).count());
}

void Watchdog::resolve(Watched& w, SteadyTime now) {
  w.next_retry = now + kRetryUnresolved;
  const bool fallback = w.spec.target.kind == TargetKind::kPid && !w.spec.limit_env.empty();
  // With a fallback the layout's error is only the reason for it: kept apart from last_error,
  // so that the retries every 5 s do not log the two errors in turn.
  bool have_layout = w.spec.target.kind == TargetKind::kHost ||
                     ensureLayout(w.spec.target.name, fallback ? &w.layout_error : &w.last_error);
  if (!have_layout && !fallback) return;
  Result<std::unique_ptr<TargetCollector>> tc =
      have_layout
          ? TargetCollector::create(paths_, layout_ ? *layout_ : CgroupLayout{}, w.spec.target)
          : Result<std::unique_ptr<TargetCollector>>(makeError(w.layout_error));
  if (!tc && fallback) {
    // No cgroupfs view of the process (a sidecar without the host's): its own counters against
    // the limit the Downward API put in the environment.
    std::string why = tc.error().describe();
    const char* text = std::getenv(w.spec.limit_env.c_str());
    auto limit = text ? parseBytes(text) : Result<std::uint64_t>(makeError("not set"));
    if (!limit || *limit == 0) {
      std::string err = "no cgroup view (" + why + ") and limit_env " + w.spec.limit_env + " " +
                        (text ? "is not a size: '" + std::string(text) + "'" : "is not set");
      if (w.last_error != err) {
        w.last_error = err;
        log_.log(LogLevel::kError, "target not watched",
                 {{"target", w.spec.target.name}, {"error", err}});
      }
      return;
    }
    auto only =
        TargetCollector::createProcessOnly(paths_, w.spec.target, static_cast<double>(*limit));
    if (only) {
      log_.log(LogLevel::kWarning,
               "no cgroup view of the target: watching its /proc counters against limit_env "
               "(RSS stands for usage and working set; page cache is not seen)",
               {{"target", w.spec.target.name},
                {"why", why},
                {"limit_env", w.spec.limit_env},
                {"limit", formatBytes(*limit)}});
      tc = std::move(only);
    } else {
      tc = only.error();
    }
  }
  if (!tc) {
    if (w.last_error != tc.error().describe()) {
      w.last_error = tc.error().describe();
      log_.log(LogLevel::kWarning, "target not found; retrying every 5s",
               {{"target", w.spec.target.name}, {"error", w.last_error}});
    }
    return;
  }
  w.collector = std::move(*tc);
  if (w.spec.runtime.jvm_perfdata)
    if (auto st = w.collector->enableJvmPerfData(); !st)
      log_.log(LogLevel::kError, "jvm perf data not read",
               {{"target", w.spec.target.name}, {"error", st.error().describe()}});
  w.next_retry.reset();
  w.last_error.clear();
  std::vector<std::pair<std::string, std::string>> fields = {
      {"target", w.spec.target.name}, {"kind", targetKindName(w.spec.target.kind)}};
  if (!w.collector->cgroupDir().empty()) {
    fields.emplace_back("cgroup", w.collector->cgroupRelative());
    fields.emplace_back("cgroup_version", cgroupVersionName(w.collector->cgroupVersion()));
  }
  log_.log(LogLevel::kInfo, "watching target", fields);
  metrics_->targetInfo(w.spec.target.name, w.labels);
}

// Resolve, read, evaluate, act, summarise. Each read that is done within the interval is
// evaluated (and its firings acted on) as the round collects it; a skim on which a rule may fire
// is read again in full within the same interval.
Duration Watchdog::tick() {
  ++ticks_;
  Round round{clock_.steadyNow(), policy_.interval()};
  reads_.beginRound();
  discoverTargets(clock_.steadyNow());
  startReads();  // resolves the targets without a collector that are due for a retry
  escalated_.clear();
  reads_.collect(started_, round.budget, round.budget,
                 [&](const std::shared_ptr<Watched>& wp) { settle(wp, round); });
  if (!escalated_.empty()) readEscalated(round);
  return summarise(round);
}

// A read of every resolved target that is not still busy with an earlier one: a skim when the
// target is quiet (docs/design/quiet-targets.md), in full every full_read_interval.
void Watchdog::startReads() {
  started_.clear();
  for (auto& wp : targets_) {
    Watched& w = *wp;
    if (!w.collector) {
      SteadyTime now = clock_.steadyNow();
      if (w.next_retry && now < *w.next_retry) continue;
      resolve(w, now);
      if (!w.collector) continue;
    }
    if (!reads_.ready(w)) continue;
    for (auto& e : w.endpoints) e->poll(*fetcher_);
    const Duration full_every = config_.poll.full_read_interval;
    bool skim = full_every.count() > 0 && w.has_snapshot && w.collector->canSkim() &&
                clock_.steadyNow() - w.last_full < full_every;
    reads_.post(wp, skim);
    started_.push_back(wp);
  }
}

// A read that came back: a skim that stays quiet is folded into the snapshot; one on which a rule
// may fire is read again in full (readEscalated); a full read is evaluated.
void Watchdog::settle(const std::shared_ptr<Watched>& wp, Round& round) {
  Watched& w = *wp;
  if (w.read_skim && !w.read_full && w.result) {
    if (quiet(w))
      finishSkim(w);
    else
      escalated_.push_back(wp);
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
                 targets_.size() - resolved);
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
  mergeRuntime(w, w.work);
  if (kernel_signals_) kernel_signals_(w.spec.target.name, w.work);
  return staysQuiet(w, config_.poll, engine_);
}

void Watchdog::finishSkim(Watched& w) {
  foldSkim(w);
  checkOomKills(w);
  metrics_->updateTarget(w.spec.target.name, w.snapshot);
}

void Watchdog::finish(Watched& w, Round& round) {
  if (!w.result) {
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
    return;
  }
  // The finished read becomes the target's snapshot; the old one is reused by the next read.
  std::swap(w.snapshot, w.work);
  w.has_snapshot = true;
  mergeRuntime(w, w.snapshot);
  if (kernel_signals_) kernel_signals_(w.spec.target.name, w.snapshot);
  w.last_full = w.snapshot.steady;
  noteUsageRatio(w, w.snapshot, nullptr, nullptr);
  checkOomKills(w);
  metrics_->updateTarget(w.spec.target.name, w.snapshot);
  if (dumpSink() && !w.dumpers_declared) {
    metrics_->declareDumpers(w.spec.target.name, w.spec.dump.dumpers);
    w.dumpers_declared = true;
  }
  if (const JvmPerfCollector* jvm = w.collector ? w.collector->jvm() : nullptr) {
    // The read is done: its problem can be looked at from this thread.
    if (!w.jvm_problem || *w.jvm_problem != jvm->lastProblem()) {
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
  }
  firings_.clear();
  notices_.clear();
  engine_.evaluate(w.handle, w.snapshot, firings_, notices_);
  for (const auto& n : notices_)
    log_.log(LogLevel::kWarning, "rule " + n.rule + " " + n.message, {{"target", n.target}});
  if (config_.dump.history > 0 && dumpSink()) {
    // Copy-assigning into the ring's old snapshots reuses their storage: no allocation once full.
    if (w.history.size() < config_.dump.history) {
      w.history.push_back(w.snapshot);
    } else {
      w.history[w.history_next] = w.snapshot;
      w.history_next = (w.history_next + 1) % w.history.size();
    }
  }
  for (const auto& f : firings_) dispatch(f, w);
  if (auto r = w.snapshot.get(Sig::kWorkingSetRatio)) {
    round.max_ratio = std::isnan(round.max_ratio) ? *r : std::max(round.max_ratio, *r);
    SteadyTime now = clock_.steadyNow();
    if (w.last_ratio && now > w.last_ratio->first && *r > w.last_ratio->second) {
      double per_second = (*r - w.last_ratio->second) / toSeconds(now - w.last_ratio->first);
      double projected = *r + per_second * toSeconds(config_.poll.interval);
      round.max_projected =
          std::isnan(round.max_projected) ? projected : std::max(round.max_projected, projected);
    }
    w.last_ratio = {now, *r};
  }
  if (auto t = w.snapshot.get(Sig::kTimeToOomSeconds))
    round.min_tto = std::isnan(round.min_tto) ? *t : std::min(round.min_tto, *t);
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

std::size_t Watchdog::resolvedTargets() const {
  std::size_t n = 0;
  for (const auto& w : targets_) n += w->collector ? 1 : 0;
  return n;
}

std::vector<std::string> Watchdog::unresolvedTargets() const {
  std::vector<std::string> out;
  for (const auto& w : targets_)
    if (!w->collector) out.push_back(w->spec.target.name);
  return out;
}

const TargetCollector* Watchdog::collector(const std::string& target) const {
  for (const auto& w : targets_)
    if (w->spec.target.name == target) return w->collector.get();
  return nullptr;
}

void Watchdog::forEachResolved(
    const std::function<void(const std::string&, const TargetCollector&, const Snapshot&,
                             RuleEngine::TargetHandle, bool)>& f) const {
  for (const auto& w : targets_)
    if (w->collector && w->has_snapshot && w->handle)
      f(w->spec.target.name, *w->collector, w->snapshot, w->handle, !w->read_skim || w->read_full);
}

std::string Watchdog::lastError(const std::string& target) const {
  for (const auto& w : targets_)
    if (w->spec.target.name == target) return w->last_error;
  return {};
}

std::string Watchdog::layoutName() const {
  return layout_ ? layoutKindName(layout_->kind) : std::string();
}

std::vector<Watchdog::RuntimeView> Watchdog::runtimeEndpoints(const std::string& target) const {
  std::vector<RuntimeView> out;
  for (const auto& w : targets_)
    if (w->spec.target.name == target)
      for (const auto& e : w->endpoints)
        out.push_back({e->spec().format, e->spec().url.str(), e->state()});
  return out;
}

const Snapshot* Watchdog::lastSnapshot(const std::string& target) const {
  for (const auto& w : targets_)
    if (w->spec.target.name == target && w->has_snapshot) return &w->snapshot;
  return nullptr;
}

}  // namespace oomsentinel
