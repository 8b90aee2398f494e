// The `alert` action: a firing is pushed to Alertmanager at the next tick, its resolve follows,
// and a dump's bundle is added to the alert.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "alerts/metrics.h"
#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using testing::TempDir;
using namespace std::chrono_literals;

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

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

TEST(WatchdogAlerts, AFiringIsPushedAndItsResolveFollows) {
  HttpTestServer am({ServerStep::reply(200, "")});
  TempDir dir;
  dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 100000 kB\n");
  dir.write("proc/vmstat", "pgfault 1\npgmajfault 0\n");
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(HostPaths(dir.path() + "/cg", dir.path() + "/proc"), clock, log);
  DaemonMetrics metrics{HostPaths(dir.path() + "/cg", dir.path() + "/proc")};
  dog.setMetrics(&metrics);
  Config c;
  TargetSpec t;
  t.target = Target::host();
  c.targets.push_back(t);
  RuleSpec r;
  r.name = "host-near-limit";
  r.expr = "working_set_ratio > 85%";
  r.severity = Severity::kCritical;
  r.actions = {ActionKind::kLog, ActionKind::kAlert};
  c.rules = {r};
  c.rules_are_defaults = false;
  c.alerts.alertmanager_urls = {am.url()};
  c.alerts.static_labels = {{"cluster", "test"}};
  ASSERT_TRUE(dog.apply(c));
  EXPECT_THAT(out.text(), HasSubstr("pushing alerts to Alertmanager"));
  dog.tick();  // 90% used: fires, and the push starts within this tick
  ASSERT_TRUE(eventually([&] { return posts(am).size() == 1; })) << out.text();
  nlohmann::json first = posts(am)[0];
  ASSERT_TRUE(first.is_array()) << first;
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["labels"]["alertname"], "host-near-limit");
  EXPECT_EQ(first[0]["labels"]["severity"], "critical");
  EXPECT_EQ(first[0]["labels"]["target"], "host");
  EXPECT_EQ(first[0]["labels"]["cluster"], "test");
  // The next tick copies the notifier's counters into /metrics.
  ASSERT_TRUE(eventually([&] {
    dog.tick();
    return metrics.render().find(
               "oomsentinel_alertmanager_notifications_sent_total{alertmanager=\"" +
               am.url("/api/v2/alerts") + "\"} 1") != std::string::npos;
  })) << metrics.render();
  EXPECT_THAT(metrics.render(), HasSubstr("oomsentinel_alertmanager_alerts{state=\"active\"} 1"));
  // Firing: endsAt is the expiry, 4 resend intervals (default 1m) after the send.
  EXPECT_EQ(first[0]["endsAt"], "2023-11-14T22:17:20.000Z") << first;

  dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 900000 kB\n");
  clock.advance(1s);
  dog.tick();  // resolved: the resolve goes out with endsAt
  ASSERT_TRUE(eventually([&] { return posts(am).size() >= 2; })) << out.text();
  nlohmann::json second = posts(am).back();
  ASSERT_TRUE(second.is_array() && !second.empty()) << second;
  EXPECT_EQ(second[0]["labels"]["alertname"], "host-near-limit");
  EXPECT_EQ(second[0]["endsAt"], "2023-11-14T22:13:21.000Z") << "the resolve time: " << second;
}

}  // namespace
}  // namespace oomsentinel
