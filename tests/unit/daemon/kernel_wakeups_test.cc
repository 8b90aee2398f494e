// The usage thresholds a v1 target's rules ask the kernel to watch (daemon/kernel_wakeups.h).
#include "daemon/kernel_wakeups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::ElementsAre;
using testing::kMiB;

Snapshot snap(double usage, double ws, double limit) {
  Snapshot s;
  s.set(Sig::kUsageBytes, usage);
  s.set(Sig::kWorkingSetBytes, ws);
  if (limit > 0) s.set(Sig::kLimitBytes, limit);
  return s;
}

TEST(UsageThresholds, EachLevelInUsageBytes) {
  // 1000 MiB limit, no file cache: the margin is 10 MiB, the cache 0.
  Snapshot s = snap(100 * kMiB, 100 * kMiB, 1000 * kMiB);
  auto t = usageThresholds({{id(Sig::kUsageBytes), 300 * kMiB},
                            {id(Sig::kUsageRatio), 0.5},
                            {id(Sig::kWorkingSetRatio), 0.8}},
                           0.7, s);
  EXPECT_THAT(t, ElementsAre(300 * kMiB, 500 * kMiB, 700 * kMiB, 800 * kMiB));
}

TEST(UsageThresholds, SaysWhichLevelIsTheFastPollOne) {
  // 1000 MiB limit, 20 MiB of file cache taken as it is: fast_above 70% is 720 MiB of usage.
  Snapshot s = snap(300 * kMiB, 280 * kMiB, 1000 * kMiB);
  std::uint64_t fast = 1;
  auto t = usageThresholds({{id(Sig::kUsageBytes), 300 * kMiB}}, 0.7, s, false, &fast);
  EXPECT_THAT(t, ElementsAre(300 * kMiB, 720 * kMiB));
  EXPECT_EQ(fast, 720 * kMiB);
  // No limit: no ratio, so no fast-poll level.
  usageThresholds({{id(Sig::kUsageBytes), 300 * kMiB}}, 0.7, snap(300 * kMiB, 280 * kMiB, 0), false,
                  &fast);
  EXPECT_EQ(fast, 0u);
}

TEST(UsageThresholds, WorkingSetLevelsAddTheFileCacheRoundedUp) {
  // A 1000 MiB limit: steps of 1 MiB. A cache of 22.3 MiB is rounded up to 23 MiB, so the
  // wake-up comes when the working set is at or just past its level.
  Snapshot s = snap(122.3 * kMiB, 100 * kMiB, 1000 * kMiB);
  auto t = usageThresholds(
      {{id(Sig::kWorkingSetBytes), 400 * kMiB}, {id(Sig::kWorkingSetRatio), 0.6}}, 0, s);
  EXPECT_THAT(t, ElementsAre(423 * kMiB, 623 * kMiB));
  // A cache that drifts within the step gives the same thresholds: nothing to re-arm.
  EXPECT_EQ(
      usageThresholds({{id(Sig::kWorkingSetBytes), 400 * kMiB}, {id(Sig::kWorkingSetRatio), 0.6}},
                      0, snap(122.9 * kMiB, 100 * kMiB, 1000 * kMiB)),
      t);
  // Without a limit the step is 128 KiB.
  EXPECT_THAT(usageThresholds({{id(Sig::kWorkingSetBytes), 400 * kMiB}}, 0,
                              snap(100.1 * kMiB, 100 * kMiB, 0)),
              ElementsAre(400 * kMiB + 128 * 1024));
}

TEST(UsageThresholds, NothingAtOrAboveTheLimitNoRatiosWithoutOneAndACap) {
  Snapshot s = snap(10 * kMiB, 10 * kMiB, 100 * kMiB);
  EXPECT_TRUE(
      usageThresholds({{id(Sig::kUsageRatio), 1.0}, {id(Sig::kUsageBytes), 200 * kMiB}}, 0, s)
          .empty());
  Snapshot unlimited = snap(10 * kMiB, 10 * kMiB, 0);
  EXPECT_THAT(usageThresholds({{id(Sig::kUsageRatio), 0.5}, {id(Sig::kUsageBytes), 64 * kMiB}}, 0.7,
                              unlimited),
              ElementsAre(64 * kMiB));
  // Signals that are not levels of the cgroup's memory are ignored.
  EXPECT_TRUE(usageThresholds({{id(Sig::kPsiSomeAvg10), 10}}, 0, s).empty());
  std::vector<std::pair<SignalId, double>> many;
  for (int i = 1; i <= 40; ++i) many.emplace_back(id(Sig::kUsageBytes), i * kMiB);
  auto capped = usageThresholds(many, 0, s);
  ASSERT_EQ(capped.size(), kMaxThresholds);
  EXPECT_EQ(capped.front(), 9 * kMiB) << "the lowest are dropped";
  EXPECT_EQ(capped.back(), 40 * kMiB);
}

}  // namespace
}  // namespace oomsentinel
