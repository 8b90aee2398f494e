// daemon/: wiring and lifetime of the oomsentinel executable.
// Logger: one line per event on stderr, human-readable or JSON lines (--log-format json).
#pragma once

#include <cstddef>
#include <cstdio>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/firing.h"
#include "core/units.h"  // formatValue, which log lines use

namespace oomsentinel {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Logger {
 public:
  enum class Format { kHuman, kJson };
  Logger(const Clock& clock, Format format, std::FILE* out = stderr)
      : clock_(clock), format_(format), out_(out) {}

  // Whatever a message or a field holds (a target's HTTP answer, a file name), it goes through
  // safeText (core/safe_text.h), cut at this many bytes: a line is never cut short, forged or
  // made unparseable by what a target wrote.
  static constexpr std::size_t kLogTextCap = 4096;

  // A message with optional key/value fields (values are already formatted).
  void log(LogLevel level, const std::string& msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});
  // One line per rule transition, with the values that caused it.
  void transition(const Firing& f);
  Format format() const { return format_; }
  // Messages below `level` are dropped (the one-shot commands keep only errors).
  void setMinLevel(LogLevel level) { min_level_ = level; }

 private:
  // One line, either format; `extra`: more JSON members (a transition's), already safe.
  void emit(WallTime when, LogLevel level, std::string_view msg,
            const std::vector<std::pair<std::string, std::string>>& fields,
            const nlohmann::ordered_json* extra);
  void write(const std::string& line);
  const Clock& clock_;
  Format format_;
  std::FILE* out_;
  LogLevel min_level_ = LogLevel::kDebug;
};

}  // namespace oomsentinel
