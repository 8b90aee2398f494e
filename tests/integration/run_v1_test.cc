// `oomsentinel run` end to end on a real cgroup v1 child: a leak in a limited cgroup produces the
// warning and the critical transitions in the log before the kernel kills the allocator.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/real_cgroup.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::parseIsoTime;
using oomsentinel::testing::unixNow;

using namespace std::chrono_literals;
using oomsentinel::testing::RealV1Cgroup;

// "2026-11-29T05:51:31.555Z" -> unix seconds.
TEST(RunV1Real, WarningAndCriticalAreLoggedBeforeTheKernelKills) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  RealV1Cgroup cg("oomsentinel-it-run", 128 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  oomsentinel::testing::TempDir dir;
  dir.write("config.yaml",
            "poll:\n"
            "  interval: 1s\n"
            "  fast_interval: 50ms\n"
            "  fast_above: 50%\n"
            "targets:\n"
            "  - name: leak\n"
            "    cgroup: " +
                cg.relative() +
                "\n"
                "rules:\n"
                "  - name: near-limit\n"
                "    expr: working_set_ratio > 70%\n"
                "    severity: warning\n"
                "    actions: [log]\n"
                "  - name: oom-imminent\n"
                "    expr: time_to_oom < 5s or working_set_ratio > 90%\n"
                "    severity: critical\n"
                "    actions: [log]\n");
  std::string log_path = dir.path() + "/daemon.log";

  oomsentinel::testing::DaemonProcess daemon(
      {oomsentinel::testing::runArgs("", dir.path() + "/config.yaml", {"--log-format", "json"}),
       log_path});
  ASSERT_TRUE(daemon.started());
  // The daemon has started and resolved the cgroup (in its first tick).
  ASSERT_TRUE(daemon.waitForLog("watching target")) << daemon.log();

  // 25 MiB/s into 128 MiB: about 5 s to the kill.
  pid_t leaker = cg.spawn({oomsentinel::testing::leakerPath(), "--rate", "25MiB/s"});
  int status = 0;
  double killed_at = 0;
  for (int i = 0; i < 3000; ++i) {  // at most 30 s
    if (waitpid(leaker, &status, WNOHANG) == leaker) {
      killed_at = unixNow();
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(300ms);
  auto stop_started = std::chrono::steady_clock::now();
  int dstatus = daemon.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 1500ms) << "SIGTERM took too long";
  ASSERT_GT(killed_at, 0) << "the leaker was not killed";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(oomsentinel::testing::exitedWith(dstatus, 0)) << "daemon status " << dstatus;

  std::ifstream in(log_path);
  std::string line, all;
  double warning_at = 0, critical_at = 0;
  bool went_fast = false;
  while (std::getline(in, line)) {
    all += line + "\n";
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    if (j.value("msg", "") == "poll interval changed" && j.value("to", "") == "50ms")
      went_fast = true;
    if (j.value("msg", "") != "rule transition" || j.value("state", "") != "firing") continue;
    if (j["rule"] == "near-limit" && warning_at == 0) warning_at = parseIsoTime(j["time"]);
    if (j["rule"] == "oom-imminent" && critical_at == 0) {
      critical_at = parseIsoTime(j["time"]);
      EXPECT_EQ(j["severity"], "critical");
      EXPECT_TRUE(j["values"].contains("working_set_ratio")) << line;
    }
  }
  ASSERT_GT(warning_at, 0) << "no warning firing in the log:\n" << all;
  ASSERT_GT(critical_at, 0) << "no critical firing in the log:\n" << all;
  EXPECT_TRUE(went_fast) << all;
  // No order between the two: the critical rule's time_to_oom usually sees the trend before
  // the warning's level is crossed.
  EXPECT_LT(warning_at, killed_at) << "warning fired after the kill:\n" << all;
  EXPECT_LT(critical_at, killed_at) << "critical fired after the kill:\n" << all;
  std::cout << "warning " << killed_at - warning_at << " s and critical " << killed_at - critical_at
            << " s before the kill\n";
}

}  // namespace
}  // namespace oomsentinel
