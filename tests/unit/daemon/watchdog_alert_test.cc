// The `alert` action seen from the Watchdog: which firings and resolves reach the alert sink, with
// what, once and in order (a recording fake injected through Watchdog::Collaborators); and one
// end-to-end test of the sink the config makes (the notifier and a real Alertmanager stand-in),
// for the wiring in daemon/watchdog_actions.cc. The notifier's own wire behaviour (the JSON,
// endsAt, retries, auth) is tested in tests/unit/alerts/alertmanager_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerts/metrics.h"
#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::Contains;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::HttpTestServer;
using ::testing::Key;
using ::testing::Pair;
using testing::ServerStep;
using testing::TempDir;
using namespace std::chrono_literals;

// What reaches the alert sink, in order.
struct RecordingAlerts final : AlertSink {
  std::vector<std::string> calls;  // "fire <rule> <target>", "resolve <rule> <target>"
  std::vector<AlertEvent> fired;
  std::vector<WallTime> resolved_at;
  void fire(AlertEvent e) override {
    calls.push_back("fire " + e.rule + " " + e.target);
    fired.push_back(std::move(e));
  }
  void resolve(const std::string& rule, const std::string& target, WallTime at) override {
    calls.push_back("resolve " + rule + " " + target);
    resolved_at.push_back(at);
  }
  void setIncident(const std::string& rule, const std::string& target, const std::string& path,
                   const std::string& top_site) override {
    calls.push_back("incident " + rule + " " + target + " " + path +
                    (top_site.empty() ? "" : " top " + top_site));
  }
};

// The host, whose used share the test sets, and its rules.
struct HostBench {
  TempDir dir;
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log{clock, Logger::Format::kHuman, out.file()};
  HostBench() { use(0.9); }
  HostPaths paths() const { return HostPaths(dir.path() + "/cg", dir.path() + "/proc"); }
  void use(double ratio) {
    dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: " +
                                  std::to_string(std::lround((1 - ratio) * 1000000)) + " kB\n");
    dir.write("proc/vmstat", "pgfault 1\npgmajfault 0\n");
  }
  static RuleSpec rule(const std::string& name, const std::string& expr,
                       std::vector<ActionKind> actions) {
    RuleSpec r;
    r.name = name;
    r.expr = expr;
    r.severity = Severity::kCritical;
    r.actions = std::move(actions);
    return r;
  }
  static Config config(std::vector<RuleSpec> rules) {
    Config c;
    TargetSpec t;
    t.target = Target::host();
    c.targets.push_back(t);
    c.rules = std::move(rules);
    c.rules_are_defaults = false;
    return c;
  }
};

TEST(WatchdogAlerts, AFiringReachesTheSinkOnceWithWhatTheRuleSawAndItsResolveFollows) {
  HostBench b;
  RecordingAlerts alerts;
  Watchdog dog(b.paths(), b.clock, b.log, {&alerts, nullptr, nullptr});
  ASSERT_TRUE(dog.apply(HostBench::config({HostBench::rule(
      "host-near-limit", "working_set_ratio > 85%", {ActionKind::kLog, ActionKind::kAlert})})));
  WallTime fired_at = b.clock.wallNow();
  dog.tick();  // 90% used: fires
  ASSERT_EQ(alerts.fired.size(), 1u);
  const AlertEvent& e = alerts.fired[0];
  EXPECT_EQ(e.rule, "host-near-limit");
  EXPECT_EQ(e.target, "host");
  EXPECT_EQ(e.severity, "critical");
  EXPECT_EQ(e.expr, "working_set_ratio > 85%");
  EXPECT_TRUE(e.firing);
  EXPECT_EQ(e.starts_at, fired_at);
  EXPECT_THAT(e.values, Contains(Pair("working_set_ratio", DoubleNear(0.9, 1e-3))));
  EXPECT_THAT(e.labels, Contains(Key("host"))) << "the daemon's own labels";
  EXPECT_EQ(e.incident, "") << "no dump ran";
  // Still firing: nothing new reaches the sink.
  b.clock.advance(1s);
  dog.tick();
  EXPECT_EQ(alerts.calls.size(), 1u);
  // Resolved: the resolve carries the time the rule resolved.
  b.use(0.1);
  b.clock.advance(1s);
  WallTime resolved_at = b.clock.wallNow();
  dog.tick();
  EXPECT_THAT(alerts.resolved_at, ElementsAre(resolved_at));
  // Firing again is a new alert, after the resolve.
  b.use(0.9);
  b.clock.advance(1s);
  dog.tick();
  EXPECT_THAT(alerts.calls, ElementsAre("fire host-near-limit host", "resolve host-near-limit host",
                                        "fire host-near-limit host"));
  EXPECT_EQ(alerts.fired[1].starts_at, b.clock.wallNow());
}

TEST(WatchdogAlerts, OnlyARuleWithTheAlertActionFiresAnAlert) {
  HostBench b;
  RecordingAlerts alerts;
  Watchdog dog(b.paths(), b.clock, b.log, {&alerts, nullptr, nullptr});
  ASSERT_TRUE(dog.apply(HostBench::config(
      {HostBench::rule("logged", "working_set_ratio > 80%", {ActionKind::kLog}),
       HostBench::rule("alerted", "working_set_ratio > 85%", {ActionKind::kAlert})})));
  dog.tick();  // both fire
  EXPECT_THAT(b.out.text(), HasSubstr("rule logged on host: inactive -> firing"));
  EXPECT_THAT(alerts.calls, ElementsAre("fire alerted host"));
}

TEST(WatchdogAlerts, AFiringWithinTheCooldownSendsNoAlertButItsResolveStillGoes) {
  HostBench b;
  RecordingAlerts alerts;
  Watchdog dog(b.paths(), b.clock, b.log, {&alerts, nullptr, nullptr});
  RuleSpec r = HostBench::rule("near", "working_set_ratio > 85%", {ActionKind::kAlert});
  r.cooldown = 1h;
  ASSERT_TRUE(dog.apply(HostBench::config({r})));
  for (double ratio : {0.9, 0.1, 0.9, 0.1}) {
    b.use(ratio);
    dog.tick();
    b.clock.advance(1s);
  }
  // The second firing is within the cooldown: no alert; its resolve is passed on (the sink
  // ignores an alert it never sent).
  EXPECT_THAT(alerts.calls,
              ElementsAre("fire near host", "resolve near host", "resolve near host"));
}

// ---- the notifier the config makes ----

// The JSON bodies of the POSTs the server got.
std::vector<nlohmann::json> posts(const HttpTestServer& s) {
  std::vector<nlohmann::json> out;
  for (const auto& r : s.requests()) {
    auto body = r.find("\r\n\r\n");
    if (r.rfind("POST /api/v2/alerts", 0) == 0 && body != std::string::npos)
      out.push_back(nlohmann::json::parse(r.substr(body + 4), nullptr, false));
  }
  return out;
}

// Waits for the notifier's thread (real I/O), never for time in the rules: the clock is fake.
bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// The one end-to-end test: alerts.alertmanager becomes a notifier (its static labels with it),
// the alert action drives it, and each tick copies its counters into /metrics
// (Watchdog::configureAlerts, alertmanagerSpecFor, NotifierAlertSink, pollAlerts).
TEST(WatchdogAlertsEndToEnd, TheConfiguredAlertmanagerGetsTheFiringAndTheResolve) {
  HttpTestServer am({ServerStep::reply(200, "")});
  HostBench b;
  Watchdog dog(b.paths(), b.clock, b.log);
  DaemonMetrics metrics{b.paths()};
  dog.setMetrics(&metrics);
  Config c = HostBench::config({HostBench::rule("host-near-limit", "working_set_ratio > 85%",
                                                {ActionKind::kLog, ActionKind::kAlert})});
  c.alerts.alertmanager_urls = {am.url()};
  c.alerts.static_labels = {{"cluster", "test"}};
  ASSERT_TRUE(dog.apply(c));
  EXPECT_THAT(b.out.text(), HasSubstr("pushing alerts to Alertmanager"));
  dog.tick();  // 90% used: fires, and the push starts within this tick
  ASSERT_TRUE(eventually([&] { return posts(am).size() == 1; })) << b.out.text();
  nlohmann::json first = posts(am)[0];
  ASSERT_TRUE(first.is_array() && first.size() == 1u) << first;
  EXPECT_EQ(first[0]["labels"]["alertname"], "host-near-limit");
  EXPECT_EQ(first[0]["labels"]["target"], "host");
  EXPECT_EQ(first[0]["labels"]["cluster"], "test") << "the config's static labels";
  // The next tick copies the notifier's counters into /metrics.
  ASSERT_TRUE(eventually([&] {
    dog.tick();
    return metrics.render().find(
               "oomsentinel_alertmanager_notifications_sent_total{alertmanager=\"" +
               am.url("/api/v2/alerts") + "\"} 1") != std::string::npos;
  })) << metrics.render();
  EXPECT_THAT(metrics.render(), HasSubstr("oomsentinel_alertmanager_alerts{state=\"active\"} 1"));

  b.use(0.1);
  b.clock.advance(1s);
  dog.tick();  // resolved: the resolve goes out
  ASSERT_TRUE(eventually([&] { return posts(am).size() >= 2; })) << b.out.text();
  nlohmann::json second = posts(am).back();
  ASSERT_TRUE(second.is_array() && !second.empty()) << second;
  EXPECT_EQ(second[0]["labels"]["alertname"], "host-near-limit");
  EXPECT_EQ(second[0]["endsAt"], "2023-11-14T22:13:21.000Z") << "the resolve time: " << second;
}

}  // namespace
}  // namespace oomsentinel
