// analysis/: what a bundle's raw evidence says, read from hostile input.
// What go_heap_decode.cc (gzip, the counting pass, the parse) hands go_heap.cc (the ranking).
// Private to the room.
#pragma once

#include <string>
#include <string_view>

#include "analysis/go_heap.h"
#include "analysis/pprof_profile.pb.h"
#include "core/result.h"

namespace oomsentinel::go_heap_detail {

// The gzip stream `gz` inflated, refused once the output would pass `max_out` bytes.
Result<std::string> gunzipBounded(std::string_view gz, std::size_t max_out);

// Counts every element of `raw` (a serialized Profile) that the parser would keep, without
// keeping any, and refuses the profile when one kind passes its limit. Linear in `raw`.
Status checkCounts(std::string_view raw, const HeapProfileLimits& limits);

// gunzipBounded, checkCounts, then the parse into `out`.
Status decodeProfile(std::string_view gz, const HeapProfileLimits& limits, pprof::Profile& out);

}  // namespace oomsentinel::go_heap_detail
