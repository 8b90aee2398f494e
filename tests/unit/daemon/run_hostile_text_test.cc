// `oomsentinel run --log-format json` watching a target whose /metrics answers HTTP 500 with bytes
// that are no UTF-8 (issue 18, "text from a target is data"): the daemon logs the failure as one
// valid JSON line and runs on, where it used to die of nlohmann's type_error 316.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/daemon_process.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::eventually;
using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using testing::slurp;
using testing::TempDir;

TEST(RunHostileText, AnInvalidUtf8AnswerIsLoggedAsValidJsonAndTheDaemonRunsOn) {
  // The reason phrase and the body both carry bytes that are no UTF-8, the body a newline too.
  ServerStep hostile;
  hostile.raw =
      "HTTP/1.1 500 \xff\xfe\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
      "Connection: close\r\n\r\n\xff\xfe\nA\x1b";
  HttpTestServer server({hostile});
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "1000\n");
  dir.write("cg/app/memory.max", "1000000\n");
  dir.write("cg/app/memory.stat", "anon 1000\n");
  dir.write("cg/app/cgroup.procs", "");
  dir.write("c.yaml",
            "poll: {interval: 100ms}\ntargets:\n  - name: app\n    cgroup: /app\n"
            "    metrics_url: '" +
                server.url("/metrics") +
                "'\nrules:\n  - name: high\n    expr: working_set_ratio > 50%\n");
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(
      {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml", {"--log-format", "json"}),
       log});
  ASSERT_TRUE(daemon.waitForLog("runtime endpoint failed", std::chrono::seconds(20)) ||
              !daemon.running())
      << slurp(log);
  // Still alive after the failure was logged, and again after the next fetches failed the same way
  // (logged once per change of the error).
  int connections = server.connections();
  ASSERT_TRUE(eventually(
      [&] { return !daemon.running() || server.connections() >= connections + 2; }, 1000));
  const bool alive = daemon.running();
  EXPECT_TRUE(alive) << "the daemon died, status " << daemon.exitStatus().value_or(-1) << ":\n"
                     << slurp(log);
  if (alive) {
    int status = daemon.stop();
    EXPECT_TRUE(testing::exitedWith(status, 0)) << status << "\n" << slurp(log);
  }

  // Every line of the log is JSON (parse throws on invalid JSON and invalid UTF-8).
  std::istringstream lines(slurp(log));
  int failures = 0;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
    if (j.value("msg", "").find("runtime endpoint failed") == std::string::npos) continue;
    ++failures;
    const std::string error = j.at("error");
    EXPECT_THAT(error, HasSubstr("HTTP 500 \xEF\xBF\xBD\xEF\xBF\xBD")) << error;
    EXPECT_EQ(error.find('\x1b'), std::string::npos) << error;
    EXPECT_THAT(error, HasSubstr("\\x1b")) << error;
  }
  EXPECT_GE(failures, 1) << slurp(log);
}

}  // namespace
}  // namespace oomsentinel
