// analysis/: what a bundle's raw evidence says, read from hostile input.
// The Go heap profile (net/http/pprof's /debug/pprof/heap: gzip-compressed pprof protobuf) read
// and ranked: which functions hold the in-use bytes. The profile comes from the target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace oomsentinel {

// Bounds on a hostile profile. Every element the parser keeps is counted before it is kept
// (a pass over the wire format ahead of the real parse), so the memory the parse takes is
// bounded by these whatever the input says. Four times these limits (and 16 MiB decompressed),
// a profile made to reach every limit at once peaked at 93 MB of resident memory
// (docs/heap-report.md, "Limits"): too much beside a daemon whose sidecar limit is 64 MiB, so
// they are a quarter of that, still far above a real profile (go-leak's is 2.5 KiB; a large
// service's a few thousand samples).
struct HeapProfileLimits {
  std::size_t max_compressed = 32u << 20;
  std::size_t max_decompressed = 8u << 20;
  std::size_t max_samples = 12'500;
  std::size_t max_sample_locations = 250'000;  // location ids over all samples
  std::size_t max_values = 62'500;             // sample values over all samples
  std::size_t max_labels = 12'500;
  std::size_t max_locations = 25'000;
  std::size_t max_lines = 50'000;
  std::size_t max_functions = 12'500;
  std::size_t max_mappings = 2'500;
  std::size_t max_sample_types = 64;
  std::size_t max_strings = 25'000;
};

// One site: a function and the in-use bytes of the samples it is named for.
struct HeapSite {
  std::string function;   // made safe (safeText), "?" when the profile names none
  std::string file;       // made safe; empty when unknown
  std::int64_t line = 0;  // the line of this function that holds the most bytes; 0: unknown
  std::uint64_t bytes = 0;
  double share = 0;  // of HeapReport::total_bytes, 0..1
};

struct HeapReport {
  std::string sample_type;  // "inuse_space"
  std::uint64_t total_bytes = 0;
  std::size_t samples = 0;
  // The function where the allocation was (the innermost frame), largest first.
  std::vector<HeapSite> by_leaf;
  // The first frame outside Go's runtime (isRuntimeFunction), largest first: the caller's code
  // when the runtime allocated on its behalf (append's growslice, map growth, a new goroutine).
  std::vector<HeapSite> by_caller;
};

// Go's runtime, as a function name says it: package runtime ("runtime.mallocgc",
// "runtime.(*mheap).alloc") and its internal packages ("runtime/internal/...",
// "internal/runtime/..."). runtime/pprof, runtime/debug and the like are packages a program
// calls, so they count as its code.
bool isRuntimeFunction(std::string_view name);

// `gz`: the bytes of go-heap.pb.gz. Reads the sample type `sample_type` (Go's "inuse_space";
// "alloc_space" also works) and keeps the `top` largest sites of each ranking. Linear in the
// input; an Error says what was wrong with the profile, never a crash.
Result<HeapReport> analyzeGoHeapProfile(std::string_view gz, std::size_t top = 10,
                                        std::string_view sample_type = "inuse_space",
                                        const HeapProfileLimits& limits = {});

}  // namespace oomsentinel
