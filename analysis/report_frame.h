// analysis/: what a bundle's raw evidence says, read from hostile input.
// The frame every heap report shares (go_heap_report.cc, jvm_histogram_report.cc): report.json's
// version, runtime and profile, the failure when there is no analysis, and report.txt's first and
// last lines. Private to the room.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "analysis/go_heap_report.h"
#include "core/result.h"
#include "core/safe_text.h"

namespace oomsentinel::report_frame {

// `fill(json, text, analysis_value)` adds the ranking when `analysis` holds one. `kind` names the
// file for a person ("Go heap profile"), `raw` in the last line ("profile"); `open_with` is the
// command that opens the raw file ("go tool pprof -top "), the file's name appended.
template <typename T, typename Fill>
ReportFiles render(std::string_view runtime, std::string_view kind, std::string_view raw,
                   std::string_view profile, const Result<T>& analysis, std::string_view open_with,
                   Fill fill) {
  std::string file = safeText(profile, 256);
  nlohmann::json j = {{"version", 1}, {"runtime", runtime}, {"profile", file}};
  std::string text = "oomsentinel heap report: " + file + " (" + std::string(kind) + ")\n\n";
  if (!analysis) {
    std::string why = safeText(analysis.error().describe(), 1024);
    j["status"] = "failed";
    j["error"] = why;
    text += "No analysis: " + why + ".\n";
  } else {
    j["status"] = "ok";
    fill(j, text, *analysis);
  }
  text +=
      "The raw " + std::string(raw) + " is in the bundle: " + std::string(open_with) + file + "\n";
  return {j.dump(2) + "\n", text};
}

}  // namespace oomsentinel::report_frame
