#include "alerts/refusal_metrics.h"

#include <string>

namespace oomsentinel {

RefusalMetrics::RefusalMetrics(prometheus::Registry& registry) {
  auto& family = prometheus::BuildCounter()
                     .Name("oomsentinel_dumps_refused_total")
                     .Help(
                         "Firings whose dump did not start, by reason: cooldown, storm_limit, "
                         "busy, stuck (storm control) or degraded (near the daemon's own limit)")
                     .Register(registry);
  for (DumpRefused why : kDumpRefusals)
    by_why_[static_cast<std::size_t>(why)] = &family.Add({{"reason", std::string(name(why))}});
}

void RefusalMetrics::refused(DumpRefused why) {
  by_why_[static_cast<std::size_t>(why)]->Increment();
}

}  // namespace oomsentinel
