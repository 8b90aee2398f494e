// bench/race: the race against the OOM killer (bench_oom_race). One trial: a leak in a fresh
// cgroup v1 child with a 256 MiB limit, watched either by `oomsentinel run` (dump + alert) or by
// the Go example's own in-process check, every time on the wall clock (CLOCK_REALTIME).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace oomsentinel::race {

// Where the programs are: built by CMake into the build tree (compile definitions).
struct Programs {
  std::string oomsentinel, cpp_leak, go_leak, java_leak;
};

struct TrialSpec {
  std::string runtime;  // cpp, go, java
  std::string config;   // adaptive, adaptive-poll, fixed-1s, fixed-5s, fixed-10s, go-inprocess
  double rate_mib = 50;
  int index = 0;
  long long limit_bytes = 256ll << 20;
  // The rule's threshold, a working-set ratio: oomsentinel's critical rule, or the in-process
  // check's MemStats.Sys over the limit.
  double threshold = 0.80;
  std::string alertmanager;  // base URL; "" = no alert action
  std::string work_dir;      // a fresh directory for this trial
  bool cgroup_v2 = false;    // a child of /sys/fs/cgroup (memory.max) instead of the v1 hierarchy
};

struct TrialResult {
  TrialSpec spec;
  // Unix seconds; 0 = did not happen (or was not seen).
  double started = 0;    // the leaker was started
  double crossed = 0;    // the cgroup's working set crossed threshold x limit (1 ms sampler)
  double fired = 0;      // the rule fired (the incident's fired_at), or the in-process check did
  double published = 0;  // the bundle was published, or the profile file was complete
  double alerted = 0;    // the alert was first seen in Alertmanager's API (20 ms polls)
  double killed = 0;     // the kernel's SIGKILL was reaped
  bool oom_killed = false;
  std::string dumper_result;  // of the runtime's dumper: ok, failed, timed_out, ... or ""
  bool captured = false;      // complete evidence of the heap published before the kill
  double peak_ratio = 0;      // the sampler's highest working set / limit
  // The leak rate the cgroup saw, MiB/s: 10% of the limit over the time from (threshold - 10%)
  // to the crossing; 0 if not measured. A rate the leaker cannot reach shows here.
  double achieved_mib_s = 0;
  std::string note;  // why it was not captured, or what went wrong
};

// Runs one trial; never throws. A setup failure is a result with note set and nothing timed.
TrialResult runTrial(const TrialSpec& spec, const Programs& programs);

// A number of seconds from an RFC 3339 time ("2026-12-03T10:40:00.123456789Z"); 0 if not one.
double parseRfc3339(const std::string& text);

}  // namespace oomsentinel::race
