// The Watchdog's act step with its collaborators injected (recording fakes for the alert and dump
// sinks and the metrics): a tick's firing reaches each of its rule's actions once, through
// actions/, with no Alertmanager, dump runner or /metrics behind them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

struct FakeAlerts final : AlertSink {
  std::vector<AlertEvent> fired;
  std::size_t resolved = 0;
  void fire(AlertEvent e) override { fired.push_back(std::move(e)); }
  void resolve(const std::string&, const std::string&, WallTime) override { ++resolved; }
  void setIncident(const std::string&, const std::string&, const std::string&,
                   const std::string&) override {}
};

struct FakeDumps final : DumpSink {
  std::vector<DumpJob> jobs;
  std::optional<DumpRefusal> submit(DumpJob job) override {
    jobs.push_back(std::move(job));
    return std::nullopt;
  }
};

struct FakeMetrics final : MetricsSink {
  std::size_t transitions = 0, ticks = 0, updates = 0;
  void transition(const Firing&) override { ++transitions; }
  void tick(WallTime, Duration, Duration, std::size_t, std::size_t) override { ++ticks; }
  void updateTarget(const std::string&, const Snapshot&) override { ++updates; }
};

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The host at 90% used, one rule over it with `actions`.
struct ActionsHostBench {
  TempDir dir;
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log{clock, Logger::Format::kHuman, out.file()};
  HostPaths paths() const { return HostPaths(dir.path() + "/cg", dir.path() + "/proc"); }
  ActionsHostBench() {
    dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 100000 kB\n");
    dir.write("proc/vmstat", "pgfault 1\npgmajfault 0\n");
  }
  Config config(std::vector<ActionKind> actions) const {
    Config c;
    TargetSpec t;
    t.target = Target::host();
    c.targets.push_back(t);
    RuleSpec r;
    r.name = "host-near-limit";
    r.expr = "working_set_ratio > 85%";
    r.severity = Severity::kCritical;
    r.actions = std::move(actions);
    c.rules = {r};
    c.rules_are_defaults = false;
    c.dump.history = 2;
    return c;
  }
};

TEST(WatchdogActions, AFiringWithLogAlertAndDumpReachesEachOnceThroughTheInjectedSinks) {
  ActionsHostBench b;
  FakeAlerts alerts;
  FakeDumps dumps;
  FakeMetrics metrics;
  Watchdog dog(b.paths(), b.clock, b.log, {&alerts, &dumps, &metrics});
  ASSERT_TRUE(dog.apply(b.config({ActionKind::kLog, ActionKind::kAlert, ActionKind::kDump})));
  dog.tick();  // 90% used: fires
  EXPECT_EQ(occurrences(b.out.text(), "firing: signals at the moment of firing"), 1u)
      << b.out.text();
  ASSERT_EQ(alerts.fired.size(), 1u);
  EXPECT_EQ(alerts.fired[0].rule, "host-near-limit");
  ASSERT_EQ(dumps.jobs.size(), 1u);
  EXPECT_EQ(dumps.jobs[0].info.target, "host");
  EXPECT_EQ(dumps.jobs[0].info.history.size(), 1u) << "the ring holds the firing's own read";
  EXPECT_THAT(b.out.text(), HasSubstr("dump started rule=host-near-limit target=host"));
  EXPECT_EQ(metrics.transitions, 1u);
  EXPECT_EQ(metrics.ticks, 1u);
  EXPECT_EQ(metrics.updates, 1u);
  // Still firing: no new transition, nothing runs again. Then it resolves.
  b.clock.advance(1s);
  dog.tick();
  EXPECT_EQ(alerts.fired.size(), 1u);
  EXPECT_EQ(dumps.jobs.size(), 1u);
  b.dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 900000 kB\n");
  b.clock.advance(1s);
  dog.tick();
  EXPECT_EQ(alerts.resolved, 1u);
  EXPECT_EQ(metrics.transitions, 2u);
}

TEST(WatchdogActions, AnAlertWithoutAlertmanagerIsLoggedOnceWhileTheRuleFiresAgain) {
  ActionsHostBench b;
  Watchdog dog(b.paths(), b.clock, b.log);  // no sinks: the config's, and it has no alertmanager
  ASSERT_TRUE(dog.apply(b.config({ActionKind::kLog, ActionKind::kAlert})));
  for (int i = 0; i < 3; ++i) {
    b.dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 100000 kB\n");
    dog.tick();  // fires
    b.clock.advance(1s);
    b.dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 900000 kB\n");
    dog.tick();  // resolves
    b.clock.advance(1s);
  }
  std::string text = b.out.text();
  EXPECT_EQ(occurrences(text, "firing: signals at the moment of firing"), 3u) << text;
  EXPECT_EQ(occurrences(text,
                        "action 'alert' does not run: the config has no "
                        "alerts.alertmanager (metrics still show the firing)"),
            1u)
      << text;
}

}  // namespace
}  // namespace oomsentinel
