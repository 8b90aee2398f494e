// alerts/: telling the world: Prometheus exposition and Alertmanager push.
// AllocatorMetrics: what the daemon's allocator holds, beside its resident memory, so that a
// growing RSS can be told apart: more memory in use (something keeps more) or more memory freed
// but kept by malloc (fragmentation, per-thread arenas). With tcmalloc in the process (linked or
// LD_PRELOADed) its own figures; else glibc's (mallinfo2: every arena, in use, free, mmapped).
// Sampled at each scrape, not each tick: mallinfo2 walks the free lists under each arena's lock.
// Part of DaemonMetrics (alerts/metrics.h), which owns the registry.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace oomsentinel {

// glibc's malloc, summed over its arenas; bytes.
struct MallocFigures {
  double in_use = 0;   // chunks handed out from the arenas (uordblks)
  double free = 0;     // free chunks the arenas keep (fordblks): not given back to the kernel
  double mmapped = 0;  // large chunks mapped on their own, in use (hblkhd)
};
MallocFigures glibcMallocFigures();

class AllocatorMetrics {
 public:
  explicit AllocatorMetrics(prometheus::Registry& registry);
  void sample();

 private:
  prometheus::Registry& registry_;
  // Each made on first use, so that only the allocator in the process has series.
  prometheus::Family<prometheus::Gauge>* tcmalloc_ = nullptr;
  prometheus::Family<prometheus::Gauge>* glibc_ = nullptr;
};

}  // namespace oomsentinel
