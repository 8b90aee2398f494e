// Real kernel, cgroup v1 (this machine's layout): a child of the memory hierarchy with a 64 MiB
// limit, a leaking allocator inside it, usage seen rising, and the kernel's OOM kill counted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "tests/integration/real_cgroup.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;
using oomsentinel::testing::RealV1Cgroup;

TEST(CgroupV1Real, UsageRisesThenKernelOomKillIsCounted) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  RealV1Cgroup cg("oomsentinel-it-v1-oom", 64 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();

  HostPaths paths;  // the real /proc and /sys/fs/cgroup, layout from mountinfo
  auto layout = detectLayout(paths);
  ASSERT_TRUE(layout.ok()) << layout.error().describe();
  ASSERT_EQ(layout->memory_version, CgroupVersion::kV1);
  auto tc = TargetCollector::create(paths, *layout, Target::cgroupPath("it", cg.relative()));
  ASSERT_TRUE(tc.ok()) << tc.error().describe();

  SystemClock clock;
  Snapshot snap;
  ASSERT_TRUE((*tc)->collect(clock, snap).ok());
  ASSERT_TRUE(snap.has(Sig::kLimitBytes));
  EXPECT_EQ(*snap.get(Sig::kLimitBytes), 64 << 20);
  EXPECT_EQ(*snap.get(Sig::kEventsOomKill), 0);
  double first_usage = *snap.get(Sig::kUsageBytes);

  // 40 MiB/s into a 64 MiB limit: killed after about 1.6 s.
  pid_t pid = cg.spawn({oomsentinel::testing::leakerPath(), "--rate", "40MiB/s"});
  ASSERT_GT(pid, 0);
  double max_seen = first_usage;
  double max_ratio = 0;
  int status = 0;
  bool exited = false;
  bool saw_member = false;
  for (int i = 0; i < 300 && !exited; ++i) {  // at most 15 s
    std::this_thread::sleep_for(50ms);
    if (waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (auto st = (*tc)->collect(clock, snap); st.ok()) {
      max_seen = std::max(max_seen, *snap.get(Sig::kUsageBytes));
      if (auto r = snap.get(Sig::kWorkingSetRatio)) max_ratio = std::max(max_ratio, *r);
      // v1 membership is refreshed once a second (building its pid list costs ~10 us).
      if (!exited && *snap.get(Sig::kProcessCount) == 1) saw_member = true;
    }
  }
  ASSERT_TRUE(exited) << "the leaker was not killed within 15 s";
  ASSERT_TRUE(WIFSIGNALED(status)) << "leaker exited with status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GT(max_seen, first_usage + (32 << 20)) << "usage never rose";
  EXPECT_GT(max_ratio, 0.5);

  EXPECT_TRUE(saw_member) << "the leaker was never counted as a member";
  std::this_thread::sleep_for(1100ms);
  ASSERT_TRUE((*tc)->collect(clock, snap).ok());
  EXPECT_EQ(*snap.get(Sig::kProcessCount), 0) << "the killed leaker is still counted";
  EXPECT_EQ(*snap.get(Sig::kEventsOomKill), 1);
  // The kernel's high-water mark reached the limit. (failcnt is not asserted: with a memsw limit
  // equal to the memory limit this kernel leaves both failcnts at 0 through an OOM kill.)
  EXPECT_EQ(*snap.get(Sig::kPeakBytes), 64 << 20);
  EXPECT_TRUE(snap.has(Sig::kEventsMax));

  // And through the binary, as a user would see it.
  auto r = oomsentinel::testing::runCommand(
      {oomsentinel::testing::binaryPath(), "status", "--cgroup", cg.relative(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cgroup_version"], "v1");
  EXPECT_EQ(j["layout"], "hybrid");
  EXPECT_EQ(j["signals"]["events_oom_kill"], 1);
  EXPECT_EQ(j["signals"]["limit_bytes"], 64 << 20);
}

TEST(CgroupV1Real, RemovedCgroupIsReportedGoneAndRecreatedOneIsFollowed) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  auto cg = std::make_unique<RealV1Cgroup>("oomsentinel-it-v1-gone", 32 << 20);
  ASSERT_TRUE(cg->ok()) << cg->error();
  std::string rel = cg->relative();
  HostPaths paths;
  auto layout = detectLayout(paths);
  ASSERT_TRUE(layout.ok());
  auto tc = TargetCollector::create(paths, *layout, Target::cgroupPath("it", rel));
  ASSERT_TRUE(tc.ok()) << tc.error().describe();
  SystemClock clock;
  Snapshot snap;
  ASSERT_TRUE((*tc)->collect(clock, snap).ok());

  cg.reset();  // rmdir: the held descriptors now answer ENODEV
  auto st = (*tc)->collect(clock, snap);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().isGone()) << st.error().describe();

  RealV1Cgroup again("oomsentinel-it-v1-gone", 48 << 20);
  ASSERT_TRUE(again.ok()) << again.error();
  st = (*tc)->collect(clock, snap);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ(*snap.get(Sig::kLimitBytes), 48 << 20);
}

}  // namespace
}  // namespace oomsentinel
