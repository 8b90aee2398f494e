#include "daemon/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

#include "collectors/discovery.h"
#include "core/target_fs.h"
#include "core/units.h"
#include "daemon/report.h"
#include "dumpers/exec_dumper.h"
#include "dumpers/go_pprof_dumper.h"
#include "dumpers/gperftools_dumper.h"
#include "dumpers/jvm_dumper.h"
#include "dumpers/proc_dumper.h"
#include "dumpers/target_process.h"

namespace oomsentinel {

Watchdog::Watchdog(const HostPaths& paths, const Clock& clock, Logger& log)
    : paths_(paths),
      clock_(clock),
      log_(log),
      policy_(PollSpec{}),
      pool_(std::make_unique<boost::asio::thread_pool>(kReadThreads)) {
  firings_.reserve(16);
  notices_.reserve(16);
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) labels_.emplace_back("host", host);
  // The Downward API's usual names, when oomsentinel runs in a pod.
  for (const auto& [label, env] :
       {std::pair<const char*, const char*>{"namespace", "POD_NAMESPACE"},
        {"pod", "POD_NAME"},
        {"container", "CONTAINER_NAME"}})
    if (const char* v = std::getenv(env); v && *v) labels_.emplace_back(label, v);
}

Watchdog::~Watchdog() {
  bool hung = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& w : targets_) hung = hung || (w->in_flight && !w->done);
  }
  pool_->stop();
  // A read that hangs in the kernel would hang the join, and with it SIGTERM: leave the pool to
  // the process's exit instead.
  if (hung)
    (void)pool_.release();
  else
    pool_->join();
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
        if (metrics_) metrics_->removeTarget(old->spec.target.name);
      }
    }
  targets_ = std::move(next);
  bool dumps = std::any_of(config.rules.begin(), config.rules.end(), [](const RuleSpec& r) {
    return std::find(r.actions.begin(), r.actions.end(), "dump") != r.actions.end();
  });
  if (dumps) {
    StoreLimits limits;
    limits.dir = config.dump.dir;
    limits.max_incidents = config.dump.max_incidents;
    limits.max_bytes = config.dump.max_bytes;
    limits.max_age = config.dump.max_age;
    limits.min_free = config.dump.min_free;
    limits.max_bundle_bytes = config.dump.max_bundle_bytes;
    bool same = store_ && store_->limits().dir == limits.dir &&
                store_->limits().max_incidents == limits.max_incidents &&
                store_->limits().max_bytes == limits.max_bytes &&
                store_->limits().max_age == limits.max_age &&
                store_->limits().min_free == limits.min_free &&
                store_->limits().max_bundle_bytes == limits.max_bundle_bytes;
    if (!same) {
      auto store = std::make_shared<IncidentStore>(limits);
      auto prepared = store->prepare();
      if (!prepared) {
        log_.log(LogLevel::kError, "dump directory unusable; the dump action will fail",
                 {{"dir", limits.dir}, {"error", prepared.error().describe()}});
      } else if (*prepared > 0) {
        log_.log(LogLevel::kWarning, "removed bundles a crash left unfinished",
                 {{"dir", limits.dir}, {"count", std::to_string(*prepared)}});
      }
      store_ = std::move(store);
      // A runner still busy with the old store finishes its bundles before it goes.
      runner_.reset();
    }
    StormLimits storm;
    storm.per_minute = config.dump.per_minute;
    storm.target_cooldown = config.dump.target_cooldown;
    if (!runner_)
      runner_ = std::make_unique<DumpRunner>(store_, storm, clock_);
    else
      runner_->setLimits(storm);
    bool throttles = std::any_of(config.targets.begin(), config.targets.end(),
                                 [](const TargetSpec& t) { return t.dump.throttle; });
    std::shared_ptr<const ThrottleRecords> records;
    if (throttles) {
      auto made = std::make_shared<ThrottleRecords>(config.dump.throttle_records);
      if (auto st = made->prepare(); !st)
        log_.log(LogLevel::kError,
                 "throttle records directory unusable; dumps will not throttle (memory.high is "
                 "never changed without a record to put it back from)",
                 {{"dir", made->dir()}, {"error", st.error().describe()}});
      records = std::move(made);
    }
    runner_->setThrottleRecords(std::move(records));
  }
  if (!throttles_recovered_) {
    // Whatever this config says: a run that crashed while throttling may have had another one.
    throttles_recovered_ = true;
    for (const auto& e : recoverThrottles(ThrottleRecords(config.dump.throttle_records), clock_))
      logThrottle(e);
  }
  configureAlerts(config);
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
    if (metrics_) metrics_->removeTarget(w->spec.target.name);
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
  if (metrics_) metrics_->targetInfo(w.spec.target.name, w.labels);
}

Duration Watchdog::tick() {
  ++ticks_;
  const SteadyTime tick_started = clock_.steadyNow();
  double max_ratio = std::numeric_limits<double>::quiet_NaN();
  double min_tto = std::numeric_limits<double>::quiet_NaN();
  double max_projected = std::numeric_limits<double>::quiet_NaN();
  const Duration budget = policy_.interval();

  // Start a read of every resolved target that is not still busy with an earlier one.
  started_.clear();
  std::uint64_t gen;
  {
    std::lock_guard lock(mu_);
    gen = ++generation_;
    pending_ = 0;
  }
  discoverTargets(clock_.steadyNow());
  for (auto& wp : targets_) {
    Watched& w = *wp;
    if (!w.collector) {
      SteadyTime now = clock_.steadyNow();
      if (w.next_retry && now < *w.next_retry) continue;
      resolve(w, now);
      if (!w.collector) continue;
    }
    {
      std::lock_guard lock(mu_);
      if (w.in_flight && !w.done) continue;  // still slow: logged when it overran
      if (w.in_flight && w.done) {
        // A read that overran has come back; its snapshot is one interval old: drop it.
        w.in_flight = false;
        w.slow_logged = false;
        log_.log(LogLevel::kInfo, "slow read of target returned; reading it again",
                 {{"target", w.spec.target.name},
                  {"took", formatDuration(clock_.steadyNow() - w.read_started)}});
      }
    }
    for (auto& e : w.endpoints) e->poll(*fetcher_);
    const Duration full_every = config_.poll.full_read_interval;
    bool skim = full_every.count() > 0 && w.has_snapshot && w.collector->canSkim() &&
                clock_.steadyNow() - w.last_full < full_every;
    post(wp, gen, skim);
    started_.push_back(wp);
  }
  // Takes this round's reads that are done (a slow one is logged once and left running) and
  // hands each to `f`.
  auto collectRound = [&](std::vector<std::shared_ptr<Watched>>& round, Duration wait, auto&& f) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, wait, [&] { return pending_ == 0; });
    }
    for (auto& wp : round) {
      Watched& w = *wp;
      {
        std::lock_guard lock(mu_);
        if (!w.done) {
          if (!w.slow_logged) {
            w.slow_logged = true;
            log_.log(LogLevel::kWarning,
                     "target read is slower than the tick; skipping it until it returns",
                     {{"target", w.spec.target.name}, {"budget", formatDuration(budget)}});
          }
          continue;
        }
        w.in_flight = false;
      }
      f(w, wp);
    }
  };
  escalated_.clear();
  collectRound(started_, budget, [&](Watched& w, const std::shared_ptr<Watched>& wp) {
    if (w.read_skim && !w.read_full && w.result) {
      // A rule may fire on what the skim saw: read it in full now, in this same tick.
      if (!quiet(w)) {
        escalated_.push_back(wp);
        return;
      }
      finishSkim(w);
      return;
    }
    finish(w, max_ratio, min_tto, max_projected);
  });
  if (!escalated_.empty()) {
    {
      std::lock_guard lock(mu_);
      gen = ++generation_;
      pending_ = 0;
    }
    for (auto& wp : escalated_) post(wp, gen, /*skim=*/false);
    Duration left = budget - (clock_.steadyNow() - tick_started);
    collectRound(escalated_, std::max(left, Duration(0)),
                 [&](Watched& w, const std::shared_ptr<Watched>&) {
                   finish(w, max_ratio, min_tto, max_projected);
                 });
  }
  collectDumpReports();
  noteStuckTargetReads();
  pollAlerts();
  if (metrics_) {
    std::size_t resolved = resolvedTargets();
    metrics_->tick(clock_.wallNow(), clock_.steadyNow() - tick_started, policy_.interval(),
                   resolved, targets_.size() - resolved);
  }
  std::string why;
  Duration before = policy_.interval();
  if (policy_.update(clock_.steadyNow(), max_ratio, min_tto, &why, max_projected))
    log_.log(LogLevel::kInfo, "poll interval changed",
             {{"from", formatDuration(before)},
              {"to", formatDuration(policy_.interval())},
              {"why", why}});
  return policy_.interval();
}

void Watchdog::post(const std::shared_ptr<Watched>& wp, std::uint64_t gen, bool skim) {
  Watched& w = *wp;
  {
    std::lock_guard lock(mu_);
    w.in_flight = true;
    w.done = false;
    ++pending_;
  }
  w.read_started = clock_.steadyNow();
  w.read_skim = skim;
  boost::asio::post(*pool_, [this, wp, gen, skim]() {
    bool full = true;
    Status st = skim ? wp->collector->skim(clock_, wp->work, &full)
                     : wp->collector->collect(clock_, wp->work);
    std::lock_guard lock(mu_);
    wp->result = std::move(st);
    wp->read_full = full;
    wp->done = true;
    // Only this tick's reads are waited for; one that overran an earlier tick is not.
    // The tick waits for all of them: one wake-up at the last, not a futex call per target.
    if (gen == generation_ && --pending_ == 0) cv_.notify_all();
  });
}

namespace {

// What a skim says of the signals a full read would have given: the skim's own exactly; the
// working set at most the usage (it is usage - inactive_file), its ratio at most the usage
// ratio plus `extra`; what the last full read had but the skim does not, anything; and what
// neither had, absent (a v1 cgroup has no PSI, an unlimited one no ratios).
class QuietBounds final : public SignalBounds {
 public:
  QuietBounds(const Snapshot& skim, const Snapshot& full, double extra)
      : skim_(skim), full_(full), extra_(extra) {}
  SignalBound bound(SignalId sid) const override {
    using K = SignalBound::Kind;
    static const SignalId kWsRatio = id(Sig::kWorkingSetRatio), kRatio = id(Sig::kUsageRatio),
                          kWs = id(Sig::kWorkingSetBytes);
    if (sid == kWsRatio || sid == kRatio) {
      auto r = skim_.get(Sig::kUsageRatio);
      if (!r) return {K::kAbsent};
      return {K::kRange, sid == kWsRatio ? 0.0 : *r - extra_, *r + extra_};
    }
    if (sid == kWs) {
      if (auto u = skim_.get(Sig::kUsageBytes)) return {K::kRange, 0.0, *u};
    }
    if (auto v = skim_.get(sid)) return {K::kRange, *v, *v};
    if (full_.has(sid)) return {};
    return {K::kAbsent};
  }

 private:
  const Snapshot& skim_;
  const Snapshot& full_;
  double extra_;
};

}  // namespace

void Watchdog::noteUsageRatio(Watched& w, const Snapshot& s, double* growth, double* drop) {
  if (growth) *growth = 0;
  if (drop) *drop = 0;
  auto r = s.get(Sig::kUsageRatio);
  if (!r) return;
  if (growth && w.last_usage_ratio && s.steady > w.last_usage_ratio->first &&
      *r > w.last_usage_ratio->second)
    *growth = (*r - w.last_usage_ratio->second) / toSeconds(s.steady - w.last_usage_ratio->first);
  if (drop && w.last_usage_ratio) *drop = std::max(0.0, w.last_usage_ratio->second - *r);
  w.last_usage_ratio = {s.steady, *r};
}

// A skimmed target stays quiet when nothing it shows could change what a full tick would do
// (and its usage did not just fall by kQuietDrop, the mark of an OOM kill):
// no rule may fire (RuleEngine::mayFire on the bounds above), and it is neither above the fast
// tick's threshold nor predicted to reach its limit within fast_when_tto_below, as the poll
// policy would have judged it. Growth widens the margin by what it adds over the prediction
// window, so that the full reads start early enough for time_to_oom to have a history.
bool Watchdog::quiet(Watched& w) {
  mergeRuntime(w, w.work);
  if (kernel_signals_) kernel_signals_(w.spec.target.name, w.work);
  double growth = 0, drop = 0;
  noteUsageRatio(w, w.work, &growth, &drop);
  if (drop >= kQuietDrop) return false;
  double extra = kQuietMargin + growth * toSeconds(w.spec.predict_window);
  if (auto r = w.work.get(Sig::kUsageRatio)) {
    if (*r + extra > config_.poll.fast_above) return false;
    if (growth > 0 && (1 - *r) / growth < toSeconds(config_.poll.fast_when_tto_below)) return false;
  }
  return !engine_.mayFire(w.handle, QuietBounds(w.work, w.snapshot, extra));
}

// The skim's values replace the last full read's; the working set, which it does not read, is
// kept no larger than the usage it did read.
void Watchdog::finishSkim(Watched& w) {
  w.work.forEach([&](SignalId sid, double v) { w.snapshot.set(sid, v); });
  w.snapshot.steady = w.work.steady;
  w.snapshot.wall = w.work.wall;
  auto usage = w.snapshot.get(Sig::kUsageBytes);
  auto ws = w.snapshot.get(Sig::kWorkingSetBytes);
  if (usage && ws && *ws > *usage) w.snapshot.set(Sig::kWorkingSetBytes, *usage);
  auto ratio = w.snapshot.get(Sig::kUsageRatio);
  auto ws_ratio = w.snapshot.get(Sig::kWorkingSetRatio);
  if (ratio && ws_ratio && *ws_ratio > *ratio) w.snapshot.set(Sig::kWorkingSetRatio, *ratio);
  checkOomKills(w);
  if (metrics_) metrics_->updateTarget(w.spec.target.name, w.snapshot);
}

void Watchdog::finish(Watched& w, double& max_ratio, double& min_tto, double& max_projected) {
  if (!w.result) {
    std::string err = w.result.error().describe();
    if (w.result.error().isGone() || w.result.error().errnum == ESRCH) {
      log_.log(LogLevel::kWarning, "target is gone; retrying every 5s",
               {{"target", w.spec.target.name}, {"error", err}});
      if (metrics_) metrics_->targetGone(w.spec.target.name);
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
  if (metrics_) metrics_->updateTarget(w.spec.target.name, w.snapshot);
  if (metrics_ && runner_ && !w.dumpers_declared) {
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
  if (config_.dump.history > 0 && runner_) {
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
    max_ratio = std::isnan(max_ratio) ? *r : std::max(max_ratio, *r);
    SteadyTime now = clock_.steadyNow();
    if (w.last_ratio && now > w.last_ratio->first && *r > w.last_ratio->second) {
      double per_second = (*r - w.last_ratio->second) / toSeconds(now - w.last_ratio->first);
      double projected = *r + per_second * toSeconds(config_.poll.interval);
      max_projected = std::isnan(max_projected) ? projected : std::max(max_projected, projected);
    }
    w.last_ratio = {now, *r};
  }
  if (auto t = w.snapshot.get(Sig::kTimeToOomSeconds))
    min_tto = std::isnan(min_tto) ? *t : std::min(min_tto, *t);
}

void Watchdog::dispatch(const Firing& f, Watched& w) {
  log_.transition(f);
  if (metrics_) metrics_->transition(f);
  if (f.to == RuleState::kFiring && f.severity == Severity::kCritical)
    w.last_critical = clock_.steadyNow();
  // A resolve goes to Alertmanager whatever the cooldown did; the notifier ignores an alert it
  // never sent.
  if (notifier_ && f.from == RuleState::kFiring && f.to != RuleState::kFiring)
    notifier_->resolve(f.rule, f.target, f.wall);
  if (f.to != RuleState::kFiring) return;
  for (const auto& action : f.actions) {
    if (action == "log") {
      // The evidence: every signal the target offered at the moment the rule fired.
      std::vector<std::pair<std::string, std::string>> fields = {{"rule", f.rule},
                                                                 {"target", f.target}};
      w.snapshot.forEach([&](SignalId sid, double v) {
        std::string name = signalName(sid);
        if (name.rfind("stat_", 0) == 0 || name.rfind("events_local_", 0) == 0) return;
        fields.emplace_back(std::move(name), formatValue(v));
      });
      log_.log(LogLevel::kWarning, "firing: signals at the moment of firing", fields);
    } else if (action == "dump" && runner_) {
      startDump(f, w);
    } else if (action == "alert" && notifier_) {
      AlertEvent e;
      e.rule = f.rule;
      e.target = f.target;
      e.severity = severityName(f.severity);
      e.expr = f.expr;
      e.starts_at = f.wall;
      e.values = f.values;
      e.labels = labels_;
      // A discovered container's own names; the daemon's Downward API ones say where it runs.
      // A named pair, not a structured binding: clang before 16 cannot capture a binding in a
      // lambda, and fuzz_state_file builds this file with clang 14.
      for (const auto& label : w.labels) {
        const std::string& key = label.first;
        auto it = std::find_if(e.labels.begin(), e.labels.end(),
                               [&key](const auto& l) { return l.first == key; });
        if (it != e.labels.end())
          it->second = label.second;
        else
          e.labels.emplace_back(key, label.second);
      }
      notifier_->fire(std::move(e));
    } else if (std::find(unavailable_actions_logged_.begin(), unavailable_actions_logged_.end(),
                         action) == unavailable_actions_logged_.end()) {
      unavailable_actions_logged_.push_back(action);
      log_.log(LogLevel::kWarning,
               "action '" + action +
                   (action == "alert"
                        ? "' does not run: the config has no alerts.alertmanager (metrics still "
                          "show the firing)"
                        : "' does not run: its dump directory could not be prepared"),
               {{"rule", f.rule}});
    }
  }
}

AlertmanagerSpec alertmanagerSpecFor(const AlertsSpec& a) {
  AlertmanagerSpec spec;
  spec.urls = a.alertmanager_urls;
  spec.resend_interval = a.resend_interval;
  spec.timeout = a.alertmanager_timeout;
  spec.bearer_token_file = a.bearer_token_file;
  spec.basic_auth_file = a.basic_auth_file;
  spec.static_labels = a.static_labels;
  spec.tls.ca_file = a.tls.ca_file;
  spec.tls.cert_file = a.tls.cert_file;
  spec.tls.key_file = a.tls.key_file;
  spec.tls.server_name = a.tls.server_name;
  spec.tls.insecure_skip_verify = a.tls.insecure_skip_verify;
  spec.generator_url = generatorUrlFor(a.metrics_listen);
  return spec;
}

void Watchdog::configureAlerts(const Config& config) {
  const AlertsSpec& a = config.alerts;
  if (a.alertmanager_urls.empty()) {
    notifier_.reset();
    if (metrics_) metrics_->alertmanager({});  // its series go with it
    return;
  }
  AlertmanagerSpec spec = alertmanagerSpecFor(a);
  if (notifier_) {
    if (auto st = notifier_->reload(spec); !st)
      log_.log(LogLevel::kError, "alertmanager settings not changed",
               {{"error", st.error().describe()}});
    return;
  }
  auto made = AlertmanagerNotifier::create(spec, clock_);
  if (!made) {
    log_.log(LogLevel::kError, "cannot push alerts to Alertmanager; the alert action will not run",
             {{"error", made.error().describe()}});
    return;
  }
  notifier_ = std::move(*made);
  notifier_changes_seen_ = ~std::uint64_t{0};
  std::string urls;
  for (const auto& u : spec.urls) urls += (urls.empty() ? "" : ",") + u;
  log_.log(LogLevel::kInfo, "pushing alerts to Alertmanager",
           {{"urls", urls}, {"resend_interval", formatDuration(spec.resend_interval)}});
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

void Watchdog::shutdown() {
  if (runner_) {
    // The workload must not stay throttled while oomsentinel stops.
    runner_->releaseThrottles();
    for (const auto& e : runner_->takeThrottleEvents()) logThrottle(e);
  }
  if (notifier_ && !notifier_->flush(config_.alerts.alertmanager_timeout)) {
    auto st = notifier_->status();
    log_.log(LogLevel::kWarning, "stopping with alerts not delivered to every Alertmanager",
             {{"waited", formatDuration(config_.alerts.alertmanager_timeout)},
              {"active", std::to_string(st.active)},
              {"resolving", std::to_string(st.resolving)},
              {"error", st.total.last_error}});
  }
  if (runner_ && runner_->running() > 0) {
    // A bundle in progress is worth finishing (each ends by its deadline), and its outcome is
    // worth a log line: the runner's destructor would wait for it anyway, but silently.
    log_.log(LogLevel::kInfo, "waiting for the dumps in progress",
             {{"running", std::to_string(runner_->running())}});
    runner_->drain(config_.dump.timeout + std::chrono::seconds(1));
    collectDumpReports();
  }
}

void Watchdog::pollAlerts() {
  if (!notifier_) return;
  notifier_->poll();
  if (metrics_ && notifier_->changes() != notifier_changes_seen_) {
    notifier_changes_seen_ = notifier_->changes();
    metrics_->alertmanager(notifier_->status());
  }
  for (const auto& [url, error] : notifier_->takeErrorChanges()) {
    if (error.empty())
      log_.log(LogLevel::kInfo, "Alertmanager accepts alerts again", {{"url", url}});
    else
      log_.log(LogLevel::kWarning, "Alertmanager push failed; retrying with backoff",
               {{"url", url}, {"error", error}});
  }
}

void Watchdog::checkOomKills(Watched& w) {
  auto kills = w.snapshot.get(Sig::kEventsOomKill);
  if (!kills) return;
  if (w.oom_kills && *kills > *w.oom_kills) {
    SteadyTime now = clock_.steadyNow();
    bool warned = w.last_critical && now - *w.last_critical <= std::chrono::minutes(10);
    double n = *kills - *w.oom_kills;
    for (double i = 0; i < n && i < 1000; ++i)
      if (metrics_) metrics_->oomKill(w.spec.target.name, warned);
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

void Watchdog::startDump(const Firing& f, const Watched& w) {
  const TargetDumpSpec& spec = w.spec.dump;
  DumpJob job;
  job.timeout = config_.dump.timeout;
  IncidentInfo& info = job.info;
  info.target = f.target;
  info.rule = f.rule;
  info.severity = severityName(f.severity);
  info.expr = f.expr;
  info.fired_at = f.wall;
  info.values = f.values;
  info.labels = labels_;
  // The ring from its oldest entry.
  for (std::size_t i = 0; i < w.history.size(); ++i) {
    const Snapshot& s = w.history[(w.history_next + i) % w.history.size()];
    IncidentInfo::Sample sample;
    sample.time = s.wall;
    s.forEach([&](SignalId id, double v) {
      std::string name = signalName(id);
      if (name.rfind("stat_", 0) != 0) sample.signals.emplace_back(std::move(name), v);
    });
    info.history.push_back(std::move(sample));
  }
  DumpRequest& req = job.request;
  req.max_bytes = config_.dump.max_artifact_bytes;
  if (w.collector) req.cgroup_dir = w.collector->cgroupDir();
  // The process: the JVM when one is being read and a JVM dumper runs, the pid of a pid target,
  // else the largest process of the cgroup.
  Result<ChosenProcess> chosen = makeError("no process: the host target");
  const JvmPerfCollector* jvm = w.collector ? w.collector->jvm() : nullptr;
  bool wants_jvm = std::find(spec.dumpers.begin(), spec.dumpers.end(), "jvm") != spec.dumpers.end();
  if (wants_jvm && jvm && jvm->jvmPid())
    chosen = describeProcess(paths_, *jvm->jvmPid());
  else if (w.spec.target.kind == TargetKind::kPid)
    chosen = describeProcess(paths_, w.spec.target.pid);
  else if (!req.cgroup_dir.empty())
    chosen = largestProcess(paths_, joinPath(req.cgroup_dir, "cgroup.procs"));
  if (chosen) {
    req.pid = chosen->pid;
    req.pid_starttime = chosen->starttime;
  }
  for (const auto& name : spec.dumpers) {
    if (name == "proc") {
      job.dumpers.push_back(std::make_shared<ProcDumper>(paths_, spec.proc_smaps));
    } else if (name == "gperftools") {
      GperftoolsSpec g;
      g.heap_prefix = spec.gperftools_heap_prefix;
      g.signal = spec.gperftools_signal;
      job.dumpers.push_back(std::make_shared<GperftoolsDumper>(paths_, g));
    } else if (name == "go_pprof") {
      if (auto url = Url::parse(w.spec.runtime.go_pprof_url))
        job.dumpers.push_back(std::make_shared<GoPprofDumper>(*url, spec.go_profiles));
    } else if (name == "jvm") {
      JvmDumpSpec j;
      j.class_histogram = spec.jvm_class_histogram;
      j.heap_dump = spec.jvm_heap_dump;
      job.dumpers.push_back(std::make_shared<JvmDumper>(j, paths_));
    } else if (name == "exec") {
      job.dumpers.push_back(std::make_shared<ExecDumper>(
          spec.exec_argv, spec.exec_timeout,
          ExecIdentity{spec.exec_user, paths_, {spec.exec_memory_max, spec.exec_pids_max}}));
    }
  }
  if (spec.throttle && !req.cgroup_dir.empty()) {
    ThrottleSpec t;
    t.max_duration = spec.throttle_max_duration;
    t.headroom = spec.throttle_headroom;
    job.throttle = t;
  }
  std::vector<std::pair<std::string, std::string>> fields = {{"rule", f.rule},
                                                             {"target", f.target}};
  if (req.pid) fields.emplace_back("pid", std::to_string(*req.pid));
  std::string dumpers;
  for (const auto& d : spec.dumpers) dumpers += (dumpers.empty() ? "" : ",") + d;
  fields.emplace_back("dumpers", dumpers);
  if (auto refused = runner_->submit(std::move(job))) {
    fields.emplace_back("why", *refused);
    log_.log(LogLevel::kWarning, "dump not started", fields);
    return;
  }
  log_.log(LogLevel::kInfo, "dump started", fields);
}

void Watchdog::logThrottle(const ThrottleEvent& e) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (!e.target.empty()) fields.emplace_back("target", e.target);
  if (!e.cgroup_dir.empty()) fields.emplace_back("cgroup", e.cgroup_dir);
  const char* result = throttleResultName(e.result);
  fields.emplace_back("result", result);
  fields.emplace_back("detail", e.detail);
  fields.emplace_back("at", formatWallTime(e.at));
  log_.log(e.result == ThrottleResult::kFailed ? LogLevel::kError : LogLevel::kWarning,
           throttleResultMessage(e.result), fields);
  if (metrics_ && !e.target.empty()) metrics_->throttle(e.target, result, e.held);
}

void Watchdog::collectDumpReports() {
  if (!runner_) return;
  for (const auto& e : runner_->takeThrottleEvents()) logThrottle(e);
  for (const auto& r : runner_->takeFinished()) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {"rule", r.rule}, {"target", r.target}, {"took", formatDuration(r.took)}};
    std::string results;
    for (const auto& o : r.outcomes) {
      results += (results.empty() ? "" : " ") + o.dumper + "=" + dumpResultName(o.result);
      if (!o.error.empty()) fields.emplace_back(o.dumper + "_error", o.error);
    }
    fields.emplace_back("results", results);
    if (metrics_) {
      for (const auto& o : r.outcomes) {
        double bytes = 0;
        for (const auto& a : o.artifacts) bytes += static_cast<double>(a.bytes);
        metrics_->dump(r.target, o.dumper, dumpResultName(o.result),
                       std::chrono::duration<double>(o.took).count(), bytes);
      }
      metrics_->incident(r.target, r.published                          ? "published"
                                   : r.error.rfind("skipped: ", 0) == 0 ? "skipped"
                                                                        : "failed");
    }
    if (r.published) {
      if (notifier_) notifier_->setIncident(r.rule, r.target, r.path);
      fields.emplace_back("bundle", r.path);
      log_.log(LogLevel::kWarning, "incident bundle published", fields);
    } else {
      fields.emplace_back("error", r.error);
      log_.log(LogLevel::kError, "no incident bundle", fields);
    }
  }
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
