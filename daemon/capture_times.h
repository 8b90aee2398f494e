// daemon/: wiring and lifetime of the oomsentinel executable.
// CaptureTimes: how long a target's capture takes, learned from its own dumps, so that a rule can
// weigh the predicted time to OOM against it (the `capture_seconds` signal: `time_to_oom < 3 *
// capture_seconds`, docs/rules.md). Per dumper kind, the p90 of the last kKept durations of its
// dumps that captured something (ok, partial) or ran into their deadline (timed_out: the deadline
// is then the honest figure); before the first, the kind's documented default. A bundle runs proc
// first, then the other dumpers side by side (dumpers/dump_runner.h), so the capture takes proc's
// time plus the longest of the others'. One per Watched target: a target that goes forgets it.
#pragma once

#include <array>
#include <cstddef>
#include <iterator>
#include <vector>

#include "core/clock.h"
#include "core/kinds.h"

namespace oomsentinel {

class CaptureTimes {
 public:
  static constexpr std::size_t kKept = 16;  // durations kept per dumper kind
  // Before a dumper's first dump (docs/rules.md, "capture_seconds"): from the race's captures
  // (bench/results/oom_race_watch.csv, firing to published), rounded up.
  static double defaultSeconds(DumperKind kind);

  void record(DumperKind kind, Duration took);
  // The p90 of `kind`'s kept durations (nearest rank), or its default; `learned`: how many kept.
  double p90Seconds(DumperKind kind, std::size_t* learned = nullptr) const;
  // The capture of `dumpers`: proc's p90 (when it is one of them) plus the largest p90 of the rest.
  double seconds(const std::vector<DumperKind>& dumpers) const;

 private:
  struct Ring {
    std::array<double, kKept> took{};
    std::size_t count = 0, next = 0;
    double p90 = 0;  // of what is kept, made again at each record
  };
  std::array<Ring, std::size(kDumperKinds)> rings_{};
};

}  // namespace oomsentinel
