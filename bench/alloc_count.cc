#include "bench/alloc_count.h"

#include <cstdlib>
#include <new>

namespace {
// The benchmark is single-threaded; an atomic would only add to what is measured.
std::size_t g_allocations = 0;
}  // namespace

namespace oomsentinel::bench {
std::size_t allocationCount() { return g_allocations; }
}  // namespace oomsentinel::bench

// libstdc++'s operator new[] and the nothrow forms call this one, so it sees every allocation
// of the collectors (none of them uses over-aligned types).
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
