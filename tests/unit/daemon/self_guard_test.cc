// The self guard (daemon/self_guard.h, issue 19 fault 13): when the daemon's own memory is near its
// own cgroup's limit it degrades. The decision's marks and hysteresis; the reading of the daemon's
// cgroup (working set against the smallest limit, v1 and v2) on copies of the fixture trees; and
// what /healthz and /readyz say while degraded. The real daemon under a real v1 limit:
// tests/integration/self_guard_v1_test.cc.
#include "daemon/self_guard.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "daemon/health.h"
#include "daemon/state_file.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;
using testing::fixture;
using testing::kMiB;
using testing::TempDir;

TEST(SelfGuardDecision, EntersAtTheMarkAndLeavesTenPointsBelowIt) {
  const double limit = 100;
  EXPECT_FALSE(nextDegraded(false, 89.9, limit, 0.90));
  EXPECT_TRUE(nextDegraded(false, 90, limit, 0.90));
  // Degraded: stays down to the low mark, 80%.
  EXPECT_TRUE(nextDegraded(true, 85, limit, 0.90));
  EXPECT_TRUE(nextDegraded(true, 80, limit, 0.90));
  EXPECT_FALSE(nextDegraded(true, 79.9, limit, 0.90));
  // Not degraded: 85% is not enough to enter.
  EXPECT_FALSE(nextDegraded(false, 85, limit, 0.90));
  // Another mark moves both.
  EXPECT_TRUE(nextDegraded(false, 70, limit, 0.70));
  EXPECT_TRUE(nextDegraded(true, 61, limit, 0.70));
  EXPECT_FALSE(nextDegraded(true, 59, limit, 0.70));
}

TEST(SelfGuardDecision, NoLimitOrAMarkOfZeroIsOff) {
  EXPECT_FALSE(nextDegraded(false, 1e12, std::nullopt, 0.90));
  EXPECT_FALSE(nextDegraded(true, 1e12, std::nullopt, 0.90));  // a limit lifted: leaves
  EXPECT_FALSE(nextDegraded(false, 99, 100.0, 0.0));
  EXPECT_FALSE(nextDegraded(true, 99, 100.0, 0.0));
  EXPECT_FALSE(nextDegraded(false, 99, 0.0, 0.90));  // a zero limit is no limit we can divide by
}

// A copy of a fixture tree (tests/fixtures/trees/<layout>), written to as the test goes.
class TreeCopy {
 public:
  explicit TreeCopy(const std::string& layout) {
    root_ = dir_.path() + "/" + layout;
    fs::copy(fixture("trees/" + layout), root_,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  HostPaths paths() const { return HostPaths(root_ + "/cgroup", root_ + "/proc"); }
  void write(const std::string& rel, const std::string& text) const {
    dir_.write(fs::relative(root_ + "/" + rel, dir_.path()).string(), text);
  }
  void remove(const std::string& rel) const { fs::remove(root_ + "/" + rel); }
  void symlink(const std::string& target, const std::string& rel) const {
    fs::create_symlink(target, root_ + "/" + rel);
  }

 private:
  TempDir dir_;
  std::string root_;
};

// The next check, a read apart (SelfGuard reads its cgroup at most once every kEvery).
SelfGuard::Change later(SelfGuard& g, FakeClock& clock) {
  clock.advance(SelfGuard::kEvery);
  return g.check();
}

std::string bytes(double b) { return std::to_string(static_cast<unsigned long long>(b)) + "\n"; }

// v1 (tests/fixtures/trees/v1: self is pid 5151 in /batch/job): usage 48 MiB of which 8 MiB is
// inactive file, so a working set of 40 MiB; the hierarchical limit is 64 MiB. The working set is
// what counts (the kernel reclaims inactive file before it OOM-kills), against the smallest limit.
TEST(SelfGuard, V1WorkingSetAgainstTheSmallestLimitWithHysteresis) {
  TreeCopy t("v1");
  FakeClock clock;
  SelfGuard g(t.paths(), clock);
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);
  EXPECT_FALSE(g.degraded());
  EXPECT_EQ(g.used(), 40 * kMiB);
  EXPECT_EQ(g.limit(), 64 * kMiB);  // the parent's, through hierarchical_memory_limit
  EXPECT_TRUE(g.off().empty()) << g.off();

  // 52 MiB: the usage (48) is 92% of it, the working set 77%: not degraded.
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(52 * kMiB));
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kNone);
  EXPECT_EQ(g.limit(), 52 * kMiB);
  // 44 MiB: the working set is 91%: degraded.
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(44 * kMiB));
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kEntered);
  EXPECT_TRUE(g.degraded());
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kNone);  // said once
  // 48 MiB: 83%, under the mark but above 80%: still degraded.
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(48 * kMiB));
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kNone);
  EXPECT_TRUE(g.degraded());
  // 52 MiB again: 77%: leaves.
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(52 * kMiB));
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kLeft);
  EXPECT_FALSE(g.degraded());
}

// Near a limit the tick runs every 50 ms; the own cgroup is read once a second, and a check
// asked for at once (after malloc_trim) reads it anyway.
TEST(SelfGuard, ReadsItsCgroupAtMostOnceASecondUnlessAskedNow) {
  TreeCopy t("v1");
  FakeClock clock;
  SelfGuard g(t.paths(), clock);
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(44 * kMiB));  // 91%
  clock.advance(std::chrono::milliseconds(50));
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone) << "read again 50 ms after the last read";
  EXPECT_EQ(g.limit(), 64 * kMiB);
  EXPECT_EQ(g.check(/*now=*/true), SelfGuard::Change::kEntered);
  EXPECT_EQ(g.limit(), 44 * kMiB);
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(64 * kMiB));
  clock.advance(std::chrono::milliseconds(950));
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);
  clock.advance(std::chrono::milliseconds(50));
  EXPECT_EQ(g.check(), SelfGuard::Change::kLeft);
}

TEST(SelfGuard, TheMarkIsTunableAndZeroTurnsTheGuardOff) {
  TreeCopy t("v1");
  FakeClock clock;
  SelfGuard g(t.paths(), clock);
  g.setMark(0.60);  // 40 of 64 MiB is 62.5%
  EXPECT_EQ(g.check(), SelfGuard::Change::kEntered);
  g.setMark(0);
  EXPECT_EQ(g.check(), SelfGuard::Change::kLeft);
  t.write("cgroup/batch/job/memory.limit_in_bytes", bytes(41 * kMiB));  // 98%
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);
  EXPECT_FALSE(g.degraded());
}

// v2 (tests/fixtures/trees/v2: self is pid 4242 in /kubepods.slice/pod-x/app): memory.high is
// the wall the daemon meets first (the kernel throttles and reclaims there), so it counts as the
// limit when it is the lower.
TEST(SelfGuard, V2MemoryHighBelowMemoryMaxIsTheLimit) {
  TreeCopy t("v2");
  FakeClock clock;
  SelfGuard g(t.paths(), clock);
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);
  ASSERT_TRUE(g.off().empty()) << g.off();
  ASSERT_TRUE(g.used());
  const double used = *g.used();  // memory.current - inactive_file
  EXPECT_EQ(used, 160 * kMiB);
  EXPECT_EQ(g.limit(), 240 * kMiB);  // memory.high, under the ancestors' memory.max
  t.write("cgroup/kubepods.slice/pod-x/app/memory.high", bytes(170 * kMiB));
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kEntered);
  EXPECT_EQ(g.limit(), 170 * kMiB);
  t.write("cgroup/kubepods.slice/pod-x/app/memory.high", "max\n");
  EXPECT_EQ(later(g, clock), SelfGuard::Change::kLeft);
}

// No own cgroup to read (no /proc/self here): the guard is off, says why, and never degrades; it
// tries again a minute later, not every tick.
TEST(SelfGuard, NoOwnCgroupIsOffAndSaysWhy) {
  TreeCopy t("v2");
  t.remove("proc/self");
  FakeClock clock;
  SelfGuard g(t.paths(), clock);
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);
  EXPECT_FALSE(g.degraded());
  EXPECT_FALSE(g.off().empty());
  EXPECT_FALSE(g.used());
  t.symlink("4242", "proc/self");
  t.write("cgroup/kubepods.slice/pod-x/app/memory.high", bytes(161 * kMiB));
  clock.advance(std::chrono::seconds(30));
  EXPECT_EQ(g.check(), SelfGuard::Change::kNone);  // not tried again yet
  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(g.check(), SelfGuard::Change::kEntered);
  EXPECT_TRUE(g.off().empty());
}

// Degraded is still live and ready (a restart would come back to the same limit; an unready pod
// leaves its Service and with it the scrape that shows oomsentinel_degraded); both say so.
TEST(SelfGuardHealth, DegradedIsLiveAndReadyAndSaysSo) {
  HealthState s{SteadyTime(std::chrono::seconds(10)), std::chrono::seconds(1), {}};
  const std::string line =
      "degraded: own memory 95 MiB of limit 100 MiB; reading targets by skim only, no dumps";
  HttpAnswer h = healthzAnswer(s, SteadyTime(std::chrono::seconds(11)), line);
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.body, "ok: last tick 1s ago\n" + line + "\n");
  HttpAnswer r = readyzAnswer(s, line);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "ready\n" + line + "\n");
  // Stalled is stalled, degraded or not.
  EXPECT_EQ(healthzAnswer(s, SteadyTime(std::chrono::seconds(60)), line).status, 503u);
}

// `status` tells too: the state file carries the line while degraded, and the summary shows it.
TEST(SelfGuardHealth, StatusShowsTheDegradedLine) {
  TempDir dir;
  FakeClock clock;
  const std::string line =
      "degraded: own memory 95 MiB of limit 100 MiB; reading targets by skim only, no dumps";
  dir.write("state.json",
            "{\"unix_time\": 1700000000, \"pid\": 7, \"interval_seconds\": 1, "
            "\"degraded\": \"" +
                line + "\"}");
  auto summary = daemonSummary(dir.path() + "/state.json", clock, std::chrono::seconds(5));
  ASSERT_TRUE(summary);
  EXPECT_NE(summary->find("\n  " + line + "\n"), std::string::npos) << *summary;
  dir.write("state.json", "{\"unix_time\": 1700000000, \"pid\": 7, \"interval_seconds\": 1}");
  summary = daemonSummary(dir.path() + "/state.json", clock, std::chrono::seconds(5));
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->find("degraded"), std::string::npos) << *summary;
}

}  // namespace
}  // namespace oomsentinel
