// config/: one YAML file -> typed, validated configuration.
// The value syntax the config shares between reading and printing, so that printConfig's output
// always reads back to the same values; and the "did you mean" used by every unknown name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace oomsentinel::config_values {

// "70%" -> 0.70, "0.7" -> 0.70. Range is checked by the caller.
Result<double> parseRatio(std::string_view text);
// The shortest percent that parseRatio reads back to exactly `ratio`: 0.7 -> "70%".
std::string formatRatio(double ratio);
// The largest unit that divides `d` exactly, so parseDuration reads it back unchanged:
// 50ms -> "50ms", 90s -> "90s", 300s -> "5m", 1.5s -> "1500ms", 0 -> "0s".
std::string formatDurationExact(Duration d);

// Optimal string alignment distance (edits, with adjacent swaps counting as one).
std::size_t editDistance(std::string_view a, std::string_view b);
// The candidate `name` most likely meant: the nearest within 2 edits (and fewer edits than
// either word has letters), else one that starts with the other (3 letters at least);
// nullopt when nothing is close. Ties go to the earlier candidate.
std::optional<std::string> didYouMean(std::string_view name,
                                      const std::vector<std::string>& candidates);

}  // namespace oomsentinel::config_values
