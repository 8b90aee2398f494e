// dumpers/: capturing evidence while the process is still alive.
// The JVM dumper's heap report: once the capture (jvm_dumper.cc) is done, report.json and
// report.txt beside class_histogram.txt (docs/heap-report.md, "The JVM"), written as artifacts
// of the jvm dumper like the go_pprof dumper's: charged to the bundle's budget, cut at its cap,
// in the manifest with their SHA-256, published with the bundle or not at all.
#include <algorithm>

#include "analysis/jvm_histogram_report.h"
#include "core/clock.h"
#include "core/owned_fd.h"
#include "dumpers/artifact.h"
#include "dumpers/jvm_dumper.h"

namespace oomsentinel {
namespace {

constexpr const char* kHistogramFile = "class_histogram.txt";

// The histogram's ranking, or why there is none. The file is read back from the bundle (ours:
// written by the capture, 0600), bounded by the parser's own cap. A histogram cut at the
// artifact cap is still read: it is sorted by bytes, so its start holds the largest classes (the
// report says it is incomplete).
Result<ClassHistogram> analyzeHistogram(const DumpRequest& req, SteadyTime now) {
  if (req.deadline != SteadyTime{} && now >= req.deadline)
    return makeError("no time left before the dump's deadline");
  ClassHistogramLimits limits;
  auto bytes = readFileUpTo(req.dir + "/" + kHistogramFile, limits.max_input + 1);
  if (!bytes) return bytes.error();
  return parseClassHistogram(*bytes, 10, limits);
}

}  // namespace

DumpOutcome JvmDumper::run(const DumpRequest& req) {
  DumpOutcome out = capture(req);
  // A report beside a histogram: its ranking, or why there is none. Without a histogram (no pid,
  // not a JVM, no attach, or not asked for) the bundle holds nothing of this dumper, and the
  // outcome says why.
  bool captured = std::any_of(out.artifacts.begin(), out.artifacts.end(),
                              [](const Artifact& a) { return a.file == kHistogramFile; });
  if (!captured) return out;
  SystemClock clock;
  SteadyTime start = clock.steadyNow();
  // The report does not change what the result says was captured, unless it cannot be written.
  auto analysis = analyzeHistogram(req, start);
  if (analysis) out.top_site = topClassLine(*analysis);  // the alert's top_growth
  ReportFiles files = renderJvmHistogramReport(kHistogramFile, analysis);
  for (auto [name, data] : {std::pair{"report.json", &files.json}, {"report.txt", &files.text}}) {
    auto a = writeArtifact(req.dir, name, *data, req.max_bytes);
    if (!a) {
      out.error += (out.error.empty() ? "" : "; ") + std::string("report: ") + a.error().describe();
      if (out.result == DumpResult::kOk) out.result = DumpResult::kPartial;
      break;
    }
    out.artifacts.push_back(*a);
  }
  out.took += clock.steadyNow() - start;
  return out;
}

}  // namespace oomsentinel
