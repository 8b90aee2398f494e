// The usage watch (daemon/usage_watch.h): the band and early thresholds armed on cgroup v1, what
// a threshold notification means, the projection that starts a watch between two ticks, and a
// watch on a plain usage file that wakes a tick at the crossing, not before and not at the next
// tick.
#include "daemon/usage_watch.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;
// Whole bytes (the thresholds are integers), not testing::kMiB (a double).
constexpr std::uint64_t kKibibyte = 1024, kMebibyte = 1 << 20;
// How soon after a crossing a watch must wake the tick in these tests: milliseconds, where the
// next tick is a second away (the watch reads every 1 ms; room left for a loaded CI machine).
constexpr double kWithin = 20.0;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(ThresholdBand, Is128PagesPerCpuWithinHalfAMiBAndEightMiB) {
  EXPECT_EQ(thresholdBand(1), 512 * kKibibyte);
  EXPECT_EQ(thresholdBand(2), 1 * kMebibyte);
  EXPECT_EQ(thresholdBand(6), 3 * kMebibyte);
  EXPECT_EQ(thresholdBand(64), 8 * kMebibyte);
  EXPECT_EQ(thresholdBand(-1), 512 * kKibibyte);  // sysconf failed
}

TEST(EarlyThresholds, EachLevelGetsATwinABandBelow) {
  EXPECT_THAT(withEarlyThresholds({100 * kMebibyte, 200 * kMebibyte}, kMebibyte),
              ElementsAre(99 * kMebibyte, 100 * kMebibyte, 199 * kMebibyte, 200 * kMebibyte));
  // Levels closer than the band share the ladder; a level under the band has no twin.
  EXPECT_THAT(withEarlyThresholds(
                  {512 * kKibibyte, 100 * kMebibyte, 100 * kMebibyte + 512 * kKibibyte}, kMebibyte),
              ElementsAre(512 * kKibibyte, 99 * kMebibyte, 99 * kMebibyte + 512 * kKibibyte,
                          100 * kMebibyte, 100 * kMebibyte + 512 * kKibibyte));
}

TEST(ClassifyNotice, ACrossingWakesTheBandWatchesALateOneDoesNothing) {
  std::vector<std::uint64_t> levels{100 * kMebibyte, 200 * kMebibyte};
  auto m = [](double x) { return x * static_cast<double>(kMebibyte); };
  // Rose past a level since last seen: a tick at once.
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(99.5), m(100.2)), Notice::kWake);
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(50), m(250)), Notice::kWake);
  // Into the band below a level, not past it: watch. At the level is not past it (a rule's
  // `usage_bytes > 100MiB` is not true there yet).
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(98.5), m(99.3)), Notice::kWatch);
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(98.5), m(100)), Notice::kWatch);
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(100), m(100.25)), Notice::kWake);
  // Rose, nothing crossed, no level near: the kernel's late word on a level already seen.
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(100.3), m(100.6)), Notice::kNothing);
  // Fell (a crossing downward): a tick, as before, so that the rule can resolve.
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(100.5), m(99.5)), Notice::kWake);
  // Nothing seen yet, or the read failed: a tick.
  EXPECT_EQ(classifyNotice(levels, kMebibyte, kNaN, m(99.5)), Notice::kWake);
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(99), kNaN), Notice::kWake);
  // The skipped level (the fast-poll level while fast) neither wakes nor is watched.
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(99.5), m(100.2), 100 * kMebibyte),
            Notice::kNothing);
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(98.5), m(99.3), 100 * kMebibyte), Notice::kNothing);
  EXPECT_EQ(classifyNotice(levels, kMebibyte, m(198.5), m(199.3), 100 * kMebibyte), Notice::kWatch);
}

TEST(ProjectedCrossing, OnlyWhenTheGrowthReachesALevelBeforeTheNextTick) {
  std::vector<std::uint64_t> levels{100 * kMebibyte, 200 * kMebibyte};
  double u = 90.0 * kMebibyte, rate = 100.0 * kMebibyte;  // 100 MiB/s: 100 ms to the level
  auto when = projectedCrossing(levels, u, rate, 1s);
  ASSERT_TRUE(when);
  EXPECT_NEAR(std::chrono::duration<double>(*when).count(), 0.100, 1e-6);
  EXPECT_FALSE(projectedCrossing(levels, u, rate, 50ms));  // the tick comes first
  EXPECT_FALSE(projectedCrossing(levels, u, 0, 1s));       // not growing
  EXPECT_FALSE(projectedCrossing(levels, u, -rate, 1s));
  EXPECT_FALSE(projectedCrossing(levels, u, kNaN, 1s));                  // one sample only
  EXPECT_FALSE(projectedCrossing(levels, 250.0 * kMebibyte, rate, 1s));  // every level passed
  // The skipped level aside, the next one is 1.1 s away.
  EXPECT_FALSE(projectedCrossing(levels, u, rate, 1s, 100 * kMebibyte));
  EXPECT_TRUE(projectedCrossing(levels, u, rate, 2s, 100 * kMebibyte));
}

// A usage file the test changes in place, as the kernel's changes (the watch keeps it open): one
// write of a fixed width, so that a read never sees it half written.
class FakeUsage {
 public:
  explicit FakeUsage(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) {
    set(0);
  }
  void set(std::uint64_t v) {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%20llu\n", static_cast<unsigned long long>(v));
    ASSERT_EQ(::pwrite(fd_.get(), buf, static_cast<std::size_t>(n), 0), n);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  OwnedFd fd_;
};

struct Woken {
  std::vector<std::string> sources;
  std::vector<std::chrono::steady_clock::time_point> at;
};

// A watch on the loop `io`, a usage file the test changes, and every wake-up it asked for.
class UsageWatchTest : public ::testing::Test {
 protected:
  // `t` given one level at 100 MiB, seen at 90 MiB by a tick, and its early threshold's
  // notification at 99.4 MiB (in the band): watched. In place: the watch holds on to `t`.
  void watchInTheBand(UsageWatch::Target& t) {
    t.usage_file = usage.path();
    t.levels = {100 * kMebibyte};
    auto t0 = std::chrono::steady_clock::now();
    watch.ticked(t, 90.0 * kMebibyte, t0, t0 + 10s);
    usage.set(99 * kMebibyte + 400 * kKibibyte);
    watch.notified(t, kMebibyte);
  }
  UsageWatch::Target target(std::vector<std::uint64_t> levels) {
    UsageWatch::Target t;
    t.usage_file = usage.path();
    t.levels = std::move(levels);
    return t;
  }
  testing::TempDir dir;
  FakeUsage usage{dir.path() + "/usage"};
  boost::asio::io_context io;
  Woken woken;
  SystemClock clock;
  UsageWatch watch{io, clock, nullptr, [this](WakeSource s) {
                     woken.sources.emplace_back(name(s));
                     woken.at.push_back(std::chrono::steady_clock::now());
                   }};
};

TEST_F(UsageWatchTest, AProjectedCrossingIsWokenWithinMillisecondsNotAtTheNextTick) {
  auto t = target({100 * kMebibyte});
  // Two ticks 100 ms apart saw 80 then 90 MiB: 100 MiB/s, so the level is 100 ms ahead, and the
  // next tick is 1 s away.
  auto t0 = std::chrono::steady_clock::now();
  watch.ticked(t, 80.0 * kMebibyte, t0 - 100ms, t0 + 1s);
  EXPECT_FALSE(t.run);
  usage.set(90 * kMebibyte);
  watch.ticked(t, 90.0 * kMebibyte, t0, t0 + 1s);
  ASSERT_TRUE(t.run) << "no watch started by the projection";
  EXPECT_EQ(watch.running(), 1u);
  // The usage passes the level 150 ms after the tick.
  // The crossing is timed where it happens (the writer can itself be late on a busy machine).
  std::chrono::steady_clock::time_point crossed;
  std::thread writer([&] {
    std::this_thread::sleep_for(120ms);
    usage.set(99 * kMebibyte);
    std::this_thread::sleep_for(30ms);
    crossed = std::chrono::steady_clock::now();
    usage.set(100 * kMebibyte + 4096);
  });
  io.run_for(400ms);
  writer.join();
  ASSERT_EQ(woken.sources.size(), 1u);
  EXPECT_EQ(woken.sources[0], "projection");
  double late = std::chrono::duration<double, std::milli>(woken.at[0] - crossed).count();
  std::cout << "woken " << late << " ms after the crossing\n";
  EXPECT_GT(late, -1.0) << "woken before the usage reached the level";
  // Milliseconds, not the next tick's second; the bound leaves room for a loaded CI machine (the
  // precision itself is measured by bench/run-oom-race, not here).
  EXPECT_LT(late, kWithin);
  EXPECT_FALSE(t.run);
  EXPECT_EQ(watch.running(), 0u);
}

TEST_F(UsageWatchTest, NoWatchWhenTheTickComesFirstOrTheUsageIsFlat) {
  auto t = target({100 * kMebibyte});
  auto t0 = std::chrono::steady_clock::now();
  watch.ticked(t, 80.0 * kMebibyte, t0 - 100ms, t0 + 50ms);
  watch.ticked(t, 81.0 * kMebibyte, t0, t0 + 50ms);  // 10 MiB/s: 1.9 s to go, the tick is in 50 ms
  EXPECT_FALSE(t.run);
  watch.ticked(t, 81.0 * kMebibyte, t0 + 50ms, t0 + 1s);  // flat
  EXPECT_FALSE(t.run);
  io.run_for(50ms);
  EXPECT_TRUE(woken.sources.empty());
}

TEST_F(UsageWatchTest, ANotificationInTheBandWatchesUntilTheCrossingAndALateOneIsIgnored) {
  UsageWatch::Target t;
  watchInTheBand(t);
  ASSERT_TRUE(t.run);
  EXPECT_TRUE(woken.sources.empty()) << "woken below the level";
  std::chrono::steady_clock::time_point crossed;
  std::thread writer([&] {
    std::this_thread::sleep_for(30ms);
    usage.set(100 * kMebibyte);  // at the level: not past it
    std::this_thread::sleep_for(30ms);
    crossed = std::chrono::steady_clock::now();
    usage.set(100 * kMebibyte + 256 * kKibibyte);
  });
  io.run_for(200ms);
  writer.join();
  ASSERT_EQ(woken.sources.size(), 1u);
  EXPECT_EQ(woken.sources[0], "v1_threshold");
  double late = std::chrono::duration<double, std::milli>(woken.at[0] - crossed).count();
  EXPECT_GT(late, -1.0) << "woken at the level, before the usage passed it";
  EXPECT_LT(late, kWithin);
  // The kernel's own notification of the level, a burst later: nothing more.
  usage.set(100 * kMebibyte + 768 * kKibibyte);
  watch.notified(t, kMebibyte);
  EXPECT_EQ(woken.sources.size(), 1u);
  EXPECT_FALSE(t.run);
  // Falling back across the level: a tick, so that the rule can resolve.
  usage.set(98 * kMebibyte);
  watch.notified(t, kMebibyte);
  EXPECT_EQ(woken.sources.size(), 2u);
}

TEST_F(UsageWatchTest, AWatchThatFindsNothingExpiresAndRestsItsTarget) {
  UsageWatch::Target t;
  watchInTheBand(t);
  ASSERT_TRUE(t.run);
  io.run_for(UsageWatch::kLongest + 200ms);
  EXPECT_FALSE(t.run) << "still watching after kLongest";
  EXPECT_TRUE(woken.sources.empty());
  // Resting: a notification in the band starts nothing for kRest.
  usage.set(99 * kMebibyte + 500 * kKibibyte);
  watch.notified(t, kMebibyte);
  EXPECT_FALSE(t.run);
  EXPECT_TRUE(woken.sources.empty());
}

TEST_F(UsageWatchTest, AtMostKAtOnceWatchesAndStopEndsOne) {
  std::vector<UsageWatch::Target> targets(UsageWatch::kAtOnce + 3);
  auto t0 = std::chrono::steady_clock::now();
  for (auto& t : targets) {
    t.usage_file = usage.path();
    t.levels = {100 * kMebibyte};
    watch.ticked(t, 80.0 * kMebibyte, t0 - 100ms, t0 + 1s);
    watch.ticked(t, 90.0 * kMebibyte, t0, t0 + 1s);
  }
  EXPECT_EQ(watch.running(), UsageWatch::kAtOnce);
  for (auto& t : targets) watch.stop(t);
  EXPECT_EQ(watch.running(), 0u);
  io.run_for(20ms);  // the cancelled waits end without touching their targets
}

// A leak that starts from calm and passes the level within one slow tick: no tick sees it coming,
// the skim (v2: no kernel thresholds) does.
TEST_F(UsageWatchTest, TheSkimCatchesALeakThatStartsAndCrossesBetweenTwoTicks) {
  auto t = target({200 * kMebibyte});
  usage.set(10 * kMebibyte);
  auto t0 = std::chrono::steady_clock::now();
  watch.ticked(t, 10.0 * kMebibyte, t0, t0 + 10s, /*skim=*/true);
  EXPECT_FALSE(t.run);
  EXPECT_EQ(watch.skimmed(), 1u);
  // 50 ms later: 120 MiB at once, then 1 MiB a millisecond (about 1 GiB/s) past 200 MiB.
  std::chrono::steady_clock::time_point crossed;
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    usage.set(120 * kMebibyte);
    for (std::uint64_t v = 121; v <= 210; ++v) {
      std::this_thread::sleep_for(1ms);
      usage.set(v * kMebibyte);
      if (v == 201) crossed = std::chrono::steady_clock::now();
    }
  });
  io.run_for(400ms);
  writer.join();
  ASSERT_FALSE(woken.sources.empty()) << "the crossing was left to the tick 10 s later";
  EXPECT_EQ(woken.sources[0], "near_level");
  double late = std::chrono::duration<double, std::milli>(woken.at[0] - crossed).count();
  std::cout << "woken " << late << " ms after the crossing\n";
  EXPECT_GT(late, -1.0);
  EXPECT_LT(late, 15.0);
  watch.stop(t);
  EXPECT_EQ(watch.skimmed(), 0u);
}

TEST_F(UsageWatchTest, ASkimRateOfZeroSkimsNothing) {
  UsageWatch::Target t, u;
  t.usage_file = u.usage_file = usage.path();
  t.levels = u.levels = {200 * kMebibyte};
  auto t0 = std::chrono::steady_clock::now();
  watch.ticked(t, 10.0 * kMebibyte, t0, t0 + 1s, true);
  EXPECT_EQ(watch.skimmed(), 1u);
  watch.setSkimRate(0);  // a reload that turned it off: the skimmed one too
  EXPECT_EQ(watch.skimmed(), 0u);
  EXPECT_FALSE(t.near);
  watch.ticked(u, 10.0 * kMebibyte, t0, t0 + 1s, true);
  EXPECT_EQ(watch.skimmed(), 0u);
}

TEST(SkimSlot, HalfTheWayAtOneGiBPerSecondOnAGridOfPowersOfTwo) {
  SteadyTime now(12345678us);
  const double gib = 1024.0 * kMebibyte;
  // 200 MiB: 97.7 ms at 1 GiB/s -> every 80 ms, at the next multiple of 80 ms.
  EXPECT_EQ(skimSlot(now, 200.0 * kMebibyte, gib), SteadyTime(12400ms));
  EXPECT_EQ(skimSlot(now, 200.0 * kMebibyte, gib / 4), SteadyTime(12480ms));  // 391 ms -> 320 ms
  EXPECT_EQ(skimSlot(now, 0, gib), SteadyTime(12350ms));  // at or past the level: 10 ms
  EXPECT_EQ(skimSlot(now, -5.0 * kMebibyte, gib), SteadyTime(12350ms));
  EXPECT_EQ(skimSlot(now, 100000.0 * kMebibyte, gib), SteadyTime(12800ms));  // far: 640 ms
}

TEST_F(UsageWatchTest, TheSkimReadsAFarTargetRarelyAndANearOneOften) {
  FakeUsage far_usage(dir.path() + "/far"), near_usage(dir.path() + "/near");
  UsageWatch::Target far, near;
  far.usage_file = far_usage.path();
  near.usage_file = near_usage.path();
  far.levels = near.levels = {1024 * kMebibyte};
  far_usage.set(24 * kMebibyte);     // 1000 MiB to go: 488 ms at 1 GiB/s, read every 320 ms
  near_usage.set(1014 * kMebibyte);  // 10 MiB to go: every 10 ms (the shortest)
  auto t0 = std::chrono::steady_clock::now();
  watch.ticked(far, 24.0 * kMebibyte, t0, t0 + 10s, true);
  watch.ticked(near, 1014.0 * kMebibyte, t0, t0 + 10s, true);
  io.run_for(1s);
  auto next = [&](const UsageWatch::Target& t) {
    return std::chrono::duration<double, std::milli>(t.skim_next - t.skim_at).count();
  };
  // Read at a slot of the period: up to one period after the last read.
  EXPECT_GT(next(far), 0);
  EXPECT_LE(next(far), 320.001);
  EXPECT_GT(next(near), 0);
  EXPECT_LE(next(near), 10.001);
  EXPECT_EQ(far.skim_next.time_since_epoch() % 320ms, Duration::zero());
  EXPECT_EQ(near.skim_next.time_since_epoch() % 10ms, Duration::zero());
  watch.stop(far);
  watch.stop(near);
}

}  // namespace
}  // namespace oomsentinel
