// daemon/: wiring and lifetime of the oomsentinel executable.
// `oomsentinel incidents`: the published incident bundles of a dump directory, newest first.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/units.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/report.h"
#include "dumpers/incident_store.h"

namespace oomsentinel {

const char* const kIncidentsUsage =
    "usage: oomsentinel incidents [--dir DIR] [--json]\n"
    "       oomsentinel incidents show ID|latest [--dir DIR] [--json]\n"
    "\n"
    "Lists the incident bundles in a dump directory, newest first: when the rule fired, the\n"
    "target, rule and severity, how many artifacts and how large, what each dumper did, and\n"
    "where the bundle is. Bundles still being written are never shown.\n"
    "\n"
    "show: one bundle's story: the rule and target, when it fired and was published, the\n"
    "values at firing, a plot of the target's usage before it, the top sites of the heap\n"
    "report (when there is one), each dumper's outcome, and each file with the command that\n"
    "opens it. ID is a bundle's name (the last part of its path); latest is the newest.\n"
    "\n"
    "  --dir DIR   the dump directory (default /var/lib/oomsentinel/incidents)\n"
    "  --json      one JSON object per bundle and line (show: one object)\n"
    "\n"
    "Exit status: 0 ok (also when there are none); 1 show: no such incident, or its\n"
    "manifest cannot be read; 2 a usage error or an unreadable DIR.\n";

const char* const kDefaultIncidentsDir = "/var/lib/oomsentinel/incidents";

namespace {

std::string resultsText(const IncidentSummary& s) {
  // A lost incident's record has no dumps: what it says is that the dump never finished.
  if (s.outcome == "lost") return "lost";
  std::string out;
  for (const auto& [dumper, result] : s.results) {
    if (!out.empty()) out += ' ';
    out += dumper + "=" + result;
  }
  return out.empty() ? "-" : out;
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

void printTable(const std::vector<IncidentSummary>& list) {
  const std::vector<std::string> header{"TIME",      "TARGET", "RULE",    "SEVERITY",
                                        "ARTIFACTS", "SIZE",   "RESULTS", "PATH"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : list)
    rows.push_back({formatWallTime(s.fired_at), orDash(s.target), orDash(s.rule),
                    orDash(s.severity), std::to_string(s.artifacts),
                    formatBytes(static_cast<double>(s.bytes)), resultsText(s), s.path});
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto print = [&](const std::vector<std::string>& r) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      // The last column is not padded, so lines carry no trailing blanks.
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print(header);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    print(rows[i]);
    if (!list[i].problem.empty()) std::cout << "  problem: " << list[i].problem << "\n";
  }
}

void printJson(const std::vector<IncidentSummary>& list) {
  for (const auto& s : list) {
    nlohmann::ordered_json j;
    j["name"] = s.name;
    j["path"] = s.path;
    j["target"] = s.target;
    j["rule"] = s.rule;
    j["severity"] = s.severity;
    j["fired_at"] = formatWallTime(s.fired_at);
    // Unknown when the manifest could not say; a made-up 1970 would read as a real time.
    j["published_at"] = nullptr;
    if (s.published_at != WallTime{}) j["published_at"] = formatWallTime(s.published_at);
    j["artifacts"] = s.artifacts;
    j["bytes"] = s.bytes;
    nlohmann::ordered_json results = nlohmann::ordered_json::object();
    for (const auto& [dumper, result] : s.results) results[dumper] = result;
    j["results"] = std::move(results);
    // "published": the dump's own bundle; "lost": the record of a dump a stopped run never
    // finished (docs/incidents.md).
    j["outcome"] = s.outcome.empty() ? "published" : s.outcome;
    j["problem"] = nullptr;
    if (!s.problem.empty()) j["problem"] = s.problem;
    // Names read back from a manifest can hold any bytes; keep each line valid JSON.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
}

}  // namespace

bool takeIncidentsFlag(Args& args, std::string& dir, bool& json) {
  std::optional<std::string> v;
  if (args.flag("--dir", &v)) {
    if (v->empty()) throw UsageError{"--dir needs a directory"};
    dir = *v;
    return true;
  }
  if (!args.flag("--json")) return false;
  json = true;
  return true;
}

int runIncidents(std::vector<std::string> argv) {
  if (!argv.empty() && argv.front() == "show")
    return runIncidentsShow(std::vector<std::string>(argv.begin() + 1, argv.end()));
  Args args(std::move(argv));
  std::string dir = kDefaultIncidentsDir;
  bool json = false;
  while (!args.empty())
    if (!takeIncidentsFlag(args, dir, json))
      throw UsageError{"unknown argument '" + args.peek() + "'"};
  auto list = IncidentStore::list(dir);
  if (!list) {
    std::cerr << "oomsentinel incidents: " << list.error().describe() << "\n";
    return 2;
  }
  if (list->empty()) {
    if (!json) std::cout << "no incidents in " << dir << "\n";
    return 0;
  }
  if (json)
    printJson(*list);
  else
    printTable(*list);
  return 0;
}

}  // namespace oomsentinel
