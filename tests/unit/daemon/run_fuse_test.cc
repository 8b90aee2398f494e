// Hostile targets, end to end (issue 18): containers whose /tmp is a FUSE file system that stops
// answering, so that the JVM counters' lookup and the heap profile's directory wait on it for
// good. More of them than the daemon has read threads; and a well-behaved target beside them.
// The daemon keeps reading the well-behaved one, its stalled dumps end by the dump timeout, and
// SIGTERM stops it within its usual time. The stall is real (tests/support/stalling_fuse.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "tests/support/busybox_container.h"
#include "tests/support/daemon_process.h"
#include "tests/support/stalling_fuse.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using test::StallingFuse;
using testing::DaemonProcess;
using ::testing::HasSubstr;
using testing::slurp;
using testing::startContainer;
using testing::TempDir;
using namespace std::chrono_literals;

// More stalled targets than the daemon's 4 read threads.
constexpr int kStalled = 5;

// A plain process that stays (the well-behaved target).
pid_t startSleep() {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::execl("/bin/sleep", "sleep", "120", static_cast<char*>(nullptr));
  ::_exit(127);
}

// Under ASan the daemon's exit runs LeakSanitizer, which first stops every thread; a worker left
// behind in a FUSE wait cannot be stopped, and the check then holds the exit past the test's
// bound (the sanitizer pass of scripts/test in a fresh clone). Those workers are left behind on
// purpose, so these daemons run without the leak check; nothing else changes.
testing::DaemonOptions fuseDaemonOptions(const std::string& config, const std::string& log) {
  testing::DaemonOptions o{testing::runArgs("", config), log};
  const char* asan = std::getenv("ASAN_OPTIONS");
  o.env.emplace_back("ASAN_OPTIONS",
                     (asan && *asan ? std::string(asan) + ":" : std::string()) + "detect_leaks=0");
  return o;
}

class RunFuse : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!StallingFuse::unavailable().empty())
      GTEST_SKIP() << "no FUSE mount can be made here: " << StallingFuse::unavailable();
    if (auto why = testing::busyboxUnavailable(); !why.empty()) GTEST_SKIP() << why;
    root_ = testing::makeBusyboxRoot(dir_.path(), {"sh", "sleep"});
    // Mounted before the containers start: each one's mount namespace is a copy that holds it.
    std::string why;
    fuse_ = StallingFuse::mount(root_ + "/tmp", &why);
    ASSERT_TRUE(fuse_) << why;
  }
  void TearDown() override {
    daemon_.reset();
    for (pid_t p : targets_) testing::killAndReap(p);
    fuse_.reset();
  }
  // A container that catches the heap profiler's signal (so that a dump goes on to its profile
  // directory, /tmp on the stalled mount) and stays; 0 if it could not be started.
  pid_t startStalledBox() {
    pid_t p = startContainer(root_, "trap 'true' USR2; while :; do sleep 1; done",
                             {"HEAPPROFILE=/tmp/heap", "HEAPPROFILESIGNAL=12"});
    if (p <= 0) return 0;
    targets_.push_back(p);
    return p;
  }
  // Starts the daemon on `targets_and_rules` under a 100 ms poll and 2 s dumps; its log's path.
  std::string startDaemon(const std::string& targets_and_rules) {
    dir_.write("c.yaml", "poll: {interval: 100ms}\ndump: {dir: " + dir_.path() +
                             "/incidents, min_free: 1MiB, timeout: 2s}\n" + targets_and_rules);
    std::string log = dir_.path() + "/log";
    daemon_ = std::make_unique<DaemonProcess>(fuseDaemonOptions(dir_.path() + "/c.yaml", log));
    return log;
  }

  TempDir dir_;
  std::string root_;
  std::unique_ptr<StallingFuse> fuse_;
  std::vector<pid_t> targets_;
  // Dropped (killed and reaped) first in TearDown: it may hold reads on the mount.
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(RunFuse, KeepsReadingOtherTargetsEndsStalledDumpsAndStopsOnSigterm) {
  // Each stalled container catches the heap profiler's signal (so the dumper goes on to its
  // profile directory, /tmp) and is read for JVM counters (looked up in /tmp).
  std::string targets;
  for (int i = 0; i < kStalled; ++i) {
    pid_t p = startStalledBox();
    ASSERT_GT(p, 0);
    targets += "  - name: box" + std::to_string(i) + "\n    pid: " + std::to_string(p) +
               "\n    jvm: {}\n    dumpers: [gperftools]\n"
               "    gperftools: {heap_prefix: /tmp/heap, signal: SIGUSR2}\n";
  }
  pid_t good = startSleep();
  ASSERT_GT(good, 0);
  targets_.push_back(good);
  // Last, so that its read queues behind the stalled ones'.
  targets += "  - name: good\n    pid: " + std::to_string(good) + "\n";
  // The rule holds for 1 s before the dump: time for the containers' shells to set their traps.
  std::string log = startDaemon("targets:\n" + targets +
                                "rules:\n  - name: up\n    expr: rss_bytes > 0\n    for: 1s\n"
                                "    actions: [log, dump]\n");
  ASSERT_TRUE(daemon_->started());

  // The well-behaved target is read and its rule fires, with every read thread's worth of
  // targets stalled.
  EXPECT_TRUE(daemon_->waitForLog("rule up on good: pending -> firing", 10s)) << slurp(log);
  // A stalled dump ends by its 2 s timeout and is published saying so; its slot is free again.
  EXPECT_TRUE(daemon_->waitForLog("incident bundle published", 10s) &&
              daemon_->waitForLog("does not answer", 10s))
      << slurp(log);
  EXPECT_THAT(slurp(log), HasSubstr("reads of targets' files left stuck on a file system that "
                                    "does not answer"));
  ASSERT_TRUE(daemon_->running()) << "the daemon stopped\n" << slurp(log);

  // SIGTERM: the drain waits at most dump.timeout + 1 s for running dumps, and nothing waits for
  // a thread stuck on the mount.
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  int status = daemon_->stop(5s);
  Duration took = real.steadyNow() - t0;
  ASSERT_LT(took, 5s) << "the daemon did not stop within 5 s of SIGTERM (killed)\n" << slurp(log);
  EXPECT_LT(took, 4s);
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status;
  std::printf("stopped %.2f s after SIGTERM with %d targets on a stalled FUSE mount\n",
              toSeconds(took), kStalled);
}

TEST_F(RunFuse, SigtermDuringADumpStuckOnTheMountStopsWithinTheDrainTime) {
  // One target, no JVM counters: the dump is the first to touch its /tmp, and waits on it.
  pid_t p = startStalledBox();
  ASSERT_GT(p, 0);
  std::string log = startDaemon("targets:\n  - name: box\n    pid: " + std::to_string(p) +
                                "\n    dumpers: [gperftools]\n"
                                "    gperftools: {heap_prefix: /tmp/heap, signal: SIGUSR2}\n"
                                "rules:\n  - name: up\n    expr: rss_bytes > 0\n    for: 500ms\n"
                                "    actions: [dump]\n");
  ASSERT_TRUE(daemon_->started());
  ASSERT_TRUE(daemon_->waitForLog("dump started", 5s)) << slurp(log);
  // The dump is now waiting on the mount. SIGTERM: the drain waits for it at most dump.timeout +
  // 1 s, and it ends by its timeout.
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  int status = daemon_->stop(8s);
  Duration took = real.steadyNow() - t0;
  ASSERT_LT(took, 8s) << "the daemon did not stop within 8 s of SIGTERM (killed)\n" << slurp(log);
  EXPECT_LT(took, 3500ms);
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status;
  EXPECT_THAT(slurp(log), HasSubstr("does not answer"));
  std::printf("stopped %.2f s after SIGTERM during a dump stuck on a stalled FUSE mount\n",
              toSeconds(took));
}

}  // namespace
}  // namespace oomsentinel
