#include "daemon/logger.h"

#include <cmath>
#include <nlohmann/json.hpp>

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

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // Byte counts and counters are integers: print them whole, not as 4.75099e+08.
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void Logger::write(const std::string& line) {
  std::fputs(line.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Logger::log(LogLevel level, const std::string& msg,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  if (level < min_level_) return;
  if (format_ == Format::kJson) {
    nlohmann::ordered_json j;
    j["time"] = formatWallTime(clock_.wallNow());
    j["level"] = levelName(level);
    j["msg"] = msg;
    for (const auto& [k, v] : fields) j[k] = v;
    write(j.dump());
    return;
  }
  std::string line = formatWallTime(clock_.wallNow());
  line += ' ';
  std::string lvl = levelName(level);
  for (auto& c : lvl) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  lvl.resize(8, ' ');
  line += lvl;
  line += msg;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    bool quote = v.find(' ') != std::string::npos || v.empty();
    if (quote) line += '"';
    line += v;
    if (quote) line += '"';
  }
  write(line);
}

void Logger::transition(const Firing& f) {
  if (format_ == Format::kJson) {
    nlohmann::ordered_json j;
    j["time"] = formatWallTime(f.wall);
    j["level"] = levelName(levelOf(f));
    j["msg"] = "rule transition";
    j["rule"] = f.rule;
    j["target"] = f.target;
    j["severity"] = severityName(f.severity);
    j["from"] = ruleStateName(f.from);
    j["state"] = ruleStateName(f.to);
    j["expr"] = f.expr;
    auto& values = j["values"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : f.values) values[k] = jsonValue(v);
    if (!f.actions.empty()) j["actions"] = f.actions;
    if (f.suppressed_by_cooldown) j["suppressed_by_cooldown"] = true;
    write(j.dump());
    return;
  }
  std::string msg = "rule " + f.rule + " on " + f.target + ": " + ruleStateName(f.from) + " -> " +
                    ruleStateName(f.to) + " [" + severityName(f.severity) + "]";
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [k, v] : f.values) fields.emplace_back(k, formatValue(v));
  if (!f.actions.empty()) {
    std::string a;
    for (const auto& x : f.actions) a += (a.empty() ? "" : ",") + x;
    fields.emplace_back("actions", a);
  }
  if (f.suppressed_by_cooldown) fields.emplace_back("actions", "suppressed-by-cooldown");
  std::string line = formatWallTime(f.wall) + " ";
  std::string lvl = levelName(levelOf(f));
  for (auto& c : lvl) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  lvl.resize(8, ' ');
  line += lvl + msg;
  for (const auto& [k, v] : fields) line += " " + k + "=" + v;
  write(line);
}

}  // namespace oomsentinel
