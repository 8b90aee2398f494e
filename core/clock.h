// core/: the shared vocabulary of oomsentinel.
// Clock: the only source of time. Production code reads SystemClock; tests advance a FakeClock.
#pragma once

#include <atomic>
#include <chrono>

namespace oomsentinel {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime steadyNow() const = 0;
  virtual WallTime wallNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime steadyNow() const override;
  WallTime wallNow() const override;
};

// Starts at steady 0 and a fixed wall time; moves only when told. Thread-safe reads.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime wall_start = WallTime(std::chrono::seconds(1'700'000'000)));
  SteadyTime steadyNow() const override;
  WallTime wallNow() const override;
  void advance(Duration d);
  // Sets steady time to `t` since the fake epoch, moving wall time by the same amount.
  void set(Duration since_start);

 private:
  WallTime wall_start_;
  std::atomic<Duration::rep> elapsed_{0};
};

// Seconds as a double, the unit every signal and rule uses for durations.
inline double toSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace oomsentinel
