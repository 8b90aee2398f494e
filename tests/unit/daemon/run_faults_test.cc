// The fault matrix (docs/reliability.md, issue 19) against the real daemon: each test injects
// its fault for real (a config file removed, a full tmpfs under the state file) and checks what
// the daemon says, what it keeps and that it goes on ticking.
#include <errno.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The v2 fixture tree with its one cgroup, "app", at `percent` of its 100 MiB limit.
void writeTree(const TempDir& dir, int percent) {
  testing::writeAppCgroup(dir, static_cast<unsigned long long>(percent) * 1048576);
}

// One rule, "high", on "app"; a fast tick, every read in full.
const char* kConfig =
    "poll:\n  interval: 100ms\n  full_read_interval: 0s\n"
    "targets:\n  - name: app\n    cgroup: /app\n"
    "rules:\n  - name: high\n    expr: working_set_ratio > 50%\n";

// Row 7: the config file removed, then SIGHUP. The reload fails saying which file and why, the
// running config goes on (its rule still resolves when the usage falls), and a config put back
// is loaded by the next SIGHUP.
TEST(RunFaults, AReloadWithTheConfigFileRemovedKeepsTheRunningConfig) {
  TempDir dir;
  writeTree(dir, 90);
  dir.write("c.yaml", kConfig);
  const std::string cfg = dir.path() + "/c.yaml";
  testing::DaemonProcess daemon({testing::runArgs(dir.path() + "/cg", cfg), dir.path() + "/log"});
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(daemon.waitForLog("rule high on app: inactive -> firing")) << daemon.log();

  ASSERT_EQ(::unlink(cfg.c_str()), 0);
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.waitForLog("reload failed: keeping the running config")) << daemon.log();
  std::string log = daemon.log();
  EXPECT_THAT(log, HasSubstr(cfg)) << "the error names the file";
  EXPECT_THAT(log, HasSubstr(std::strerror(ENOENT))) << "and why it could not be read";

  // The running config still ticks: its rule sees the usage fall.
  writeTree(dir, 10);
  EXPECT_TRUE(daemon.waitForLog("rule high on app: firing -> ")) << daemon.log();

  // Put back, the next SIGHUP loads it.
  dir.write("c.yaml", kConfig);
  daemon.signal(SIGHUP);
  EXPECT_TRUE(daemon.waitForLog("config reloaded")) << daemon.log();
  EXPECT_TRUE(daemon.running()) << daemon.log();
  EXPECT_TRUE(testing::exitedWith(daemon.stop(), 0)) << daemon.log();
}

// Fills the file system under `dir` with one file until write(2) says ENOSPC.
bool fill(const std::string& dir) {
  int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::string block(4096, 'x');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  int err = errno;
  ::close(fd);
  return err == ENOSPC;
}

// Row 4, the state file: its file system fills up while the daemon runs. The write of the next
// state fails with ENOSPC; the daemon says so once, keeps the last complete state file (a reader
// never sees half a file) and keeps ticking.
TEST(RunFaults, AFullFileSystemUnderTheStateFileKeepsTheLastWholeOneAndTheTicks) {
  TempDir dir;
  testing::TmpfsMount m(dir.path() + "/run", "256k");
  if (!m.why().empty()) GTEST_SKIP() << m.why();

  writeTree(dir, 10);
  dir.write("c.yaml", kConfig);
  const std::string state = m.dir() + "/state.json";
  testing::DaemonProcess daemon({{"--cgroup-root", dir.path() + "/cg", "run", "--config",
                                  dir.path() + "/c.yaml", "--state-file", state},
                                 dir.path() + "/log"});
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(testing::eventually([&] { return ::access(state.c_str(), F_OK) == 0; }, 500))
      << daemon.log();

  ASSERT_TRUE(fill(m.dir())) << "the tmpfs did not fill up";
  // The state is written at least once a second: the next write meets the full disk.
  ASSERT_TRUE(daemon.waitForLog("cannot write the state file")) << daemon.log();
  std::string log = daemon.log();
  EXPECT_THAT(log, HasSubstr(std::strerror(ENOSPC))) << "the error says why";
  EXPECT_THAT(log, HasSubstr(state + ".tmp")) << "and which file";

  // What is left is a whole state file, the last one written before the disk filled.
  auto j = nlohmann::json::parse(slurp(state), nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << slurp(state);
  EXPECT_EQ(j.value("pid", 0), daemon.pid());

  // Still ticking: the rule fires when the usage crosses it.
  writeTree(dir, 90);
  EXPECT_TRUE(daemon.waitForLog("rule high on app: inactive -> firing")) << daemon.log();
  EXPECT_TRUE(daemon.running());
  // Said once, not every tick.
  log = daemon.log();
  std::size_t said = 0;
  for (std::size_t at = log.find("cannot write the state file"); at != std::string::npos;
       at = log.find("cannot write the state file", at + 1))
    ++said;
  EXPECT_EQ(said, 1u) << log;
  EXPECT_TRUE(testing::exitedWith(daemon.stop(), 0)) << daemon.log();
}

}  // namespace
}  // namespace oomsentinel
