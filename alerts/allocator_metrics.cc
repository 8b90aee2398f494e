#include "alerts/allocator_metrics.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>

namespace oomsentinel {

namespace {

// gperftools' C interface (gperftools/malloc_extension_c.h), looked up at run time so that the
// metric is there exactly when tcmalloc is in the process, linked in or preloaded.
using NumericProperty = int (*)(const char*, std::size_t*);
NumericProperty tcmallocProperty() {
  static const NumericProperty f = reinterpret_cast<NumericProperty>(
      ::dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty"));
  return f;
}

}  // namespace

MallocFigures glibcMallocFigures() {
  struct mallinfo2 m = ::mallinfo2();
  return {static_cast<double>(m.uordblks), static_cast<double>(m.fordblks),
          static_cast<double>(m.hblkhd)};
}

AllocatorMetrics::AllocatorMetrics(prometheus::Registry& registry) : registry_(registry) {}

void AllocatorMetrics::sample() {
  if (NumericProperty get = tcmallocProperty()) {
    if (!tcmalloc_)
      tcmalloc_ = &prometheus::BuildGauge()
                       .Name("oomsentinel_process_tcmalloc_bytes")
                       .Help(
                           "tcmalloc's own figures when oomsentinel runs with it: allocated "
                           "(generic.current_allocated_bytes), heap (generic.heap_size)")
                       .Register(registry_);
    std::size_t v = 0;
    if (get("generic.current_allocated_bytes", &v))
      tcmalloc_->Add({{"kind", "allocated"}}).Set(static_cast<double>(v));
    if (get("generic.heap_size", &v))
      tcmalloc_->Add({{"kind", "heap"}}).Set(static_cast<double>(v));
    return;
  }
  if (!glibc_)
    glibc_ = &prometheus::BuildGauge()
                  .Name("oomsentinel_process_malloc_bytes")
                  .Help(
                      "glibc malloc's figures over all its arenas: in_use (handed out), free "
                      "(freed but kept by malloc, not given back), mmapped (large chunks mapped "
                      "on their own, in use)")
                  .Register(registry_);
  MallocFigures f = glibcMallocFigures();
  glibc_->Add({{"kind", "in_use"}}).Set(f.in_use);
  glibc_->Add({{"kind", "free"}}).Set(f.free);
  glibc_->Add({{"kind", "mmapped"}}).Set(f.mmapped);
}

}  // namespace oomsentinel
