#include "core/clock.h"

namespace oomsentinel {

SteadyTime SystemClock::steadyNow() const { return std::chrono::steady_clock::now(); }
WallTime SystemClock::wallNow() const { return std::chrono::system_clock::now(); }

FakeClock::FakeClock(WallTime wall_start) : wall_start_(wall_start) {}

SteadyTime FakeClock::steadyNow() const { return SteadyTime(Duration(elapsed_.load())); }

WallTime FakeClock::wallNow() const {
  return wall_start_ + std::chrono::duration_cast<WallTime::duration>(Duration(elapsed_.load()));
}

void FakeClock::advance(Duration d) { elapsed_.fetch_add(d.count()); }
void FakeClock::set(Duration since_start) { elapsed_.store(since_start.count()); }

}  // namespace oomsentinel
