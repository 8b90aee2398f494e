
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "core/units.h"
#include "dumpers/incident_store_internal.h"

// The manifest.json of a bundle: written at publish, read back by `incidents` and retention.
namespace oomsentinel::incident_detail {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// ---- manifest ----

// nlohmann writes a non-finite double as null, which would lose the one value that explains a
// firing (a rate that went infinite); a string says what it was.
ordered_json number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return v;
}

ordered_json signalsJson(const std::vector<std::pair<std::string, double>>& signals) {
  ordered_json o = ordered_json::object();
  for (const auto& [name, v] : signals) o[name] = number(v);
  return o;
}

}  // namespace

std::string manifestText(const IncidentInfo& info, const std::vector<DumpOutcome>& outcomes,
                         WallTime published_at, std::string_view outcome) {
  ordered_json m;
  m["version"] = 1;
  if (!outcome.empty()) m["outcome"] = outcome;
  m["target"] = info.target;
  m["rule"] = info.rule;
  m["severity"] = info.severity;
  m["expr"] = info.expr;
  m["fired_at"] = isoTime(info.fired_at);
  m["published_at"] = isoTime(published_at);
  ordered_json labels = ordered_json::object();
  for (const auto& [k, v] : info.labels) labels[k] = v;
  m["labels"] = std::move(labels);
  m["values"] = signalsJson(info.values);
  ordered_json history = ordered_json::array();
  for (const auto& s : info.history)
    history.push_back({{"time", isoTime(s.time)}, {"signals", signalsJson(s.signals)}});
  m["history"] = std::move(history);
  ordered_json artifacts = ordered_json::array(), dumps = ordered_json::array();
  std::uint64_t total = 0;
  for (const auto& o : outcomes) {
    ordered_json files = ordered_json::array();
    for (const auto& a : o.artifacts) {
      ordered_json entry = {{"dumper", o.dumper},
                            {"file", a.file},
                            {"bytes", a.bytes},
                            {"sha256", a.sha256},
                            {"truncated", a.truncated}};
      // Which limit cut it: the per-artifact cap, the bundle's cap or the host's free space.
      if (a.truncated && !a.truncated_by.empty()) entry["truncated_by"] = a.truncated_by;
      artifacts.push_back(std::move(entry));
      files.push_back(a.file);
      total += a.bytes;
    }
    dumps.push_back({{"dumper", o.dumper},
                     {"result", dumpResultName(o.result)},
                     {"error", o.error},
                     {"took_seconds", number(toSeconds(o.took))},
                     {"files", std::move(files)}});
  }
  m["artifacts"] = std::move(artifacts);
  m["dumps"] = std::move(dumps);
  m["total_bytes"] = total;
  // A dumper's error text may carry bytes from the target that are not UTF-8; replacing them
  // keeps the manifest valid JSON instead of throwing.
  return m.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

json parseBoundedJson(std::string_view text) {
  // The callback sees the depth of each value as it starts: one deeper than the cap is dropped
  // with all it holds, and the whole text is refused (a discarded value).
  bool too_deep = false;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= static_cast<int>(kMaxJsonDepth)) {
      too_deep = true;
      return false;
    }
    return true;
  };
  json j = json::parse(text, cb, /*allow_exceptions=*/false);
  if (too_deep) return json(json::value_t::discarded);
  return j;
}

namespace {

// The fields of begin()'s record a lost incident's record keeps, typed and cut to length; the
// rest of what is in that file (anything a hook or another user wrote there) is never copied.
constexpr std::size_t kMaxLostText = 1024, kMaxLostEntries = 64;

IncidentInfo lostInfo(const json& m, const std::string& name, WallTime now) {
  IncidentInfo info;
  auto str = [&](const char* key) {
    auto it = m.find(key);
    if (it == m.end() || !it->is_string()) return std::string();
    return it->get<std::string>().substr(0, kMaxLostText);
  };
  info.target = str("target");
  info.rule = str("rule");
  info.severity = str("severity");
  info.expr = str("expr");
  info.fired_at = parseIsoTime(str("fired_at")).value_or(nameTime(name).value_or(now));
  if (auto it = m.find("labels"); it != m.end() && it->is_object())
    for (const auto& [k, v] : it->items()) {
      if (info.labels.size() >= kMaxLostEntries) break;
      if (v.is_string())
        info.labels.emplace_back(k.substr(0, kMaxLostText),
                                 v.get<std::string>().substr(0, kMaxLostText));
    }
  if (auto it = m.find("values"); it != m.end() && it->is_object())
    for (const auto& [k, v] : it->items()) {
      if (info.values.size() >= kMaxLostEntries) break;
      if (v.is_number()) info.values.emplace_back(k.substr(0, kMaxLostText), v.get<double>());
    }
  return info;
}

}  // namespace

std::string lostManifestText(std::string_view in_progress, const std::string& name, WallTime now,
                             LostIncident* lost) {
  // Nothing readable left (a power cut before the page cache reached the disk) leaves what the
  // name says. Its target and rule cannot be split apart ('-' may be in either).
  json first = parseBoundedJson(in_progress);
  IncidentInfo info = lostInfo(first.is_object() ? first : json::object(), name, now);
  ordered_json m = ordered_json::parse(manifestText(info, {}, now, "lost"), nullptr, false);
  m["lost_reason"] = kLostReason;
  lost->name = name;
  lost->target = info.target;
  lost->rule = info.rule;
  lost->fired_at = info.fired_at;
  return m.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

// Fills `s` from dir/manifest.json (`dir`, named `name` in `dir_fd`); returns the first thing
// wrong with it ("" when none). `timed` tells whether fired_at came from the manifest.
std::string readManifest(int dir_fd, const std::string& name, const std::string& dir,
                         IncidentSummary& s, bool& timed) {
  timed = false;
  auto text =
      readSmallFileAt(dir_fd, name + "/" + kManifest, kMaxManifestBytes, dir + "/" + kManifest);
  if (!text) {
    if (text.error().errnum == ENOENT) return "no manifest.json";
    return "cannot read manifest.json: " + text.error().describe();
  }
  json j = parseBoundedJson(*text);
  if (j.is_discarded()) return "manifest.json is not valid JSON";
  if (!j.is_object()) return "manifest.json is not a JSON object";
  std::string problem;
  auto note = [&](std::string p) {
    if (problem.empty()) problem = std::move(p);
  };
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer())
    note("manifest.json has no version");
  else if (version->get<long long>() != 1)
    note("manifest.json has version " + version->dump() + ", this oomsentinel reads 1");
  auto str = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string())
      out = it->get<std::string>();
    else
      note(std::string("manifest.json has no '") + key + "'");
  };
  str("target", s.target);
  str("rule", s.rule);
  if (auto it = j.find("outcome"); it != j.end() && it->is_string())
    s.outcome = it->get<std::string>();
  str("severity", s.severity);
  auto timeField = [&](const char* key, WallTime& out) {
    auto it = j.find(key);
    std::optional<WallTime> t;
    if (it != j.end() && it->is_string()) t = parseIsoTime(it->get<std::string>());
    if (t)
      out = *t;
    else
      note(std::string("manifest.json has no valid '") + key + "'");
    return t.has_value();
  };
  timed = timeField("fired_at", s.fired_at);
  timeField("published_at", s.published_at);
  auto artifacts = j.find("artifacts");
  if (artifacts != j.end() && artifacts->is_array())
    s.artifacts = artifacts->size();
  else
    note("manifest.json has no 'artifacts' list");
  auto dumps = j.find("dumps");
  if (dumps != j.end() && dumps->is_array()) {
    for (const auto& d : *dumps) {
      auto dumper = d.find("dumper");
      auto result = d.find("result");
      if (!d.is_object() || dumper == d.end() || !dumper->is_string() || result == d.end() ||
          !result->is_string()) {
        note("manifest.json has a dump without 'dumper' and 'result'");
        continue;
      }
      s.results.emplace_back(dumper->get<std::string>(), result->get<std::string>());
    }
  } else {
    note("manifest.json has no 'dumps' list");
  }
  return problem;
}

}  // namespace

// The directories in `dir` that look like published bundles: not hidden (so never a
// `.partial-*`), a real directory (not a symlink), and holding a manifest.json or named like one.
// fired_at is the manifest's, else the name's, else the directory's mtime.
Result<std::vector<IncidentSummary>> scan(const std::string& dir, int dir_fd) {
  Fd dfd(dir_fd >= 0 ? ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0)
                     : ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.fd < 0) return makeError("cannot read", dir, errno);
  auto names = entriesAt(dfd.fd, dir);
  if (!names) return names.error();
  std::vector<IncidentSummary> out;
  for (const std::string& name : *names) {
    if (name.empty() || name[0] == '.') continue;
    struct stat st;
    if (::fstatat(dfd.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
      continue;
    std::optional<WallTime> from_name = nameTime(name);
    struct stat mst;
    bool has_manifest =
        ::fstatat(dfd.fd, (name + "/" + kManifest).c_str(), &mst, AT_SYMLINK_NOFOLLOW) == 0;
    if (!from_name && !has_manifest) continue;
    IncidentSummary s;
    s.name = name;
    s.path = dir + "/" + name;
    bool timed = false;
    s.problem = readManifest(dfd.fd, name, s.path, s, timed);
    if (!timed)
      s.fired_at = from_name ? *from_name
                             : WallTime(std::chrono::duration_cast<WallTime::duration>(
                                   std::chrono::seconds(st.st_mtim.tv_sec) +
                                   std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    s.bytes = treeBytesAt(dfd.fd, name);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace oomsentinel::incident_detail
