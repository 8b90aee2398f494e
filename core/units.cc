#include "core/units.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace oomsentinel {
namespace {

struct Unit {
  std::string_view name;
  double scale;
};

// Splits "1.5GiB" into 1.5 and "GiB".
Result<std::pair<double, std::string_view>> splitNumber(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return makeError("empty value");
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || !std::isfinite(v))
    return makeError("expected a number with a unit, got '" + std::string(text) + "'");
  if (v < 0) return makeError("must not be negative: '" + std::string(text) + "'");
  std::string_view unit = text.substr(static_cast<std::size_t>(ptr - text.data()));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return std::pair<double, std::string_view>(v, unit);
}

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  static constexpr Unit kUnits[] = {{"ns", 1},  {"us", 1e3}, {"ms", 1e6},
                                    {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  auto split = splitNumber(text);
  if (!split) return split.error();
  auto [v, unit] = *split;
  if (unit.empty())
    return makeError("duration '" + std::string(text) + "' needs a unit (ms, s, m, h)");
  for (const auto& u : kUnits)
    if (unit == u.name) {
      double ns = v * u.scale;
      if (ns > 9e18) return makeError("duration '" + std::string(text) + "' is too long");
      return Duration(static_cast<Duration::rep>(std::llround(ns)));
    }
  return makeError("unknown duration unit '" + std::string(unit) + "' in '" + std::string(text) +
                   "' (use ns, us, ms, s, m, h)");
}

Result<std::uint64_t> parseBytes(std::string_view text) {
  static constexpr Unit kUnits[] = {{"", 1},
                                    {"B", 1},
                                    {"KiB", 1024.0},
                                    {"K", 1024.0},
                                    {"MiB", 1048576.0},
                                    {"M", 1048576.0},
                                    {"GiB", 1073741824.0},
                                    {"G", 1073741824.0},
                                    {"TiB", 1099511627776.0},
                                    {"T", 1099511627776.0}};
  auto split = splitNumber(text);
  if (!split) return split.error();
  auto [v, unit] = *split;
  for (const auto& u : kUnits)
    if (unit == u.name) {
      double b = v * u.scale;
      if (b >= 1.8e19) return makeError("size '" + std::string(text) + "' is too large");
      return static_cast<std::uint64_t>(std::llround(b));
    }
  return makeError("unknown size unit '" + std::string(unit) + "' in '" + std::string(text) +
                   "' (use B, KiB, MiB, GiB, TiB)");
}

std::string formatBytes(double bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  double v = bytes;
  while (std::fabs(v) >= 1024 && i < 5) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  if (i == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", v);
  else
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, kNames[i]);
  return buf;
}

std::string formatDuration(Duration d) {
  double s = toSeconds(d);
  char buf[32];
  if (s < 1)
    std::snprintf(buf, sizeof buf, "%gms", s * 1000);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%gs", s);
  else
    std::snprintf(buf, sizeof buf, "%dm%gs", static_cast<int>(s / 60), std::fmod(s, 60));
  return buf;
}

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

}  // namespace oomsentinel
