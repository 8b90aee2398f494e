#include "alerts/metrics.h"

#include <dirent.h>
#include <dlfcn.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/safe_text.h"
#include "core/signal.h"

namespace oomsentinel {
namespace {

// A tick's cost and its lateness, from half a millisecond to a second.
const prometheus::Histogram::BucketBoundaries kTickBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

}  // namespace

// Long because it is the catalogue of the daemon's metric families, one initialiser each (name
// and help, as docs/metrics.md lists them): the members are references that only this list can
// bind, and cutting it into pieces would only scatter the catalogue.
DaemonMetrics::DaemonMetrics(const HostPaths& paths)
    : paths_(paths),
      registry_(std::make_shared<prometheus::Registry>()),
      usage_(BuildGauge()
                 .Name("oomsentinel_memory_usage_bytes")
                 .Help("Memory charged to the target (cgroup memory.current or usage_in_bytes; "
                       "the host's MemTotal - MemAvailable)")
                 .Register(*registry_)),
      limit_(
          BuildGauge()
              .Name("oomsentinel_memory_limit_bytes")
              .Help(
                  "The effective memory limit (smallest on the cgroup's path); absent without one")
              .Register(*registry_)),
      working_set_(BuildGauge()
                       .Name("oomsentinel_memory_working_set_bytes")
                       .Help("Usage minus inactive file cache (the kubelet's working set)")
                       .Register(*registry_)),
      working_set_ratio_(BuildGauge()
                             .Name("oomsentinel_memory_working_set_ratio")
                             .Help("Working set over the limit, 0 to 1")
                             .Register(*registry_)),
      anon_(BuildGauge()
                .Name("oomsentinel_memory_anon_bytes")
                .Help("Anonymous memory of the target")
                .Register(*registry_)),
      file_(BuildGauge()
                .Name("oomsentinel_memory_file_bytes")
                .Help("File-backed memory (page cache) of the target")
                .Register(*registry_)),
      swap_(BuildGauge()
                .Name("oomsentinel_memory_swap_bytes")
                .Help("Swap used by the target")
                .Register(*registry_)),
      tto_(BuildGauge()
               .Name("oomsentinel_time_to_oom_seconds")
               .Help("Predicted time until the working set reaches the limit, from its trend")
               .Register(*registry_)),
      capture_(BuildGauge()
                   .Name("oomsentinel_capture_seconds")
                   .Help("How long a capture of the target is expected to take: the p90 of its "
                         "dumpers' recent durations (proc, then the others side by side), or "
                         "their defaults before any")
                   .Register(*registry_)),
      psi_some_(BuildGauge()
                    .Name("oomsentinel_pressure_some_avg10_ratio")
                    .Help("Memory pressure (PSI some avg10) as a ratio of time")
                    .Register(*registry_)),
      psi_full_(BuildGauge()
                    .Name("oomsentinel_pressure_full_avg10_ratio")
                    .Help("Memory pressure (PSI full avg10) as a ratio of time")
                    .Register(*registry_)),
      heap_alloc_(BuildGauge()
                      .Name("oomsentinel_heap_alloc_bytes")
                      .Help("Heap in use as the target's runtime reports it (Go, JVM, /metrics)")
                      .Register(*registry_)),
      heap_limit_(BuildGauge()
                      .Name("oomsentinel_heap_limit_bytes")
                      .Help("The runtime's own heap limit (GOMEMLIMIT, -Xmx) when known")
                      .Register(*registry_)),
      page_faults_(BuildCounter()
                       .Name("oomsentinel_page_faults_total")
                       .Help("Page faults of the target, by kind (minor, major)")
                       .Register(*registry_)),
      reclaim_scanned_(BuildCounter()
                           .Name("oomsentinel_reclaim_scanned_pages_total")
                           .Help("Pages scanned by reclaim (pgscan)")
                           .Register(*registry_)),
      reclaim_stolen_(BuildCounter()
                          .Name("oomsentinel_reclaim_stolen_pages_total")
                          .Help("Pages reclaimed (pgsteal)")
                          .Register(*registry_)),
      refaults_(BuildCounter()
                    .Name("oomsentinel_workingset_refaults_total")
                    .Help("Evicted pages faulted back in (workingset_refault)")
                    .Register(*registry_)),
      oom_kills_(BuildCounter()
                     .Name("oomsentinel_oom_kills_total")
                     .Help("Processes of the target the kernel OOM-killed")
                     .Register(*registry_)),
      oom_kills_unwarned_(BuildCounter()
                              .Name("oomsentinel_oom_kills_unwarned_total")
                              .Help("OOM kills with no critical rule firing before them: every "
                                    "time oomsentinel lost the race")
                              .Register(*registry_)),
      gc_cycles_(BuildCounter()
                     .Name("oomsentinel_gc_cycles_total")
                     .Help("Garbage collections the target's runtime reports")
                     .Register(*registry_)),
      gc_pause_(BuildCounter()
                    .Name("oomsentinel_gc_pause_seconds_total")
                    .Help("Time the target's runtime spent in GC pauses")
                    .Register(*registry_)),
      allocated_(BuildCounter()
                     .Name("oomsentinel_heap_allocated_bytes_total")
                     .Help("Bytes the target's runtime allocated since it started")
                     .Register(*registry_)),
      rule_firing_(BuildGauge()
                       .Name("oomsentinel_rule_firing")
                       .Help("1 while the rule fires for the target, else 0")
                       .Register(*registry_)),
      transitions_(BuildCounter()
                       .Name("oomsentinel_rule_transitions_total")
                       .Help("Rule state changes, by the state entered")
                       .Register(*registry_)),
      dumps_(
          BuildCounter()
              .Name("oomsentinel_dumps_total")
              .Help("Dumper runs, by dumper and result (ok, partial, failed, skipped, timed_out)")
              .Register(*registry_)),
      dump_seconds_(BuildHistogram()
                        .Name("oomsentinel_dump_duration_seconds")
                        .Help("How long each dumper took")
                        .Register(*registry_)),
      dump_bytes_(BuildCounter()
                      .Name("oomsentinel_dump_bytes_total")
                      .Help("Bytes of evidence written, by dumper")
                      .Register(*registry_)),
      incidents_(BuildCounter()
                     .Name("oomsentinel_incidents_total")
                     .Help("Incident bundles, by result (published, skipped, failed, lost)")
                     .Register(*registry_)),
      tick_seconds_(BuildHistogram()
                        .Name("oomsentinel_poll_duration_seconds")
                        .Help("How long a tick took: every target read, every rule evaluated")
                        .Register(*registry_)
                        .Add({}, kTickBuckets)),
      tick_lateness_(BuildHistogram()
                         .Name("oomsentinel_tick_lateness_seconds")
                         .Help("How late a tick started after it was due (the event loop's lag)")
                         .Register(*registry_)
                         .Add({}, kTickBuckets)),
      interval_(BuildGauge()
                    .Name("oomsentinel_poll_interval_seconds")
                    .Help("The current tick interval (adaptive: shorter near a limit)")
                    .Register(*registry_)
                    .Add({})),
      last_tick_(BuildGauge()
                     .Name("oomsentinel_last_tick_timestamp_seconds")
                     .Help("Unix time of the last tick")
                     .Register(*registry_)
                     .Add({})),
      targets_(BuildGauge()
                   .Name("oomsentinel_targets")
                   .Help("Configured targets, by state (resolved, unresolved)")
                   .Register(*registry_)),
      reloads_(BuildCounter()
                   .Name("oomsentinel_config_reloads_total")
                   .Help("Config reloads, by result (ok, failed)")
                   .Register(*registry_)),
      wakeups_(BuildCounter()
                   .Name("oomsentinel_kernel_wakeups_total")
                   .Help("Kernel notifications that asked for a tick, by source (v1_threshold, "
                         "projection, near_level, v1_oom, v1_pressure, v2_events, psi_cgroup, "
                         "psi_host) and "
                         "result (tick: one started at once; coalesced: folded into a tick "
                         "already due)")
                   .Register(*registry_)),
      usage_watches_(BuildCounter()
                         .Name("oomsentinel_usage_watches_total")
                         .Help("Usage watches (a target read every millisecond while a level is "
                               "about to be crossed), by what started them (projection, "
                               "v1_threshold, near_level: the skim) and result (started; crossed: "
                               "it woke a tick; "
                               "expired; ended: a tick took over)")
                         .Register(*registry_)),
      psi_window_(BuildGauge()
                      .Name("oomsentinel_psi_trigger_window_seconds")
                      .Help("The window of a PSI trigger as the kernel accepted it (2 s steps "
                            "without CAP_SYS_RESOURCE)")
                      .Register(*registry_)),
      throttles_(
          BuildCounter()
              .Name("oomsentinel_dump_throttle_total")
              .Help("Changes of a target's memory.high around a dump (throttle_during_dump), "
                    "by result (throttled, restored, expired, released, recovered, "
                    "skipped, failed)")
              .Register(*registry_)),
      throttled_(BuildGauge()
                     .Name("oomsentinel_dump_throttled")
                     .Help("1 while a dump holds the target's memory.high just above its usage")
                     .Register(*registry_)),
      rss_(BuildGauge()
               .Name("oomsentinel_process_resident_memory_bytes")
               .Help("oomsentinel's own resident memory")
               .Register(*registry_)
               .Add({})),
      cpu_(BuildCounter()
               .Name("oomsentinel_process_cpu_seconds_total")
               .Help("oomsentinel's own CPU time, user and system")
               .Register(*registry_)
               .Add({})),
      fds_(BuildGauge()
               .Name("oomsentinel_process_open_fds")
               .Help("oomsentinel's own open file descriptors")
               .Register(*registry_)
               .Add({})),
      am_sent_(BuildCounter()
                   .Name("oomsentinel_alertmanager_notifications_sent_total")
                   .Help("POSTs of alerts an Alertmanager accepted, by Alertmanager")
                   .Register(*registry_)),
      am_errors_(BuildCounter()
                     .Name("oomsentinel_alertmanager_notifications_errors_total")
                     .Help("POSTs of alerts that failed (no answer, or not 2xx), by Alertmanager")
                     .Register(*registry_)),
      am_retries_(BuildCounter()
                      .Name("oomsentinel_alertmanager_notifications_retries_total")
                      .Help("POSTs that were retries after a failure, by Alertmanager")
                      .Register(*registry_)),
      am_dropped_(BuildCounter()
                      .Name("oomsentinel_alertmanager_alerts_dropped_total")
                      .Help("Alerts dropped because the notifier's queue was full")
                      .Register(*registry_)
                      .Add({})),
      http_closed_(BuildCounter()
                       .Name("oomsentinel_http_connections_closed_total")
                       .Help("Connections the metrics listener closed to defend itself, by reason "
                             "(refused: over a cap at accept; evicted: an idle one closed for a "
                             "newer; timed_out: no whole request within 2 s, or an answer not "
                             "taken; busy: answered 503)")
                       .Register(*registry_)),
      am_alerts_(BuildGauge()
                     .Name("oomsentinel_alertmanager_alerts")
                     .Help("Alerts the notifier holds, by state (active, resolving: a resolve "
                           "not yet accepted by every Alertmanager)")
                     .Register(*registry_)),
      target_info_(BuildGauge()
                       .Name("oomsentinel_target_info")
                       .Help("Always 1: a discovered target's Kubernetes namespace, pod, "
                             "container, pod_uid and container_id, when its cgroup path has them")
                       .Register(*registry_)),
      fs_stuck_(BuildGauge()
                    .Name("oomsentinel_target_fs_stuck_workers")
                    .Help("Reads of targets' files left behind at their deadline (a file system "
                          "that does not answer, such as a stalled FUSE mount) that have not "
                          "returned; at 8, targets' files are refused until one returns")
                    .Register(*registry_)
                    .Add({})),
      fs_abandoned_(BuildCounter()
                        .Name("oomsentinel_target_fs_abandoned_total")
                        .Help("Reads of targets' files left behind at their deadline")
                        .Register(*registry_)
                        .Add({})),
      dumpers_stuck_(BuildGauge()
                         .Name("oomsentinel_dumpers_stuck")
                         .Help("Dumpers left behind past their dump's deadline that have not "
                               "returned; at 4, new dumps are refused")
                         .Register(*registry_)
                         .Add({})),
      // Made once: a tick only sets them.
      resolved_(&targets_.Add({{"state", "resolved"}})),
      unresolved_(&targets_.Add({{"state", "unresolved"}})),
      am_active_(&am_alerts_.Add({{"state", "active"}})),
      am_resolving_(&am_alerts_.Add({{"state", "resolving"}})) {}

prometheus::Gauge& DaemonMetrics::gauge(prometheus::Family<prometheus::Gauge>& f,
                                        const prometheus::Labels& l, const std::string& target) {
  auto& g = f.Add(l);
  if (known_[target].emplace(&g, false).second)
    removers_[target].push_back({false, [&f, &g] { f.Remove(&g); }});
  return g;
}

prometheus::Counter& DaemonMetrics::counter(prometheus::Family<prometheus::Counter>& f,
                                            const prometheus::Labels& l,
                                            const std::string& target) {
  auto& c = f.Add(l);
  if (known_[target].emplace(&c, true).second)
    removers_[target].push_back({true, [&f, &c] { f.Remove(&c); }});
  return c;
}

void DaemonMetrics::updateTarget(const std::string& target, const Snapshot& s) {
  std::lock_guard lock(mu_);
  TargetSeries& ts = series_[target];
  // A discovered target's name holds what it made (a cgroup or process name): every label value
  // made from it goes through safeText, as a scraper refuses the whole page over invalid UTF-8.
  auto labels = [&] { return prometheus::Labels{{"target", safeText(target)}}; };
  auto set = [&](std::size_t i, prometheus::Family<prometheus::Gauge>& f, std::optional<double> v,
                 double scale = 1) {
    if (!v) return;
    if (!ts.gauges[i]) ts.gauges[i] = &gauge(f, labels(), target);
    ts.gauges[i]->Set(*v * scale);
  };
  set(0, usage_, s.get(Sig::kUsageBytes));
  set(1, limit_, s.get(Sig::kLimitBytes));
  set(2, working_set_, s.get(Sig::kWorkingSetBytes));
  set(3, working_set_ratio_, s.get(Sig::kWorkingSetRatio));
  set(4, anon_, s.get(Sig::kAnonBytes));
  set(5, file_, s.get(Sig::kFileBytes));
  set(6, swap_, s.get(Sig::kSwapBytes));
  set(7, psi_some_, s.get(Sig::kPsiSomeAvg10), 0.01);
  set(8, psi_full_, s.get(Sig::kPsiFullAvg10), 0.01);
  static const SignalId kHeapAlloc = internSignal("heap_alloc_bytes");
  static const SignalId kHeapLimit = internSignal("heap_limit_bytes");
  static const SignalId kGcCycles = internSignal("gc_cycles");
  static const SignalId kGcPause = internSignal("gc_pause_seconds_total");
  static const SignalId kAllocated = internSignal("alloc_bytes_total");
  set(9, heap_alloc_, s.get(kHeapAlloc));
  set(10, heap_limit_, s.get(kHeapLimit));
  // A prediction that stopped (no trend) must not linger at its last value.
  set(11, tto_, s.get(Sig::kTimeToOomSeconds).value_or(std::numeric_limits<double>::infinity()));
  set(12, capture_, s.get(Sig::kCaptureSeconds));

  // Counters advance by what the outside counter advanced; the first sight, or a counter that
  // started again (a re-created cgroup, a restarted runtime), adds its whole value.
  auto mirror = [&](std::size_t i, prometheus::Family<prometheus::Counter>& f, const char* kind,
                    std::optional<double> v) {
    if (!v) return;
    Mirror& m = ts.counters[i];
    if (!m.counter) {
      prometheus::Labels l = labels();
      if (kind) l.emplace("kind", kind);
      m.counter = &counter(f, l, target);
    }
    m.counter->Increment(!m.seen || *v < m.last ? *v : *v - m.last);
    m.last = *v;
    m.seen = true;
  };
  auto major = s.get(Sig::kPgmajfault);
  auto all = s.get(Sig::kPgfault);
  mirror(0, page_faults_, "major", major);
  if (all && major) mirror(1, page_faults_, "minor", std::max(0.0, *all - *major));
  mirror(2, reclaim_scanned_, nullptr, s.get(Sig::kPgscan));
  mirror(3, reclaim_stolen_, nullptr, s.get(Sig::kPgsteal));
  mirror(4, refaults_, nullptr, s.get(Sig::kWorkingsetRefault));
  mirror(5, oom_kills_, nullptr, s.get(Sig::kEventsOomKill));
  mirror(6, gc_cycles_, nullptr, s.get(kGcCycles));
  mirror(7, gc_pause_, nullptr, s.get(kGcPause));
  mirror(8, allocated_, nullptr, s.get(kAllocated));
  // The unwarned counter exists from the start, at 0, so that increase() over it works.
  if (!ts.counters[9].counter)
    ts.counters[9].counter = &counter(oom_kills_unwarned_, labels(), target);
}

void DaemonMetrics::removeTarget(const std::string& target) {
  std::lock_guard lock(mu_);
  auto it = removers_.find(target);
  if (it != removers_.end()) {
    for (auto& r : it->second) r.remove();
    removers_.erase(it);
  }
  series_.erase(target);
  known_.erase(target);
}

void DaemonMetrics::targetGone(const std::string& target) {
  std::lock_guard lock(mu_);
  auto it = removers_.find(target);
  if (it == removers_.end()) return;
  std::vector<Remover> kept;
  for (auto& r : it->second) {
    if (r.counter)
      kept.push_back(std::move(r));
    else
      r.remove();
  }
  it->second = std::move(kept);
  if (auto ts = series_.find(target); ts != series_.end()) ts->second.gauges = {};
  // Its gauges are made again (with their removers) when the target comes back.
  auto& known = known_[target];
  for (auto k = known.begin(); k != known.end();) k = k->second ? std::next(k) : known.erase(k);
}

void DaemonMetrics::transition(const Firing& f) {
  std::lock_guard lock(mu_);
  gauge(rule_firing_,
        {{"rule", f.rule}, {"target", safeText(f.target)}, {"severity", severityName(f.severity)}},
        f.target)
      .Set(f.to == RuleState::kFiring ? 1 : 0);
  counter(transitions_,
          {{"rule", f.rule}, {"target", safeText(f.target)}, {"state", ruleStateName(f.to)}},
          f.target)
      .Increment();
}

void DaemonMetrics::targetInfo(const std::string& target,
                               const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return;
  std::lock_guard lock(mu_);
  prometheus::Labels l{{"target", safeText(target)}};
  for (const auto& [k, v] : labels) l.emplace(k, safeText(v));
  gauge(target_info_, l, target).Set(1);
}

void DaemonMetrics::oomKill(const std::string& target, bool warned) {
  if (warned) return;
  std::lock_guard lock(mu_);
  counter(oom_kills_unwarned_, {{"target", safeText(target)}}, target).Increment();
}

void DaemonMetrics::dump(const std::string& target, const std::string& dumper,
                         const std::string& result, double seconds, double bytes) {
  std::lock_guard lock(mu_);
  counter(dumps_, {{"target", safeText(target)}, {"dumper", dumper}, {"result", result}}, target)
      .Increment();
  dump_seconds_
      .Add({{"dumper", dumper}},
           prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
      .Observe(seconds);
  dump_bytes_.Add({{"dumper", dumper}}).Increment(bytes);
}

void DaemonMetrics::incident(const std::string& target, const std::string& result) {
  std::lock_guard lock(mu_);
  counter(incidents_, {{"target", safeText(target)}, {"result", result}}, target).Increment();
}

void DaemonMetrics::declareDumpers(const std::string& target,
                                   const std::vector<std::string>& dumpers) {
  std::lock_guard lock(mu_);
  for (const auto& d : dumpers)
    for (const char* result : {"ok", "failed", "timed_out"})
      counter(dumps_, {{"target", safeText(target)}, {"dumper", d}, {"result", result}}, target);
}

void DaemonMetrics::follow(Mirror& m, prometheus::Family<prometheus::Counter>& f,
                           const prometheus::Labels& l, double value) {
  if (!m.counter) m.counter = &f.Add(l);
  // The notifier's counters only grow while it lives; a new notifier (alerts configured again)
  // starts from 0, and its whole count is new.
  m.counter->Increment(!m.seen || value < m.last ? value : value - m.last);
  m.last = value;
  m.seen = true;
}

void DaemonMetrics::alertmanager(const AlertmanagerStatus& s) {
  std::lock_guard lock(mu_);
  std::map<std::string, AlertmanagerSeries> next;
  for (const auto& ep : s.endpoints) {
    auto it = am_series_.find(ep.url);
    AlertmanagerSeries series = it != am_series_.end() ? it->second : AlertmanagerSeries{};
    prometheus::Labels l{{"alertmanager", ep.url}};
    follow(series.sent, am_sent_, l, static_cast<double>(ep.stats.sent));
    follow(series.errors, am_errors_, l, static_cast<double>(ep.stats.failed));
    follow(series.retries, am_retries_, l, static_cast<double>(ep.stats.retries));
    next.emplace(ep.url, series);
  }
  // An Alertmanager no longer configured: its series go, like a target's.
  for (auto& [url, series] : am_series_)
    if (!next.count(url)) {
      am_sent_.Remove(series.sent.counter);
      am_errors_.Remove(series.errors.counter);
      am_retries_.Remove(series.retries.counter);
    }
  am_series_ = std::move(next);
  Mirror& d = am_dropped_mirror_;
  d.counter = &am_dropped_;
  double dropped = static_cast<double>(s.total.dropped);
  am_dropped_.Increment(!d.seen || dropped < d.last ? dropped : dropped - d.last);
  d.last = dropped;
  d.seen = true;
  am_active_->Set(static_cast<double>(s.active));
  am_resolving_->Set(static_cast<double>(s.resolving));
}

void DaemonMetrics::tick(WallTime now, Duration took, Duration interval, std::size_t resolved,
                         std::size_t unresolved) {
  tick_seconds_.Observe(std::chrono::duration<double>(took).count());
  interval_.Set(std::chrono::duration<double>(interval).count());
  last_tick_.Set(std::chrono::duration<double>(now.time_since_epoch()).count());
  resolved_->Set(static_cast<double>(resolved));
  unresolved_->Set(static_cast<double>(unresolved));
}

void DaemonMetrics::reload(bool ok) {
  reloads_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

void DaemonMetrics::tickLateness(Duration late) {
  tick_lateness_.Observe(std::max(0.0, std::chrono::duration<double>(late).count()));
}

void DaemonMetrics::wakeup(const std::string& source, bool ticked) {
  wakeups_.Add({{"source", source}, {"result", ticked ? "tick" : "coalesced"}}).Increment();
}

void DaemonMetrics::usageWatch(const std::string& started_by, const std::string& result) {
  usage_watches_.Add({{"started_by", started_by}, {"result", result}}).Increment();
}

void DaemonMetrics::httpConnections(std::uint64_t refused, std::uint64_t evicted,
                                    std::uint64_t timed_out, std::uint64_t busy) {
  std::lock_guard lock(mu_);
  const std::array<std::pair<const char*, std::uint64_t>, 4> counts{
      {{"refused", refused}, {"evicted", evicted}, {"timed_out", timed_out}, {"busy", busy}}};
  for (std::size_t i = 0; i < counts.size(); ++i)
    follow(http_closed_mirrors_[i], http_closed_, {{"reason", counts[i].first}},
           static_cast<double>(counts[i].second));
}

void DaemonMetrics::stuckWork(std::size_t fs_stuck, std::uint64_t fs_abandoned_total,
                              std::size_t dumpers_stuck) {
  std::lock_guard lock(mu_);
  fs_stuck_.Set(static_cast<double>(fs_stuck));
  Mirror& m = fs_abandoned_mirror_;
  double total = static_cast<double>(fs_abandoned_total);
  // One process-wide count that only grows: what is new since the last tick.
  if (total > m.last) fs_abandoned_.Increment(total - m.last);
  m.last = total;
  dumpers_stuck_.Set(static_cast<double>(dumpers_stuck));
}

void DaemonMetrics::psiTriggerWindow(const std::string& source, Duration window) {
  auto& g = psi_window_.Add({{"source", source}});
  if (window <= Duration::zero())
    psi_window_.Remove(&g);
  else
    g.Set(std::chrono::duration<double>(window).count());
}

void DaemonMetrics::throttle(const std::string& target, const std::string& result, bool held) {
  std::lock_guard lock(mu_);
  counter(throttles_, {{"target", safeText(target)}, {"result", result}}, target).Increment();
  gauge(throttled_, {{"target", safeText(target)}}, target).Set(held ? 1 : 0);
}

void DaemonMetrics::selfStats() {
  std::ifstream status(paths_.proc(0, "status"));
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) rss_.Set(std::strtod(line.c_str() + 6, nullptr) * 1024);
  std::ifstream stat(paths_.proc(0, "stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(text.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    // Fields 3.. after "(comm) ": utime is the 14th field of the line, stime the 15th.
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::strtod(field.c_str(), nullptr);
      if (i == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    double seconds = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    if (seconds > cpu_last_) cpu_.Increment(seconds - cpu_last_);
    cpu_last_ = std::max(cpu_last_, seconds);
  }
  if (DIR* d = ::opendir(paths_.proc(0, "fd").c_str())) {
    int n = 0;
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    fds_.Set(n - 1);  // not counting the directory descriptor just opened
  }
  allocator_.sample();
}

std::string DaemonMetrics::render() {
  {
    std::lock_guard lock(mu_);
    selfStats();
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace oomsentinel
