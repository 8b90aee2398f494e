// bench/: benchmarks and their recorded results.
// What a benchmark's daemon logged, for its record (bench_overhead, bench_hostile_rss): the
// warnings and errors, each distinct message once with its count.
#pragma once

#include <functional>
#include <string>

namespace oomsentinel::bench {

// The " WARNING " and " ERROR " lines of `log`, grouped by `message` (given a line's text from
// its level on, what is the same for every target and every time: the target's name and the
// figures left out), in the order first seen: one "    <count> x <message>\n" line each.
std::string summarizeLog(const std::string& log,
                         const std::function<std::string(std::string)>& message);

// A line's text up to its " target=" field: the message alone.
std::string messageBeforeTarget(std::string text);

}  // namespace oomsentinel::bench
