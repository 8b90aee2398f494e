// `oomsentinel run` with throttle_during_dump on a cgroup v2 tree of plain files: memory.high is
// held just above usage while the dump runs and put back after it, at SIGTERM, and at the next
// start after a crash; each change is logged and counted. The real kernel's side (the leaker is
// slowed enough for a slow dump to finish) is DumpThrottleV2Vm.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

#include "core/http_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::slurp;

bool throttleEventually(const std::function<bool()>& f, int tries = 400) {
  return testing::eventually(f, tries);
}
using testing::TempDir;
using namespace std::chrono_literals;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ThrottleTree {
  TempDir dir;
  std::string cg = dir.path() + "/cg/app";
  std::string records = dir.path() + "/records";
  std::string incidents = dir.path() + "/incidents";
  std::string log = dir.path() + "/log";
  ThrottleTree() {
    dir.write("cg/cgroup.controllers", "memory\n");
    dir.write("cg/app/memory.current", std::to_string(180 << 20) + "\n");
    dir.write("cg/app/memory.max", std::to_string(200 << 20) + "\n");
    dir.write("cg/app/memory.high", "max\n");
    dir.write("cg/app/memory.stat", "anon 188743680\n");
    dir.write("cg/app/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    dir.write("cg/app/cgroup.procs", "");
  }
  // A dump whose exec hook copies memory.high into the bundle, then takes `seconds`.
  void config(const std::string& throttle, double seconds) {
    dir.write("c.yaml",
              "poll: {interval: 100ms, fast_interval: 100ms}\n"
              "dump: {dir: " +
                  incidents + ", min_free: 0, throttle_records: " + records +
                  "}\n"
                  "targets:\n  - name: app\n    cgroup: /app\n"
                  "    throttle_during_dump: " +
                  throttle +
                  "\n    dumpers: [exec]\n"
                  "    exec: {argv: [/bin/sh, -c, 'cat " +
                  cg + "/memory.high > \"$OOMSENTINEL_INCIDENT_DIR/high.txt\"; sleep " +
                  std::to_string(seconds) +
                  // root (without capabilities): the hook reads the test's 0700 folder.
                  "'], timeout: 20s, user: root}\n"
                  "rules:\n  - name: oom-imminent\n    expr: usage_ratio > 80%\n"
                  "    severity: critical\n    actions: [log, dump]\n");
  }
  // Its log appended to t.log: a second run's lines follow the first's.
  testing::DaemonOptions daemon() const {
    return {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log, true};
  }
  std::string high() const { return trimmed(slurp(cg + "/memory.high")); }
  std::string bundleHigh() const {
    auto r = testing::runCommand({"/bin/sh", "-c", "cat " + incidents + "/*/exec/high.txt"}, 10);
    return trimmed(r.out);
  }
};

TEST(RunThrottle, HeldDuringTheDumpPutBackAfterItLoggedEachTime) {
  ThrottleTree t;
  t.config("{max_duration: 10s, headroom: 4MiB}", 0.3);
  testing::DaemonProcess daemon(t.daemon());
  bool published = throttleEventually(
      [&] { return slurp(t.log).find("incident bundle published") != std::string::npos; });
  daemon.stop();
  std::string log = slurp(t.log);
  ASSERT_TRUE(published) << log;
  // What the dump saw: usage (180 MiB) + 4 MiB; and memory.high back to max after it.
  EXPECT_EQ(t.bundleHigh(), std::to_string(184 << 20)) << log;
  EXPECT_EQ(t.high(), "max") << log;
  EXPECT_THAT(log, HasSubstr("throttling the target while it is dumped"));
  EXPECT_THAT(log, HasSubstr("memory.high max -> 184.0 MiB (usage 180.0 MiB, memory.max 200.0 MiB, "
                             "for at most 10s)"));
  EXPECT_THAT(log, HasSubstr("throttle ended: the dump is done"));
  // Nothing is left to recover.
  auto left = testing::runCommand({"/bin/sh", "-c", "ls " + t.records}, 10);
  EXPECT_EQ(left.out, "") << left.out;
}

TEST(RunThrottle, SigtermPutsItBackBeforeTheDumpEnds) {
  ThrottleTree t;
  t.config("true", 3);
  testing::DaemonProcess daemon(t.daemon());
  // The value itself, not just "not max": the write truncates first.
  ASSERT_TRUE(throttleEventually([&] { return t.high() == std::to_string(184 << 20); }))
      << slurp(t.log);
  EXPECT_EQ(t.high(), std::to_string(184 << 20));  // default headroom: 1% of 200 MiB, >= 4 MiB
  auto asked = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  ASSERT_TRUE(throttleEventually([&] { return t.high() == "max"; }, 100)) << slurp(t.log);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  daemon.wait();
  EXPECT_LT(took, 1.5) << "put back only when the 3 s dump ended";
  EXPECT_THAT(slurp(t.log), HasSubstr("throttle ended: oomsentinel is stopping"));
}

TEST(RunThrottle, TheNextStartPutsBackWhatACrashedRunLeft) {
  ThrottleTree t;
  t.config("true", 3);
  testing::DaemonProcess crashed(t.daemon());
  // The value itself, not just "not max": the write truncates first.
  ASSERT_TRUE(throttleEventually([&] { return t.high() == std::to_string(184 << 20); }))
      << slurp(t.log);
  crashed.kill();  // SIGKILL: no chance to put anything back
  EXPECT_EQ(t.high(), std::to_string(184 << 20));
  // The next run has no throttle in its config at all, and still puts it back.
  t.dir.write("cg/app/memory.current", "1000\n");
  t.config("false", 0);
  testing::DaemonProcess daemon(t.daemon());
  // Stopped only once the put-back is logged: a SIGTERM that came before the daemon's signal
  // handlers are in place would end it between the write and its log line.
  bool back = throttleEventually([&] {
    return t.high() == "max" &&
           slurp(t.log).find("left by a run that stopped while throttling") != std::string::npos;
  });
  daemon.stop();
  std::string log = slurp(t.log);
  EXPECT_TRUE(back) << log;
  EXPECT_THAT(log, HasSubstr("throttle ended: put back what a stopped run left"));
  EXPECT_THAT(log, HasSubstr("left by a run that stopped while throttling"));
}

// The `.partial-*` bundles in `dir`.
std::vector<std::string> partials(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(".partial-", 0) == 0) out.push_back(e.path());
  return out;
}

std::string metricsPage(int port) {
  boost::asio::io_context io;
  HttpRequest req;
  req.url = *Url::parse("http://127.0.0.1:" + std::to_string(port) + "/metrics");
  std::optional<Result<HttpResponse>> got;
  startHttpRequest(io, req, [&](Result<HttpResponse> r) { got.emplace(std::move(r)); });
  io.run();
  return got && *got ? (*got)->body : std::string();
}

// Row 6 of the fault matrix (docs/reliability.md): the daemon SIGKILLed in the middle of a dump,
// then started again. The capture is not retried (its moment has passed): the incident is
// recorded as lost in the dump directory, logged once, and counted.
TEST(RunLost, ADumpKilledMidwayIsRecordedLostLoggedAndCountedAtTheNextStart) {
  ThrottleTree t;
  t.config("false", 30);  // the exec hook holds the bundle open for 30 s
  testing::DaemonProcess crashed(t.daemon());
  ASSERT_TRUE(throttleEventually([&] { return partials(t.incidents).size() == 1; }))
      << slurp(t.log);
  // The hook has started: the bundle is in the middle of its dump.
  ASSERT_TRUE(throttleEventually([&] {
    return std::filesystem::exists(partials(t.incidents)[0] + "/exec/high.txt");
  })) << slurp(t.log);
  crashed.kill();
  ASSERT_EQ(partials(t.incidents).size(), 1u);
  const std::string partial = partials(t.incidents)[0];
  const std::string name = std::filesystem::path(partial).filename().string().substr(9);
  const std::string record = t.incidents + "/" + name.substr(0, name.rfind('-'));

  // The next run: the rule does not fire again; /metrics is served.
  t.dir.write("cg/app/memory.current", "1000\n");
  int port = testing::freeLoopbackPort();
  t.dir.write("c.yaml",
              "poll: {interval: 100ms, fast_interval: 100ms}\n"
              "alerts: {metrics: {listen: '127.0.0.1:" +
                  std::to_string(port) +
                  "'}}\n"
                  "dump: {dir: " +
                  t.incidents +
                  ", min_free: 0}\n"
                  "targets:\n  - name: app\n    cgroup: /app\n    dumpers: [proc]\n"
                  "rules:\n  - name: oom-imminent\n    expr: usage_ratio > 80%\n"
                  "    severity: critical\n    actions: [log, dump]\n");
  testing::DaemonProcess daemon(t.daemon());
  const std::string counted = "oomsentinel_incidents_total{result=\"lost\",target=\"app\"} 1";
  bool seen =
      throttleEventually([&] { return metricsPage(port).find(counted) != std::string::npos; });
  std::string page = metricsPage(port);
  daemon.stop();
  std::string log = slurp(t.log);
  EXPECT_TRUE(seen) << page;
  EXPECT_TRUE(partials(t.incidents).empty());
  // Logged once, naming the incident, the reason and the record.
  const std::string line = "incident lost: its dump never finished";
  ASSERT_NE(log.find(line), std::string::npos) << log;
  EXPECT_EQ(log.find(line), log.rfind(line)) << log;
  EXPECT_THAT(log, HasSubstr("the daemon stopped during the dump (found at start)"));
  EXPECT_THAT(log, HasSubstr(record));
  std::string manifest = slurp(record + "/manifest.json");
  EXPECT_THAT(manifest, HasSubstr("\"outcome\": \"lost\""));
  EXPECT_THAT(manifest, HasSubstr("\"target\": \"app\""));
  EXPECT_THAT(manifest, HasSubstr("\"rule\": \"oom-imminent\""));
  EXPECT_FALSE(std::filesystem::exists(record + "/exec")) << "what the killed dump wrote is gone";
  // `oomsentinel incidents` lists it as lost.
  auto listed = testing::runCommand({testing::binaryPath(), "incidents", "--dir", t.incidents}, 10);
  // The RESULTS column (padded to "RESULTS", then two blanks), then the record's path.
  EXPECT_THAT(listed.out, HasSubstr(" lost     " + record)) << listed.out << listed.err;
}

}  // namespace
}  // namespace oomsentinel
