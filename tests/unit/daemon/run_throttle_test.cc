// `oomsentinel run` with throttle_during_dump on a cgroup v2 tree of plain files: memory.high is
// held just above usage while the dump runs and put back after it, at SIGTERM, and at the next
// start after a crash; each change is logged and counted. The real kernel's side (the leaker is
// slowed enough for a slow dump to finish) is DumpThrottleV2Vm.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::slurp;

bool throttleEventually(const std::function<bool()>& f, int tries = 400) {
  return testing::eventually(f, tries);
}
using testing::TempDir;
using namespace std::chrono_literals;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ThrottleTree {
  TempDir dir;
  std::string cg = dir.path() + "/cg/app";
  std::string records = dir.path() + "/records";
  std::string incidents = dir.path() + "/incidents";
  std::string log = dir.path() + "/log";
  ThrottleTree() {
    dir.write("cg/cgroup.controllers", "memory\n");
    dir.write("cg/app/memory.current", std::to_string(180 << 20) + "\n");
    dir.write("cg/app/memory.max", std::to_string(200 << 20) + "\n");
    dir.write("cg/app/memory.high", "max\n");
    dir.write("cg/app/memory.stat", "anon 188743680\n");
    dir.write("cg/app/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    dir.write("cg/app/cgroup.procs", "");
  }
  // A dump whose exec hook copies memory.high into the bundle, then takes `seconds`.
  void config(const std::string& throttle, double seconds) {
    dir.write("c.yaml",
              "poll: {interval: 100ms, fast_interval: 100ms}\n"
              "dump: {dir: " +
                  incidents + ", min_free: 0, throttle_records: " + records +
                  "}\n"
                  "targets:\n  - name: app\n    cgroup: /app\n"
                  "    throttle_during_dump: " +
                  throttle +
                  "\n    dumpers: [exec]\n"
                  "    exec: {argv: [/bin/sh, -c, 'cat " +
                  cg + "/memory.high > \"$OOMSENTINEL_INCIDENT_DIR/high.txt\"; sleep " +
                  std::to_string(seconds) +
                  // root (without capabilities): the hook reads the test's 0700 folder.
                  "'], timeout: 20s, user: root}\n"
                  "rules:\n  - name: oom-imminent\n    expr: usage_ratio > 80%\n"
                  "    severity: critical\n    actions: [log, dump]\n");
  }
  // Its log appended to t.log: a second run's lines follow the first's.
  testing::DaemonOptions daemon() const {
    return {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log, true};
  }
  std::string high() const { return trimmed(slurp(cg + "/memory.high")); }
  std::string bundleHigh() const {
    auto r = testing::runCommand({"/bin/sh", "-c", "cat " + incidents + "/*/exec/high.txt"}, 10);
    return trimmed(r.out);
  }
};

TEST(RunThrottle, HeldDuringTheDumpPutBackAfterItLoggedEachTime) {
  ThrottleTree t;
  t.config("{max_duration: 10s, headroom: 4MiB}", 0.3);
  testing::DaemonProcess daemon(t.daemon());
  bool published = throttleEventually(
      [&] { return slurp(t.log).find("incident bundle published") != std::string::npos; });
  daemon.stop();
  std::string log = slurp(t.log);
  ASSERT_TRUE(published) << log;
  // What the dump saw: usage (180 MiB) + 4 MiB; and memory.high back to max after it.
  EXPECT_EQ(t.bundleHigh(), std::to_string(184 << 20)) << log;
  EXPECT_EQ(t.high(), "max") << log;
  EXPECT_THAT(log, HasSubstr("throttling the target while it is dumped"));
  EXPECT_THAT(log, HasSubstr("memory.high max -> 184.0 MiB (usage 180.0 MiB, memory.max 200.0 MiB, "
                             "for at most 10s)"));
  EXPECT_THAT(log, HasSubstr("throttle ended: the dump is done"));
  // Nothing is left to recover.
  auto left = testing::runCommand({"/bin/sh", "-c", "ls " + t.records}, 10);
  EXPECT_EQ(left.out, "") << left.out;
}

TEST(RunThrottle, SigtermPutsItBackBeforeTheDumpEnds) {
  ThrottleTree t;
  t.config("true", 3);
  testing::DaemonProcess daemon(t.daemon());
  // The value itself, not just "not max": the write truncates first.
  ASSERT_TRUE(throttleEventually([&] { return t.high() == std::to_string(184 << 20); }))
      << slurp(t.log);
  EXPECT_EQ(t.high(), std::to_string(184 << 20));  // default headroom: 1% of 200 MiB, >= 4 MiB
  auto asked = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  ASSERT_TRUE(throttleEventually([&] { return t.high() == "max"; }, 100)) << slurp(t.log);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  daemon.wait();
  EXPECT_LT(took, 1.5) << "put back only when the 3 s dump ended";
  EXPECT_THAT(slurp(t.log), HasSubstr("throttle ended: oomsentinel is stopping"));
}

TEST(RunThrottle, TheNextStartPutsBackWhatACrashedRunLeft) {
  ThrottleTree t;
  t.config("true", 3);
  testing::DaemonProcess crashed(t.daemon());
  // The value itself, not just "not max": the write truncates first.
  ASSERT_TRUE(throttleEventually([&] { return t.high() == std::to_string(184 << 20); }))
      << slurp(t.log);
  crashed.kill();  // SIGKILL: no chance to put anything back
  EXPECT_EQ(t.high(), std::to_string(184 << 20));
  // The next run has no throttle in its config at all, and still puts it back.
  t.dir.write("cg/app/memory.current", "1000\n");
  t.config("false", 0);
  testing::DaemonProcess daemon(t.daemon());
  // Stopped only once the put-back is logged: a SIGTERM that came before the daemon's signal
  // handlers are in place would end it between the write and its log line.
  bool back = throttleEventually([&] {
    return t.high() == "max" &&
           slurp(t.log).find("left by a run that stopped while throttling") != std::string::npos;
  });
  daemon.stop();
  std::string log = slurp(t.log);
  EXPECT_TRUE(back) << log;
  EXPECT_THAT(log, HasSubstr("throttle ended: put back what a stopped run left"));
  EXPECT_THAT(log, HasSubstr("left by a run that stopped while throttling"));
}

}  // namespace
}  // namespace oomsentinel
