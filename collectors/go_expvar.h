// collectors/: turning kernel and runtime text into Snapshots.
// Go's expvar (`GET /debug/vars`): the runtime.MemStats object onto the runtime signals.
#pragma once

#include <string_view>

#include "core/result.h"
#include "core/snapshot.h"

namespace oomsentinel {

// Sets heap_alloc_bytes (HeapAlloc), alloc_bytes_total (TotalAlloc), gc_cycles (NumGC),
// gc_pause_seconds_total (PauseTotalNs), gc_cpu_fraction (GCCPUFraction), and go_heap_inuse_bytes,
// go_heap_sys_bytes, go_next_gc_bytes, go_mallocs_total, go_frees_total. expvar does not show
// GOMEMLIMIT, so heap_limit_bytes is not set here. A payload over 4 MiB, nested deeper than 32
// levels, not JSON, without a "memstats" object, or with a non-numeric field is an Error that
// says which. One pass that keeps only those fields: its memory does not grow with the payload.
Result<std::size_t> mapGoExpvar(std::string_view json, Snapshot& out);

}  // namespace oomsentinel
