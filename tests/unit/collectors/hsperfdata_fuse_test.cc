// A JVM target whose /tmp is a FUSE file system it serves and stalls (issue 18): the search for
// its hsperfdata file runs on one of the daemon's read threads, and must give it back by its
// deadline, and not take it again while the stuck lookup has not returned. The stall is real
// (tests/support/stalling_fuse.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "collectors/hsperfdata.h"
#include "collectors/jvm_perf.h"
#include "core/signal.h"
#include "core/target_fs.h"
#include "tests/support/stalling_fuse.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using oomsentinel::testing::readFixture;
using oomsentinel::testing::TempDir;
using test::StallingFuse;
using namespace std::chrono_literals;

class HsperfdataFuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!StallingFuse::unavailable().empty())
      GTEST_SKIP() << "no FUSE mount can be made here: " << StallingFuse::unavailable();
    // pid 77: its root's /tmp is the stalled mount; pid 200: a well-behaved JVM.
    process(77, 1);
    process(200, 7);
    t_.write("ctr/200/tmp/hsperfdata_app/7", readFixture("runtime-captured/hsperfdata-jdk17-g1"));
    std::string why;
    fuse_ = StallingFuse::mount(t_.path() + "/ctr/77/tmp", &why);
    ASSERT_TRUE(fuse_) << why;
  }
  void TearDown() override {
    fuse_.reset();
    EXPECT_TRUE(testing::eventually([] { return targetWorkStats().stuck == 0; }));
  }
  void process(int pid, int nspid) {
    std::string p = std::to_string(pid);
    t_.write("fakeproc/" + p + "/status",
             "Name:\tjava\nNSpid:\t" + p + "\t" + std::to_string(nspid) + "\n");
    t_.write("ctr/" + p + "/tmp/.keep", "");
    std::filesystem::create_directory_symlink(t_.path() + "/ctr/" + p,
                                              t_.path() + "/fakeproc/" + p + "/root");
  }

  TempDir t_;
  HostPaths paths_{t_.path() + "/cg", t_.path() + "/fakeproc"};
  std::unique_ptr<StallingFuse> fuse_;
};

TEST_F(HsperfdataFuseTest, TheSearchInAStalledTmpEndsByItsDeadlineAndIsNotRepeated) {
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  auto f = findHsperfdataFile(paths_, 77, -1, 300ms);
  EXPECT_LT(real.steadyNow() - t0, 1s);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().errnum, ETIMEDOUT) << f.error().describe();
  EXPECT_EQ(f.error().path, "pid 77");
  // While that lookup is stuck, the target costs no thread and no wait.
  t0 = real.steadyNow();
  f = findHsperfdataFile(paths_, 77, -1, 30s);
  EXPECT_LT(real.steadyNow() - t0, 500ms);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().errnum, EBUSY) << f.error().describe();
  // Another JVM is found as before.
  auto good = findHsperfdataFile(paths_, 200);
  ASSERT_TRUE(good.ok()) << good.error().describe();
  EXPECT_EQ(good->path, "pid 200's root:/tmp/hsperfdata_app/7");
}

TEST_F(HsperfdataFuseTest, ACollectorOfAStalledJvmGivesItsReadThreadBack) {
  SystemClock real;
  auto stalled = JvmPerfCollector::forPid(paths_, 77);
  Snapshot s;
  s.steady = SteadyTime(1s);
  SteadyTime t0 = real.steadyNow();
  EXPECT_TRUE(stalled.collect(s).ok());
  EXPECT_LT(real.steadyNow() - t0, kTargetReadTimeout + 500ms);
  EXPECT_THAT(stalled.lastProblem(), HasSubstr("does not answer"));
  auto good = JvmPerfCollector::forPid(paths_, 200);
  Snapshot g;
  g.steady = SteadyTime(1s);
  EXPECT_TRUE(good.collect(g).ok());
  EXPECT_EQ(good.lastProblem(), "");
  auto meta = findSignal("jvm_metaspace_used_bytes");
  ASSERT_TRUE(meta);
  EXPECT_TRUE(g.has(*meta)) << good.lastProblem();
}

TEST_F(HsperfdataFuseTest, ACgroupOfStalledProcessesCostsOneWaitPerSearch) {
  // Three processes sharing the stalled /tmp (one container), then a JVM.
  for (int pid : {78, 79}) {
    process(pid, 1);
    std::filesystem::remove(t_.path() + "/fakeproc/" + std::to_string(pid) + "/root");
    std::filesystem::create_directory_symlink(
        t_.path() + "/ctr/77", t_.path() + "/fakeproc/" + std::to_string(pid) + "/root");
  }
  t_.write("cg/app/cgroup.procs", "77\n78\n79\n200\n");
  auto c = JvmPerfCollector::forCgroup(paths_, t_.path() + "/cg/app/cgroup.procs");
  Snapshot s;
  s.steady = SteadyTime(1s);
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  EXPECT_TRUE(c.collect(s).ok());
  EXPECT_LT(real.steadyNow() - t0, kTargetReadTimeout + 500ms);
  EXPECT_THAT(c.lastProblem(), HasSubstr("pid 77"));
  EXPECT_EQ(targetWorkStats().stuck, 1u) << "one thread left behind, not one per process";
}

}  // namespace
}  // namespace oomsentinel
