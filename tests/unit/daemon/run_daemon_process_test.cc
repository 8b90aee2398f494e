// tests/support/daemon_process.h itself: what the tests that start the daemon rely on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>

#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using testing::TempDir;

TEST(RunDaemonProcess, ADaemonThatExitsEndsTheWaitForItsLogAtOnceWithItsStatus) {
  TempDir dir;
  dir.write("c.yaml", "rules:\n  - name: x\n    expr: 'a >'\n");
  testing::DaemonProcess daemon(
      {testing::runArgs("", dir.path() + "/c.yaml"), dir.path() + "/log"});
  ASSERT_TRUE(daemon.started());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(daemon.waitForLog("never said", std::chrono::seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10))
      << "waited for the log of a daemon that had exited";
  ASSERT_TRUE(daemon.exitStatus().has_value());
  EXPECT_TRUE(testing::exitedWith(*daemon.exitStatus(), 2)) << *daemon.exitStatus();
  EXPECT_THAT(daemon.log(), HasSubstr("invalid config; not starting"));
}

TEST(RunDaemonProcess, ADroppedDaemonIsKilledAndReapedAndStopEndsOneThatRuns) {
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "1000\n");
  dir.write("cg/app/memory.stat", "anon 1000\n");
  dir.write("c.yaml", "targets:\n  - name: app\n    cgroup: /app\n");
  pid_t pid = -1;
  {
    testing::DaemonProcess daemon(
        {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), dir.path() + "/log"});
    pid = daemon.pid();
    ASSERT_TRUE(daemon.running());
  }
  EXPECT_EQ(::kill(pid, 0), -1) << "still there after the test dropped it";
  EXPECT_EQ(errno, ESRCH) << "not reaped";

  testing::DaemonProcess daemon(
      {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), dir.path() + "/log2"});
  ASSERT_TRUE(daemon.waitForLog("watching target")) << daemon.log();
  int status = daemon.stop();
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status << daemon.log();
  EXPECT_FALSE(daemon.running());
  EXPECT_FALSE(daemon.signal(SIGTERM)) << "signalled a daemon that had exited";
}

}  // namespace
}  // namespace oomsentinel
