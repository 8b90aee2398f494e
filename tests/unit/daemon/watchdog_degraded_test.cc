// The Watchdog degraded by its self guard (daemon/self_guard.h, issue 19 fault 13), on a fixture
// cgroup v2 tree that holds the daemon's own cgroup ("oomsentinel", pid 77 as /proc/self) beside
// its target ("app"): degraded, the target is only skimmed (memory.stat, whose anon is a marker,
// is not read), a crossing is still evaluated on the skim and fires, its dump is refused with the
// reason before it reaches the dump sink; the own usage down, full reads come back. The real
// daemon under a real limit: run_self_guard_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using oomsentinel::testing::kMiB;
using oomsentinel::testing::TempDir;

std::string degradedBytes(double b) { return std::to_string(static_cast<long long>(b)) + "\n"; }

class DegradedTree {
 public:
  DegradedTree() {
    dir_.write("cg/cgroup.controllers", "memory\n");
    dir_.write("cg/app/cgroup.procs", "");
    dir_.write("cg/app/memory.max", degradedBytes(100 * kMiB));
    setUsage(10 * kMiB);
    setStatAnon(1);
    // The daemon's own cgroup: 100 MiB of limit.
    dir_.write("cg/oomsentinel/cgroup.procs", "77\n");
    dir_.write("cg/oomsentinel/memory.max", degradedBytes(100 * kMiB));
    dir_.write("cg/oomsentinel/memory.stat", "anon 1\ninactive_file 0\n");
    setOwn(50 * kMiB);
    dir_.write("proc/77/cgroup", "0::/oomsentinel\n");
    ::symlink("77", (dir_.path() + "/proc/self").c_str());
  }
  void setUsage(double b) { dir_.write("cg/app/memory.current", degradedBytes(b)); }
  // anon changes only when memory.stat is read: it tells a full read from a skim.
  void setStatAnon(long long anon) {
    dir_.write("cg/app/memory.stat", "anon " + std::to_string(anon) + "\ninactive_file 0\n");
  }
  void setOwn(double b) { dir_.write("cg/oomsentinel/memory.current", degradedBytes(b)); }
  HostPaths paths() const { return HostPaths(dir_.path() + "/cg", dir_.path() + "/proc"); }

 private:
  TempDir dir_;
};

struct RecordingDumps final : DumpSink {
  std::size_t jobs = 0, asked = 0;
  std::optional<DumpRefusal> refuse;
  std::optional<DumpRefusal> submit(DumpJob) override {
    ++jobs;
    return std::nullopt;
  }
  std::optional<DumpRefusal> refusal() override {
    ++asked;
    return refuse;
  }
};

struct DropCounter final : MetricsSink {
  std::size_t full_reads = 0, dumps = 0;
  std::optional<bool> degraded;
  std::vector<DumpRefused> refused;  // oomsentinel_dumps_refused_total's increments
  void dumpRefused(DumpRefused why) override { refused.push_back(why); }
  void degradedDropped(const char* what) override {
    ++(std::string(what) == "dump" ? dumps : full_reads);
  }
  void selfMemory(bool d, std::optional<double>, std::optional<double>) override { degraded = d; }
};

Config config() {
  Config c;
  c.source = "test";
  TargetSpec t;
  t.target = Target::cgroupPath("app", "/app");
  c.targets.push_back(t);
  RuleSpec r;
  r.name = "near";
  r.expr = "working_set_ratio > 85%";
  r.actions = {ActionKind::kLog, ActionKind::kDump};
  c.rules.push_back(r);
  c.rules_are_defaults = false;
  return c;
}

struct DegradedRig {
  DegradedTree tree;
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log{clock, Logger::Format::kHuman, out.file()};
  RecordingDumps dumps;
  DropCounter metrics;
  Watchdog dog{tree.paths(), clock, log, Watchdog::Collaborators{nullptr, &dumps, &metrics}};
  double anon() const { return dog.lastSnapshot("app")->get(Sig::kAnonBytes).value_or(-1); }
  void step(Duration d = 1s) {
    clock.advance(d);
    dog.tick();
  }
};

TEST(WatchdogDegraded, SkimsOnlyFiresOnTheSkimAndRefusesTheDumpThenRecovers) {
  DegradedRig r;
  r.dog.guardSelf(true);
  ASSERT_TRUE(r.dog.apply(config()));
  r.dog.tick();
  EXPECT_FALSE(r.dog.degraded());
  EXPECT_EQ(r.metrics.degraded, false);
  EXPECT_EQ(r.anon(), 1) << "the first read is a full one";

  r.tree.setOwn(92 * kMiB);
  r.tree.setStatAnon(2);
  r.step();
  EXPECT_TRUE(r.dog.degraded());
  EXPECT_EQ(r.metrics.degraded, true);
  EXPECT_THAT(r.out.text(), HasSubstr("degraded: own memory 92.0 MiB of limit 100.0 MiB; reading "
                                      "targets by skim only, no dumps"));
  EXPECT_EQ(r.dog.degradedLine().rfind("degraded: own memory 92.0 MiB", 0), 0u);
  // 20 s: twice the full-read interval, and no full read.
  for (int i = 0; i < 20; ++i) r.step();
  EXPECT_EQ(r.anon(), 1) << "memory.stat was read while degraded";
  EXPECT_GE(r.metrics.full_reads, 1u) << "the full read due at 10 s is counted as dropped";

  // A crossing: the skim (usage 90%) fires the rule; the dump is refused before the sink.
  r.tree.setUsage(90 * kMiB);
  r.step();
  EXPECT_THAT(r.out.text(), HasSubstr("rule near on app: inactive -> firing"));
  EXPECT_EQ(r.anon(), 1) << "evaluated on the skim folded into the last full read";
  EXPECT_EQ(r.dumps.jobs, 0u);
  EXPECT_EQ(r.metrics.dumps, 1u);
  EXPECT_EQ(r.metrics.refused, std::vector<DumpRefused>{DumpRefused::kDegraded});
  EXPECT_THAT(r.out.text(), HasSubstr("dump not started"));
  EXPECT_THAT(r.out.text(), HasSubstr("why=\"degraded: own memory"));

  // 85% is above the low mark (80%): still degraded. 79%: it leaves, and reads in full again.
  r.tree.setOwn(85 * kMiB);
  r.step();
  EXPECT_TRUE(r.dog.degraded());
  r.tree.setOwn(79 * kMiB);
  r.step();
  EXPECT_FALSE(r.dog.degraded());
  EXPECT_THAT(r.out.text(),
              HasSubstr("no longer degraded: own memory 79.0 MiB of limit 100.0 MiB"));
  EXPECT_EQ(r.anon(), 2) << "a firing target is read in full again";
  EXPECT_EQ(r.dog.degradedLine(), "");
}

// The dump action asks for a refusal before it builds the job (choosing the process reads /proc
// for each of the cgroup's processes, the work degraded mode is there to avoid).
TEST(WatchdogDegraded, ARefusalIsAskedBeforeTheJobIsBuilt) {
  DegradedRig r;
  r.dumps.refuse = DumpRefusal{DumpRefused::kBusy, "no room"};
  ASSERT_TRUE(r.dog.apply(config()));
  r.dog.tick();
  r.tree.setUsage(90 * kMiB);
  r.step();
  EXPECT_THAT(r.out.text(), HasSubstr("rule near on app: inactive -> firing"));
  EXPECT_EQ(r.dumps.asked, 1u);
  EXPECT_EQ(r.dumps.jobs, 0u);
  EXPECT_THAT(r.out.text(), HasSubstr("dump not started rule=near target=app why=\"no room\""));
  // Counted by why, as every refusal is (storm control's from the runner alike).
  EXPECT_EQ(r.metrics.refused, std::vector<DumpRefused>{DumpRefused::kBusy});
}

// Only the daemon turns the guard on: a Watchdog that was not asked reads no own cgroup.
TEST(WatchdogDegraded, TheGuardIsOffUnlessTheDaemonTurnsItOn) {
  DegradedRig r;
  ASSERT_TRUE(r.dog.apply(config()));
  r.tree.setOwn(99 * kMiB);
  r.dog.tick();
  r.step();
  EXPECT_FALSE(r.dog.degraded());
  EXPECT_THAT(r.out.text(), Not(HasSubstr("degraded")));
}

// poll.degrade_above: 0 turns it off in the daemon too.
TEST(WatchdogDegraded, AMarkOfZeroTurnsTheGuardOff) {
  DegradedRig r;
  r.dog.guardSelf(true);
  Config c = config();
  c.poll.degrade_above = 0;
  ASSERT_TRUE(r.dog.apply(c));
  r.tree.setOwn(99 * kMiB);
  r.dog.tick();
  r.step();
  EXPECT_FALSE(r.dog.degraded());
}

}  // namespace
}  // namespace oomsentinel
