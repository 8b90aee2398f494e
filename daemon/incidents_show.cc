// daemon/: wiring and lifetime of the oomsentinel executable.
// `oomsentinel incidents show ID|latest`: one bundle's story for the person paged: what fired,
// the usage before it, which code held the memory (the heap report), what each dumper did, and
// how to open each raw file. A bundle's contents came partly from a hostile target (docs/
// security.md): every string shown goes through safeText, every file read is bounded.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/safe_text.h"
#include "core/units.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/incidents_show_internal.h"
#include "daemon/report.h"
#include "dumpers/incident_store.h"

namespace oomsentinel::incidents_show_detail {

std::string shellWord(const std::string& s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("_./:@%+=,-").find(c) != std::string_view::npos;
  });
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

namespace {

using nlohmann::ordered_json;

// report.json is a few KiB (ten sites per ranking, each name cut at 512 bytes).
constexpr std::size_t kMaxReportBytes = 1u << 20;
constexpr int kMaxReportDepth = 8;
// When report.json cannot be read, this much of report.txt is shown instead.
constexpr std::size_t kMaxReportTextBytes = 64u << 10, kReportTextLines = 30;
// The plot: at most this many columns (samples are bucketed by their peak) and rows.
constexpr std::size_t kPlotWidth = 60;
constexpr int kPlotHeight = 6;
constexpr std::size_t kTopSitesShown = 5;

std::string hms(WallTime t) { return formatWallTime(t).substr(11, 8); }

// `seconds` as a person reads a span ("15ms", "2.5s"), or "" when it is not one: a manifest's
// times may be centuries apart, whose difference in nanoseconds would overflow.
std::string spanText(double seconds) {
  if (!(seconds >= 0 && seconds < 1e6)) return "";
  return formatDuration(
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)));
}

std::string spanText(WallTime from, WallTime to) {
  using Seconds = std::chrono::duration<double>;
  double apart = Seconds(to.time_since_epoch()).count() - Seconds(from.time_since_epoch()).count();
  // Near enough (checked in doubles) to subtract exactly, which a double of ~1.7e9 s is not.
  if (!(apart >= 0 && apart < 1e6)) return "";
  return formatDuration(std::chrono::duration_cast<Duration>(to - from));
}

// ---- the usage curve ----

std::optional<double> lastOf(const std::vector<IncidentInfo::Sample>& history,
                             const std::string& signal) {
  for (auto s = history.rbegin(); s != history.rend(); ++s)
    for (const auto& [name, v] : s->signals)
      if (name == signal && std::isfinite(v)) return v;
  return std::nullopt;
}

}  // namespace

std::optional<Series> pickSeries(const IncidentDetail& d) {
  for (const char* signal :
       {"working_set_bytes", "usage_bytes", "working_set_ratio", "usage_ratio"}) {
    Series s;
    s.signal = signal;
    s.bytes = std::string_view(signal).ends_with("_bytes");
    for (const auto& sample : d.history)
      for (const auto& [name, v] : sample.signals)
        if (name == signal && std::isfinite(v) && v >= 0) s.points.emplace_back(sample.time, v);
    if (s.points.empty()) continue;
    if (!s.bytes) {
      s.limit = 1.0;
    } else if (auto l = lastOf(d.history, "limit_bytes"); l && *l > 0) {
      s.limit = l;
    } else {
      for (const auto& [name, v] : d.values)
        if (name == "limit_bytes" && std::isfinite(v) && v > 0) s.limit = v;
    }
    return s;
  }
  return std::nullopt;
}

namespace {

std::string yLabel(const Series& s, double v) {
  return s.bytes ? formatBytes(v) : formatValue(std::round(v * 1000) / 1000);
}

// Bars of '#' a column each (the peak of the samples it covers), the limit a row of '-'.
std::vector<std::string> plotLines(const Series& s) {
  const std::size_t n = s.points.size(), cols = std::min(n, kPlotWidth);
  std::vector<double> peak(cols, 0);
  for (std::size_t i = 0; i < n; ++i)
    peak[i * cols / n] = std::max(peak[i * cols / n], s.points[i].second);
  double top = std::max(*std::max_element(peak.begin(), peak.end()), s.limit.value_or(0));
  if (top <= 0) top = 1;
  // Rounded down, so that a bar reaches the limit's row only when the usage reached the limit.
  auto rowOf = [&](double v) {
    int r = static_cast<int>(std::floor(v / top * kPlotHeight));
    return v > 0 && r == 0 ? 1 : r;
  };
  const int limit_row = s.limit ? rowOf(*s.limit) : -1;
  std::vector<std::string> out;
  constexpr std::size_t kLabel = 11;
  for (int row = kPlotHeight; row >= 1; --row) {
    std::string label;
    if (row == limit_row)
      label = yLabel(s, *s.limit);
    else if (row == kPlotHeight)
      label = yLabel(s, top);
    std::string line = std::string(kLabel - std::min(kLabel, label.size()), ' ') + label + " |";
    for (double v : peak) line += rowOf(v) >= row ? '#' : (row == limit_row ? '-' : ' ');
    if (row == limit_row) line += " limit";
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.push_back("  " + line);
  }
  std::string zero = yLabel(s, 0);
  out.push_back("  " + std::string(kLabel - std::min(kLabel, zero.size()), ' ') + zero + " +" +
                std::string(cols, '-'));
  std::string first = hms(s.points.front().first), last = hms(s.points.back().first);
  std::string times = std::string(kLabel + 4, ' ') + first;  // under the first bar
  if (cols > first.size() + last.size())
    times += std::string(cols - first.size() - last.size(), ' ') + last;
  else if (n > 1)
    times += " to " + last;
  out.push_back(times);
  return out;
}

void printUsage(const IncidentDetail& d) {
  std::optional<Series> s = pickSeries(d);
  if (!s) {
    std::cout << "\nUsage before firing: no history in the manifest (dump.history: 0, or a "
                 "record of a lost incident).\n";
    return;
  }
  double peak = 0;
  for (const auto& p : s->points) peak = std::max(peak, p.second);
  std::cout << "\nUsage before firing: " << s->signal << ", the last " << s->points.size()
            << " sample" << (s->points.size() == 1 ? "" : "s") << " ("
            << hms(s->points.front().first) << " to " << hms(s->points.back().first) << " UTC";
  if (auto span = spanText(s->points.front().first, s->points.back().first); !span.empty())
    std::cout << ", " << span;
  std::cout << ")\n";
  for (const auto& line : plotLines(*s)) std::cout << line << "\n";
  std::cout << "  first " << yLabel(*s, s->points.front().second) << ", last "
            << yLabel(*s, s->points.back().second) << ", peak " << yLabel(*s, peak);
  if (s->limit) std::cout << ", limit " << yLabel(*s, *s->limit);
  std::cout << "\n";
}

// ---- the heap report ----

bool hasFile(const IncidentDetail& d, const std::string& file) {
  return std::any_of(d.files.begin(), d.files.end(),
                     [&](const IncidentDetail::File& f) { return f.present && f.file == file; });
}

// Why there is no heap report, and which raw file there is instead.
std::string noReportNote(const IncidentDetail& d) {
  if (hasFile(d, "go-heap.pb.gz"))
    return "no heap report in this bundle; the raw Go heap profile is go-heap.pb.gz";
  if (hasFile(d, "heap.prof"))
    return "no heap report for gperftools profiles yet; the raw profile is heap.prof";
  if (hasFile(d, "class_histogram.txt"))
    return "no heap report in this bundle; the raw class histogram is class_histogram.txt";
  if (hasFile(d, "heap.hprof"))
    return "no heap report for a JVM heap dump alone; the raw heap dump is heap.hprof";
  return "no heap profile in this bundle (none of its dumpers captured one)";
}

std::string stringField(const ordered_json& r, const char* key) {
  auto it = r.find(key);
  return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The field as a T when it is a number of that kind, else 0.
template <typename T>
T numberField(const ordered_json& r, const char* key) {
  auto it = r.find(key);
  bool fits = it != r.end() && (std::is_floating_point_v<T> ? it->is_number()
                                : std::is_signed_v<T>       ? it->is_number_integer()
                                                            : it->is_number_unsigned());
  return fits ? it->get<T>() : T{};
}

std::vector<HeapSite> sitesOf(const ordered_json& r, const char* key) {
  std::vector<HeapSite> out;
  auto it = r.find(key);
  if (it == r.end() || !it->is_array()) return out;
  for (const auto& j : *it)
    if (j.is_object() && out.size() < 100)
      out.push_back({stringField(j, "function"), stringField(j, "file"),
                     numberField<long long>(j, "line"), numberField<std::uint64_t>(j, "bytes"),
                     numberField<double>(j, "share")});
  return out;
}

std::vector<HeapClass> classesOf(const ordered_json& r) {
  std::vector<HeapClass> out;
  auto it = r.find("top_by_class");
  if (it == r.end() || !it->is_array()) return out;
  for (const auto& j : *it)
    if (j.is_object() && out.size() < 100)
      out.push_back({stringField(j, "class"), stringField(j, "module"),
                     numberField<std::uint64_t>(j, "instances"),
                     numberField<std::uint64_t>(j, "bytes"), numberField<double>(j, "share")});
  return out;
}

// report.json's fields into `v`; false when it is not a JSON object (or deeper than a report).
bool parseReport(const std::string& text, HeapReportView& v) {
  bool too_deep = false;
  ordered_json::parser_callback_t cb = [&](int depth, ordered_json::parse_event_t e,
                                           ordered_json&) {
    bool opens = e == ordered_json::parse_event_t::object_start ||
                 e == ordered_json::parse_event_t::array_start;
    if (opens && depth >= kMaxReportDepth) too_deep = true;
    return !too_deep;
  };
  // Invalid UTF-8 in a string is a parse error here: such a file was not written by analysis/.
  ordered_json r = ordered_json::parse(text, cb, false);
  if (too_deep || r.is_discarded() || !r.is_object()) return false;
  v.present = true;
  v.runtime = stringField(r, "runtime");
  v.status = stringField(r, "status");
  v.error = stringField(r, "error");
  v.profile = stringField(r, "profile");
  v.sample_type = stringField(r, "sample_type");
  v.total_bytes = numberField<std::uint64_t>(r, "total_bytes");
  v.by_caller = sitesOf(r, "top_by_caller");
  v.by_leaf = sitesOf(r, "top_by_leaf");
  v.by_class = classesOf(r);
  return true;
}

HeapReportView readHeapReport(const std::string& dir, const IncidentSummary& s,
                              const IncidentDetail& d) {
  HeapReportView v;
  auto text = IncidentStore::readBundleFile(dir, s.name, "report.json", kMaxReportBytes);
  // A missing report is not an error: most runtimes have none yet.
  if (!text && text.error().errnum == ENOENT) {
    v.note = noReportNote(d);
    return v;
  }
  if (text && parseReport(*text, v)) return v;
  v.note = text ? "report.json is not a heap report (not a JSON object of valid UTF-8)"
                : "report.json cannot be read: " + text.error().describe();
  // What the person paged can still read: report.txt's first lines, each made safe.
  auto txt = IncidentStore::readBundleFile(dir, s.name, "report.txt", kMaxReportTextBytes);
  if (!txt) return v;
  std::istringstream in(*txt);
  for (std::string line; std::getline(in, line) && v.text_lines.size() < kReportTextLines;)
    v.text_lines.push_back(safe(line, 512));
  return v;
}

std::string siteWhere(const HeapSite& s) {
  if (s.file.empty()) return "";
  return safe(s.file, 512) + (s.line > 0 ? ":" + std::to_string(s.line) : "");
}

// A JVM's report: its class histogram's largest classes.
void printJvmClasses(const HeapReportView& v, const std::string& path) {
  std::cout << " " << formatBytes(static_cast<double>(v.total_bytes))
            << " on the heap; the top classes by bytes:\n";
  if (v.by_class.empty()) std::cout << "  (none)\n";
  for (std::size_t i = 0; i < v.by_class.size() && i < kTopSitesShown; ++i) {
    const HeapClass& c = v.by_class[i];
    char lead[64];
    std::snprintf(lead, sizeof lead, "  %zu. %10s %5.1f%%  ", i + 1,
                  formatBytes(static_cast<double>(c.bytes)).c_str(), c.share * 100);
    std::cout << lead << safe(c.name, 512);
    if (!c.module.empty()) std::cout << " (" << safe(c.module) << ")";
    std::cout << "  " << c.instances << " instances\n";
  }
  std::cout << "  top 10: less " << shellWord(path + "/report.txt") << "\n";
}

void printHeapReport(const HeapReportView& v, const std::string& path) {
  if (!v.present) {
    std::cout << "\nHeap report: " << safe(v.note, kTextCap) << ".\n";
    if (!v.text_lines.empty()) std::cout << "  report.txt begins:\n";
    for (const auto& line : v.text_lines) std::cout << "    " << line << "\n";
    return;
  }
  std::cout << "\nHeap report (report.json, of " << safe(v.profile) << "):";
  if (v.status != "ok") {
    std::cout << " no ranking: " << safe(v.error.empty() ? v.status : v.error, kTextCap) << "\n";
    return;
  }
  if (v.runtime == "jvm") return printJvmClasses(v, path);
  std::cout << " " << formatBytes(static_cast<double>(v.total_bytes)) << " in use ("
            << safe(v.sample_type) << "); the top sites by caller:\n";
  if (v.by_caller.empty()) std::cout << "  (none)\n";
  for (std::size_t i = 0; i < v.by_caller.size() && i < kTopSitesShown; ++i) {
    const HeapSite& s = v.by_caller[i];
    char lead[64];
    std::snprintf(lead, sizeof lead, "  %zu. %10s %5.1f%%  ", i + 1,
                  formatBytes(static_cast<double>(s.bytes)).c_str(), s.share * 100);
    std::cout << lead << safe(s.function, 512) << "  " << siteWhere(s) << "\n";
  }
  std::cout << "  both rankings, top 10: less " << shellWord(path + "/report.txt") << "\n";
}

// ---- the files ----

}  // namespace

std::string openCommand(const IncidentDetail& d, const std::string& bundle,
                        const std::string& file) {
  auto at = [&](const std::string& f) { return shellWord(bundle.empty() ? f : bundle + "/" + f); };
  if (file.ends_with(".pb.gz")) return "go tool pprof -top " + at(file);
  if (file == "heap.prof") {
    // google-pprof symbolizes a PIE only through the path the target ran from (incidents.md).
    if (hasFile(d, "exe_path.txt"))
      return "google-pprof --text \"$(cat " + at("exe_path.txt") + ")\" " + at(file);
    if (hasFile(d, "exe")) return "go tool pprof -top " + at("exe") + " " + at(file);
    return "google-pprof --text <the target's executable> " + at(file);
  }
  if (file == "exe" || file.ends_with(".hprof")) return "";
  return "less " + at(file);
}

namespace {

// The last column of a file's row: how to open it, or what it is, and what went wrong with it.
std::string fileNote(const IncidentDetail& d, const IncidentDetail::File& f,
                     const std::string& file) {
  std::string out;
  if (!f.present)
    out = "(not in the bundle)";
  else if (file == "exe")
    out = "(the target's executable, for pprof)";
  else if (file.ends_with(".hprof"))
    out = "(a JVM heap dump: Eclipse MAT or VisualVM read it)";
  else
    out = openCommand(d, "", file);
  if (f.truncated)
    out += "  (cut short" + (f.truncated_by.empty() ? "" : ": " + safe(f.truncated_by)) + ")";
  return out;
}

void printDumps(const IncidentDetail& d) {
  std::cout << "\nDumpers:\n";
  if (d.dumps.empty()) std::cout << "  none ran\n";
  for (const auto& o : d.dumps) {
    std::cout << "  " << safe(o.dumper) << ": " << safe(o.result);
    if (auto took = spanText(o.took_seconds); !took.empty()) std::cout << " in " << took;
    if (!o.error.empty()) std::cout << ": " << safe(o.error, kTextCap);
    std::cout << "\n";
  }
}

// A table of the files; the commands run inside the bundle, so they stay short.
void printFiles(const IncidentDetail& d, const std::string& bundle) {
  std::cout << "\nFiles (the commands run in the bundle: cd " << shellWord(safe(bundle, 4096))
            << "):\n";
  if (d.files.empty()) {
    std::cout << "  none\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"FILE", "SIZE", "DUMPER", "OPEN WITH"}};
  for (const auto& f : d.files) {
    const std::string file = safe(f.file, 1024);
    rows.push_back(
        {file, formatBytes(static_cast<double>(f.bytes)), safe(f.dumper), fileNote(d, f, file)});
  }
  std::vector<std::size_t> width(3, 0);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < 3; ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : rows) {
    std::string line = "  ";
    for (std::size_t c = 0; c < 3; ++c) line += r[c] + std::string(width[c] - r[c].size() + 2, ' ');
    std::cout << line << r[3] << "\n";
  }
}

// ---- the whole story ----

std::string labelsText(const IncidentDetail& d) {
  std::string out;
  for (const auto& [k, v] : d.labels) out += (out.empty() ? "" : " ") + safe(k) + "=" + safe(v);
  return out;
}

std::string publishedText(const IncidentSummary& s) {
  if (s.published_at == WallTime{}) return "unknown";
  std::string span = spanText(s.fired_at, s.published_at);
  return formatWallTime(s.published_at) + (span.empty() ? "" : " (" + span + " after firing)");
}

void printText(const IncidentSummary& s, const IncidentDetail& d, const HeapReportView& heap) {
  std::cout << "Incident " << safe(s.name) << "\n";
  std::cout << "  rule:       " << safe(s.rule) << " (" << safe(s.severity) << ")\n";
  if (!d.expr.empty()) std::cout << "  expression: " << safe(d.expr, kTextCap) << "\n";
  std::cout << "  target:     " << safe(s.target) << "\n";
  if (!d.labels.empty()) std::cout << "  labels:     " << labelsText(d) << "\n";
  std::cout << "  fired:      " << formatWallTime(s.fired_at) << "\n";
  std::cout << "  published:  " << publishedText(s) << "\n";
  if (s.outcome == "lost") std::cout << "  outcome:    lost (the daemon stopped during the dump)\n";
  std::cout << "  bundle:     " << safe(s.path, 4096) << " (" << s.artifacts << " files, "
            << formatBytes(static_cast<double>(s.bytes)) << ")\n";
  if (!s.problem.empty()) std::cout << "  problem:    " << safe(s.problem, kTextCap) << "\n";
  std::cout << "\nValues at firing:\n";
  if (d.values.empty()) std::cout << "  none recorded\n";
  std::size_t w = 0;
  for (const auto& [k, v] : d.values) w = std::max(w, safe(k).size());
  for (const auto& [k, v] : d.values) {
    std::string name = safe(k);
    std::cout << "  " << name << std::string(w - name.size() + 2, ' ')
              << (std::string_view(name).ends_with("_bytes") && std::isfinite(v)
                      ? formatValue(v) + " (" + formatBytes(v) + ")"
                      : formatValue(v))
              << "\n";
  }
  printUsage(d);
  printHeapReport(heap, safe(s.path, 4096));
  printDumps(d);
  printFiles(d, s.path);
}

// ---- the command ----

// The bundle `id` names in the list (newest first), or nullptr.
const IncidentSummary* findBundle(const std::vector<IncidentSummary>& list, const std::string& id) {
  if (id == "latest") return list.empty() ? nullptr : &list.front();
  for (const auto& s : list)
    if (s.name == id) return &s;
  return nullptr;
}

}  // namespace
}  // namespace oomsentinel::incidents_show_detail

namespace oomsentinel {

int runIncidentsShow(std::vector<std::string> argv) {
  using namespace incidents_show_detail;
  Args args(std::move(argv));
  std::string dir = kDefaultIncidentsDir, id;
  bool json = false;
  while (!args.empty()) {
    if (takeIncidentsFlag(args, dir, json)) {
      continue;
    } else if (!args.peek().empty() && args.peek()[0] == '-') {
      throw UsageError{"unknown argument '" + safe(args.peek()) + "'"};
    } else if (id.empty()) {
      id = args.next();
    } else {
      throw UsageError{"show takes one incident ID, not also '" + safe(args.peek()) + "'"};
    }
  }
  if (id.empty()) throw UsageError{"show needs an incident ID (a bundle's name) or 'latest'"};
  // An ID is one name in DIR: never a path that leads elsewhere ("..", "../x", "a/b"), nor a
  // hidden name (a bundle still being written is ".partial-*").
  if (id.find('/') != std::string::npos || id[0] == '.')
    throw UsageError{"an incident ID is a bundle's name, without '/' or '..': '" + safe(id) + "'"};
  auto list = IncidentStore::list(dir);
  if (!list) {
    std::cerr << "oomsentinel incidents show: " << safe(list.error().describe(), kTextCap) << "\n";
    return 2;
  }
  const IncidentSummary* s = findBundle(*list, id);
  if (!s) {
    std::cerr << "oomsentinel incidents show: "
              << (id == "latest" ? "no incidents in " + safe(dir, 4096)
                                 : "no incident '" + safe(id) + "' in " + safe(dir, 4096))
              << "; `oomsentinel incidents --dir " << shellWord(safe(dir, 4096))
              << "` lists their IDs (the last column's names)\n";
    return 1;
  }
  auto detail = IncidentStore::detail(dir, s->name);
  if (!detail) {
    std::cerr << "oomsentinel incidents show: " << safe(detail.error().describe(), kTextCap)
              << "\n";
    return 1;
  }
  HeapReportView heap = readHeapReport(dir, *s, *detail);
  if (json)
    printShowJson(*s, *detail, heap);
  else
    printText(*s, *detail, heap);
  return 0;
}

}  // namespace oomsentinel