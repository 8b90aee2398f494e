// alerts/: telling the world: Prometheus exposition and Alertmanager push.
// SelfMetrics: the daemon's own memory against its cgroup's limit, and the degraded mode the self
// guard (daemon/self_guard.h) puts it in near that limit: one gauge says so, one counter says what
// the mode dropped. Part of DaemonMetrics (alerts/metrics.h), which owns the registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <optional>

namespace oomsentinel {

class SelfMetrics {
 public:
  explicit SelfMetrics(prometheus::Registry& registry);
  // After each check: degraded or not; the working set and the effective limit (absent: their
  // series go, so that no stale value is scraped).
  void set(bool degraded, std::optional<double> used, std::optional<double> limit);
  // One thing degraded mode dropped: "full_read" or "dump".
  void dropped(const char* what);

 private:
  prometheus::Family<prometheus::Gauge>& memory_;
  prometheus::Family<prometheus::Gauge>& limit_;
  prometheus::Gauge& degraded_;
  prometheus::Counter& full_reads_;
  prometheus::Counter& dumps_;
  prometheus::Gauge* memory_series_ = nullptr;
  prometheus::Gauge* limit_series_ = nullptr;
};

}  // namespace oomsentinel
