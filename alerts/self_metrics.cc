#include "alerts/self_metrics.h"

#include <cstring>

namespace oomsentinel {

namespace {

prometheus::Family<prometheus::Counter>& droppedFamily(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("oomsentinel_degraded_dropped_total")
      .Help(
          "What degraded mode dropped: full reads of targets (read by skim instead, or not at "
          "all before their first full read), and dumps refused")
      .Register(r);
}

}  // namespace

SelfMetrics::SelfMetrics(prometheus::Registry& r)
    : memory_(prometheus::BuildGauge()
                  .Name("oomsentinel_self_memory_bytes")
                  .Help("oomsentinel's own cgroup: its working set (usage - inactive file)")
                  .Register(r)),
      limit_(prometheus::BuildGauge()
                 .Name("oomsentinel_self_memory_limit_bytes")
                 .Help("oomsentinel's own cgroup: its effective memory limit (absent: none)")
                 .Register(r)),
      degraded_(prometheus::BuildGauge()
                    .Name("oomsentinel_degraded")
                    .Help("1 while oomsentinel's own memory is near its limit: targets are only "
                          "skimmed, no dump begins, no runtime endpoint is fetched")
                    .Register(r)
                    .Add({})),
      full_reads_(droppedFamily(r).Add({{"what", "full_read"}})),
      dumps_(droppedFamily(r).Add({{"what", "dump"}})) {}

void SelfMetrics::set(bool degraded, std::optional<double> used, std::optional<double> limit) {
  degraded_.Set(degraded ? 1 : 0);
  auto follow = [](prometheus::Family<prometheus::Gauge>& f, prometheus::Gauge*& g,
                   std::optional<double> v) {
    if (v) {
      if (!g) g = &f.Add({});
      g->Set(*v);
    } else if (g) {
      f.Remove(g);
      g = nullptr;
    }
  };
  follow(memory_, memory_series_, used);
  follow(limit_, limit_series_, limit);
}

void SelfMetrics::dropped(const char* what) {
  (std::strcmp(what, "dump") == 0 ? dumps_ : full_reads_).Increment();
}

}  // namespace oomsentinel
