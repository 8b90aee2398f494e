// The capture's own clock (daemon/capture_times.h): the p90 each dumper kind learns from its
// target's dumps, the defaults before any, proc first and the rest side by side; and the watchdog
// learning it from a real dump and offering it to the rules, /metrics and status as
// `capture_seconds`.
#include "daemon/capture_times.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "daemon/logger.h"
#include "daemon/state_file.h"
#include "daemon/watchdog.h"
#include "dumpers/incident_store.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(CaptureTimes, EachDumperHasItsDefaultUntilItsFirstDump) {
  CaptureTimes c;
  std::size_t learned = 99;
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kJvm, &learned), 0.5);
  EXPECT_EQ(learned, 0u);
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kProc), 0.05);
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kGoPprof), 0.2);
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kGperftools), 0.3);
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kExec), 1.0);
  c.record(DumperKind::kJvm, 2s);
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kJvm, &learned), 2.0);
  EXPECT_EQ(learned, 1u);
  EXPECT_DOUBLE_EQ(c.p90Seconds(DumperKind::kGoPprof), 0.2) << "one kind's dump teaches no other";
}

TEST(CaptureTimes, TheP90OfTheLastSixteenNotTheirMeanOrTheirWorst) {
  CaptureTimes c;
  // Ten dumps of 100..1000 ms: the nearest rank of the 90th percentile is the 9th, 900 ms.
  for (int i = 1; i <= 10; ++i) c.record(DumperKind::kGoPprof, std::chrono::milliseconds(100 * i));
  EXPECT_NEAR(c.p90Seconds(DumperKind::kGoPprof), 0.9, 1e-9);
  // Sixteen fast ones push every slow one out: only the last kKept count.
  for (std::size_t i = 0; i < CaptureTimes::kKept; ++i)
    c.record(DumperKind::kGoPprof, std::chrono::milliseconds(50));
  std::size_t learned = 0;
  EXPECT_NEAR(c.p90Seconds(DumperKind::kGoPprof, &learned), 0.05, 1e-9);
  EXPECT_EQ(learned, CaptureTimes::kKept);
  // One slow dump in sixteen is above the p90: it does not move it.
  c.record(DumperKind::kGoPprof, 5s);
  EXPECT_NEAR(c.p90Seconds(DumperKind::kGoPprof), 0.05, 1e-9);
  c.record(DumperKind::kGoPprof, 5s);
  EXPECT_NEAR(c.p90Seconds(DumperKind::kGoPprof), 5.0, 1e-9) << "two in sixteen are";
}

TEST(CaptureTimes, ProcFirstThenTheOthersSideBySide) {
  CaptureTimes c;
  c.record(DumperKind::kProc, 100ms);
  c.record(DumperKind::kGoPprof, 300ms);
  c.record(DumperKind::kJvm, 700ms);
  EXPECT_NEAR(c.seconds({DumperKind::kProc, DumperKind::kGoPprof, DumperKind::kJvm}), 0.8, 1e-9);
  EXPECT_NEAR(c.seconds({DumperKind::kGoPprof, DumperKind::kJvm}), 0.7, 1e-9);
  EXPECT_NEAR(c.seconds({DumperKind::kProc}), 0.1, 1e-9);
  EXPECT_NEAR(c.seconds({DumperKind::kProc, DumperKind::kExec}), 1.1, 1e-9) << "exec's default";
  EXPECT_EQ(c.seconds({}), 0.0);
}

// A v2 fixture tree with one child, "app", limited to 100 MiB.
struct CaptureTree {
  testing::TempDir dir;
  CaptureTree() {
    dir.write("cg/cgroup.controllers", "memory\n");
    dir.write("cg/app/cgroup.procs", "");
    dir.write("cg/app/memory.max", "104857600\n");
    dir.write("cg/app/memory.events", "oom_kill 0\n");
    setUsage(10);
  }
  void setUsage(int mib) {
    std::string b = std::to_string(mib * 1048576LL);
    dir.write("cg/app/memory.current", b + "\n");
    dir.write("cg/app/memory.stat", "anon " + b + "\nfile 0\ninactive_file 0\n");
  }
  HostPaths paths() const { return HostPaths(dir.path() + "/cg", dir.path() + "/proc"); }
};

TEST(CaptureTimes, TheWatchdogLearnsFromARealDumpAndOffersItToRulesMetricsAndStatus) {
  CaptureTree tree;
  testing::TempDir incidents;
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  DaemonMetrics metrics{HostPaths()};
  dog.setMetrics(&metrics);
  Config c;
  c.source = "test";
  TargetSpec t;
  t.target = Target::cgroupPath("app", "/app");
  c.targets.push_back(t);
  RuleSpec dump;
  dump.name = "full";
  dump.expr = "working_set_ratio > 90%";
  dump.actions = {ActionKind::kDump};
  RuleSpec late;  // reads the signal: decided (not unknown) from the first read
  late.name = "late";
  late.expr = "capture_seconds > 0.049 and capture_seconds < 0.051";
  c.rules = {dump, late};
  c.rules_are_defaults = false;
  c.dump.dir = incidents.path() + "/bundles";
  c.dump.min_free = 0;
  ASSERT_TRUE(dog.apply(c));
  dog.tick();
  ASSERT_NE(dog.lastSnapshot("app"), nullptr);
  EXPECT_EQ(dog.lastSnapshot("app")->get(Sig::kCaptureSeconds), 0.05) << "proc's default";
  EXPECT_THAT(out.text(), HasSubstr("rule late on app: inactive -> firing")) << "on the default";
  EXPECT_THAT(metrics.render(), HasSubstr("oomsentinel_capture_seconds{target=\"app\"} 0.05\n"));
  auto parts = dog.captureParts("app");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].learned, 0u);

  tree.setUsage(95);
  clock.advance(1s);
  dog.tick();  // fires: the proc dump runs on a dump thread
  ASSERT_THAT(out.text(), HasSubstr("dump started"));
  for (int i = 0; i < 500 && out.text().find("incident bundle published") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(10ms);
    clock.advance(100ms);
    dog.tick();
  }
  ASSERT_THAT(out.text(), HasSubstr("incident bundle published"));
  parts = dog.captureParts("app");
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].dumper, DumperKind::kProc);
  EXPECT_EQ(parts[0].learned, 1u);
  EXPECT_NE(parts[0].seconds, 0.05) << "the dump's own duration, not the default";
  EXPECT_GT(parts[0].seconds, 0.0);
  clock.advance(100ms);
  dog.tick();
  EXPECT_EQ(dog.lastSnapshot("app")->get(Sig::kCaptureSeconds), parts[0].seconds);
  // status, from the state file the daemon writes.
  std::string state = stateJson(dog, clock, nullptr);
  EXPECT_THAT(state, HasSubstr("\"capture_seconds\":"));
  EXPECT_THAT(state, HasSubstr("\"learned\":1"));
  testing::TempDir sdir;
  sdir.write("state.json", state);
  std::string shown = daemonSummary(sdir.path() + "/state.json", clock, 10s).value_or("");
  EXPECT_THAT(shown, HasSubstr("capture of app: "));
  EXPECT_THAT(shown, HasSubstr("(proc "));
  EXPECT_THAT(shown, HasSubstr("the p90 of 1 dump)"));
}

}  // namespace
}  // namespace oomsentinel
