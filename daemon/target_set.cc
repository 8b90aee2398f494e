#include "daemon/target_set.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>

#include "collectors/discovery.h"
#include "core/units.h"

namespace oomsentinel {

TargetSet::TargetSet(const HostPaths& paths, const Clock& clock, Logger& log, RuleEngine& engine,
                     MetricsSink* metrics)
    : paths_(paths), clock_(clock), log_(log), engine_(engine), metrics_(metrics) {}

void TargetSet::apply(const Config& config) {
  discovery_ = config.discovery;
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
    next.push_back(make(spec));
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
}

void TargetSet::refresh(SteadyTime now) {
  for (auto& g : groups_) g.next_scan.reset();  // a reload looks again at once
  discover(now);
  for (auto& w : targets_)
    if (!w->collector) resolve(*w, now);
}

// A target the config names, or one a selector found: its rule handle, dump plan and endpoints.
std::shared_ptr<Watched> TargetSet::make(const TargetSpec& spec) {
  auto w = std::make_shared<Watched>();
  w->spec = spec;
  w->handle = engine_.addTarget(spec.target.name, spec.predict_window);
  w->dump_plan = dumpPlanFor(w->spec);
  buildEndpoints(*w);
  return w;
}

bool TargetSet::ensureLayout(const std::string& who, std::string* last_error) {
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

void TargetSet::discover(SteadyTime now) {
  for (auto& g : groups_)
    if (!g.next_scan || now >= *g.next_scan) scanGroup(g, now);
}

// One look at what a selector matches now: new matches become targets (read from the next
// tick), matches that went away take their state and series with them, and a match whose
// process or cgroup changed under the same name starts again. A failed look keeps what was found.
void TargetSet::scanGroup(Group& g, SteadyTime now) {
  g.next_scan = now + discovery_.interval;
  const std::string& name = g.spec.target.name;
  if (!ensureLayout(name, &g.last_error)) return;
  DiscoveryOptions opts;
  opts.containers_log_dir = discovery_.containers_log_dir;
  auto found = oomsentinel::discover(paths_, *layout_, name, g.spec.selector, opts);
  if (!found) {
    if (g.last_error != found.error().describe()) {
      g.last_error = found.error().describe();
      log_.log(LogLevel::kWarning, "target discovery failed; keeping what it found before",
               {{"target", name},
                {"selector", selectorKindName(g.spec.selector.kind)},
                {"error", g.last_error},
                {"retry_every", formatDuration(discovery_.interval)}});
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
    TargetSpec spec = g.spec;
    spec.target = d.target;
    spec.selector = {};
    auto w = make(spec);
    w->group = name;
    w->labels = d.labels;
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

void TargetSet::buildEndpoints(Watched& w) {
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

void TargetSet::pollEndpoints(Watched& w) {
  for (auto& e : w.endpoints) e->poll(*fetcher_);
}

void TargetSet::pollRuntime() {
  for (auto& w : targets_)
    if (w->collector)
      for (auto& e : w->endpoints) e->poll(*fetcher_);
}

bool TargetSet::waitForRuntime(Duration max) const {
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

void TargetSet::mergeRuntime(Watched& w, Snapshot& into) {
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

void TargetSet::resolve(Watched& w, SteadyTime now) {
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

const Watched* TargetSet::find(const std::string& name) const {
  for (const auto& w : targets_)
    if (w->spec.target.name == name) return w.get();
  return nullptr;
}

Watched* TargetSet::find(const std::string& name) {
  return const_cast<Watched*>(std::as_const(*this).find(name));
}

std::size_t TargetSet::resolved() const {
  std::size_t n = 0;
  for (const auto& w : targets_) n += w->collector ? 1 : 0;
  return n;
}

}  // namespace oomsentinel
