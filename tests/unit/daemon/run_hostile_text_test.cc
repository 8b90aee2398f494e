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
  std::string log = dir.path() + "/log", bin = testing::binaryPath();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    execl(bin.c_str(), bin.c_str(), "--cgroup-root", (dir.path() + "/cg").c_str(), "run",
          "--config", (dir.path() + "/c.yaml").c_str(), "--state-file", "none", "--log-format",
          "json", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  bool exited = false;
  auto failed_logged = [&] {
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    return exited || slurp(log).find("runtime endpoint failed") != std::string::npos;
  };
  ASSERT_TRUE(eventually(failed_logged, 1000)) << slurp(log);
  // Still alive after the failure was logged, and again after the next fetches failed the same way
  // (logged once per change of the error).
  int connections = server.connections();
  ASSERT_TRUE(eventually([&] { return exited || server.connections() >= connections + 2; }, 1000));
  if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  EXPECT_FALSE(exited) << "the daemon died, status " << status << ":\n" << slurp(log);
  if (!exited) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << slurp(log);
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
