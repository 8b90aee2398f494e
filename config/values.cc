#include "config/values.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace oomsentinel::config_values {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<double> parseRatio(std::string_view text) {
  std::string_view s = trim(text);
  bool percent = !s.empty() && s.back() == '%';
  if (percent) s = trim(s.substr(0, s.size() - 1));
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v))
    return makeError("expected a percentage like 70% or a ratio like 0.7, got '" +
                     std::string(text) + "'");
  return percent ? v / 100.0 : v;
}

std::string formatRatio(double ratio) {
  char buf[64];
  // Fixed notation, as people write percents: "70%", "72.5%".
  if (std::isfinite(ratio) && std::fabs(ratio) < 1e6)
    for (int decimals = 0; decimals <= 17; ++decimals) {
      std::snprintf(buf, sizeof buf, "%.*f%%", decimals, ratio * 100.0);
      auto back = parseRatio(buf);
      if (back.ok() && *back == ratio) return buf;
    }
  // ratio * 100 lost a bit, or the value is extreme: as a ratio, which always reads back.
  std::snprintf(buf, sizeof buf, "%.17g", ratio);
  return buf;
}

std::string formatDurationExact(Duration d) {
  struct Unit {
    const char* name;
    Duration::rep ns;
  };
  static constexpr Unit kUnits[] = {{"h", 3'600'000'000'000},
                                    {"m", 60'000'000'000},
                                    {"s", 1'000'000'000},
                                    {"ms", 1'000'000},
                                    {"us", 1'000}};
  Duration::rep ns = d.count();
  if (ns == 0) return "0s";
  for (const auto& u : kUnits)
    if (ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
  return std::to_string(ns) + "ns";
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::optional<std::string> didYouMean(std::string_view name,
                                      const std::vector<std::string>& candidates) {
  // Names in a config are short; a long one is not a typo of any of them.
  if (name.empty() || name.size() > 64) return std::nullopt;
  const std::string* best = nullptr;
  std::size_t best_distance = 3;
  for (const auto& c : candidates) {
    std::size_t dist = editDistance(name, c);
    if (dist < best_distance && dist < std::min(name.size(), c.size())) {
      best = &c;
      best_distance = dist;
    }
  }
  if (best) return *best;
  if (name.size() >= 3)
    for (const auto& c : candidates)
      if (c.size() >= 3 && (c.starts_with(name) || name.starts_with(c))) return c;
  return std::nullopt;
}

}  // namespace oomsentinel::config_values
