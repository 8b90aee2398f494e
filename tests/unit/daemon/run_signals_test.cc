// The `run` process: SIGHUP reloads (valid: applied; invalid: every error logged, old config
// kept), SIGTERM stops promptly. Against a fixture cgroup tree, so no root is needed.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

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
  testing::writeAppCgroup(dir, 94371840);
  std::string cfg = dir.path() + "/c.yaml";
  auto writeConfig = [&](const std::string& rules) {
    dir.write("c.yaml.new", "targets:\n  - name: app\n    cgroup: /app\nrules:\n" + rules);
    std::rename((dir.path() + "/c.yaml.new").c_str(), cfg.c_str());
  };
  writeConfig("  - name: first\n    expr: working_set_ratio > 50%\n");
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon({{"--cgroup-root", dir.path() + "/cg", "run", "--config", cfg,
                                  "--state-file", dir.path() + "/state.json"},
                                 log});
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(waitFor(log, "rule first on app: inactive -> firing", 10s)) << slurp(log);

  writeConfig("  - name: second\n    expr: working_set_ratio > 60%\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(waitFor(log, "config reloaded", 10s)) << slurp(log);
  ASSERT_TRUE(waitFor(log, "rule second on app: inactive -> firing", 10s)) << slurp(log);

  writeConfig("  - name: broken\n    expr: working_set_ratio >\n    severity: loud\n");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(waitFor(log, "reload failed: keeping the running config", 10s)) << slurp(log);
  std::string text = slurp(log);
  EXPECT_THAT(text, HasSubstr("rules[0].expr"));
  EXPECT_THAT(text, HasSubstr("rules[0].severity")) << "every error, not the first";

  auto t0 = std::chrono::steady_clock::now();
  int status = daemon.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status;
  EXPECT_THAT(slurp(log), HasSubstr("stopping signal=SIGTERM"));
  EXPECT_EQ(::access((dir.path() + "/state.json").c_str(), F_OK), -1) << "state file removed";
}

TEST(RunSignals, InvalidConfigAtStartExits2WithEveryError) {
  TempDir dir;
  dir.write("c.yaml", "poll:\n  intervall: 1s\nrules:\n  - name: x\n    expr: 'a >'\n");
  auto r = oomsentinel::testing::runCommand(
      {oomsentinel::testing::binaryPath(), "run", "--config", dir.path() + "/c.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("poll.intervall"));
  EXPECT_THAT(r.err, HasSubstr("did you mean 'interval'"));
  EXPECT_THAT(r.err, HasSubstr("rules[0].expr"));
  EXPECT_THAT(r.err, HasSubstr("invalid config; not starting"));
}

// A signal during start-up (here: while the daemon reads its config from a FIFO the test holds)
// is not the default action's death, status 15 with nothing said: the daemon starts, then stops
// as it was asked to, exit 0 and the state file gone. SIGTERM comes at any time from systemd or
// a test that saw the first log lines.
TEST(RunSignals, TermDuringStartUpStopsCleanlyOnceStarted) {
  TempDir dir;
  testing::writeAppCgroup(dir, 1000);
  std::string cfg = dir.path() + "/c.yaml";
  ASSERT_EQ(::mkfifo(cfg.c_str(), 0600), 0);
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon({{"--cgroup-root", dir.path() + "/cg", "run", "--config", cfg,
                                  "--state-file", dir.path() + "/state.json"},
                                 log});
  ASSERT_TRUE(daemon.started());
  // A writer's open succeeds once the daemon has the FIFO open to read: it is reading its config.
  int fd = -1;
  ASSERT_TRUE(oomsentinel::testing::eventually([&] {
    fd = ::open(cfg.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    return fd >= 0 || !daemon.running();
  }));
  ASSERT_GE(fd, 0) << slurp(log);
  ASSERT_TRUE(daemon.signal(SIGTERM));
  // A daemon already dead would make the write raise SIGPIPE here: EPIPE instead.
  struct sigaction ignore = {};
  struct sigaction before = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &before);
  const std::string config = "targets:\n  - name: app\n    cgroup: /app\n";
  ssize_t written = ::write(fd, config.data(), config.size());
  ::close(fd);
  ::sigaction(SIGPIPE, &before, nullptr);
  int status = daemon.wait();
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status << " (15: killed by SIGTERM)\n"
                                              << slurp(log);
  EXPECT_EQ(written, static_cast<ssize_t>(config.size()));
  EXPECT_THAT(slurp(log), HasSubstr("stopping signal=SIGTERM"));
  EXPECT_EQ(::access((dir.path() + "/state.json").c_str(), F_OK), -1) << "state file removed";
}

}  // namespace
}  // namespace oomsentinel
