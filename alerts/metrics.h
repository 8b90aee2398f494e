// alerts/: telling the world: Prometheus exposition and Alertmanager push.
// DaemonMetrics: every target's signals and the daemon's own state as Prometheus series, with
// labels bounded by the targets that exist: a target's series go when the target goes.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alertmanager.h"
#include "alerts/allocator_metrics.h"
#include "alerts/refusal_metrics.h"
#include "alerts/self_metrics.h"
#include "core/clock.h"
#include "core/firing.h"
#include "core/host_paths.h"
#include "core/snapshot.h"

namespace oomsentinel {

class DaemonMetrics {
 public:
  explicit DaemonMetrics(const HostPaths& paths);

  // A target's signals after a tick: gauges set, counters advanced by what the kernel's or the
  // runtime's counter advanced (a counter that went back, a restarted target, starts again).
  void updateTarget(const std::string& target, const Snapshot& s);
  // Every series labelled with this target: a reload dropped it.
  void removeTarget(const std::string& target);
  // The target's cgroup or process is gone: its gauges go (they would show stale values), its
  // counters stay, so that the OOM kill that removed it is still scraped and alerted on.
  void targetGone(const std::string& target);
  // oomsentinel_target_info{target, <labels>} 1: what a discovered target is (its Kubernetes
  // namespace, pod, container, ids), for joins with group_left; goes with the target's gauges.
  void targetInfo(const std::string& target,
                  const std::vector<std::pair<std::string, std::string>>& labels);
  void transition(const Firing& f);
  // An OOM kill the kernel counted for `target`; `warned`: a critical rule fired before it.
  void oomKill(const std::string& target, bool warned);
  void dump(const std::string& target, const std::string& dumper, const std::string& result,
            double seconds, double bytes);
  void incident(const std::string& target, const std::string& result);
  // The dumpers a target's `dump` action runs: their ok/failed/timed_out series start at 0, so
  // that increase() sees a first failure (a series born at 1 is no increase).
  void declareDumpers(const std::string& target, const std::vector<std::string>& dumpers);
  // The Alertmanager notifier's counters (by Alertmanager URL) and queue, after its poll().
  void alertmanager(const AlertmanagerStatus& s);
  void tick(WallTime now, Duration took, Duration interval, std::size_t resolved,
            std::size_t unresolved);
  void reload(bool ok);
  // How late a tick started after the time it was due (the timer's expiry): the event loop's
  // own lag (a scrape, a reload, a slow tick before it, a starved CPU), not the tick's cost.
  void tickLateness(Duration late);
  // A kernel notification (docs/design/wakeups.md) from `source` (v1_threshold,
  // projection and near_level: the usage watch, v1_oom, v1_pressure, v2_events, psi_cgroup,
  // psi_host);
  // `ticked`: it started a tick, else it was folded into one already due.
  void wakeup(const std::string& source, bool ticked);
  // The usage watch (docs/design/wakeups.md): a watch `started_by` projection,
  // v1_threshold or near_level (the skim); result started, crossed (it woke a tick), expired, or
  // ended (a tick took over).
  void usageWatch(const std::string& started_by, const std::string& result);
  // The metrics listener's own defence (docs/security.md, "Probes that cannot be starved"):
  // connections it closed, by reason (refused, evicted, timed_out, busy), followed from the
  // server's counts since it started (a new server after a reload starts again from 0).
  void httpConnections(std::uint64_t refused, std::uint64_t evicted, std::uint64_t timed_out,
                       std::uint64_t busy);
  // Work left behind on targets' file systems that do not answer (docs/security.md, "Work behind
  // the door has a deadline"): target-fs workers stuck now and abandoned since the start, and
  // dumpers left behind past their deadline that have not returned.
  void stuckWork(std::size_t fs_stuck, std::uint64_t fs_abandoned_total, std::size_t dumpers_stuck);
  // The window of a PSI trigger as the kernel took it (widened to 2 s steps without
  // CAP_SYS_RESOURCE); 0 removes the series.
  void psiTriggerWindow(const std::string& source, Duration window);
  // A throttle_during_dump change of the target's memory.high (docs/design/throttle.md): result
  // throttled, restored, expired, released, recovered, skipped or failed; `held`:
  // whether the target is throttled after it.
  void throttle(const std::string& target, const std::string& result, bool held);
  // The self guard (alerts/self_metrics.h): the daemon's own memory, its limit, degraded or not;
  // and what degraded mode dropped (full_read, dump).
  void selfMemory(bool degraded, std::optional<double> used, std::optional<double> limit) {
    self_.set(degraded, used, limit);
  }
  void degradedDropped(const char* what) { self_.dropped(what); }
  // A firing's dump that did not start, and why (alerts/refusal_metrics.h).
  void dumpRefused(DumpRefused why) { refusals_.refused(why); }

  // The text exposition (version 0.0.4) of every family, the process's own figures refreshed.
  std::string render();

 private:
  // Per target, the series updateTarget sets, made the first time each has a value: a tick then
  // only sets values (no label maps built, no family lookups) however often it runs.
  struct Mirror {  // a counter that follows an outside one by its deltas
    prometheus::Counter* counter = nullptr;
    double last = 0;
    bool seen = false;
  };
  struct TargetSeries {
    std::array<prometheus::Gauge*, 13> gauges{};
    std::array<Mirror, 10> counters{};
  };
  prometheus::Gauge& gauge(prometheus::Family<prometheus::Gauge>& f, const prometheus::Labels& l,
                           const std::string& target);
  prometheus::Counter& counter(prometheus::Family<prometheus::Counter>& f,
                               const prometheus::Labels& l, const std::string& target);
  void selfStats();
  // A counter that follows `value` by its increases; made on first use.
  static void follow(Mirror& m, prometheus::Family<prometheus::Counter>& f,
                     const prometheus::Labels& l, double value);

  HostPaths paths_;
  std::shared_ptr<prometheus::Registry> registry_;
  SelfMetrics self_{*registry_};  // its own file: metrics.cc is at the 600-line limit
  RefusalMetrics refusals_{*registry_};
  AllocatorMetrics allocator_{*registry_};
  std::mutex mu_;  // the removers and the counted values
  struct Remover {
    bool counter;
    std::function<void()> remove;
  };
  std::map<std::string, std::vector<Remover>> removers_;  // per target
  std::map<std::string, TargetSeries, std::less<>> series_;
  // Per target: the series made, and whether each is a counter.
  std::map<std::string, std::map<const void*, bool>> known_;

  prometheus::Family<prometheus::Gauge>& usage_;
  prometheus::Family<prometheus::Gauge>& limit_;
  prometheus::Family<prometheus::Gauge>& working_set_;
  prometheus::Family<prometheus::Gauge>& working_set_ratio_;
  prometheus::Family<prometheus::Gauge>& anon_;
  prometheus::Family<prometheus::Gauge>& file_;
  prometheus::Family<prometheus::Gauge>& swap_;
  prometheus::Family<prometheus::Gauge>& tto_;
  prometheus::Family<prometheus::Gauge>& capture_;
  prometheus::Family<prometheus::Gauge>& psi_some_;
  prometheus::Family<prometheus::Gauge>& psi_full_;
  prometheus::Family<prometheus::Gauge>& heap_alloc_;
  prometheus::Family<prometheus::Gauge>& heap_limit_;
  prometheus::Family<prometheus::Counter>& page_faults_;
  prometheus::Family<prometheus::Counter>& reclaim_scanned_;
  prometheus::Family<prometheus::Counter>& reclaim_stolen_;
  prometheus::Family<prometheus::Counter>& refaults_;
  prometheus::Family<prometheus::Counter>& oom_kills_;
  prometheus::Family<prometheus::Counter>& oom_kills_unwarned_;
  prometheus::Family<prometheus::Counter>& gc_cycles_;
  prometheus::Family<prometheus::Counter>& gc_pause_;
  prometheus::Family<prometheus::Counter>& allocated_;
  prometheus::Family<prometheus::Gauge>& rule_firing_;
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Family<prometheus::Counter>& dumps_;
  prometheus::Family<prometheus::Histogram>& dump_seconds_;
  prometheus::Family<prometheus::Counter>& dump_bytes_;
  prometheus::Family<prometheus::Counter>& incidents_;
  prometheus::Histogram& tick_seconds_;
  prometheus::Histogram& tick_lateness_;
  prometheus::Gauge& interval_;
  prometheus::Gauge& last_tick_;
  prometheus::Family<prometheus::Gauge>& targets_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Counter>& wakeups_;
  prometheus::Family<prometheus::Counter>& usage_watches_;
  prometheus::Family<prometheus::Gauge>& psi_window_;
  prometheus::Family<prometheus::Counter>& throttles_;
  prometheus::Family<prometheus::Gauge>& throttled_;
  prometheus::Gauge& rss_;
  prometheus::Counter& cpu_;
  double cpu_last_ = 0;
  prometheus::Gauge& fds_;
  prometheus::Family<prometheus::Counter>& am_sent_;
  prometheus::Family<prometheus::Counter>& am_errors_;
  prometheus::Family<prometheus::Counter>& am_retries_;
  prometheus::Counter& am_dropped_;
  prometheus::Family<prometheus::Counter>& http_closed_;
  prometheus::Family<prometheus::Gauge>& am_alerts_;
  prometheus::Family<prometheus::Gauge>& target_info_;
  struct AlertmanagerSeries {
    Mirror sent, errors, retries;
  };
  std::map<std::string, AlertmanagerSeries> am_series_;  // per URL
  Mirror am_dropped_mirror_;
  std::array<Mirror, 4> http_closed_mirrors_{};
  prometheus::Gauge& fs_stuck_;
  prometheus::Counter& fs_abandoned_;
  Mirror fs_abandoned_mirror_;
  prometheus::Gauge& dumpers_stuck_;
  prometheus::Gauge *resolved_, *unresolved_, *am_active_, *am_resolving_;
};

}  // namespace oomsentinel
