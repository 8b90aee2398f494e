#include "daemon/capture_times.h"

#include <algorithm>
#include <cmath>

namespace oomsentinel {

double CaptureTimes::defaultSeconds(DumperKind kind) {
  switch (kind) {
    case DumperKind::kProc:
      return 0.05;  // a few /proc files and the cgroup's: milliseconds, and the bundle's fsyncs
    case DumperKind::kGperftools:
      return 0.3;  // the race: 0.15-0.30 s from the firing to the published bundle
    case DumperKind::kGoPprof:
      return 0.2;  // the race: 0.02-0.14 s (one heap profile over loopback)
    case DumperKind::kJvm:
      // The direct attach (jvm.attach's default) takes 38-162 ms from firing to bundle
      // (bench/results/oom_race_jvm_direct.md), jcmd 0.39-0.41 s, a fresh JVM's first attach
      // more: 0.5 s covers either until a target's first dump teaches its own.
      return 0.5;
    case DumperKind::kExec:
      return 1.0;  // the user's command: unknown until it has run once
  }
  return 1.0;
}

void CaptureTimes::record(DumperKind kind, Duration took) {
  Ring& r = rings_[static_cast<std::size_t>(kind)];
  r.took[r.next] = std::max(0.0, toSeconds(took));
  r.next = (r.next + 1) % kKept;
  r.count = std::min(r.count + 1, kKept);
  std::array<double, kKept> sorted = r.took;
  std::sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(r.count));
  // Nearest rank: the smallest value with at least 90% of the kept ones at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(r.count)));
  r.p90 = sorted[std::max<std::size_t>(rank, 1) - 1];
}

double CaptureTimes::p90Seconds(DumperKind kind, std::size_t* learned) const {
  const Ring& r = rings_[static_cast<std::size_t>(kind)];
  if (learned) *learned = r.count;
  return r.count ? r.p90 : defaultSeconds(kind);
}

double CaptureTimes::seconds(const std::vector<DumperKind>& dumpers) const {
  double first = 0, side_by_side = 0;
  for (DumperKind k : dumpers) {
    if (k == DumperKind::kProc)
      first = p90Seconds(k);
    else
      side_by_side = std::max(side_by_side, p90Seconds(k));
  }
  return first + side_by_side;
}

}  // namespace oomsentinel
