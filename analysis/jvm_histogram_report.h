// analysis/: what a bundle's raw evidence says, read from hostile input.
// The heap report's two files for a JVM, report.json and report.txt, from a class histogram's
// ranking (and, when a baseline histogram was taken, the growth since it) or the reason there is
// none (docs/heap-report.md, "The JVM").
#pragma once

#include <string_view>

#include "analysis/go_heap_report.h"
#include "analysis/jvm_histogram.h"
#include "core/result.h"

namespace oomsentinel {

// `histogram`: the histogram's file in the bundle ("class_histogram.txt"); `analysis`: its
// ranking, or why there is none; `growth`: what grew since a baseline, when there was one.
ReportFiles renderJvmHistogramReport(std::string_view histogram,
                                     const Result<ClassHistogram>& analysis,
                                     const HistogramGrowth* growth = nullptr);

// The histogram's largest class in one line, as topSiteLine for Go (the alert's top_growth, the
// publish's log line): "byte[] (java.base@17.0.15) holds 62.3 MiB, 97.1% of 64.2 MiB in the heap
// (no baseline: not growth)". "" when the histogram ranks nothing. Bounded: at most 512 bytes.
std::string topClassLine(const ClassHistogram& histogram);

}  // namespace oomsentinel
