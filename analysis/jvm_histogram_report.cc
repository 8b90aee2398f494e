// analysis/: what a bundle's raw evidence says, read from hostile input.
// report.json and report.txt of a JVM class histogram. Every name in a ClassHistogram and a
// HistogramGrowth is already made safe (jvm_histogram.cc), and an Error's message says nothing
// the target chose.
#include "analysis/jvm_histogram_report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "analysis/report_frame.h"
#include "core/safe_text.h"
#include "core/units.h"

namespace oomsentinel {
namespace {

std::string bytesText(std::uint64_t b) { return formatBytes(static_cast<double>(b)); }

std::string withModule(const std::string& name, const std::string& module) {
  return module.empty() ? name : name + " (" + module + ")";
}

nlohmann::json classesJson(const std::vector<ClassCount>& classes) {
  auto out = nlohmann::json::array();
  for (const auto& c : classes)
    out.push_back({{"class", c.name},
                   {"module", c.module},
                   {"instances", c.instances},
                   {"bytes", c.bytes},
                   {"share", c.share}});
  return out;
}

nlohmann::json growthJson(const HistogramGrowth& g) {
  auto top = nlohmann::json::array();
  for (const auto& x : g.top)
    top.push_back({{"class", x.name},
                   {"module", x.module},
                   {"bytes_before", x.bytes_before},
                   {"bytes", x.bytes_after},
                   {"growth", x.growth},
                   {"instances_growth", x.instances_growth},
                   {"share", x.share},
                   {"new", x.new_class}});
  return {{"total_growth", g.total_growth},
          {"net_growth", g.net_growth},
          {"growing_classes", g.growing},
          {"complete", g.complete},
          {"top", std::move(top)}};
}

void rankText(std::string& out, std::size_t i, std::uint64_t bytes, double share,
              const std::string& what) {
  char head[64];
  std::snprintf(head, sizeof head, "%3zu. %10s %5.1f%%  ", i + 1, bytesText(bytes).c_str(),
                share * 100);
  out += head + what + "\n";
}

void classesText(std::string& out, const ClassHistogram& h) {
  out += "Top classes by bytes:\n";
  for (std::size_t i = 0; i < h.top.size(); ++i) {
    const ClassCount& c = h.top[i];
    rankText(out, i, c.bytes, c.share,
             withModule(c.name, c.module) + "  " + std::to_string(c.instances) + " instances");
  }
}

void growthText(std::string& out, const HistogramGrowth* g) {
  if (!g) {
    out +=
        "\nNo baseline histogram: ranked by bytes on the heap only.\n"
        "The largest is not always what grew: a cache big all day ranks first too.\n";
    return;
  }
  out +=
      "\nGrowth since the baseline histogram: " + bytesText(g->total_growth) + " in " +
      std::to_string(g->growing) + " classes (net " + (g->net_growth < 0 ? "-" : "+") +
      // net_growth is within +-INT64_MAX (diffClassHistograms): its negation fits.
      bytesText(static_cast<std::uint64_t>(g->net_growth < 0 ? -g->net_growth : g->net_growth)) +
      ")" +
      (g->complete ? "" : "; a histogram was incomplete, a \"new\" class may be one it left out") +
      ":\n";
  if (g->top.empty()) out += "  (nothing grew)\n";
  for (std::size_t i = 0; i < g->top.size(); ++i) {
    const ClassGrowth& x = g->top[i];
    rankText(out, i, x.growth, x.share,
             withModule(x.name, x.module) + "  " + bytesText(x.bytes_before) + " -> " +
                 bytesText(x.bytes_after) + (x.new_class ? " (new)" : ""));
  }
}

// What the reader should know about how far the histogram was read.
std::string caveats(const ClassHistogram& h) {
  std::string out;
  if (h.input_cut) out += "Only the start of the histogram was read (it is larger than the cap).\n";
  if (!h.has_total_line)
    out += "The histogram has no Total line (cut short): the total counts the rows read.\n";
  else if (!h.total_from_line)
    out += "The Total line is less than its rows: the total counts the rows read.\n";
  if (h.dropped_rows)
    out +=
        std::to_string(h.dropped_rows) + " rows past the cap of classes kept are ranked nowhere.\n";
  if (h.garbage_lines)
    out += std::to_string(h.garbage_lines) + (h.garbage_lines == 1 ? " line was" : " lines were") +
           " not understood and skipped.\n";
  return out;
}

}  // namespace

std::string topClassLine(const ClassHistogram& h) {
  if (h.top.empty()) return "";
  const ClassCount& c = h.top.front();
  char share[32];
  std::snprintf(share, sizeof share, "%.1f%%", c.share * 100);
  std::string line = c.name + (c.module.empty() ? "" : " (" + c.module + ")") + " holds " +
                     bytesText(c.bytes) + ", " + share + " of " + bytesText(h.total_bytes) +
                     " in the heap (no baseline: not growth)";
  return safeText(line, 512);
}

ReportFiles renderJvmHistogramReport(std::string_view histogram,
                                     const Result<ClassHistogram>& analysis,
                                     const HistogramGrowth* growth) {
  return report_frame::render(
      "jvm", "JVM class histogram", "histogram", histogram, analysis, "less ",
      [&](nlohmann::json& j, std::string& text, const ClassHistogram& h) {
        j["total_bytes"] = h.total_bytes;
        j["total_instances"] = h.total_instances;
        j["total_source"] = h.total_from_line ? "total_line" : "rows";
        j["classes"] = h.classes.size();
        j["rows"] = h.rows;
        j["complete"] = h.complete();
        j["input_cut"] = h.input_cut;
        j["dropped_rows"] = h.dropped_rows;
        j["garbage_lines"] = h.garbage_lines;
        j["top_by_class"] = classesJson(h.top);
        if (growth) j["growth"] = growthJson(*growth);
        text += "On the heap: " + bytesText(h.total_bytes) + " in " +
                std::to_string(h.total_instances) + " objects of " +
                std::to_string(h.classes.size()) + " classes.\n" + caveats(h) + "\n";
        classesText(text, h);
        growthText(text, growth);
      });
}

}  // namespace oomsentinel
