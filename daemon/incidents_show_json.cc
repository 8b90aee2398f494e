// daemon/: wiring and lifetime of the oomsentinel executable.
// `oomsentinel incidents show --json`: the facts the text shows (incidents_show.cc), as one JSON
// object, every string of the bundle made safe as it is for the terminal.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/units.h"
#include "daemon/incidents_show_internal.h"
#include "daemon/report.h"

namespace oomsentinel::incidents_show_detail {
namespace {

using nlohmann::ordered_json;

// As the manifest writes numbers: a non-finite one as a string, which JSON has no number for.
ordered_json jsonNumber(double v) {
  if (std::isfinite(v)) return v;
  return formatValue(v);
}

ordered_json jsonSignals(const std::vector<std::pair<std::string, double>>& signals) {
  ordered_json o = ordered_json::object();
  for (const auto& [k, v] : signals) o[safe(k)] = jsonNumber(v);
  return o;
}

ordered_json jsonSites(const std::vector<HeapSite>& sites) {
  ordered_json out = ordered_json::array();
  for (const auto& s : sites)
    out.push_back({{"function", safe(s.function, 512)},
                   {"file", safe(s.file, 512)},
                   {"line", s.line},
                   {"bytes", s.bytes},
                   {"share", jsonNumber(s.share)}});
  return out;
}

ordered_json jsonClasses(const std::vector<HeapClass>& classes) {
  ordered_json out = ordered_json::array();
  for (const auto& c : classes)
    out.push_back({{"class", safe(c.name, 512)},
                   {"module", safe(c.module)},
                   {"instances", c.instances},
                   {"bytes", c.bytes},
                   {"share", jsonNumber(c.share)}});
  return out;
}

ordered_json jsonHeapReport(const HeapReportView& v, const std::string& bundle) {
  ordered_json o;
  o["present"] = v.present;
  if (!v.present) {
    o["note"] = safe(v.note, kTextCap);
    o["text_lines"] = v.text_lines;
    return o;
  }
  o["file"] = bundle + "/report.json";
  o["text"] = bundle + "/report.txt";
  o["runtime"] = safe(v.runtime);
  o["status"] = safe(v.status);
  o["error"] = v.error.empty() ? ordered_json() : ordered_json(safe(v.error, kTextCap));
  o["profile"] = safe(v.profile);
  o["sample_type"] = safe(v.sample_type);
  o["total_bytes"] = v.total_bytes;
  o["top_by_caller"] = jsonSites(v.by_caller);
  o["top_by_leaf"] = jsonSites(v.by_leaf);
  if (v.runtime == "jvm") o["top_by_class"] = jsonClasses(v.by_class);
  return o;
}

ordered_json jsonUsage(const IncidentDetail& d) {
  std::optional<Series> s = pickSeries(d);
  if (!s) return nullptr;
  double peak = 0;
  for (const auto& p : s->points) peak = std::max(peak, p.second);
  return {{"signal", s->signal},
          {"samples", s->points.size()},
          {"from", formatWallTime(s->points.front().first)},
          {"to", formatWallTime(s->points.back().first)},
          {"first", s->points.front().second},
          {"last", s->points.back().second},
          {"peak", peak},
          {"limit", s->limit ? ordered_json(*s->limit) : ordered_json()}};
}

ordered_json jsonFiles(const IncidentDetail& d, const std::string& bundle) {
  ordered_json files = ordered_json::array();
  for (const auto& f : d.files) {
    const std::string file = safe(f.file, 1024);
    std::string cmd = f.present ? openCommand(d, bundle, file) : "";
    files.push_back({{"dumper", safe(f.dumper)},
                     {"file", file},
                     {"path", bundle + "/" + file},
                     {"bytes", f.bytes},
                     {"sha256", safe(f.sha256, 128)},
                     {"truncated", f.truncated},
                     {"truncated_by",
                      f.truncated_by.empty() ? ordered_json() : ordered_json(safe(f.truncated_by))},
                     {"present", f.present},
                     {"open", cmd.empty() ? ordered_json() : ordered_json(cmd)}});
  }
  return files;
}

}  // namespace

void printShowJson(const IncidentSummary& s, const IncidentDetail& d, const HeapReportView& heap) {
  const std::string bundle = safe(s.path, 4096);
  ordered_json j;
  j["name"] = safe(s.name);
  j["path"] = bundle;
  j["target"] = safe(s.target);
  j["rule"] = safe(s.rule);
  j["severity"] = safe(s.severity);
  j["expr"] = safe(d.expr, kTextCap);
  ordered_json labels = ordered_json::object();
  for (const auto& [k, v] : d.labels) labels[safe(k)] = safe(v);
  j["labels"] = std::move(labels);
  j["fired_at"] = formatWallTime(s.fired_at);
  j["published_at"] = nullptr;
  if (s.published_at != WallTime{}) j["published_at"] = formatWallTime(s.published_at);
  j["outcome"] = s.outcome.empty() ? "published" : safe(s.outcome);
  j["problem"] = s.problem.empty() ? ordered_json() : ordered_json(safe(s.problem, kTextCap));
  j["artifacts"] = s.artifacts;
  j["bytes"] = s.bytes;
  j["values"] = jsonSignals(d.values);
  j["usage"] = jsonUsage(d);
  ordered_json history = ordered_json::array();
  for (const auto& h : d.history)
    history.push_back({{"time", formatWallTime(h.time)}, {"signals", jsonSignals(h.signals)}});
  j["history"] = std::move(history);
  j["heap_report"] = jsonHeapReport(heap, bundle);
  ordered_json dumps = ordered_json::array();
  for (const auto& o : d.dumps)
    dumps.push_back({{"dumper", safe(o.dumper)},
                     {"result", safe(o.result)},
                     {"error", safe(o.error, kTextCap)},
                     {"took_seconds", jsonNumber(o.took_seconds)}});
  j["dumps"] = std::move(dumps);
  j["files"] = jsonFiles(d, bundle);
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace oomsentinel::incidents_show_detail
