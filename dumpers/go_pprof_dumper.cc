#include "dumpers/go_pprof_dumper.h"

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>

#include "analysis/go_heap_report.h"
#include "core/owned_fd.h"
#include "core/units.h"
#include "dumpers/artifact.h"

namespace oomsentinel {
namespace {

constexpr const char* kHeapFile = "go-heap.pb.gz";

// report.json and report.txt beside the heap profile (docs/heap-report.md), when the heap was
// asked for: its ranking, or why there is none. The profile is read back from the bundle (our
// file, written above), bounded by the analysis's own cap. The raw profile stays whatever the
// report says.
Status addHeapReport(const DumpRequest& req, const std::vector<std::string>& profiles,
                     SteadyTime now, std::vector<Artifact>& artifacts, std::string& top_site) {
  bool asked = false;
  for (const auto& p : profiles) asked = asked || GoPprofDumper::fileFor(p) == kHeapFile;
  if (!asked) return Ok{};
  std::optional<Artifact> heap;
  for (const auto& a : artifacts)
    if (a.file == kHeapFile) heap = a;
  HeapProfileLimits limits;
  Result<HeapReport> analysis = makeError("the heap profile was not captured");
  if (heap && heap->truncated) {
    analysis = makeError("the heap profile was cut at the artifact cap");
  } else if (heap && now >= req.deadline) {
    analysis = makeError("no time left before the dump's deadline");
  } else if (heap) {
    auto bytes = readFileUpTo(req.dir + "/" + kHeapFile, limits.max_compressed + 1);
    analysis = bytes ? analyzeGoHeapProfile(*bytes, 10, "inuse_space", limits)
                     : Result<HeapReport>(bytes.error());
  }
  if (analysis) top_site = topSiteLine(*analysis);
  ReportFiles files = renderGoHeapReport(kHeapFile, analysis);
  for (auto [name, data] : {std::pair{"report.json", &files.json}, {"report.txt", &files.text}}) {
    auto a = writeArtifact(req.dir, name, *data, req.max_bytes);
    if (!a) return a.error();
    artifacts.push_back(*a);
  }
  return Ok{};
}

}  // namespace

std::string GoPprofDumper::fileFor(const std::string& profile) {
  std::string name = "go-";
  bool text = false;
  if (auto q = profile.find("debug="); q != std::string::npos)
    text = q + 6 < profile.size() && profile[q + 6] != '0';
  for (char c : profile) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (keep)
      name.push_back(c);
    else if (c == '?' || c == '&' || c == '/')
      name.push_back('-');
  }
  return name + (text ? ".txt" : ".pb.gz");
}

DumpOutcome GoPprofDumper::run(const DumpRequest& req) {
  SystemClock clock;
  SteadyTime start = clock.steadyNow();
  DumpOutcome out;
  out.dumper = name();
  Duration left = req.deadline - start;
  if (left <= Duration::zero()) {
    out.result = DumpResult::kTimedOut;
    out.error = "no time left before the dump's deadline";
    return out;
  }
  // The base may carry a path (http://host:6060/debug/pprof/): profiles live under it.
  std::string prefix = base_.target;
  if (prefix.find("/debug/pprof") == std::string::npos)
    prefix = (prefix == "/" ? "" : prefix) + "/debug/pprof";
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();

  boost::asio::io_context io;
  std::vector<std::string> errors, cut;
  bool timed_out = false;
  std::uint64_t cap = req.max_bytes > 0 ? req.max_bytes : (256u << 20);
  for (const auto& profile : profiles_) {
    std::string file = fileFor(profile);
    // Straight to the bundle as it arrives: a profile never sits in memory whole, whatever size
    // the target answers with. A failed exchange drops the stream, which removes the file.
    auto created = ArtifactStream::create(req.dir, file, cap);
    if (!created) {
      errors.push_back(created.error().describe());
      continue;
    }
    auto stream = std::make_shared<ArtifactStream>(std::move(*created));
    HttpRequest r;
    r.url = base_.withTarget(prefix + "/" + profile);
    r.timeout = left;
    r.max_body = cap;
    r.body_sink = [stream](std::string_view piece) { return stream->write(piece); };
    startHttpRequest(io, std::move(r), [&, file, stream](Result<HttpResponse> resp) mutable {
      auto owned = std::move(stream);  // ends here unless finished
      if (!resp) {
        timed_out = timed_out || resp.error().message.rfind("timed out", 0) == 0;
        errors.push_back(resp.error().describe());
        return;
      }
      if (resp->status != 200) {
        errors.push_back(file + ": HTTP " + std::to_string(resp->status) + " " + resp->reason);
        return;
      }
      if (resp->truncated) owned->markTruncated();
      auto a = owned->finish();
      if (!a) {
        errors.push_back(a.error().describe());
        return;
      }
      if (a->truncated)
        cut.push_back(file + " cut at the " + formatBytes(static_cast<double>(cap)) + " cap");
      out.artifacts.push_back(*a);
    });
  }
  io.run();  // every exchange ends by the deadline
  // The result says what was captured from the target; the report is derived from it.
  bool captured = !out.artifacts.empty();
  if (auto s = addHeapReport(req, profiles_, clock.steadyNow(), out.artifacts, out.top_site); !s)
    errors.push_back("report: " + s.error().describe());
  out.took = clock.steadyNow() - start;
  if (errors.empty()) {
    // A profile cut at the cap is still evidence, but not the whole of it.
    out.result = cut.empty() ? DumpResult::kOk : DumpResult::kPartial;
    for (const auto& c : cut) out.error += (out.error.empty() ? "" : "; ") + c;
  } else {
    errors.insert(errors.end(), cut.begin(), cut.end());
    for (const auto& e : errors) out.error += (out.error.empty() ? "" : "; ") + e;
    out.result = captured    ? DumpResult::kPartial
                 : timed_out ? DumpResult::kTimedOut
                             : DumpResult::kFailed;
  }
  return out;
}

}  // namespace oomsentinel
