// The wake-up sources' names (daemon/wake_source.h) are what the outside sees: the `source` and
// `started_by` labels of oomsentinel_kernel_wakeups_total and oomsentinel_usage_watches_total,
// dashboards and alert rules built on them, and docs/design/wakeups.md. They must not drift.
#include "daemon/wake_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

TEST(WakeSource, EachSourceKeepsItsPublishedName) {
  EXPECT_EQ(name(WakeSource::kV1Threshold), "v1_threshold");
  EXPECT_EQ(name(WakeSource::kProjection), "projection");
  EXPECT_EQ(name(WakeSource::kNearLevel), "near_level");
  EXPECT_EQ(name(WakeSource::kV1Oom), "v1_oom");
  EXPECT_EQ(name(WakeSource::kV1Pressure), "v1_pressure");
  EXPECT_EQ(name(WakeSource::kV2Events), "v2_events");
  EXPECT_EQ(name(WakeSource::kPsiCgroup), "psi_cgroup");
  EXPECT_EQ(name(WakeSource::kPsiHost), "psi_host");
  std::set<std::string_view> distinct;
  for (WakeSource s : kWakeSources) distinct.insert(name(s));
  EXPECT_EQ(distinct.size(), kWakeSources.size());
  EXPECT_EQ(distinct.count("unknown"), 0u);
}

TEST(WakeSource, OnlyALevelBeingCrossedEarnsATickWhileThePollIsFast) {
  std::set<std::string_view> levels;
  for (WakeSource s : kWakeSources)
    if (crossesLevel(s)) levels.insert(name(s));
  EXPECT_EQ(levels, (std::set<std::string_view>{"v1_threshold", "projection", "near_level"}));
}

TEST(WakeSource, TheDesignDocumentNamesEverySource) {
  const std::string doc =
      testing::slurp(std::string(OOMSENTINEL_SOURCE_DIR) + "/docs/design/wakeups.md");
  for (WakeSource s : kWakeSources)
    EXPECT_THAT(doc, HasSubstr("`" + std::string(name(s)) + "`")) << name(s);
}

}  // namespace
}  // namespace oomsentinel
