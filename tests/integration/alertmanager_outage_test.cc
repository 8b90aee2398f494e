// The fault matrix's row 9 (docs/reliability.md, issue 19) against Debian's real Alertmanager:
// it is stopped while rules fire and resolve, and started again on the same port. What it holds
// in the end (GET /api/v2/alerts, and its own count of the alerts it received) must be every
// firing, with every resolve applied and none applied out of order; a queue overflowed during
// the outage drops exactly what docs/reliability.md says, and counts it. The notifier is the
// daemon's own (AlertmanagerNotifier), polled the way each tick polls it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alertmanager.h"
#include "alerts/metrics.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "daemon/report.h"
#include "tests/integration/background.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::Background;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

double steadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Debian's Alertmanager on one loopback port, stopped and started again on the same port with
// the same files (it keeps no alerts across a restart: what it holds afterwards came after).
class RealAlertmanager {
 public:
  RealAlertmanager() : port_(testing::freeLoopbackPort()) {
    dir_.write("am.yml", "route: {receiver: sink, group_wait: 0s}\nreceivers: [{name: sink}]\n");
    ::mkdir((dir_.path() + "/data").c_str(), 0700);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Started, and ready within 15 s; the log's tail when not.
  std::string start() {
    process_.emplace(
        std::vector<std::string>{kAlertmanager, "--config.file=" + dir_.path() + "/am.yml",
                                 "--storage.path=" + dir_.path() + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--cluster.listen-address="},
        dir_.path() + "/am.log");
    if (testing::waitForHttp(url() + "/-/ready", 15)) return "";
    return "Alertmanager did not start:\n" + testing::slurp(dir_.path() + "/am.log");
  }
  // SIGTERM, and reaped: nothing listens on the port afterwards.
  void stop() { process_.reset(); }

  // The active alerts by alertname: their startsAt.
  std::map<std::string, std::string> active() const {
    std::map<std::string, std::string> out;
    auto body = testing::httpGet(url() + "/api/v2/alerts");
    if (!body) return out;
    auto j = nlohmann::json::parse(*body, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& a : j) out[a["labels"].value("alertname", "")] = a.value("startsAt", "");
    return out;
  }
  // Its own counter: alertmanager_alerts_received_total{status=...} (v2), -1 when unread.
  long received(const std::string& status) const {
    auto body = testing::httpGet(url() + "/metrics");
    if (!body) return -1;
    std::string series =
        "alertmanager_alerts_received_total{status=\"" + status + "\",version=\"v2\"} ";
    auto at = body->find(series);
    return at == std::string::npos ? 0 : std::atol(body->c_str() + at + series.size());
  }

 private:
  TempDir dir_;
  int port_;
  std::optional<Background> process_;
};

AlertEvent event(const std::string& rule, WallTime at) {
  AlertEvent e;
  e.rule = rule;
  e.target = "app";
  e.severity = "warning";
  e.expr = "working_set_ratio > 50%";
  e.starts_at = at;
  return e;
}

// The spec both tests use: a fast backoff with a low ceiling, so that the outage reaches it.
AlertmanagerSpec spec(const std::string& url, std::size_t queue_max) {
  AlertmanagerSpec s;
  s.urls = {url};
  s.resend_interval = 60s;  // no resend during the test: every POST here is owed work
  s.timeout = 1s;
  s.queue_max = queue_max;
  s.retry_initial = 100ms;
  s.retry_max = 2s;
  return s;
}

// The tick's part: poll() every 20 ms for `seconds`, or until `done`.
void tick(AlertmanagerNotifier& n, double seconds, const std::function<bool()>& done = nullptr) {
  double until = steadySeconds() + seconds;
  while (steadySeconds() < until && !(done && done())) {
    n.poll();
    std::this_thread::sleep_for(20ms);
  }
}

bool delivered(const AlertmanagerNotifier& n) {
  auto s = n.status();
  return s.resolving == 0 && !s.endpoints.at(0).failing && !s.endpoints.at(0).in_flight;
}

// Row 9. Alertmanager stopped while five alerts fire and resolve: "before" resolves (it fired
// before the outage), "brief" fires and resolves inside it, "stays" fires, "again" fires,
// resolves and fires again, "through" fires before and goes on firing. The outage lasts until
// the backoff has stayed at its ceiling (retry_max) for two attempts; once Alertmanager is back
// everything arrives within one ceiling, and Alertmanager holds exactly the three firing ones,
// "again" with its second startsAt, and has received the two resolves.
TEST(AlertmanagerOutage, EveryFiringAndResolveOfTheOutageArrivesInOrderOnceItIsBack) {
  if (::access(kAlertmanager, X_OK) != 0)
    GTEST_SKIP() << "prometheus-alertmanager is missing (Debian package prometheus-alertmanager)";
  RealAlertmanager am;
  ASSERT_EQ(am.start(), "");
  SystemClock clock;
  auto notifier = AlertmanagerNotifier::create(spec(am.url(), 256), clock);
  ASSERT_TRUE(notifier.ok()) << notifier.error().describe();
  AlertmanagerNotifier& n = **notifier;

  n.fire(event("before", clock.wallNow()));
  n.fire(event("through", clock.wallNow()));
  tick(n, 10, [&] { return am.active().size() == 2; });
  ASSERT_EQ(am.active().size(), 2u) << "the alerts before the outage did not arrive";

  am.stop();
  const double down = steadySeconds();
  n.resolve("before", "app", clock.wallNow());
  n.fire(event("brief", clock.wallNow()));
  n.fire(event("again", clock.wallNow()));
  tick(n, 0.3);
  n.resolve("brief", "app", clock.wallNow());
  n.resolve("again", "app", clock.wallNow());
  n.fire(event("stays", clock.wallNow()));
  tick(n, 0.3);
  const WallTime again_at = clock.wallNow();
  n.fire(event("again", again_at));

  // Attempts at 0.1, 0.2, 0.4, 0.8, 1.6 s of backoff, then every 2 s (the ceiling): the gaps
  // between failed attempts, until two of them were at the ceiling.
  std::vector<double> failures;
  std::uint64_t failed = n.status().total.failed;
  auto atCeiling = [&] {
    std::size_t at = 0;
    for (std::size_t i = 1; i < failures.size(); ++i) at += failures[i] - failures[i - 1] > 1.9;
    return at;
  };
  tick(n, 20, [&] {
    auto s = n.status();
    if (s.total.failed != failed) {
      failed = s.total.failed;
      failures.push_back(steadySeconds());
    }
    return atCeiling() >= 2;
  });
  ASSERT_GE(atCeiling(), 2u) << "the backoff never reached its ceiling twice";
  for (std::size_t i = 1; i < failures.size(); ++i)
    EXPECT_LT(failures[i] - failures[i - 1], 2.0 + 1.0 + 0.3)
        << "a gap between two attempts longer than retry_max (2 s) plus the timeout (1 s)";
  std::printf("outage %.1f s, %llu failed attempts, gaps:", steadySeconds() - down,
              static_cast<unsigned long long>(n.status().total.failed));
  for (std::size_t i = 1; i < failures.size(); ++i)
    std::printf(" %.2f", failures[i] - failures[i - 1]);
  std::printf(" s\n");
  EXPECT_EQ(n.status().total.dropped, 0u);

  ASSERT_EQ(am.start(), "");
  const double up = steadySeconds();
  tick(n, 10, [&] { return delivered(n); });
  ASSERT_TRUE(delivered(n)) << n.status().total.last_error;
  double took = steadySeconds() - up;
  std::printf("delivered %.2f s after Alertmanager was ready again\n", took);
  EXPECT_LT(took, 2.0 + 1.0) << "more than one backoff ceiling after it came back";

  auto active = am.active();
  EXPECT_EQ(active.size(), 3u);
  EXPECT_TRUE(active.count("stays"));
  EXPECT_TRUE(active.count("through"));
  ASSERT_TRUE(active.count("again")) << "the second firing was lost to the resolve before it";
  EXPECT_EQ(active["again"], formatWallTime(again_at))
      << "the second firing's start, not the first's";
  EXPECT_FALSE(active.count("before")) << "a resolve of the outage was not applied";
  EXPECT_FALSE(active.count("brief")) << "a resolve of the outage was not applied";
  // Both resolves reached it (a resolved alert leaves the active list; this says it arrived).
  EXPECT_EQ(am.received("resolved"), 2);
  EXPECT_EQ(am.received("firing"), 3);
  // Nothing stale follows: more ticks change nothing.
  tick(n, 0.5);
  EXPECT_EQ(am.active(), active);
  EXPECT_EQ(am.received("resolved"), 2);
  EXPECT_EQ(n.status().active, 3u);
  EXPECT_EQ(n.status().total.dropped, 0u);
}

// Row 9, the cap. queue_max 5 during an outage: five firings fill the queue; two of them resolve
// (their resolves are owed); two more firings push those two resolves out (the oldest first),
// the next two firings find five firing alerts and are dropped themselves, one more resolve is
// pushed out by one more firing: 5 dropped, counted, and the five firing alerts delivered.
TEST(AlertmanagerOutage, AQueueOverflowedDuringTheOutageDropsExactlyWhatIsDocumented) {
  if (::access(kAlertmanager, X_OK) != 0)
    GTEST_SKIP() << "prometheus-alertmanager is missing (Debian package prometheus-alertmanager)";
  RealAlertmanager am;  // down from the start
  SystemClock clock;
  auto notifier = AlertmanagerNotifier::create(spec(am.url(), 5), clock);
  ASSERT_TRUE(notifier.ok()) << notifier.error().describe();
  AlertmanagerNotifier& n = **notifier;

  for (const char* r : {"a1", "a2", "a3", "a4", "a5"}) n.fire(event(r, clock.wallNow()));
  tick(n, 0.2);
  n.resolve("a1", "app", clock.wallNow());
  n.resolve("a2", "app", clock.wallNow());
  n.fire(event("a6", clock.wallNow()));  // pushes out a1's resolve
  n.fire(event("a7", clock.wallNow()));  // pushes out a2's resolve
  EXPECT_EQ(n.status().total.dropped, 2u);
  n.fire(event("a8", clock.wallNow()));  // five firing: dropped
  n.fire(event("a9", clock.wallNow()));  // dropped
  EXPECT_EQ(n.status().total.dropped, 4u);
  n.resolve("a3", "app", clock.wallNow());
  n.fire(event("a10", clock.wallNow()));  // pushes out a3's resolve
  tick(n, 0.5);
  auto s = n.status();
  EXPECT_EQ(s.total.dropped, 5u);
  EXPECT_EQ(s.active, 5u);
  EXPECT_GE(s.total.failed, 1u) << "Alertmanager is down: the posts failed";
  // The metric says the same.
  DaemonMetrics metrics{HostPaths{}};
  metrics.alertmanager(s);
  EXPECT_THAT(metrics.render(), HasSubstr("oomsentinel_alertmanager_alerts_dropped_total 5\n"));

  ASSERT_EQ(am.start(), "");
  tick(n, 10, [&] { return delivered(n) && n.status().endpoints[0].stats.sent > 0; });
  ASSERT_TRUE(delivered(n)) << n.status().total.last_error;
  auto active = am.active();
  std::set<std::string> names;
  for (const auto& [name, starts] : active) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"a10", "a4", "a5", "a6", "a7"}));
  EXPECT_EQ(am.received("firing"), 5);
  EXPECT_EQ(am.received("resolved"), 0) << "the three resolves were the ones dropped";
  EXPECT_EQ(n.status().total.dropped, 5u);
}

}  // namespace
}  // namespace oomsentinel
