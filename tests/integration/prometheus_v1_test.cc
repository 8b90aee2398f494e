// The shipped alert rules in a real Prometheus (Debian's) scraping a real `oomsentinel run`:
// a leak in a real cgroup v1 child makes OomsentinelOomImminent go pending, then firing, then
// leave when the leak is gone; an OOM kill the daemon warned of fires OomsentinelOomKill and
// not OomsentinelOomKillUnwarned. Only the `for:` of OomsentinelOomImminent is shortened (30s
// to 3s) so the test is quick; every expression, label and annotation is the shipped one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "tests/integration/background.h"
#include "tests/integration/real_cgroup.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::Background;
using oomsentinel::testing::freeLoopbackPort;
using oomsentinel::testing::httpGet;
using oomsentinel::testing::RealV1Cgroup;
using oomsentinel::testing::TempDir;
using oomsentinel::testing::unixNow;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

// The alerts Prometheus holds (pending or firing) named `name` for target "leak".
std::optional<nlohmann::json> alertIn(const std::string& prom, const std::string& name) {
  auto body = httpGet(prom + "/api/v1/alerts");
  if (!body) return std::nullopt;
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (!j.is_object() || !j.contains("data")) return std::nullopt;
  for (const auto& a : j["data"]["alerts"])
    if (a["labels"].value("alertname", "") == name && a["labels"].value("target", "") == "leak")
      return a;
  return std::nullopt;
}

// The value of an instant query that returns one sample; nullopt when it returns none.
std::optional<double> query(const std::string& prom, const std::string& encoded) {
  auto body = httpGet(prom + "/api/v1/query?query=" + encoded);
  if (!body) return std::nullopt;
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (!j.is_object() || j.value("status", "") != "success") return std::nullopt;
  const auto& r = j["data"]["result"];
  if (!r.is_array() || r.size() != 1) return std::nullopt;
  return std::stod(r[0]["value"][1].get<std::string>());
}

TEST(PrometheusV1Real, TheShippedRulesGoPendingThenFiringThenResolveOnARealLeak) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  if (::access(kPrometheus, X_OK) != 0)
    GTEST_SKIP() << "prometheus is missing (Debian package prometheus)";
  RealV1Cgroup cg("oomsentinel-it-prometheus", 256 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  int prom_port = freeLoopbackPort(), metrics_port = freeLoopbackPort();
  std::string prom = "http://127.0.0.1:" + std::to_string(prom_port);

  std::string rules = testing::slurp(std::string(OOMSENTINEL_SOURCE_DIR) +
                                     "/deploy/prometheus/oomsentinel-alerts.yaml");
  auto imminent = rules.find("- alert: OomsentinelOomImminent");
  ASSERT_NE(imminent, std::string::npos);
  auto for_at = rules.find("for: 30s", imminent);
  ASSERT_NE(for_at, std::string::npos) << "OomsentinelOomImminent's for: changed; adjust the test";
  ASSERT_LT(for_at, rules.find("- alert:", imminent + 1));
  rules.replace(for_at, 8, "for: 3s");
  dir.write("rules.yaml", rules);
  dir.write("prometheus.yml",
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: ['" +
                dir.path() +
                "/rules.yaml']\n"
                "scrape_configs:\n"
                "  - job_name: oomsentinel\n"
                "    static_configs: [{targets: ['127.0.0.1:" +
                std::to_string(metrics_port) + "']}]\n");
  ::mkdir((dir.path() + "/data").c_str(), 0700);

  dir.write("config.yaml",
            "poll: {interval: 200ms, fast_interval: 20ms, fast_above: 40%}\n"
            "alerts:\n"
            "  metrics: {listen: '127.0.0.1:" +
                std::to_string(metrics_port) +
                "'}\n"
                "targets:\n  - name: leak\n    cgroup: " +
                cg.relative() +
                "\n"
                "rules:\n"
                "  - name: oom-imminent\n"
                "    expr: working_set_ratio > 50%\n"
                "    severity: critical\n"
                "    actions: [log]\n");
  testing::DaemonProcess daemon(
      {testing::runArgs("", dir.path() + "/config.yaml"), dir.path() + "/daemon.log"});
  Background prometheus({kPrometheus, "--config.file=" + dir.path() + "/prometheus.yml",
                         "--storage.tsdb.path=" + dir.path() + "/data",
                         "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                        dir.path() + "/prometheus.log");
  auto logs = [&] {
    return "daemon:\n" + testing::slurp(dir.path() + "/daemon.log") + "\nprometheus:\n" +
           testing::slurp(dir.path() + "/prometheus.log");
  };
  ASSERT_TRUE(testing::waitForHttp(prom + "/-/ready", 30)) << logs();
  // Prometheus scrapes oomsentinel and loaded the shipped rules.
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = query(prom, "up%7Bjob%3D%22oomsentinel%22%7D") == 1.0;
    if (!up) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up) << logs();
  auto loaded = httpGet(prom + "/api/v1/rules");
  ASSERT_TRUE(loaded);
  EXPECT_THAT(*loaded, HasSubstr("OomsentinelOomKillUnwarned"));
  EXPECT_FALSE(alertIn(prom, "OomsentinelOomImminent")) << "fired before any leak";

  // A leak that stops at 170 MiB of the 256 MiB limit (66%) and holds: the daemon's critical
  // rule fires, and the shipped alert follows it through pending (for: 3s) to firing.
  pid_t holder =
      cg.spawn({testing::leakerPath(), "--rate", "50MiB/s", "--max", "170MiB", "--hold"});
  double pending_at = 0, firing_at = 0;
  std::optional<nlohmann::json> alert;
  for (int i = 0; i < 300 && firing_at == 0; ++i) {  // about 30 s
    if (auto a = alertIn(prom, "OomsentinelOomImminent")) {
      std::string state = (*a).value("state", "");
      if (state == "pending" && pending_at == 0) pending_at = unixNow();
      if (state == "firing") {
        firing_at = unixNow();
        alert = a;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GT(pending_at, 0) << "never pending\n" << logs();
  ASSERT_GT(firing_at, 0) << "never firing\n" << logs();
  std::cout << "pending for " << (firing_at - pending_at) << " s before firing\n";
  EXPECT_GE(firing_at - pending_at, 1.5) << "for: 3s was not honoured";
  EXPECT_EQ((*alert)["labels"]["severity"], "critical");
  EXPECT_EQ((*alert)["labels"]["job"], "oomsentinel");
  EXPECT_THAT((*alert)["annotations"]["summary"].get<std::string>(),
              HasSubstr("leak is about to be OOM-killed"));
  EXPECT_THAT((*alert)["annotations"]["description"].get<std::string>(),
              HasSubstr("oomsentinel's critical rule firing: oom-imminent"));

  // The leak goes: the daemon's rule resolves, and so does the shipped alert.
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 150 && !gone; ++i) {
    gone = !alertIn(prom, "OomsentinelOomImminent");
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << logs();

  // A leak to the kill: the daemon's rule fires first (a warned kill), the kernel kills, and
  // Prometheus fires OomsentinelOomKill but not OomsentinelOomKillUnwarned.
  pid_t leaker = cg.spawn({testing::leakerPath(), "--rate", "50MiB/s"});
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(leaker, &status, WNOHANG) == leaker) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the leaker was not killed";
  std::optional<nlohmann::json> kill_alert;
  for (int i = 0; i < 150 && !kill_alert; ++i) {
    kill_alert = alertIn(prom, "OomsentinelOomKill");
    if (kill_alert && (*kill_alert).value("state", "") != "firing") kill_alert.reset();
    if (!kill_alert) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(kill_alert) << "OomsentinelOomKill did not fire\n" << logs();
  EXPECT_EQ((*kill_alert)["labels"]["severity"], "warning");
  EXPECT_FALSE(alertIn(prom, "OomsentinelOomKillUnwarned")) << "a warned kill counted unwarned";
  EXPECT_EQ(query(prom, "oomsentinel_oom_kills_total%7Btarget%3D%22leak%22%7D"), 1.0);
  EXPECT_EQ(query(prom, "oomsentinel_oom_kills_unwarned_total%7Btarget%3D%22leak%22%7D"), 0.0);
}

}  // namespace
}  // namespace oomsentinel
