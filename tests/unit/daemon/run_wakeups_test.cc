// `oomsentinel run` on a cgroup v2 tree of plain files: a change of the target's memory.events
// (as the kernel reports one, a modification of the file) starts a tick at once, although the
// poll is every 10 s. The real kernel's side is tested in the VM (WakeupsV2Vm). And the usage
// watch started by the projection: a steady climb crosses a rule's level between two 1 s ticks
// and the rule fires within milliseconds, not at the next tick.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "core/http_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::eventually;
using testing::freeLoopbackPort;
using testing::slurp;
using testing::TempDir;
using namespace std::chrono_literals;

// A cgroup v2 tree of plain files under dir/cg with one cgroup, app.
void writeTree(const TempDir& dir, const std::string& current, const std::string& max) {
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", current);
  dir.write("cg/app/memory.max", max);
  dir.write("cg/app/memory.stat", "anon 1000\n");
  dir.write("cg/app/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
  dir.write("cg/app/cgroup.procs", "");
}

// dir/c.yaml: the poll, /metrics on `port`, the target app and one rule.
void writeConfig(const TempDir& dir, int port, const std::string& poll, const std::string& rule) {
  dir.write("c.yaml", "poll: " + poll +
                          "\nalerts: {metrics: {listen: '127.0.0.1:" + std::to_string(port) +
                          "'}}\ntargets:\n  - name: app\n    cgroup: /app\nrules:\n" + rule);
}

// `oomsentinel run` on that tree and config, its JSON log in dir/log.
testing::DaemonOptions daemonOptions(const TempDir& dir) {
  return {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml", {"--log-format", "json"}),
          dir.path() + "/log"};
}

// Ready after its first tick.
void waitForTheFirstTick(int port, const std::string& log) {
  bool ticked = eventually([&] {
    return testing::httpGetLocal(port, "/metrics")
               .find("oomsentinel_poll_duration_seconds_count 1") != std::string::npos;
  });
  EXPECT_TRUE(ticked) << slurp(log);
}

TEST(RunWakeups, AChangeOfMemoryEventsStartsATickAtOnce) {
  TempDir dir;
  writeTree(dir, "1000\n", "1000000\n");
  int port = freeLoopbackPort();
  // A 1 s fast interval: another wake-up just before (the host's memory pressure, when other
  // tests or a benchmark press the host) delays this one by at most 1 s, never 10.
  writeConfig(dir, port, "{interval: 10s, fast_interval: 1s}",
              "  - name: throttled\n    expr: events_high > 0\n");
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(daemonOptions(dir));
  waitForTheFirstTick(port, log);
  std::this_thread::sleep_for(200ms);  // the watch is set after the first tick
  // Written in place, as the kernel's counters change (not a rename: that would be a new file),
  // in one write of the same length: a truncation first would be a change of its own, whose tick
  // could read the file empty, and the write's wake-up would then wait out the fast interval.
  auto started = std::chrono::steady_clock::now();
  int fd = ::open((dir.path() + "/cg/app/memory.events").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string text = "low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\n";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  bool fired = eventually([&] {
    return testing::httpGetLocal(port, "/metrics")
               .find(
                   "oomsentinel_rule_firing{rule=\"throttled\",severity=\"warning\","
                   "target=\"app\"} 1") != std::string::npos;
  });
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string m = testing::httpGetLocal(port, "/metrics");
  daemon.stop();
  ASSERT_TRUE(fired) << m << slurp(log);
  EXPECT_LT(took, 2.0) << "the 10 s poll, not a wake-up";
  EXPECT_THAT(m, ::testing::HasSubstr(
                     "oomsentinel_kernel_wakeups_total{result=\"tick\",source=\"v2_events\"}"));
}

// The wall time of the first "rule transition" to firing in a JSON log; 0 when none.
double firedAt(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"rule transition\"") != std::string::npos &&
        line.find("\"state\":\"firing\"") != std::string::npos) {
      auto at = line.find("\"time\":\"");
      if (at != std::string::npos) return testing::parseIsoTime(line.substr(at + 8, 24));
    }
  return 0;
}

double wallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(RunWakeups, ASteadyClimbIsCaughtAtTheCrossingBetweenTwoTicksOnCgroupV2) {
  TempDir dir;
  constexpr long long kMiB = 1 << 20;
  writeTree(dir, "", "1000000000000\n");
  // Changed in place, as the kernel's file (the watch keeps it open), in one write of a fixed
  // width.
  int current = ::open((dir.path() + "/cg/app/memory.current").c_str(), O_WRONLY);
  ASSERT_GE(current, 0);
  auto set = [&](long long v) {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%20lld\n", v);
    return ::pwrite(current, buf, static_cast<std::size_t>(n), 0) == n;
  };
  ASSERT_TRUE(set(100 * kMiB));
  int port = freeLoopbackPort();
  writeConfig(dir, port, "{interval: 1s, fast_interval: 1s}",
              "  - name: high\n    expr: usage_bytes > 200MiB\n");
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(daemonOptions(dir));
  waitForTheFirstTick(port, log);
  // 25 MiB/s from 100 MiB: the level is 4 s away, so the ticks (1 s apart) see the climb at
  // least twice before it, and the crossing falls between two of them.
  double crossed = 0;
  for (long long v = 100 * kMiB; v <= 202 * kMiB; v += kMiB / 4) {
    ASSERT_TRUE(set(v));
    if (crossed == 0 && v > 200 * kMiB) crossed = wallNow();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(eventually([&] { return firedAt(slurp(log)) > 0; })) << slurp(log);
  std::string m = testing::httpGetLocal(port, "/metrics");
  daemon.stop();
  ::close(current);
  double late = firedAt(slurp(log)) - crossed;
  std::cout << "fired " << late * 1000 << " ms after the crossing\n";
  EXPECT_LT(late, 0.030) << "found by the 1 s poll, not by the usage watch\n" << m;
  EXPECT_GT(late, -0.010);
  // Seen coming by the ticks' projection or by the skim of a target near its level.
  EXPECT_THAT(m, ::testing::ContainsRegex("oomsentinel_usage_watches_total\\{result=\"crossed\","
                                          "started_by=\"(projection|near_level)\"\\} 1"));
}

}  // namespace
}  // namespace oomsentinel
