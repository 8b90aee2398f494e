// bench/: benchmarks and their recorded results.
// Counts the calls to this binary's global operator new, replaced in alloc_count.cc, so that the
// benchmark can report what a steady-state collection allocates.
#pragma once

#include <cstddef>

namespace oomsentinel::bench {

std::size_t allocationCount();

}  // namespace oomsentinel::bench
