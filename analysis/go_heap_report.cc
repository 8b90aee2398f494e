// analysis/: what a bundle's raw evidence says, read from hostile input.
// report.json and report.txt of a Go heap profile. Every name in a HeapReport is already made
// safe (go_heap.cc), and an Error's message says nothing the target chose but numbers.
#include "analysis/go_heap_report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "analysis/report_frame.h"
#include "core/safe_text.h"
#include "core/units.h"

namespace oomsentinel {
namespace {

nlohmann::json sitesJson(const std::vector<HeapSite>& sites) {
  auto out = nlohmann::json::array();
  for (const auto& s : sites)
    out.push_back({{"function", s.function},
                   {"file", s.file},
                   {"line", s.line},
                   {"bytes", s.bytes},
                   {"share", s.share}});
  return out;
}

void sitesText(std::string& out, const char* title, const std::vector<HeapSite>& sites) {
  out += title;
  out += "\n";
  if (sites.empty()) out += "  (none)\n";
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const HeapSite& s = sites[i];
    char head[64];
    std::snprintf(head, sizeof head, "%3zu. %10s %5.1f%%  ", i + 1,
                  formatBytes(static_cast<double>(s.bytes)).c_str(), s.share * 100);
    out += head + s.function;
    if (!s.file.empty())
      out += "  " + s.file + (s.line > 0 ? ":" + std::to_string(s.line) : std::string());
    out += "\n";
  }
}

}  // namespace

std::string topSiteLine(const HeapReport& r) {
  const auto& sites = r.by_caller.empty() ? r.by_leaf : r.by_caller;
  if (sites.empty()) return "";
  const HeapSite& s = sites.front();
  char share[32];
  std::snprintf(share, sizeof share, "%.1f%%", s.share * 100);
  std::string line = s.function + " holds " + formatBytes(static_cast<double>(s.bytes)) + ", " +
                     share + " of " + formatBytes(static_cast<double>(r.total_bytes)) +
                     " in use (no baseline: not growth)";
  if (!s.file.empty()) {
    // The file's last component: the line is read on a phone; the report has the whole path.
    auto slash = s.file.rfind('/');
    line += " at " + (slash == std::string::npos ? s.file : s.file.substr(slash + 1));
    if (s.line > 0) line += ":" + std::to_string(s.line);
  }
  return safeText(line, 512);
}

ReportFiles renderGoHeapReport(std::string_view profile, const Result<HeapReport>& analysis) {
  return report_frame::render(
      "go", "Go heap profile", "profile", profile, analysis, "go tool pprof -top ",
      [](nlohmann::json& j, std::string& text, const HeapReport& r) {
        j["sample_type"] = r.sample_type;
        j["total_bytes"] = r.total_bytes;
        j["samples"] = r.samples;
        j["top_by_caller"] = sitesJson(r.by_caller);
        j["top_by_leaf"] = sitesJson(r.by_leaf);
        text += "In use (" + r.sample_type +
                "): " + formatBytes(static_cast<double>(r.total_bytes)) + " in " +
                std::to_string(r.samples) + " sampled stacks, as of the last GC.\n\n";
        sitesText(text,
                  "Top sites by caller (the first function outside Go's runtime):", r.by_caller);
        text += "\n";
        sitesText(text, "Top sites by allocating function (the leaf):", r.by_leaf);
        text +=
            "\nThe largest in use is not always what grew: a cache big all day ranks first too.\n";
      });
}

}  // namespace oomsentinel
