// Tests of dumpers/: the fixed moment and the limits the IncidentStore tests share.
#pragma once

#include <chrono>
#include <string>

#include "core/clock.h"
#include "dumpers/incident_store.h"

namespace oomsentinel::testing {

// 2026-11-29T09:35:12.123Z, or another time of that day.
inline WallTime incidentTime(int hour = 9, int minute = 35, int second = 12, int millis = 123) {
  using namespace std::chrono;
  return time_point_cast<WallTime::duration>(sys_days{year{2026} / 11 / 29} + hours{hour} +
                                             minutes{minute} + seconds{second} +
                                             milliseconds{millis});
}

// A store that retention never trims and that needs no free space: the tests' own bundles only.
inline StoreLimits roomyStore(const std::string& dir) {
  StoreLimits l;
  l.dir = dir;
  l.max_incidents = 1000;
  l.max_bytes = 1ull << 40;
  l.max_age = std::chrono::hours(24 * 365 * 100);
  l.min_free = 0;
  return l;
}

}  // namespace oomsentinel::testing
