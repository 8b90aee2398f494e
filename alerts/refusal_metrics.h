// alerts/: telling the world: Prometheus exposition and Alertmanager push.
// RefusalMetrics: the firings whose dump did not start, by why (core/kinds.h: DumpRefused): storm
// control (cooldown, storm_limit, busy, stuck) and degraded mode. Each refusal is also logged
// ("dump not started", with the sentence); the counter is what an alert can watch: a node whose
// dumps are refused all day has limits set too tight, or a target firing in a loop. Part of
// DaemonMetrics (alerts/metrics.h), which owns the registry.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <array>

#include "core/kinds.h"

namespace oomsentinel {

class RefusalMetrics {
 public:
  // Every reason's series, at 0 from the start, so that a first refusal is an increase().
  explicit RefusalMetrics(prometheus::Registry& registry);
  void refused(DumpRefused why);

 private:
  std::array<prometheus::Counter*, std::size(kDumpRefusals)> by_why_{};
};

}  // namespace oomsentinel
