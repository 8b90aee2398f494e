#include "daemon/logger.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/safe_text.h"
#include "daemon/report.h"

namespace oomsentinel {
namespace {

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

LogLevel levelOf(const Firing& f) {
  if (f.to == RuleState::kFiring)
    return f.severity == Severity::kInfo ? LogLevel::kInfo : LogLevel::kWarning;
  return LogLevel::kInfo;
}

nlohmann::ordered_json jsonValue(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
}

}  // namespace

void Logger::write(const std::string& line) {
  std::fputs(line.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Logger::log(LogLevel level, const std::string& msg,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  if (level < min_level_) return;
  emit(clock_.wallNow(), level, msg, fields, nullptr);
}

void Logger::emit(WallTime when, LogLevel level, std::string_view msg,
                  const std::vector<std::pair<std::string, std::string>>& fields,
                  const nlohmann::ordered_json* extra) {
  if (format_ == Format::kJson) {
    nlohmann::ordered_json j;
    j["time"] = formatWallTime(when);
    j["level"] = levelName(level);
    j["msg"] = safeText(msg, kLogTextCap);
    for (const auto& [k, v] : fields) {
      std::string key = safeText(k, kLogTextCap);
      // A field may not overwrite time, level or msg: a target-made key would forge them.
      if (key == "time" || key == "level" || key == "msg") key.insert(0, "field_");
      j[key] = safeText(v, kLogTextCap);
    }
    if (extra)
      for (const auto& [k, v] : extra->items()) j[k] = v;
    // Everything above is valid UTF-8 already; replace is the second lock on the same door.
    write(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    return;
  }
  std::string line = formatWallTime(when);
  line += ' ';
  std::string lvl = levelName(level);
  for (auto& c : lvl) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  lvl.resize(8, ' ');
  line += lvl;
  line += safeText(msg, kLogTextCap);
  for (const auto& [k, v] : fields) {
    line += ' ';
    // logfmt: a key is one word; a value with a space or a quote is quoted, and inside the quotes
    // a quote or a backslash is escaped, so that no value can end early and forge a field (an
    // '=' inside a bare value is the value's: a reader splits fields at spaces).
    for (char c : safeText(k, kLogTextCap)) line += c == ' ' || c == '=' || c == '"' ? '_' : c;
    line += '=';
    std::string safe = safeText(v, kLogTextCap);
    if (!safe.empty() && safe.find_first_of(" \"") == std::string::npos) {
      line += safe;
      continue;
    }
    line += '"';
    for (char c : safe) {
      if (c == '"' || c == '\\') line += '\\';
      line += c;
    }
    line += '"';
  }
  write(line);
}

void Logger::transition(const Firing& f) {
  const LogLevel level = levelOf(f);
  if (format_ == Format::kJson) {
    nlohmann::ordered_json extra;
    extra["severity"] = severityName(f.severity);
    extra["from"] = ruleStateName(f.from);
    extra["state"] = ruleStateName(f.to);
    extra["expr"] = safeText(f.expr, kLogTextCap);
    auto& values = extra["values"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : f.values) values[safeText(k, kLogTextCap)] = jsonValue(v);
    if (!f.actions.empty()) {
      auto& actions = extra["actions"] = nlohmann::ordered_json::array();
      for (const auto& a : f.actions) actions.push_back(std::string(name(a)));
    }
    if (f.suppressed_by_cooldown) extra["suppressed_by_cooldown"] = true;
    emit(f.wall, level, "rule transition", {{"rule", f.rule}, {"target", f.target}}, &extra);
    return;
  }
  std::string msg = "rule " + f.rule + " on " + f.target + ": " + ruleStateName(f.from) + " -> " +
                    ruleStateName(f.to) + " [" + severityName(f.severity) + "]";
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [k, v] : f.values) fields.emplace_back(k, formatValue(v));
  if (!f.actions.empty()) {
    std::string a;
    for (const auto& x : names(f.actions)) a += (a.empty() ? "" : ",") + x;
    fields.emplace_back("actions", a);
  }
  if (f.suppressed_by_cooldown) fields.emplace_back("actions", "suppressed-by-cooldown");
  emit(f.wall, level, msg, fields, nullptr);
}

}  // namespace oomsentinel
