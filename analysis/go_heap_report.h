// analysis/: what a bundle's raw evidence says, read from hostile input.
// The heap report's two files, report.json (for programs) and report.txt (for the person paged),
// from a Go heap profile's ranking or the reason there is none (docs/heap-report.md).
#pragma once

#include <string>
#include <string_view>

#include "analysis/go_heap.h"
#include "core/result.h"

namespace oomsentinel {

struct ReportFiles {
  std::string json;
  std::string text;
};

// `profile`: the profile's file in the bundle ("go-heap.pb.gz"); `analysis`: its ranking, or
// why there is none (the profile was not captured, was cut at the cap, or did not parse).
ReportFiles renderGoHeapReport(std::string_view profile, const Result<HeapReport>& analysis);

}  // namespace oomsentinel
