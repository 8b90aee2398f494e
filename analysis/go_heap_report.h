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

// The report's first site in one line, for the alert's top_growth annotation and the publish's
// log line: "main.(*leak).grow holds 20.8 MiB, 91.2% of 22.8 MiB in use (no baseline: not
// growth) at main.go:240". By caller (the program's code, not the runtime's); "" when the report
// has no site. Bounded: at most 512 bytes.
std::string topSiteLine(const HeapReport& report);

}  // namespace oomsentinel
