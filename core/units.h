// core/: the shared vocabulary of oomsentinel.
// Units people write: durations ("50ms", "1.5s", "5m") and sizes ("64MiB", "2GiB", "1000").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace oomsentinel {

// ns, us, ms, s, m, h; a bare number is rejected (a duration always says its unit).
Result<Duration> parseDuration(std::string_view text);
// B, KiB, MiB, GiB, TiB (and K/M/G/T meaning the same powers of 1024); a bare number is bytes.
Result<std::uint64_t> parseBytes(std::string_view text);

// "512 B", "1.5 KiB", "64.0 MiB", "2.00 GiB".
std::string formatBytes(double bytes);
// "50ms", "1.5s", "2m30s".
std::string formatDuration(Duration d);
// "0.873", "1.2e+09", "+Inf": a signal's value, compact, round-trippable enough for logs.
std::string formatValue(double v);

}  // namespace oomsentinel
