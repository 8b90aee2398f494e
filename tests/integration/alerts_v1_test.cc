// The direct push against the real Alertmanager from Debian: a leak in a real cgroup v1 child,
// `oomsentinel run` with the alert action; the alert must be in Alertmanager's API before the
// kernel kills the leaker, and resolved after. Also `promtool check metrics` on a live scrape.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/http_client.h"
#include "tests/integration/background.h"
#include "tests/integration/real_cgroup.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::Background;
using oomsentinel::testing::freeLoopbackPort;
using oomsentinel::testing::RealV1Cgroup;
using oomsentinel::testing::TempDir;
using oomsentinel::testing::unixNow;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";
constexpr const char* kPromtool = "/usr/bin/promtool";

// The oom-imminent alert as Alertmanager shows it: nullopt when absent.
std::optional<nlohmann::json> alertIn(const std::string& am) {
  auto body = testing::httpGet(am + "/api/v2/alerts");
  if (!body) return std::nullopt;
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (!j.is_array()) return std::nullopt;
  for (const auto& a : j)
    if (a["labels"].value("alertname", "") == "oom-imminent") return a;
  return std::nullopt;
}

// Debian's Alertmanager on a free loopback port, its files in `dir`, for one test.
class AlertsRealAlertmanager {
 public:
  explicit AlertsRealAlertmanager(const TempDir& dir)
      : port_(freeLoopbackPort()),
        url_("http://127.0.0.1:" + std::to_string(port_)),
        process_(argv(dir, port_), dir.path() + "/am.log") {
    for (int i = 0; i < 200 && !up_; ++i) {
      up_ = testing::httpGet(url_ + "/-/ready").has_value();
      if (!up_) std::this_thread::sleep_for(50ms);
    }
  }
  bool up() const { return up_; }
  const std::string& url() const { return url_; }

 private:
  static std::vector<std::string> argv(const TempDir& dir, int port) {
    dir.write("am.yml", "route: {receiver: sink, group_wait: 0s}\nreceivers: [{name: sink}]\n");
    ::mkdir((dir.path() + "/am-data").c_str(), 0700);
    return {kAlertmanager, "--config.file=" + dir.path() + "/am.yml",
            "--storage.path=" + dir.path() + "/am-data",
            "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="};
  }
  int port_;
  std::string url_;
  Background process_;
  bool up_ = false;
};

TEST(AlertsV1Real, TheDirectPushIsInAlertmanagerBeforeTheKillAndResolvedAfter) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  if (::access(kAlertmanager, X_OK) != 0)
    GTEST_SKIP() << "prometheus-alertmanager is missing (Debian package prometheus-alertmanager)";
  RealV1Cgroup cg("oomsentinel-it-alerts", 256 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  int metrics_port = freeLoopbackPort();
  AlertsRealAlertmanager alertmanager(dir);
  ASSERT_TRUE(alertmanager.up()) << "Alertmanager did not start:\n"
                                 << testing::slurp(dir.path() + "/am.log");
  std::string am = alertmanager.url();

  dir.write("config.yaml",
            "poll: {interval: 200ms, fast_interval: 20ms, fast_above: 40%}\n"
            "alerts:\n"
            "  metrics: {listen: '127.0.0.1:" +
                std::to_string(metrics_port) +
                "'}\n"
                "  alertmanager: {urls: ['" +
                am +
                "'], resend_interval: 5s}\n"
                "targets:\n  - name: leak\n    cgroup: " +
                cg.relative() +
                "\n"
                "rules:\n"
                "  - name: oom-imminent\n"
                "    expr: working_set_ratio > 60%\n"
                "    severity: critical\n"
                "    actions: [log, alert]\n");
  testing::DaemonProcess daemon(
      {testing::runArgs("", dir.path() + "/config.yaml"), dir.path() + "/daemon.log"});
  ASSERT_TRUE(daemon.waitForLog("serving /metrics")) << daemon.log();

  // A live scrape, checked by promtool.
  if (::access(kPromtool, X_OK) == 0) {
    auto scrape = testing::httpGet("http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics");
    ASSERT_TRUE(scrape) << testing::slurp(dir.path() + "/daemon.log");
    dir.write("scrape.txt", *scrape);
    auto r =
        testing::runCommand({"/usr/bin/sh", "-c", "exec /usr/bin/promtool check metrics < \"$0\"",
                             dir.path() + "/scrape.txt"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out + r.err, "") << "promtool's findings on a live scrape";
  }

  pid_t leaker = cg.spawn({testing::leakerPath(), "--rate", "25MiB/s"});
  double visible_at = 0, killed_at = 0;
  std::optional<nlohmann::json> alert;
  int status = 0;
  for (int i = 0; i < 3000 && killed_at == 0; ++i) {  // at most about 30 s
    if (visible_at == 0) {
      alert = alertIn(am);
      if (alert) visible_at = unixNow();
    }
    if (waitpid(leaker, &status, WNOHANG) == leaker) killed_at = unixNow();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(killed_at, 0) << "the leaker was not killed";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_GT(visible_at, 0) << "the alert never reached Alertmanager\n"
                           << testing::slurp(dir.path() + "/daemon.log");
  EXPECT_LT(visible_at, killed_at);
  std::cout << "alert visible in Alertmanager " << (killed_at - visible_at) * 1000
            << " ms before the kill was seen\n";
  ASSERT_TRUE(alert);
  EXPECT_EQ((*alert)["labels"]["severity"], "critical");
  EXPECT_EQ((*alert)["labels"]["target"], "leak");
  EXPECT_THAT((*alert)["annotations"].dump(), HasSubstr("working_set"));

  // After the kill the usage falls, the rule resolves, and the resolve reaches Alertmanager: the
  // alert leaves the active list.
  bool resolved = false;
  for (int i = 0; i < 300 && !resolved; ++i) {
    auto a = alertIn(am);
    resolved = !a || (*a)["status"].value("state", "") != "active";
    if (!resolved) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(resolved) << testing::slurp(dir.path() + "/daemon.log");
}

// Issue 22: the alert names the leaking code. A real Go leak dumped by go_pprof: once the bundle
// is published, the alert in Alertmanager carries the heap report's first site as top_growth,
// before the kernel kills the leaker.
TEST(AlertsV1Real, TheAlertNamesTheLeakingGoFunctionBeforeTheKill) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  if (::access(kAlertmanager, X_OK) != 0)
    GTEST_SKIP() << "prometheus-alertmanager is missing (Debian package prometheus-alertmanager)";
  std::string go_leak = OOMSENTINEL_GO_LEAK;
  if (go_leak.empty()) GTEST_SKIP() << "examples/go-leak was not built (golang-go)";
  RealV1Cgroup cg("oomsentinel-it-alerts-go", 256 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  AlertsRealAlertmanager alertmanager(dir);
  ASSERT_TRUE(alertmanager.up()) << "Alertmanager did not start:\n"
                                 << testing::slurp(dir.path() + "/am.log");
  std::string addr = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  dir.write("config.yaml",
            "poll: {interval: 200ms, fast_interval: 20ms, fast_above: 40%}\n"
            "dump: {dir: " +
                dir.path() +
                "/incidents, min_free: 0, timeout: 20s}\n"
                "alerts:\n  alertmanager: {urls: ['" +
                alertmanager.url() +
                "'], resend_interval: 5s}\n"
                "targets:\n  - name: go\n    cgroup: " +
                cg.relative() + "\n    go: {pprof_url: 'http://" + addr +
                "', profiles: [heap]}\n"
                "rules:\n"
                "  - name: oom-imminent\n"
                "    expr: working_set_ratio > 60%\n"
                "    severity: critical\n"
                "    actions: [log, alert, dump]\n");
  testing::DaemonProcess daemon(
      {testing::runArgs("", dir.path() + "/config.yaml"), dir.path() + "/daemon.log"});
  ASSERT_TRUE(daemon.waitForLog("watching target")) << daemon.log();

  pid_t leaker = cg.spawn({go_leak, "--listen", addr, "--rate", "40MiB/s", "--churn", "0"});
  double named_at = 0, killed_at = 0;
  std::string top;
  int status = 0;
  for (int i = 0; i < 6000 && killed_at == 0; ++i) {  // at most about 60 s
    if (named_at == 0) {
      auto alert = alertIn(alertmanager.url());
      if (alert && (*alert)["annotations"].contains("top_growth")) {
        named_at = unixNow();
        top = (*alert)["annotations"]["top_growth"].get<std::string>();
      }
    }
    if (waitpid(leaker, &status, WNOHANG) == leaker) killed_at = unixNow();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(killed_at, 0) << "the leaker was not killed";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_GT(named_at, 0) << "no alert with top_growth reached Alertmanager\n" << daemon.log();
  EXPECT_LT(named_at, killed_at);
  std::cout << "top_growth in Alertmanager " << (killed_at - named_at) * 1000
            << " ms before the kill was seen: " << top << "\n";
  EXPECT_EQ(top.rfind("main.(*leak).grow holds ", 0), 0u) << top;
  EXPECT_THAT(top, HasSubstr("at main.go:")) << top;
  // The publish's log line carries the same line.
  EXPECT_THAT(daemon.log(), HasSubstr("top_growth=\"" + top + "\"")) << daemon.log();
}

}  // namespace
}  // namespace oomsentinel
