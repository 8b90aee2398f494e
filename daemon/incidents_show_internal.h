// daemon/: wiring and lifetime of the oomsentinel executable.
// What the two outputs of `oomsentinel incidents show` share: the text (incidents_show.cc) and
// the JSON object (incidents_show_json.cc) tell the same facts of one bundle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/safe_text.h"
#include "dumpers/incident_store.h"

namespace oomsentinel::incidents_show_detail {

// Caps on what one string of a bundle may take on the screen: names, and free text (an error).
constexpr std::size_t kNameCap = 256, kTextCap = 2048;

// Every string of a bundle is shown through this: the bundle holds the target's bytes.
inline std::string safe(const std::string& s, std::size_t cap = kNameCap) {
  return safeText(s, cap);
}

// A word a shell takes as it is: a bundle file's name may hold quotes, '$' or spaces (a hook's
// file), so a command to copy and paste quotes it.
std::string shellWord(const std::string& s);

// The usage curve: one signal of the history, with the limit it is drawn against.
struct Series {
  std::string signal;
  bool bytes = false;
  std::vector<std::pair<WallTime, double>> points;
  std::optional<double> limit;
};
// The working set against the limit when the history has it (what the OOM killer compares),
// else usage, else their ratios (whose limit is 1).
std::optional<Series> pickSeries(const IncidentDetail& d);

struct HeapSite {
  std::string function, file;
  long long line = 0;
  std::uint64_t bytes = 0;
  double share = 0;
};

// A class of a JVM's report (top_by_class).
struct HeapClass {
  std::string name, module;
  std::uint64_t instances = 0, bytes = 0;
  double share = 0;
};

struct HeapReportView {
  bool present = false;  // report.json was read and is a report
  std::string runtime;   // "go", "jvm"; what the report ranks follows from it
  std::string status, error, profile, sample_type;
  std::uint64_t total_bytes = 0;
  std::vector<HeapSite> by_caller, by_leaf;  // Go
  std::vector<HeapClass> by_class;           // the JVM
  std::string note;  // what there is instead, or why the report could not be read
  std::vector<std::string> text_lines;  // report.txt's first lines, made safe, when not read
};

// How to open a raw file of the bundle, from `bundle` ("": from inside it); "" when no command
// line fits.
std::string openCommand(const IncidentDetail& d, const std::string& bundle,
                        const std::string& file);

// The bundle's story as one line of JSON on stdout.
void printShowJson(const IncidentSummary& s, const IncidentDetail& d, const HeapReportView& heap);

}  // namespace oomsentinel::incidents_show_detail
