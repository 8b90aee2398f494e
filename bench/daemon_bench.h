// bench/: benchmarks and their recorded results.
// Shared by the benchmarks that run the real daemon for a while and record what it did
// (bench_overhead, bench_hostile_rss): their clock, a sleep that a signal cuts short, and the
// tally of the daemon's warnings and errors for the record.
#pragma once

#include <signal.h>

#include <functional>
#include <string>

namespace oomsentinel::bench {

// Set by requestStop, a signal handler (SIGINT, SIGTERM): the benchmark winds down and cleans up.
extern volatile sig_atomic_t g_stop;
void requestStop(int);

// CLOCK_MONOTONIC in seconds.
double monoNow();
// Sleeps `seconds`, in steps of at most 50 ms; false at once when a stop was asked.
bool sleepFor(double seconds);

// The " WARNING " and " ERROR " lines of `log`, grouped by `message` (given a line's text from
// its level on, what is the same for every target and every time: the target's name and the
// figures left out), in the order first seen: one "    <count> x <message>\n" line each.
std::string summarizeLog(const std::string& log,
                         const std::function<std::string(std::string)>& message);

// A line's text up to its " target=" field: the message alone.
std::string messageBeforeTarget(std::string text);

}  // namespace oomsentinel::bench
