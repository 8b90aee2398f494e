// actions/: each action with recording fakes for its sinks (no Alertmanager, no dump runner), and
// the dispatcher's routes: a firing reaches each of its rule's actions once, an action the config
// cannot run is said once. And the real sinks' holders: what a new spec keeps and what it remakes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "actions/alert_action.h"
#include "actions/dispatcher.h"
#include "actions/dump_action.h"
#include "actions/log_action.h"
#include "actions/metrics_sink.h"
#include "actions/sinks.h"
#include "core/signal.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

struct RecordingLog final : ActionLog {
  struct Line {
    Level level;
    std::string msg;
    LogFields fields;
  };
  std::vector<Line> lines;
  void write(Level level, const std::string& msg, const LogFields& fields) override {
    lines.push_back({level, msg, fields});
  }
  std::size_t count(const std::string& msg) const {
    std::size_t n = 0;
    for (const auto& l : lines) n += l.msg == msg ? 1 : 0;
    return n;
  }
  std::string field(const std::string& msg, const std::string& key) const {
    for (const auto& l : lines)
      if (l.msg == msg)
        for (const auto& [k, v] : l.fields)
          if (k == key) return v;
    return "<none>";
  }
};

struct FakeAlerts final : AlertSink {
  std::vector<AlertEvent> fired;
  std::vector<std::string> resolved;  // rule/target
  void fire(AlertEvent e) override { fired.push_back(std::move(e)); }
  void resolve(const std::string& rule, const std::string& target, WallTime) override {
    resolved.push_back(rule + "/" + target);
  }
  void setIncident(const std::string&, const std::string&, const std::string&,
                   const std::string&) override {}
};

struct FakeDumps final : DumpSink {
  std::vector<DumpJob> jobs;
  std::optional<DumpRefusal> refuse;
  std::optional<DumpRefusal> submit(DumpJob job) override {
    if (refuse) return refuse;
    jobs.push_back(std::move(job));
    return std::nullopt;
  }
};

Firing firing(std::vector<ActionKind> actions, std::string rule = "near-limit") {
  Firing f;
  f.rule = std::move(rule);
  f.target = "app";
  f.expr = "working_set_ratio > 90%";
  f.severity = Severity::kCritical;
  f.from = RuleState::kPending;
  f.to = RuleState::kFiring;
  f.values = {{"working_set_ratio", 0.95}};
  f.actions = std::move(actions);
  return f;
}

// One target's view and the three actions wired as the daemon wires them.
struct Bench {
  Target target = Target::cgroupPath("app", "/app");
  Snapshot snapshot;
  std::vector<std::pair<std::string, std::string>> labels = {{"pod", "app-0"}, {"host", "node-7"}};
  std::vector<SparseSnapshot> history;
  DumpPlan plan;
  RecordingLog log;
  FakeAlerts alerts;
  FakeDumps dumps;
  LogAction log_action{log};
  AlertAction alert_action{{{"host", "daemon-host"}}};
  DumpAction dump_action{HostPaths(), log, {{"host", "daemon-host"}}};
  ActionDispatcher dispatcher{{&log_action, &alert_action, &dump_action}, log};

  Bench() {
    snapshot.set(Sig::kWorkingSetRatio, 0.95);
    snapshot.set(Sig::kUsageBytes, 1024);
    alert_action.setSink(&alerts);
    dump_action.setSink(&dumps);
    plan.dumpers = {DumperKind::kProc, DumperKind::kGoPprof};  // go_pprof without a URL: left out
  }
  TargetContext context(std::size_t oldest = 0, std::string cgroup_dir = "") {
    return TargetContext{target,       snapshot, labels, history, oldest, std::move(cgroup_dir),
                         std::nullopt, &plan};
  }
};

TEST(Actions, AFiringWithLogAlertAndDumpReachesEachOnce) {
  Bench b;
  b.dispatcher.dispatch(firing({ActionKind::kLog, ActionKind::kAlert, ActionKind::kDump}),
                        b.context());
  EXPECT_EQ(b.log.count("firing: signals at the moment of firing"), 1u);
  EXPECT_EQ(b.log.field("firing: signals at the moment of firing", "working_set_ratio"), "0.95");
  ASSERT_EQ(b.alerts.fired.size(), 1u);
  EXPECT_EQ(b.alerts.fired[0].rule, "near-limit");
  EXPECT_EQ(b.alerts.fired[0].severity, "critical");
  // The target's own labels over the daemon's: a discovered pod's host is where it runs.
  EXPECT_THAT(b.alerts.fired[0].labels, ElementsAre(Pair("host", "node-7"), Pair("pod", "app-0")));
  ASSERT_EQ(b.dumps.jobs.size(), 1u);
  EXPECT_EQ(b.dumps.jobs[0].info.rule, "near-limit");
  EXPECT_EQ(b.dumps.jobs[0].dumpers.size(), 1u) << "proc; go_pprof has no URL";
  EXPECT_EQ(b.log.count("dump started"), 1u);
  EXPECT_EQ(b.log.field("dump started", "dumpers"), "proc,go_pprof");
}

TEST(Actions, AnAlertWithoutAlertmanagerIsSaidOnceAndTheOthersStillRun) {
  Bench b;
  b.alert_action.setSink(nullptr);
  for (int i = 0; i < 3; ++i)
    b.dispatcher.dispatch(firing({ActionKind::kAlert, ActionKind::kLog}), b.context());
  EXPECT_EQ(b.log.count("action 'alert' does not run: the config has no alerts.alertmanager "
                        "(metrics still show the firing)"),
            1u);
  EXPECT_EQ(b.log.count("firing: signals at the moment of firing"), 3u);
  // A config with an Alertmanager again: the next firing is pushed.
  b.alert_action.setSink(&b.alerts);
  b.dispatcher.dispatch(firing({ActionKind::kAlert, ActionKind::kLog}), b.context());
  EXPECT_EQ(b.alerts.fired.size(), 1u);
}

TEST(Actions, ADumpWithoutARunnerIsSaidOnce) {
  Bench b;
  b.dump_action.setSink(nullptr);
  b.dispatcher.dispatch(firing({ActionKind::kDump}), b.context());
  b.dispatcher.dispatch(firing({ActionKind::kDump}), b.context());
  EXPECT_EQ(b.log.count("action 'dump' does not run: its dump directory could not be prepared"),
            1u);
}

TEST(Actions, AResolveReachesTheAlertSinkAndACooldownFiringRunsNothing) {
  Bench b;
  Firing resolved = firing({ActionKind::kLog});
  resolved.from = RuleState::kFiring;
  resolved.to = RuleState::kResolved;
  b.dispatcher.dispatch(resolved, b.context());
  EXPECT_THAT(b.alerts.resolved, ElementsAre("near-limit/app")) << "whatever the rule's actions";
  EXPECT_TRUE(b.log.lines.empty());
  Firing cooled = firing({});
  cooled.suppressed_by_cooldown = true;
  b.dispatcher.dispatch(cooled, b.context());
  EXPECT_TRUE(b.log.lines.empty());
  EXPECT_TRUE(b.alerts.fired.empty());
  EXPECT_TRUE(b.dumps.jobs.empty());
}

TEST(Actions, ARouteIsLookedUpAgainAfterAReset) {
  Bench b;
  b.dispatcher.dispatch(firing({ActionKind::kLog}), b.context());
  b.dispatcher.reset();  // a reload gave the rule another action
  b.dispatcher.dispatch(firing({ActionKind::kAlert}), b.context());
  EXPECT_EQ(b.log.count("firing: signals at the moment of firing"), 1u);
  EXPECT_EQ(b.alerts.fired.size(), 1u);
}

TEST(Actions, AnActionTheDaemonDidNotMakeIsSaidOnce) {
  // A dispatcher wired without the dump action (as no daemon is): its rule's dump is said once
  // and the rule's other actions still run.
  Bench b;
  ActionDispatcher partial{{&b.log_action, &b.alert_action}, b.log};
  partial.dispatch(firing({ActionKind::kDump, ActionKind::kAlert}), b.context());
  partial.dispatch(firing({ActionKind::kDump, ActionKind::kAlert}), b.context());
  EXPECT_EQ(b.log.count("action 'dump' does not run: there is no such action"), 1u);
  EXPECT_EQ(b.alerts.fired.size(), 2u);
  EXPECT_TRUE(b.dumps.jobs.empty());
}

// Issue 19's soak: the dump.history ring filled over the first 10 minutes (60 full reads, one
// every full_read_interval) and held about 12 MiB for 200 cgroup v1 targets, as each entry was a
// full Snapshot, whose storage spans every interned signal, the ~70 stat_ keys of memory.stat with
// them, which the manifest never shows. An entry keeps only what the manifest shows.
TEST(DumpAction, AHistoryEntryKeepsOnlyTheSignalsTheManifestShows) {
  // A cgroup v1 read: the named signals and memory.stat's keys (as KeyedSignals interns them).
  Snapshot s;
  s.wall = WallTime(std::chrono::seconds(100));
  const std::vector<Sig> named = {Sig::kUsageBytes,      Sig::kLimitBytes, Sig::kWorkingSetBytes,
                                  Sig::kWorkingSetRatio, Sig::kAnonBytes,  Sig::kFileBytes};
  for (Sig sig : named) s.set(sig, 1);
  for (int i = 0; i < 70; ++i) s.set(internSignal("stat_soak_key_" + std::to_string(i)), 2);
  SparseSnapshot kept;
  kept.assign(s, inIncidentHistory);
  ASSERT_EQ(kept.signals.size(), named.size());
  for (const auto& [id, v] : kept.signals)
    EXPECT_EQ(signalName(id).rfind("stat_", 0), std::string::npos);
  EXPECT_EQ(kept.wall, s.wall);
  // What it holds: 6 pairs, against the snapshot's dense storage of every interned signal.
  EXPECT_LE(kept.heapBytes(), named.size() * 2 * sizeof(kept.signals[0]));
  EXPECT_GE(signalCount() * (sizeof(double) + 1), 4 * kept.heapBytes());
  // Reused: a full ring's entry takes the next read without allocating.
  const auto* storage = kept.signals.data();
  s.set(Sig::kUsageBytes, 3);
  kept.assign(s, inIncidentHistory);
  EXPECT_EQ(kept.signals.data(), storage);
  // And the manifest's history is what the entries hold.
  Bench b;
  b.history.push_back(kept);
  b.dump_action.fire(firing({ActionKind::kDump}), b.context());
  ASSERT_EQ(b.dumps.jobs.size(), 1u);
  ASSERT_EQ(b.dumps.jobs[0].info.history.size(), 1u);
  EXPECT_EQ(b.dumps.jobs[0].info.history[0].signals.size(), named.size());
}

TEST(DumpAction, TheJobCarriesTheHistoryOldestFirstAndThrottlesOnlyACgroup) {
  Bench b;
  for (int i = 0; i < 3; ++i) {
    Snapshot s;
    s.wall = WallTime(std::chrono::seconds(100 + i));
    s.set(Sig::kUsageBytes, i);
    b.history.emplace_back().assign(s, inIncidentHistory);
  }
  ThrottleSpec t;
  t.max_duration = std::chrono::seconds(2);
  b.plan.throttle = t;
  // The ring's entries not written yet: left out.
  b.history.insert(b.history.begin() + 1, SparseSnapshot{});
  // The ring's oldest entry is at 1: (not written), 101, 102, 100.
  b.dump_action.fire(firing({ActionKind::kDump}), b.context(1));
  ASSERT_EQ(b.dumps.jobs.size(), 1u);
  const DumpJob& job = b.dumps.jobs[0];
  ASSERT_EQ(job.info.history.size(), 3u);
  EXPECT_EQ(job.info.history[0].time, WallTime(std::chrono::seconds(101)));
  EXPECT_EQ(job.info.history[2].time, WallTime(std::chrono::seconds(100)));
  EXPECT_THAT(job.info.labels, ElementsAre(Pair("host", "daemon-host")));
  EXPECT_FALSE(job.throttle) << "no cgroup: nothing to throttle";
  b.dump_action.fire(firing({ActionKind::kDump}), b.context(0, "/nonexistent/app"));
  ASSERT_EQ(b.dumps.jobs.size(), 2u);
  ASSERT_TRUE(b.dumps.jobs[1].throttle);
  EXPECT_EQ(b.dumps.jobs[1].throttle->max_duration, std::chrono::seconds(2));
  EXPECT_EQ(b.dumps.jobs[1].request.cgroup_dir, "/nonexistent/app");
}

TEST(DumpAction, ARefusedJobIsLoggedWithWhy) {
  Bench b;
  b.dumps.refuse = DumpRefusal{DumpRefused::kCooldown, "cooldown: 5m"};
  b.dump_action.fire(firing({ActionKind::kDump}), b.context());
  EXPECT_EQ(b.log.count("dump not started"), 1u);
  EXPECT_EQ(b.log.field("dump not started", "why"), "cooldown: 5m");
}

TEST(MetricsSink, TheNullSinkCountsNothingAndTheDaemonOneForwards) {
  MetricsSink none;
  none.transition(
      firing({ActionKind::kLog}));  // nothing to check but that it is callable without a target
  DaemonMetrics metrics{HostPaths()};
  DaemonMetricsSink sink(metrics);
  MetricsSink& m = sink;
  m.incident("app", "published");
  EXPECT_THAT(
      metrics.render(),
      ::testing::HasSubstr("oomsentinel_incidents_total{result=\"published\",target=\"app\"} 1"));
}

// ---- the sinks made from their specs (actions/sinks.h) ----

TEST(RunnerHolder, KeepsTheStoreAndRunnerWhileTheStoreLimitsHoldAndMakesThemAgainOnAChange) {
  FakeClock clock;
  RecordingLog log;
  testing::TempDir dir;
  RunnerHolder h(clock, log);
  EXPECT_EQ(h.sink(), nullptr);
  DumpSinkSpec spec;
  spec.store.dir = dir.path() + "/a";
  spec.store.min_free = 0;
  dir.write("a/.partial-crashed/x", "left by a crash");
  h.configure(spec);
  ASSERT_NE(h.sink(), nullptr);
  DumpRunner* first = h.runner();
  // What the crash left is recorded as a lost incident, logged once, and handed on for the count.
  const std::string lost = "incident lost: its dump never finished";
  EXPECT_EQ(log.field(lost, "incident"), "crashed");
  EXPECT_EQ(log.field(lost, "record"), dir.path() + "/a/crashed");
  EXPECT_EQ(log.field(lost, "reason"), "the daemon stopped during the dump (found at start)");
  EXPECT_EQ(h.takeLost().size(), 1u);
  EXPECT_TRUE(h.takeLost().empty());
  // Only the storm limits change: the same store (not prepared again) and runner.
  dir.write("a/.partial-crashed/x", "left by a crash");
  spec.storm.per_minute = 1;
  h.configure(spec);
  EXPECT_EQ(h.runner(), first);
  EXPECT_EQ(log.count(lost), 1u);
  // Another directory: a new store, prepared.
  dir.write("b/.partial-crashed/x", "left by a crash");
  spec.store.dir = dir.path() + "/b";
  h.configure(spec);
  ASSERT_NE(h.runner(), nullptr);
  EXPECT_EQ(log.count(lost), 2u);
}

TEST(RunnerHolder, AnUnusableDirectoryIsLoggedAndTheRunnerStillMade) {
  FakeClock clock;
  RecordingLog log;
  testing::TempDir dir;
  dir.write("file", "not a directory");
  RunnerHolder h(clock, log);
  DumpSinkSpec spec;
  spec.store.dir = dir.path() + "/file";
  spec.throttle_records = dir.path() + "/file/records";
  h.configure(spec);
  EXPECT_NE(h.sink(), nullptr) << "the dump action runs, and its jobs fail with why";
  EXPECT_EQ(log.count("dump directory unusable; the dump action will fail"), 1u);
  EXPECT_THAT(log.field("dump directory unusable; the dump action will fail", "dir"),
              ::testing::HasSubstr("/file"));
  EXPECT_EQ(log.count("throttle records directory unusable; dumps will not throttle (memory.high "
                      "is never changed without a record to put it back from)"),
            1u);
}

TEST(RunnerHolder, ADumpDirectoryMadePrivateIsLogged) {
  FakeClock clock;
  RecordingLog log;
  testing::TempDir dir;
  dir.write("open/x", "");
  ASSERT_EQ(::chmod((dir.path() + "/open").c_str(), 0777), 0);
  RunnerHolder h(clock, log);
  DumpSinkSpec spec;
  spec.store.dir = dir.path() + "/open";
  spec.store.min_free = 0;
  h.configure(spec);
  EXPECT_EQ(log.field("dump directory changed to be used", "change"),
            "the dump directory " + spec.store.dir +
                " was writable by group or others (mode 0777): made 0700");
}

TEST(NotifierHolder, MakesTheNotifierOnceReloadsItAndDropsItWithNoSpec) {
  FakeClock clock;
  RecordingLog log;
  NotifierHolder h(clock, log);
  EXPECT_FALSE(h.configure(std::nullopt));
  EXPECT_EQ(h.sink(), nullptr);
  AlertmanagerSpec spec;
  spec.urls = {"http://127.0.0.1:9"};
  EXPECT_TRUE(h.configure(spec)) << "made anew";
  ASSERT_NE(h.sink(), nullptr);
  AlertmanagerNotifier* first = h.notifier();
  EXPECT_EQ(log.field("pushing alerts to Alertmanager", "urls"), "http://127.0.0.1:9");
  spec.resend_interval = std::chrono::minutes(5);
  EXPECT_FALSE(h.configure(spec)) << "reloaded";
  EXPECT_EQ(h.notifier(), first);
  EXPECT_NE(h.sink(), nullptr);
  spec.urls = {"ftp://am"};  // refused: the reload keeps what it had
  EXPECT_FALSE(h.configure(spec));
  EXPECT_EQ(log.count("alertmanager settings not changed"), 1u);
  EXPECT_EQ(h.notifier(), first);
  EXPECT_NE(h.sink(), nullptr);
  EXPECT_FALSE(h.configure(std::nullopt));
  EXPECT_EQ(h.notifier(), nullptr);
  EXPECT_EQ(h.sink(), nullptr);
  EXPECT_FALSE(h.configure(spec)) << "refused: none made";
  EXPECT_EQ(log.count("cannot push alerts to Alertmanager; the alert action will not run"), 1u);
  EXPECT_EQ(h.sink(), nullptr);
}

}  // namespace
}  // namespace oomsentinel
