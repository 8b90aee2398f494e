// daemon/: wiring and lifetime of the oomsentinel executable.
// Logger: one line per event on stderr, human-readable or JSON lines (--log-format json).
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/firing.h"

namespace oomsentinel {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Logger {
 public:
  enum class Format { kHuman, kJson };
  Logger(const Clock& clock, Format format, std::FILE* out = stderr)
      : clock_(clock), format_(format), out_(out) {}

  // A message with optional key/value fields (values are already formatted).
  void log(LogLevel level, const std::string& msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});
  // One line per rule transition, with the values that caused it.
  void transition(const Firing& f);
  Format format() const { return format_; }
  // Messages below `level` are dropped (the one-shot commands keep only errors).
  void setMinLevel(LogLevel level) { min_level_ = level; }

 private:
  void write(const std::string& line);
  const Clock& clock_;
  Format format_;
  std::FILE* out_;
  LogLevel min_level_ = LogLevel::kDebug;
};

// "0.873", "1.2e+09", "+Inf": compact, round-trippable enough for logs.
std::string formatValue(double v);

}  // namespace oomsentinel
