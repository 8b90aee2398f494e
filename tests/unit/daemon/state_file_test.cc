// The state file's age as `status` prints it, with the wall clock stepped between the daemon's
// write and the read (row 8 of docs/reliability.md): measured on the monotonic clock, which every
// process of a boot shares, it is neither negative nor an hour off. The real daemon under a
// stepped clock: RunClock (run_clock_test.cc).
#include "daemon/state_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Wall and steady time set apart, as a stepped host clock leaves them.
class SplitClock final : public Clock {
 public:
  SteadyTime steadyNow() const override { return steady; }
  WallTime wallNow() const override { return wall; }
  SteadyTime steady{};
  WallTime wall{};
};

constexpr double kWritten = 1'800'000'000;  // the daemon's wall time at the write

std::string summary(const TempDir& dir, const std::string& json, const SplitClock& reader) {
  dir.write("state.json", json);
  auto s = daemonSummary(dir.path() + "/state.json", reader, 5s);
  return s ? *s : "(none)";
}

SplitClock readerAt(double steady_s, double wall_s) {
  SplitClock c;
  c.steady =
      SteadyTime(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(steady_s)));
  c.wall = WallTime(
      std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double>(wall_s)));
  return c;
}

TEST(StateFileAge, IsMeasuredOnTheMonotonicClockWhateverTheWallClockDid) {
  TempDir dir;
  const std::string file = R"({"unix_time": 1800000000, "steady_seconds": 100, "pid": 7})";
  // 1.5 s later on the monotonic clock; the wall clock stepped back an hour, or forward one.
  for (double step : {-3600.0, 0.0, 3600.0}) {
    std::string s = summary(dir, file, readerAt(101.5, kWritten + 1.5 + step));
    EXPECT_THAT(s, HasSubstr("running, pid 7")) << step;
    EXPECT_THAT(s, HasSubstr("updated 1.5s ago")) << step;
  }
  // Stale is stale on the monotonic clock too.
  EXPECT_THAT(summary(dir, file, readerAt(160, kWritten - 3600)), HasSubstr("NOT UPDATING"));
  EXPECT_THAT(summary(dir, file, readerAt(160, kWritten - 3600)), HasSubstr("updated 60.0s ago"));
}

TEST(StateFileAge, WithoutTheMonotonicTimeTheWallClocksAgeIsNeverNegative) {
  TempDir dir;
  // An older daemon's file: no steady_seconds. A wall clock stepped back since: 0, not -3600.
  const std::string old = R"({"unix_time": 1800000000, "pid": 7})";
  EXPECT_THAT(summary(dir, old, readerAt(0, kWritten - 3600)), HasSubstr("updated 0.0s ago"));
  EXPECT_THAT(summary(dir, old, readerAt(0, kWritten + 2)), HasSubstr("updated 2.0s ago"));
  // A file of an earlier boot: its monotonic time is ahead of ours, so the wall clock says.
  const std::string earlier = R"({"unix_time": 1800000000, "steady_seconds": 5000, "pid": 7})";
  std::string s = summary(dir, earlier, readerAt(30, kWritten + 600));
  EXPECT_THAT(s, HasSubstr("NOT UPDATING"));
  EXPECT_THAT(s, HasSubstr("updated 600.0s ago"));
  // Not a number: the wall clock too.
  const std::string odd = R"({"unix_time": 1800000000, "steady_seconds": "x", "pid": 7})";
  EXPECT_THAT(summary(dir, odd, readerAt(30, kWritten + 600)), HasSubstr("updated 600.0s ago"));
}

}  // namespace
}  // namespace oomsentinel
