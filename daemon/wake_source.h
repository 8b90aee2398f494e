// daemon/: wiring and lifetime.
// What can wake a tick between two timer ticks (docs/design/wakeups.md), each with the one name
// the outside sees: the `source` and `started_by` labels of the wake-up metrics
// (docs/metrics.md), the logs and the tests. A new source is a new enumerator here and a case in
// name(); the compiler names every switch that misses it.
#pragma once

#include <array>
#include <string_view>

namespace oomsentinel {

enum class WakeSource {
  kV1Threshold,  // a cgroup v1 usage threshold (eventfd), or the usage watch it started
  kProjection,   // the usage watch started by a tick's projection
  kNearLevel,    // the skim, or the usage watch it started
  kV1Oom,        // the cgroup v1 OOM notifier
  kV1Pressure,   // cgroup v1 vmpressure at critical
  kV2Events,     // a change of a cgroup v2 memory.events (inotify)
  kPsiCgroup,    // a PSI trigger on a cgroup's memory.pressure
  kPsiHost,      // a PSI trigger on the host's memory pressure
};

inline constexpr std::array kWakeSources = {
    WakeSource::kV1Threshold, WakeSource::kProjection, WakeSource::kNearLevel, WakeSource::kV1Oom,
    WakeSource::kV1Pressure,  WakeSource::kV2Events,   WakeSource::kPsiCgroup, WakeSource::kPsiHost,
};

constexpr std::string_view name(WakeSource s) {
  switch (s) {
    case WakeSource::kV1Threshold:
      return "v1_threshold";
    case WakeSource::kProjection:
      return "projection";
    case WakeSource::kNearLevel:
      return "near_level";
    case WakeSource::kV1Oom:
      return "v1_oom";
    case WakeSource::kV1Pressure:
      return "v1_pressure";
    case WakeSource::kV2Events:
      return "v2_events";
    case WakeSource::kPsiCgroup:
      return "psi_cgroup";
    case WakeSource::kPsiHost:
      return "psi_host";
  }
  return "unknown";  // not reached: every enumerator has its case
}

// A rule's level being crossed (a v1 threshold, the usage watch, the skim), as opposed to news
// of pressure or events: while the poll is already fast, only these still earn an extra tick.
constexpr bool crossesLevel(WakeSource s) {
  return s == WakeSource::kV1Threshold || s == WakeSource::kProjection ||
         s == WakeSource::kNearLevel;
}

}  // namespace oomsentinel
