// The `run` process: SIGHUP reloads (valid: applied; invalid: every error logged, old config
// kept), SIGTERM stops promptly. Against a fixture cgroup tree, so no root is needed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;

using namespace std::chrono_literals;
using oomsentinel::testing::TempDir;

// Polls the log until `needle` shows up (the daemon runs on its own clock).
bool waitFor(const std::string& path, const std::string& needle, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (slurp(path).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(RunSignals, HupReloadsValidConfigKeepsOldOnInvalidAndTermStops) {
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "94371840\n");
  dir.write("cg/app/memory.max", "104857600\n");
  dir.write("cg/app/memory.stat", "anon 94371840\ninactive_file 0\n");
  dir.write("cg/app/cgroup.procs", "");
  std::string cfg = dir.path() + "/c.yaml";
  auto writeConfig = [&](const std::string& rules) {
    dir.write("c.yaml.new", "targets:\n  - name: app\n    cgroup: /app\nrules:\n" + rules);
    std::rename((dir.path() + "/c.yaml.new").c_str(), cfg.c_str());
  };
  writeConfig("  - name: first\n    expr: working_set_ratio > 50%\n");
  std::string log = dir.path() + "/log";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    std::string bin = oomsentinel::testing::binaryPath();
    std::string root = dir.path() + "/cg", state = dir.path() + "/state.json";
    execl(bin.c_str(), bin.c_str(), "--cgroup-root", root.c_str(), "run", "--config", cfg.c_str(),
          "--state-file", state.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(waitFor(log, "rule first on app: inactive -> firing", 10s)) << slurp(log);

  writeConfig("  - name: second\n    expr: working_set_ratio > 60%\n");
  kill(pid, SIGHUP);
  ASSERT_TRUE(waitFor(log, "config reloaded", 10s)) << slurp(log);
  ASSERT_TRUE(waitFor(log, "rule second on app: inactive -> firing", 10s)) << slurp(log);

  writeConfig("  - name: broken\n    expr: working_set_ratio >\n    severity: loud\n");
  kill(pid, SIGHUP);
  ASSERT_TRUE(waitFor(log, "reload failed: keeping the running config", 10s)) << slurp(log);
  std::string text = slurp(log);
  EXPECT_NE(text.find("rules[0].expr"), std::string::npos) << text;
  EXPECT_NE(text.find("rules[0].severity"), std::string::npos) << "every error, not the first";

  auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(slurp(log).find("stopping signal=SIGTERM"), std::string::npos);
  EXPECT_EQ(::access((dir.path() + "/state.json").c_str(), F_OK), -1) << "state file removed";
}

TEST(RunSignals, InvalidConfigAtStartExits2WithEveryError) {
  TempDir dir;
  dir.write("c.yaml", "poll:\n  intervall: 1s\nrules:\n  - name: x\n    expr: 'a >'\n");
  auto r = oomsentinel::testing::runCommand(
      {oomsentinel::testing::binaryPath(), "run", "--config", dir.path() + "/c.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("poll.intervall"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'interval'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rules[0].expr"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid config; not starting"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace oomsentinel
