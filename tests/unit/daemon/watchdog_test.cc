// The watchdog's tick on a fixture cgroup tree rewritten between ticks, with a FakeClock: no
// sleeping, no real cgroup.
#include "daemon/watchdog.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "daemon/logger.h"
#include "daemon/poll_policy.h"
#include "daemon/state_file.h"
#include "dumpers/incident_store.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using namespace std::chrono_literals;
using oomsentinel::testing::TempDir;

using testing::kMiB;

// A minimal cgroup v2 tree with one child, "app", limited to 100 MiB.
class Tree {
 public:
  Tree() {
    dir_.write("cg/cgroup.controllers", "cpuset cpu io memory pids\n");
    dir_.write("cg/app/cgroup.procs", "");
    dir_.write("cg/app/memory.max", "104857600\n");
    dir_.write("cg/app/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    dir_.write("proc/self/cgroup", "0::/app\n");
    setUsage(10 * kMiB);
  }
  void setUsage(double bytes) {
    dir_.write("cg/app/memory.current", std::to_string(static_cast<long long>(bytes)) + "\n");
    dir_.write("cg/app/memory.stat", "anon " + std::to_string(static_cast<long long>(bytes)) +
                                         "\nfile 0\ninactive_file 0\npgfault 10\n");
  }
  void remove() { std::filesystem::remove_all(dir_.path() + "/cg/app"); }
  HostPaths paths() const { return HostPaths(dir_.path() + "/cg", dir_.path() + "/proc"); }

 private:
  TempDir dir_;
};

using Captured = testing::CapturedOutput;

Config appConfig(std::vector<RuleSpec> rules) {
  Config c;
  c.source = "test";
  TargetSpec t;
  t.target = Target::cgroupPath("app", "/app");
  c.targets.push_back(t);
  c.rules = std::move(rules);
  c.rules_are_defaults = false;
  return c;
}

RuleSpec rule(std::string name, std::string expr, Duration for_d = 0s) {
  RuleSpec r;
  r.name = std::move(name);
  r.expr = std::move(expr);
  r.for_duration = for_d;
  r.actions = {ActionKind::kLog};
  return r;
}

TEST(Watchdog, FiresWithForAndResolvesAndSwitchesToTheFastTick) {
  Tree tree;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  ASSERT_TRUE(dog.apply(appConfig({rule("high", "working_set_ratio > 80%", 2s)})));
  EXPECT_EQ(dog.tick(), 1s);
  EXPECT_THAT(out.text(), HasSubstr("watching target target=app kind=cgroup cgroup=/app"));

  tree.setUsage(90 * kMiB);  // 90% of 100 MiB
  clock.advance(1s);
  EXPECT_EQ(dog.tick(), 50ms) << "above fast_above (70%): the fast tick";
  EXPECT_THAT(out.text(), HasSubstr("inactive -> pending"));
  EXPECT_THAT(out.text(), Not(HasSubstr("pending -> firing")));
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text(), Not(HasSubstr("pending -> firing"))) << "for: 2s not yet over";
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text(), HasSubstr("rule high on app: pending -> firing [warning]"));
  EXPECT_THAT(out.text(), HasSubstr("working_set_ratio=0.9"));
  EXPECT_THAT(out.text(), HasSubstr("firing: signals at the moment of firing"));

  tree.setUsage(20 * kMiB);
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text(), HasSubstr("firing -> resolved"));
  EXPECT_EQ(dog.interval(), 50ms) << "hysteresis: stays fast until calm for 5s";
  // Calm means below fast_above - 5% and time_to_oom above 1.5 x 30s, for 5s. The least-squares
  // trend still sees the earlier climb for a while, so count the time it takes.
  Duration calm_after = 0s;
  for (int i = 1; i <= 20 && dog.interval() != 1s; ++i) {
    clock.advance(1s);
    dog.tick();
    calm_after = std::chrono::seconds(i);
  }
  EXPECT_EQ(dog.interval(), 1s);
  EXPECT_GE(calm_after, 5s);
  EXPECT_LE(calm_after, 15s);
  EXPECT_THAT(out.text(), HasSubstr("poll interval changed from=50ms to=1s"));
}

TEST(Watchdog, VanishedTargetIsRetriedAndFollowedWhenItReturns) {
  Tree tree;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  ASSERT_TRUE(dog.apply(appConfig({rule("high", "working_set_ratio > 80%")})));
  dog.tick();
  ASSERT_NE(dog.lastSnapshot("app"), nullptr);
  tree.remove();
  clock.advance(1s);
  dog.tick();  // keeps running
  EXPECT_THAT(out.text(), HasSubstr("target is gone; retrying every 5s"));
  Tree* restored = &tree;
  restored->setUsage(95 * kMiB);
  // The directory came back (setUsage rewrites the files) but the retry waits 5s.
  std::filesystem::create_directories(tree.paths().cgroupRoot() + "/app");
  std::ofstream(tree.paths().cgroupRoot() + "/app/memory.max") << "104857600\n";
  std::ofstream(tree.paths().cgroupRoot() + "/app/cgroup.procs") << "";
  std::ofstream(tree.paths().cgroupRoot() + "/app/memory.events") << "oom_kill 0\n";
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text(), Not(HasSubstr("rule high on app")));
  clock.advance(5s);
  dog.tick();
  EXPECT_THAT(out.text(), HasSubstr("rule high on app: inactive -> firing"));
}

TEST(Watchdog, ReloadKeepsTheStateOfUnchangedRulesAndRejectsBadOnes) {
  Tree tree;
  tree.setUsage(90 * kMiB);
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  ASSERT_TRUE(dog.apply(appConfig({rule("high", "working_set_ratio > 80%")})));
  dog.tick();
  ASSERT_THAT(out.text(), HasSubstr("inactive -> firing"));

  // Same rule plus a new one: "high" must not fire again.
  ASSERT_TRUE(dog.apply(
      appConfig({rule("high", "working_set_ratio > 80%"), rule("low", "usage_bytes > 1MiB")})));
  std::size_t before = out.text().size();
  clock.advance(1s);
  dog.tick();
  std::string after = out.text().substr(before);
  EXPECT_THAT(after, Not(HasSubstr("rule high")));
  EXPECT_THAT(after, HasSubstr("rule low on app: inactive -> firing"));

  EXPECT_FALSE(dog.apply(appConfig({rule("broken", "working_set_ratio >")})));
  EXPECT_THAT(out.text(), HasSubstr("rule does not compile: rule 'broken'"));
  before = out.text().size();
  clock.advance(1s);
  dog.tick();
  EXPECT_EQ(dog.engine().ruleCount(), 2u) << "the old rules stay";
}

TEST(Watchdog, UnknownSignalIsNoticedOnceAndUnavailableActionsSaySo) {
  Tree tree;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  RuleSpec gc = rule("gc", "rate(gc_cycles[10s]) > 1");
  RuleSpec dump = rule("dumpy", "usage_bytes > 1MiB");
  dump.actions = {ActionKind::kLog, ActionKind::kAlert};
  ASSERT_TRUE(dog.apply(appConfig({gc, dump})));
  for (int i = 0; i < 3; ++i) {
    dog.tick();
    clock.advance(1s);
  }
  std::string text = out.text();
  auto first = text.find("rule gc cannot be decided for this target: rate(gc_cycles[10s])");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("rule gc cannot be decided", first + 1), std::string::npos) << "once";
  EXPECT_THAT(text,
              HasSubstr("action 'alert' does not run: the config has no alerts.alertmanager"));
}

TEST(Watchdog, GoesFastWhenTheGrowthSinceTheLastTickWouldCrossFastAboveBeforeTheNext) {
  Tree tree;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  ASSERT_TRUE(dog.apply(appConfig({rule("high", "working_set_ratio > 80%")})));
  tree.setUsage(10 * kMiB);
  EXPECT_EQ(dog.tick(), 1s);
  // 10% -> 45% in a second: still below 70%, but at 35%/s it would be at 80% by the next slow
  // tick, past the rule's threshold. Slow polling would see that one second late.
  tree.setUsage(45 * kMiB);
  clock.advance(1s);
  EXPECT_EQ(dog.tick(), 50ms) << out.text();
  EXPECT_THAT(out.text(),
              HasSubstr("working_set_ratio 0.450 heading for 0.800 > fast_above 0.700"));
  // A slow climb (1%/s) does not: 41% heading for 42%. And a target at rest stays slow.
  Tree calm;
  Captured out2;
  Logger log2(clock, Logger::Format::kHuman, out2.file());
  Watchdog slow(calm.paths(), clock, log2);
  ASSERT_TRUE(slow.apply(appConfig({rule("high", "working_set_ratio > 80%")})));
  calm.setUsage(40 * kMiB);
  EXPECT_EQ(slow.tick(), 1s);
  calm.setUsage(41 * kMiB);
  clock.advance(1s);
  EXPECT_EQ(slow.tick(), 1s);
  clock.advance(1s);
  EXPECT_EQ(slow.tick(), 1s);
}

TEST(PollPolicy, EntersOnAProjectedCrossingAndIsNotCalmWhileTheProjectionIsHigh) {
  PollSpec spec;  // 1s / 50ms, 70%, 30s
  PollPolicy p(spec);
  SteadyTime t{};
  std::string why;
  EXPECT_FALSE(p.update(t, 0.5, INFINITY, &why, 0.6));
  EXPECT_TRUE(p.update(t, 0.5, INFINITY, &why, 0.9));
  EXPECT_EQ(p.interval(), 50ms);
  EXPECT_THAT(why, HasSubstr("heading for 0.900"));
  // Ratio low, but still heading above the band: not calm.
  EXPECT_FALSE(p.update(t + 10s, 0.3, INFINITY, &why, 0.8));
  EXPECT_FALSE(p.update(t + 20s, 0.3, INFINITY, &why, 0.8));
  EXPECT_TRUE(p.fast());
  EXPECT_FALSE(p.update(t + 21s, 0.3, INFINITY, &why, NAN));
  EXPECT_TRUE(p.update(t + 26s, 0.3, INFINITY, &why, NAN));
  EXPECT_FALSE(p.fast());
}

TEST(PollPolicy, EntersOnRatioOrTimeToOomAndLeavesAfterACalmSpell) {
  PollSpec spec;  // 1s / 50ms, 70%, 30s
  PollPolicy p(spec);
  SteadyTime t{};
  std::string why;
  EXPECT_FALSE(p.update(t, 0.5, INFINITY, &why));
  EXPECT_EQ(p.interval(), 1s);
  EXPECT_TRUE(p.update(t, 0.71, INFINITY, &why));
  EXPECT_EQ(p.interval(), 50ms);
  EXPECT_THAT(why, HasSubstr("working_set_ratio 0.710 > fast_above 0.700"));
  // 0.68 is below 70% but within the 5% hysteresis band: stays fast.
  EXPECT_FALSE(p.update(t + 10s, 0.68, INFINITY, &why));
  EXPECT_TRUE(p.fast());
  EXPECT_FALSE(p.update(t + 11s, 0.60, INFINITY, &why));
  EXPECT_FALSE(p.update(t + 15s, 0.60, INFINITY, &why));
  EXPECT_TRUE(p.update(t + 16s, 0.60, INFINITY, &why));
  EXPECT_EQ(p.interval(), 1s);

  EXPECT_TRUE(p.update(t + 20s, 0.2, 12.0, &why));
  EXPECT_THAT(why, HasSubstr("time_to_oom 12.0s < 30.0s"));
  // 40s is above 30s but below 1.5 x 30s: not calm yet.
  EXPECT_FALSE(p.update(t + 30s, 0.2, 40.0, &why));
  EXPECT_FALSE(p.update(t + 40s, 0.2, 40.0, &why));
  EXPECT_TRUE(p.fast());
  // Unknown values (no target has them) count as calm.
  EXPECT_FALSE(p.update(t + 41s, NAN, NAN, &why));
  EXPECT_TRUE(p.update(t + 46s, NAN, NAN, &why));
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

TEST(Watchdog, ReloadRemovesAndResetsChangedRules) {
  Tree tree;
  tree.setUsage(90 * kMiB);
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  ASSERT_TRUE(
      dog.apply(appConfig({rule("a", "usage_bytes > 1MiB"), rule("b", "usage_bytes > 2MiB")})));
  dog.tick();
  ASSERT_EQ(dog.engine().status().size(), 2u);
  // "a" changed (new threshold): its state starts over and it fires again; "b" removed.
  ASSERT_TRUE(dog.apply(appConfig({rule("a", "usage_bytes > 3MiB")})));
  auto st = dog.engine().status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].rule, "a");
  EXPECT_EQ(st[0].state, RuleState::kInactive);
  std::size_t before = out.text().size();
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text().substr(before), HasSubstr("rule a on app: inactive -> firing"));
}

TEST(StateFile, StatusShowsIntervalUnknownRulesAndUnresolvedTargets) {
  Tree tree;
  tree.setUsage(90 * kMiB);
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  Config c = appConfig({rule("big", "working_set_ratio > 80%"), rule("gc", "gc_cycles > 1")});
  TargetSpec ghost;
  ghost.target = Target::cgroupPath("ghost", "/nope");
  c.targets.push_back(ghost);
  ASSERT_TRUE(dog.apply(c));
  dog.tick();
  clock.advance(3s);
  dog.tick();
  TempDir dir;
  std::string path = dir.path() + "/run/state.json";
  ASSERT_TRUE(writeStateFile(path, stateJson(dog, clock)).ok());
  auto summary = daemonSummary(path, clock, 5s);
  ASSERT_TRUE(summary.has_value());
  EXPECT_THAT(*summary, HasSubstr("running, pid "));
  EXPECT_THAT(*summary, HasSubstr("interval 50ms (fast: a target is near its limit)"));
  EXPECT_THAT(*summary, HasSubstr("target ghost: not found yet (retrying)"));
  EXPECT_THAT(*summary, HasSubstr("rule big on app: firing for 3s [warning]"));
  EXPECT_THAT(*summary, HasSubstr("rule gc on app: unknown (gc_cycles not offered)"));
  // What the kernel was asked to report (written by run.cc from daemon/kernel_wakeups.h).
  EXPECT_THAT(*summary, Not(HasSubstr("woken by the kernel"))) << "no wakeups, no line";
  dir.write("w.json",
            R"({"unix_time": 0, "pid": 7, "interval_seconds": 1, "wakeups": {"enabled": true,
      "v1_targets": 2, "v2_targets": 0, "host_psi_window_seconds": 2, "host_psi_widened": true}})");
  auto woken = daemonSummary(dir.path() + "/w.json", clock, std::chrono::hours(24 * 365 * 100));
  ASSERT_TRUE(woken.has_value());
  EXPECT_THAT(*woken,
              HasSubstr("  woken by the kernel: 2 v1 target(s) (thresholds, OOM), 0 v2 "
                        "(memory.events); host PSI window 2s (widened: no CAP_SYS_RESOURCE)\n"));
  dir.write("off.json", R"({"unix_time": 0, "wakeups": {"enabled": false}})");
  EXPECT_THAT(*daemonSummary(dir.path() + "/off.json", clock, std::chrono::hours(24 * 365 * 100)),
              HasSubstr("woken by the kernel: off (poll.events: false)"));
  clock.advance(10s);
  EXPECT_THAT(*daemonSummary(path, clock, 5s), HasSubstr("NOT UPDATING"));
  EXPECT_FALSE(daemonSummary(dir.path() + "/missing.json", clock, 5s).has_value());
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

// A target whose memory.current is a FIFO: opening it blocks until a writer comes, like a read
// stuck on a thrashing process's mmap lock. The other target must not wait for it.
TEST(Watchdog, ASlowTargetDoesNotDelayTheOthersBeyondTheTick) {
  Tree tree;
  tree.setUsage(95 * kMiB);
  std::string root = tree.paths().cgroupRoot();
  std::filesystem::create_directories(root + "/stuck");
  for (const char* f : {"memory.max", "memory.stat", "cgroup.procs", "memory.events"})
    std::filesystem::copy_file(root + "/app/" + f, root + "/stuck/" + f);
  std::string fifo = root + "/stuck/memory.current";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  SystemClock clock;  // real time: this is about a read that really blocks
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  Config c = appConfig({rule("high", "working_set_ratio > 80%")});
  TargetSpec stuck;
  stuck.target = Target::cgroupPath("stuck", "/stuck");
  c.targets.insert(c.targets.begin(), stuck);  // first, so a serial loop would block on it
  c.poll.interval = 200ms;
  c.poll.fast_interval = 100ms;
  ASSERT_TRUE(dog.apply(c));

  auto t0 = std::chrono::steady_clock::now();
  dog.tick();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 1s) << "the tick waited for the stuck read";
  EXPECT_GE(took, 150ms) << "the tick should give the slow read its budget (200ms)";
  std::string text = out.text();
  EXPECT_THAT(text, HasSubstr("rule high on app: inactive -> firing"));
  EXPECT_THAT(text, HasSubstr("target read is slower than the tick; skipping it until it returns "
                              "target=stuck budget=200ms"));

  // Next tick: the stuck read is not started again, and is not waited for.
  t0 = std::chrono::steady_clock::now();
  dog.tick();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 150ms) << "nothing of this tick is slow";
  EXPECT_EQ(out.text().find("skipping it", text.find("skipping it") + 1), std::string::npos)
      << "logged once";

  // Unblock: a writer opens the FIFO and writes a value; the read returns.
  int fd = ::open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "1000\n", 5), 5);
  ::close(fd);
  for (int i = 0; i < 50 && out.text().find("slow read of target returned") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(20ms);
    dog.tick();
  }
  EXPECT_THAT(out.text(), HasSubstr("slow read of target returned; reading it again target=stuck"));
}

// The alert sink's side of a dump: the bundle's path for the rule's alert.
struct IncidentAlerts final : AlertSink {
  std::vector<std::string> incidents;  // "<rule> <target> <path>"
  std::vector<std::string> top_sites;
  void fire(AlertEvent) override {}
  void resolve(const std::string&, const std::string&, WallTime) override {}
  void setIncident(const std::string& rule, const std::string& target, const std::string& path,
                   const std::string& top_site) override {
    incidents.push_back(rule + " " + target + " " + path);
    top_sites.push_back(top_site);
  }
};

TEST(Watchdog, TheDumpActionPublishesABundleWithTheHistoryWithoutHoldingTheTick) {
  Tree tree;
  TempDir incidents;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  IncidentAlerts alerts;  // the dump runner is the config's, a real one
  Watchdog dog(tree.paths(), clock, log, {&alerts, nullptr, nullptr});
  RuleSpec r = rule("critical", "working_set_ratio > 90%");
  r.actions = {ActionKind::kLog, ActionKind::kAlert, ActionKind::kDump};
  r.severity = Severity::kCritical;
  Config c = appConfig({r});
  c.dump.dir = incidents.path() + "/bundles";
  c.dump.min_free = 0;
  c.dump.history = 3;
  c.dump.target_cooldown = 1h;
  ASSERT_TRUE(dog.apply(c));
  for (int i = 1; i <= 5; ++i) {
    tree.setUsage(i * 10 * kMiB);
    dog.tick();
    clock.advance(1s);
  }
  tree.setUsage(95 * kMiB);
  dog.tick();  // fires: the dump starts and the tick goes on
  EXPECT_THAT(out.text(), HasSubstr("dump started"));
  // Firing again within the cooldown is refused at once, and said.
  tree.setUsage(50 * kMiB);
  clock.advance(1s);
  dog.tick();
  tree.setUsage(96 * kMiB);
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text(), HasSubstr("dump not started"));
  EXPECT_THAT(out.text(), HasSubstr("why=\"cooldown: "));
  // The bundle is published on a dump thread; a later tick logs it.
  std::vector<IncidentSummary> listed;
  for (int i = 0; i < 500 && listed.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    auto l = IncidentStore::list(c.dump.dir);
    ASSERT_TRUE(l.ok()) << l.error().describe();
    listed = *l;
  }
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].target, "app");
  EXPECT_EQ(listed[0].rule, "critical");
  // The report follows the rename by a moment (retention runs in between): tick until it lands.
  for (int i = 0; i < 500 && out.text().find("incident bundle published") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(10ms);
    dog.tick();
  }
  EXPECT_THAT(out.text(), HasSubstr("incident bundle published"));
  EXPECT_THAT(out.text(), HasSubstr("results=proc=ok"));
  EXPECT_THAT(alerts.incidents, ::testing::ElementsAre("critical app " + listed[0].path))
      << "the alert carries the bundle";
  EXPECT_THAT(alerts.top_sites, ::testing::ElementsAre("")) << "proc makes no heap report";
  EXPECT_THAT(out.text(), ::testing::Not(HasSubstr("top_growth=")));
  std::ifstream manifest(listed[0].path + "/manifest.json");
  std::string m((std::istreambuf_iterator<char>(manifest)), std::istreambuf_iterator<char>());
  EXPECT_THAT(m, HasSubstr("\"working_set_ratio\""));
  EXPECT_THAT(m, HasSubstr("cgroup-memory.stat.txt"));
  EXPECT_THAT(m, HasSubstr("\"host\"")) << "the host label";
}

TEST(Watchdog, AnOomKillWithoutACriticalFiringBeforeItIsUnwarned) {
  Tree tree;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  DaemonMetrics metrics{tree.paths()};
  Watchdog dog(tree.paths(), clock, log);
  dog.setMetrics(&metrics);
  RuleSpec critical = rule("critical", "working_set_ratio > 90%");
  critical.severity = Severity::kCritical;
  // Every tick in full: a kill that frees nothing waits for the next full read on a quiet tick
  // (QuietTicks.AKillThatFreesMemory...); this test is about what a counted kill means.
  Config c = appConfig({critical});
  c.poll.full_read_interval = 0s;
  ASSERT_TRUE(dog.apply(c));
  auto events = [&](int kills) {
    std::ofstream(tree.paths().cgroupRoot() + "/app/memory.events")
        << "low 0\nhigh 0\nmax 0\noom 0\noom_kill " << kills << "\n";
  };
  dog.tick();
  // A kill out of the blue: nothing critical fired.
  events(1);
  clock.advance(1s);
  dog.tick();
  EXPECT_THAT(out.text(), HasSubstr("with no critical firing before it (unwarned)"));
  EXPECT_THAT(metrics.render(),
              HasSubstr("oomsentinel_oom_kills_unwarned_total{target=\"app\"} 1"));
  // Now the critical rule fires first, and the kill that follows was warned.
  tree.setUsage(95 * kMiB);
  clock.advance(1s);
  dog.tick();
  events(2);
  clock.advance(1s);
  dog.tick();
  std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("oomsentinel_oom_kills_unwarned_total{target=\"app\"} 1"));
  EXPECT_THAT(text, HasSubstr("oomsentinel_oom_kills_total{target=\"app\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "oomsentinel_rule_firing{rule=\"critical\",severity=\"critical\",target=\"app\"} 1"));
  EXPECT_THAT(out.text(), HasSubstr("after a critical firing"));
  // A reload without the target takes its series away.
  Config none = c;
  none.targets.clear();
  ASSERT_TRUE(dog.apply(none));
  EXPECT_THAT(metrics.render(), Not(HasSubstr("target=\"app\"")));
}

// A dump that ends between the last tick and a stop still gets its line: shutdown collects the
// finished reports whether or not a dump is still running (the ThrottleV2Vm run that stopped the
// daemon a moment after its capture failed logged nothing about it).
TEST(Watchdog, ADumpThatEndsAfterTheLastTickIsLoggedAtShutdown) {
  Tree tree;
  TempDir incidents;
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(tree.paths(), clock, log);
  RuleSpec r = rule("critical", "working_set_ratio > 90%");
  r.actions = {ActionKind::kDump};
  r.severity = Severity::kCritical;
  Config c = appConfig({r});
  c.dump.dir = incidents.path() + "/bundles";
  c.dump.min_free = 0;
  ASSERT_TRUE(dog.apply(c));
  tree.setUsage(95 * kMiB);
  dog.tick();
  ASSERT_THAT(out.text(), HasSubstr("dump started"));
  auto listed = [&] {
    auto l = IncidentStore::list(c.dump.dir);
    return l.ok() && !l->empty();
  };
  for (int i = 0; i < 500 && !listed(); ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(500ms);  // past the rename: retention, then the report (no tick)
  EXPECT_THAT(out.text(), ::testing::Not(HasSubstr("incident bundle published")));
  dog.shutdown();
  EXPECT_THAT(out.text(), HasSubstr("incident bundle published"));
  EXPECT_THAT(out.text(), HasSubstr("results=proc=ok"));
}

}  // namespace
}  // namespace oomsentinel
