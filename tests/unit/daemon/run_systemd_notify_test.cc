// `oomsentinel run` under a fake systemd: what it sends to NOTIFY_SOCKET (READY=1 after the first
// tick, STATUS= on change, WATCHDOG=1 while it ticks, RELOADING=1/READY=1 around SIGHUP,
// STOPPING=1 at SIGTERM), received on a real AF_UNIX datagram socket as systemd would.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::slurp;
using testing::TempDir;
using namespace std::chrono_literals;

// systemd's end of the protocol: a datagram socket bound to a path, one message per datagram.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~FakeSystemd() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }

  // Receives until a message satisfies `want` or `limit` passes; every message is kept in
  // received(). Returns the matching message, or "" on timeout.
  std::string waitFor(const std::function<bool(const std::string&)>& want,
                      std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      received_.emplace_back(buf, static_cast<std::size_t>(n));
      if (want(received_.back())) return received_.back();
    }
    return "";
  }
  std::string waitFor(const std::string& needle, std::chrono::milliseconds limit = 10s) {
    return waitFor([&](const std::string& m) { return m.find(needle) != std::string::npos; },
                   limit);
  }
  const std::vector<std::string>& received() const { return received_; }
  std::string all() const {
    std::string s;
    for (const auto& m : received_) s += "[" + m + "] ";
    return s;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> received_;
};

// 10% of its limit: far from fast_above, so the tick stays at poll.interval.
void writeCgroup(const TempDir& dir) { testing::writeAppCgroup(dir, 10485760); }

void writeNotifyConfig(const TempDir& dir, bool ghost) {
  dir.write("c.yaml.new", std::string("poll: {interval: 100ms, fast_interval: 50ms}\n") +
                              "targets:\n  - name: app\n    cgroup: /app\n" +
                              (ghost ? "  - name: ghost\n    cgroup: /nope\n" : "") +
                              "rules:\n  - name: high\n    expr: working_set_ratio > 99%\n");
  std::rename((dir.path() + "/c.yaml.new").c_str(), (dir.path() + "/c.yaml").c_str());
}

// The daemon with NOTIFY_SOCKET (and what `env` adds) set in the child, as systemd sets them.
testing::DaemonOptions notifyDaemonOptions(
    const TempDir& dir, const std::string& socket,
    const std::vector<std::pair<std::string, std::string>>& env) {
  testing::DaemonOptions o;
  o.args = testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml");
  o.log = dir.path() + "/log";
  // $SELF: the daemon's own pid, known in the child only (the same process after the exec).
  o.in_child = [socket, env] {
    ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    for (const auto& [k, v] : env)
      ::setenv(k.c_str(), v == "$SELF" ? std::to_string(::getpid()).c_str() : v.c_str(), 1);
  };
  return o;
}

TEST(RunSystemdNotify, ReadyStatusWatchdogReloadAndStopReachTheNotifySocket) {
  TempDir dir;
  writeCgroup(dir);
  writeNotifyConfig(dir, false);
  FakeSystemd systemd(dir.path() + "/notify.sock");
  ASSERT_TRUE(systemd.bound()) << systemd.path();
  // WatchdogSec=400ms: a keep-alive every 100 ms.
  testing::DaemonProcess daemon(notifyDaemonOptions(
      dir, systemd.path(), {{"WATCHDOG_USEC", "400000"}, {"WATCHDOG_PID", "$SELF"}}));
  ASSERT_TRUE(daemon.started());
  std::string log = dir.path() + "/log";

  std::string ready = systemd.waitFor("READY=1");
  ASSERT_FALSE(ready.empty()) << systemd.all() << slurp(log);
  EXPECT_THAT(ready, HasSubstr("STATUS=watching 1 target (0 unresolved), tick 100ms"));

  // Keep-alives keep coming (at least twice per WatchdogSec), and the unchanged status is not
  // sent again with every 100 ms tick.
  std::size_t before = systemd.received().size();
  systemd.waitFor([](const std::string&) { return false; }, 1s);
  int keepalives = 0, statuses = 0;
  for (std::size_t i = before; i < systemd.received().size(); ++i) {
    if (systemd.received()[i] == "WATCHDOG=1") ++keepalives;
    if (systemd.received()[i].find("STATUS=") != std::string::npos) ++statuses;
  }
  EXPECT_GE(keepalives, 5) << systemd.all();
  EXPECT_EQ(statuses, 0) << systemd.all();

  // SIGHUP: RELOADING=1, then READY=1, then the new status (a second, unresolvable target).
  writeNotifyConfig(dir, true);
  before = systemd.received().size();
  daemon.signal(SIGHUP);
  ASSERT_FALSE(systemd.waitFor("RELOADING=1").empty()) << systemd.all();
  ASSERT_FALSE(systemd.waitFor([](const std::string& m) { return m == "READY=1"; }, 10s).empty())
      << systemd.all();
  EXPECT_FALSE(systemd.waitFor("STATUS=watching 2 targets (1 unresolved), tick 100ms").empty())
      << systemd.all();
  std::vector<std::string> order;
  for (std::size_t i = before; i < systemd.received().size(); ++i)
    if (systemd.received()[i] != "WATCHDOG=1") order.push_back(systemd.received()[i]);
  ASSERT_GE(order.size(), 3u) << systemd.all();
  EXPECT_THAT(order[0], HasSubstr("RELOADING=1"));
  EXPECT_EQ(order[1], "READY=1");
  EXPECT_THAT(order[2], HasSubstr("STATUS=watching 2 targets"));

  daemon.signal(SIGTERM);
  EXPECT_FALSE(systemd.waitFor("STOPPING=1").empty()) << systemd.all();
  int status = daemon.wait();
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status;
}

// sd_watchdog_enabled decides: no WATCHDOG_USEC, or a WATCHDOG_PID naming another process, and
// the daemon sends no keep-alive (it still says READY=1).
TEST(RunSystemdNotify, NoKeepAliveWhenTheWatchdogIsNotForThisProcess) {
  for (auto env : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {}, {{"WATCHDOG_USEC", "400000"}, {"WATCHDOG_PID", "1"}}}) {
    TempDir dir;
    writeCgroup(dir);
    writeNotifyConfig(dir, false);
    FakeSystemd systemd(dir.path() + "/notify.sock");
    ASSERT_TRUE(systemd.bound());
    testing::DaemonProcess daemon(notifyDaemonOptions(dir, systemd.path(), env));
    ASSERT_TRUE(daemon.started());
    EXPECT_FALSE(systemd.waitFor("READY=1").empty()) << systemd.all();
    systemd.waitFor([](const std::string&) { return false; }, 600ms);
    for (const auto& m : systemd.received()) EXPECT_NE(m, "WATCHDOG=1") << systemd.all();
    int status = daemon.stop();
    EXPECT_TRUE(testing::exitedWith(status, 0)) << status;
  }
}

}  // namespace
}  // namespace oomsentinel
