// Quiet ticks: a target no rule can fire on is read in full every poll.full_read_interval, and
// on the ticks between only its usage, OOM events and pressure. A fixture cgroup v2 tree whose
// memory.stat and memory.current are written separately shows which read a tick made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using namespace std::chrono_literals;
using oomsentinel::testing::TempDir;
using testing::kMiB;

// "app", limited to 100 MiB.
class QuietTree {
 public:
  QuietTree() {
    dir_.write("cg/cgroup.controllers", "memory\n");
    dir_.write("cg/app/cgroup.procs", "");
    dir_.write("cg/app/memory.max", "104857600\n");
    setOomKills(0);
    setUsage(10 * kMiB);
    setStatAnon(1);
  }
  void setUsage(double bytes) {
    dir_.write("cg/app/memory.current", std::to_string(static_cast<long long>(bytes)) + "\n");
  }
  // anon doubles as a marker: it changes only when memory.stat is read.
  void setStatAnon(long long anon) {
    dir_.write("cg/app/memory.stat",
               "anon " + std::to_string(anon) + "\nfile 0\ninactive_file 0\npgfault 10\n");
  }
  void setOomKills(int n) {
    dir_.write("cg/app/memory.events", "low 0\nhigh 0\nmax 0\noom " + std::to_string(n) +
                                           "\noom_kill " + std::to_string(n) + "\n");
  }
  HostPaths paths() const { return HostPaths(dir_.path() + "/cg", dir_.path() + "/proc"); }

 private:
  TempDir dir_;
};

Config config(std::vector<std::pair<std::string, std::string>> rules, Duration full_every = 10s) {
  Config c;
  c.source = "test";
  TargetSpec t;
  t.target = Target::cgroupPath("app", "/app");
  c.targets.push_back(t);
  for (auto& [name, expr] : rules) {
    RuleSpec r;
    r.name = name;
    r.expr = expr;
    r.actions = {ActionKind::kLog};
    c.rules.push_back(r);
  }
  c.rules_are_defaults = false;
  c.poll.full_read_interval = full_every;
  return c;
}

struct Rig {
  QuietTree tree;
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log{clock, Logger::Format::kHuman, out.file()};
  Watchdog dog{tree.paths(), clock, log};
  double anon() const { return dog.lastSnapshot("app")->get(Sig::kAnonBytes).value_or(-1); }
  double usage() const { return dog.lastSnapshot("app")->get(Sig::kUsageBytes).value_or(-1); }
  void step(Duration d = 1s) {
    clock.advance(d);
    dog.tick();
  }
};

TEST(QuietTicks, AQuietTargetIsReadInFullEveryFullReadIntervalAndSkimmedBetween) {
  Rig r;
  ASSERT_TRUE(r.dog.apply(config({{"near", "working_set_ratio > 85%"}})));
  r.dog.tick();
  EXPECT_EQ(r.anon(), 1) << "the first read is a full one";
  r.tree.setStatAnon(2);
  r.tree.setUsage(12 * kMiB);
  r.step();
  EXPECT_EQ(r.usage(), 12 * kMiB) << "usage is read on every tick";
  EXPECT_EQ(r.anon(), 1) << "memory.stat is not: no rule can fire at 12%";
  EXPECT_EQ(r.dog.lastSnapshot("app")->steady, r.clock.steadyNow());
  for (int i = 2; i < 10; ++i) r.step();
  EXPECT_EQ(r.anon(), 1) << "9 s after the full read";
  r.step();
  EXPECT_EQ(r.anon(), 2) << "10 s after it: the next full read";
}

TEST(QuietTicks, ACrossingIsReadInFullAndFiresInTheSameTick) {
  Rig r;
  ASSERT_TRUE(r.dog.apply(config({{"near", "working_set_ratio > 85%"}})));
  r.dog.tick();
  r.step();
  r.tree.setStatAnon(3);
  r.tree.setUsage(90 * kMiB);
  r.step();
  EXPECT_EQ(r.anon(), 3) << "the skim saw 90%: the same tick read everything";
  EXPECT_THAT(r.out.text(), HasSubstr("rule near on app: inactive -> firing"));
  // While it fires the target is read in full on every tick.
  r.tree.setStatAnon(4);
  r.step(50ms);
  EXPECT_EQ(r.anon(), 4);
}

TEST(QuietTicks, TheMarginAndTheGrowthStartFullReadsBelowTheThreshold) {
  Rig r;
  ASSERT_TRUE(r.dog.apply(config({{"near", "working_set_ratio > 60%"}})));
  r.dog.tick();
  r.tree.setStatAnon(5);
  r.tree.setUsage(56 * kMiB);  // 56% + 5% margin > 60%
  r.step();
  EXPECT_EQ(r.anon(), 5) << "within the margin of the threshold";

  Rig g;
  ASSERT_TRUE(g.dog.apply(config({{"near", "working_set_ratio > 60%"}})));
  g.dog.tick();
  g.tree.setUsage(11 * kMiB);
  g.step();  // growth 1%/s: 11% + 5% + 10 s x 1% = 26%: quiet
  g.tree.setStatAnon(6);
  g.tree.setUsage(16 * kMiB);
  g.step();  // growth 5%/s: 16% + 5% + 50% > 60%: read in full
  EXPECT_EQ(g.anon(), 6) << "a leak of 5%/s would cross 60% within the prediction window";
}

TEST(QuietTicks, ARuleOnASignalTheSkimDoesNotBoundKeepsEveryReadFull) {
  Rig r;
  ASSERT_TRUE(
      r.dog.apply(config({{"near", "working_set_ratio > 85%"}, {"faults", "pgfault > 1000"}})));
  r.dog.tick();
  r.tree.setStatAnon(7);
  r.step();
  EXPECT_EQ(r.anon(), 7) << "pgfault may be anything: every tick is a full one";
}

TEST(QuietTicks, ZeroFullReadIntervalReadsEverythingEveryTick) {
  Rig r;
  ASSERT_TRUE(r.dog.apply(config({{"near", "working_set_ratio > 85%"}}, 0s)));
  r.dog.tick();
  r.tree.setStatAnon(8);
  r.step();
  EXPECT_EQ(r.anon(), 8);
}

TEST(QuietTicks, AKillThatFreesMemoryIsReadInFullAtOnceAndAnyKillByTheNextFullRead) {
  Rig r;
  ASSERT_TRUE(r.dog.apply(config({{"near", "working_set_ratio > 85%"}})));
  r.tree.setUsage(40 * kMiB);
  r.dog.tick();
  r.step();
  // The kill freed 30% of the limit: read in full in this tick, so the kill is counted now.
  r.tree.setOomKills(1);
  r.tree.setUsage(10 * kMiB);
  r.tree.setStatAnon(9);
  r.step();
  EXPECT_EQ(r.anon(), 9);
  EXPECT_THAT(r.out.text(), HasSubstr("the kernel OOM-killed a process of the target"));
  // A kill that freed little: the skim does not read the counters; the next full read does.
  r.tree.setOomKills(2);
  r.tree.setUsage(9 * kMiB);
  r.step();
  EXPECT_EQ(r.dog.lastSnapshot("app")->get(Sig::kEventsOomKill), 1);
  for (int i = 0; i < 9; ++i) r.step();
  EXPECT_EQ(r.dog.lastSnapshot("app")->get(Sig::kEventsOomKill), 2) << "10 s later";
}

}  // namespace
}  // namespace oomsentinel
