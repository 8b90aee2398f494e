// TargetCollector::skim: the cheap read of a quiet tick on the fixture trees (copied, so that the
// test can change them): usage, OOM events and pressure fresh, the limit as the last full read saw
// it, and nothing from memory.stat.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "core/clock.h"
#include "core/snapshot.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;
using testing::kMiB;

class Copy {
 public:
  explicit Copy(const std::string& layout) {
    root_ = tmp_.path() + "/" + layout;
    fs::copy(testing::fixture("trees/" + layout), root_,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  HostPaths paths() const { return HostPaths(root_ + "/cgroup", root_ + "/proc"); }
  std::unique_ptr<TargetCollector> collector(const std::string& cgroup) const {
    auto layout = detectLayout(paths());
    EXPECT_TRUE(layout.ok());
    auto tc = TargetCollector::create(paths(), *layout, Target::cgroupPath("t", cgroup));
    EXPECT_TRUE(tc.ok()) << tc.error().describe();
    return tc.ok() ? std::move(*tc) : nullptr;
  }
  void write(const std::string& rel, const std::string& text) const {
    FILE* f = std::fopen((root_ + "/cgroup/" + rel).c_str(), "w");
    ASSERT_NE(f, nullptr) << rel;
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  void remove(const std::string& rel) const { fs::remove_all(root_ + "/cgroup/" + rel); }

 private:
  testing::TempDir tmp_;
  std::string root_;
};

TEST(Skim, V2ReadsUsageAndPressureAndKeepsTheLastFullLimit) {
  Copy t("v2");
  auto tc = t.collector("kubepods.slice/pod-x/app");
  ASSERT_TRUE(tc);
  FakeClock clock;
  Snapshot s;
  bool full = false;
  // Before any full read the limit is not known: skim reads in full and says so.
  ASSERT_TRUE(tc->skim(clock, s, &full).ok());
  EXPECT_TRUE(full);
  EXPECT_TRUE(s.has(Sig::kInactiveFileBytes));

  t.write("kubepods.slice/pod-x/app/memory.current", "134217728\n");  // 128 MiB
  t.write("kubepods.slice/pod-x/app/memory.stat", "anon 1\ninactive_file 1\n");
  t.write("kubepods.slice/pod-x/app/memory.events", "low 0\nhigh 13\nmax 6\noom 2\noom_kill 2\n");
  t.write("kubepods.slice/pod-x/app/memory.pressure",
          "some avg10=1.50 avg60=0.50 avg300=0.10 total=100\n"
          "full avg10=0.75 avg60=0.25 avg300=0.05 total=50\n");
  t.write("kubepods.slice/pod-x/memory.max", "1073741824\n");  // not looked at by a skim
  clock.advance(std::chrono::seconds(1));
  ASSERT_TRUE(tc->skim(clock, s, &full).ok());
  EXPECT_FALSE(full);
  EXPECT_EQ(s.steady, clock.steadyNow());
  EXPECT_EQ(s.get(Sig::kUsageBytes), 128 * kMiB);
  EXPECT_EQ(s.get(Sig::kLimitBytes), 256 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.5);
  EXPECT_EQ(s.get(Sig::kPsiFullAvg10), 0.75);
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg10), 1.5);
  // Nothing from memory.stat, so no working set either: the bounds come from usage.
  for (Sig gone :
       {Sig::kAnonBytes, Sig::kInactiveFileBytes, Sig::kWorkingSetBytes, Sig::kWorkingSetRatio,
        Sig::kPeakBytes, Sig::kHighBytes, Sig::kEventsOomKill, Sig::kEventsHigh})
    EXPECT_FALSE(s.has(gone)) << signalName(id(gone));

  // The next full read sees the new limit, and the skims after it use that one.
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.get(Sig::kLimitBytes), 1024 * kMiB);
  ASSERT_TRUE(tc->skim(clock, s, &full).ok());
  EXPECT_FALSE(full);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.125);
}

TEST(Skim, V1ReadsTheUsageOnly) {
  Copy t("v1");
  auto tc = t.collector("batch/job");
  ASSERT_TRUE(tc);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.get(Sig::kLimitBytes), 64 * kMiB);  // batch's, through hierarchical_memory_limit
  t.write("batch/job/memory.usage_in_bytes", "16777216\n");
  t.write("batch/job/memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
  t.write("batch/job/memory.stat", "garbage that a full read would reject\n");
  bool full = true;
  ASSERT_TRUE(tc->skim(clock, s, &full).ok());
  EXPECT_FALSE(full);
  EXPECT_EQ(s.get(Sig::kUsageBytes), 16 * kMiB);
  EXPECT_EQ(s.get(Sig::kLimitBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.25);
  EXPECT_FALSE(s.has(Sig::kEventsOomKill));
  EXPECT_FALSE(s.has(Sig::kUnderOom));
  EXPECT_FALSE(s.has(Sig::kFailcnt));
  EXPECT_FALSE(s.has(Sig::kAnonBytes));
  EXPECT_FALSE(tc->collect(clock, s).ok()) << "the full read does read memory.stat";
}

TEST(Skim, AGoneCgroupIsAnErrorAndARecreatedOneIsReadInFullFirst) {
  Copy t("v1");
  auto tc = t.collector("batch/job");
  ASSERT_TRUE(tc);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  std::string saved = t.paths().cgroupRoot() + "/../saved";
  fs::copy(t.paths().cgroupRoot() + "/batch/job", saved, fs::copy_options::recursive);
  t.remove("batch/job");
  bool full = false;
  auto st = tc->skim(clock, s, &full);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().isGone()) << st.error().describe();
  fs::copy(saved, t.paths().cgroupRoot() + "/batch/job", fs::copy_options::recursive);
  ASSERT_TRUE(tc->skim(clock, s, &full).ok());
  EXPECT_TRUE(full) << "new collectors: the limit comes from a full read";
  EXPECT_TRUE(s.has(Sig::kInactiveFileBytes));
}

}  // namespace
}  // namespace oomsentinel
