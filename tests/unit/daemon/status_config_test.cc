// `oomsentinel status --config FILE [--target NAME]` as a program: the config's targets on a
// fixture tree, with runtime endpoints served by a scripted HTTP server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using nlohmann::json;
using testing::binaryPath;
using testing::fixture;
using ::testing::HasSubstr;
using testing::HttpTestServer;
using ::testing::Not;
using testing::runCommand;
using testing::RunResult;
using testing::ServerStep;
using testing::TempDir;

RunResult statusWith(const std::string& config, const std::vector<std::string>& args) {
  std::vector<std::string> argv{binaryPath(),
                                "--cgroup-root",
                                fixture("trees/v2/cgroup"),
                                "--proc-root",
                                fixture("trees/v2/proc"),
                                "status",
                                "--config",
                                config,
                                "--state",
                                "/nonexistent/state.json"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

std::string configFor(const TempDir& dir, const std::string& expvar_url,
                      const std::string& metrics_url) {
  std::string text =
      "targets:\n"
      "  - name: app\n"
      "    cgroup: kubepods.slice/pod-x/app\n"
      "    go: {expvar_url: '" +
      expvar_url +
      "'}\n"
      "    runtime: {timeout: 300ms}\n"
      "  - name: sidecar\n"
      "    cgroup: kubepods.slice/pod-x\n"
      "    metrics_url: '" +
      metrics_url +
      "'\n"
      "    signals: {queue_bytes: 'app_queue_bytes{queue=\"in\"}'}\n";
  dir.write("c.yaml", text);
  return dir.path() + "/c.yaml";
}

TEST(StatusConfig, ShowsRuntimeSignalsNextToTheKernels) {
  HttpTestServer go({ServerStep::reply(
      200, testing::readFixture("runtime-captured/go-leak-expvar.json"), "application/json")});
  HttpTestServer prom(
      {ServerStep::reply(200, testing::readFixture("runtime-captured/go-leak-metrics.txt") +
                                  "app_queue_bytes{queue=\"in\"} 4096\n")});
  TempDir dir;
  std::string config = configFor(dir, go.url("/debug/vars"), prom.url("/metrics"));

  RunResult r = statusWith(config, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("target         app (cgroup, cgroup /kubepods.slice/pod-x/app"));
  EXPECT_THAT(r.out, HasSubstr("target         sidecar (cgroup"));
  EXPECT_THAT(r.out, HasSubstr("runtime        go_expvar " + go.url("/debug/vars") + ": ok, "));
  // HeapAlloc 114541608 = 109.2 MiB, NumGC 31 in the captured payload.
  EXPECT_THAT(r.out, HasSubstr("heap           109.2 MiB in use"));
  EXPECT_THAT(r.out, HasSubstr("gc             31 cycles"));
  EXPECT_THAT(r.out, HasSubstr("working set    160.0 MiB"));
  EXPECT_THAT(r.err, Not(HasSubstr("watching target"))) << "status keeps the daemon's log quiet";

  RunResult j = statusWith(config, {"--target", "sidecar", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json doc = json::parse(j.out);
  EXPECT_EQ(doc["target"], "sidecar");
  EXPECT_EQ(doc["signals"]["queue_bytes"], 4096);
  EXPECT_EQ(doc["signals"]["gc_cycles"], 31);
  EXPECT_TRUE(doc["signals"].contains("runtime_age_seconds"));
  ASSERT_EQ(doc["runtime_endpoints"].size(), 1u);
  EXPECT_EQ(doc["runtime_endpoints"][0]["format"], "metrics");
  EXPECT_EQ(doc["runtime_endpoints"][0]["fresh"], true);
}

TEST(StatusConfig, AFailingEndpointIsShownAndItsSignalsAreAbsent) {
  HttpTestServer go({ServerStep::reply(404, "404 page not found")});
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer prom({hang});
  TempDir dir;
  std::string config = configFor(dir, go.url("/debug/vars"), prom.url("/metrics"));
  RunResult r = statusWith(config, {"--target", "app"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("no answer yet; last fetch failed: GET " + go.url("/debug/vars") +
                               ": HTTP 404"));
  EXPECT_THAT(r.out, HasSubstr("heap           - in use"));
  EXPECT_THAT(r.out, Not(HasSubstr("sidecar")));

  RunResult j = statusWith(config, {"--target", "sidecar", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json doc = json::parse(j.out);
  EXPECT_FALSE(doc["signals"].contains("gc_cycles"));
  EXPECT_EQ(doc["runtime_endpoints"][0]["fresh"], false);
}

TEST(StatusConfig, WatchRowsNameTheTargets) {
  HttpTestServer go({ServerStep::reply(
      200, testing::readFixture("runtime-captured/go-leak-expvar.json"), "application/json")});
  HttpTestServer prom({ServerStep::reply(200, "go_gc_duration_seconds_count 3\n")});
  TempDir dir;
  std::string config = configFor(dir, go.url("/debug/vars"), prom.url("/metrics"));
  RunResult r = statusWith(config, {"--watch", "50ms", "--count", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("target           time"));
  std::istringstream in(r.out);
  int app_rows = 0, sidecar_rows = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("app ", 0) == 0) {
      ++app_rows;
      EXPECT_THAT(line, HasSubstr("109.2 MiB")) << line;
      EXPECT_THAT(line, HasSubstr(" 31")) << line;
    }
    if (line.rfind("sidecar ", 0) == 0) ++sidecar_rows;
  }
  EXPECT_EQ(app_rows, 2);
  EXPECT_EQ(sidecar_rows, 2);
}

TEST(StatusConfig, Errors) {
  TempDir dir;
  std::string config = configFor(dir, "http://127.0.0.1:1/debug/vars", "http://127.0.0.1:1/m");
  RunResult unknown = statusWith(config, {"--target", "ap"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err,
              HasSubstr("no target named 'ap' in " + config + " (it has: app, sidecar)"));

  dir.write("bad.yaml", "targets:\n  - name: a\n    host: true\n    metrics_url: nope\n");
  RunResult bad = statusWith(dir.path() + "/bad.yaml", {});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("bad.yaml:4:18: targets[0].metrics_url: not a usable URL"));

  dir.write("none.yaml", "poll: {interval: 1s}\n");
  RunResult none = statusWith(dir.path() + "/none.yaml", {});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("has no targets"));

  dir.write("gone.yaml", "targets: [{name: gone, cgroup: no/such/cgroup}]\n");
  RunResult gone = statusWith(dir.path() + "/gone.yaml", {});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.out, HasSubstr("gone: cannot read: "));

  RunResult both = runCommand({binaryPath(), "status", "--config", config, "--host"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("--config and a target flag given together"));
  RunResult lone = runCommand({binaryPath(), "status", "--target", "app"});
  EXPECT_EQ(lone.exit_code, 2);
  EXPECT_THAT(lone.err, HasSubstr("--target goes with --config"));
}

TEST(RecordConfig, TracesHoldTheRuntimeSignals) {
  HttpTestServer go({ServerStep::reply(
      200, testing::readFixture("runtime-captured/go-leak-expvar.json"), "application/json")});
  HttpTestServer prom({ServerStep::reply(200, "go_gc_duration_seconds_count 3\n")});
  TempDir dir;
  std::string config = configFor(dir, go.url("/debug/vars"), prom.url("/metrics"));
  std::string trace = dir.path() + "/t.jsonl";
  auto record = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv{binaryPath(),
                                  "--cgroup-root",
                                  fixture("trees/v2/cgroup"),
                                  "--proc-root",
                                  fixture("trees/v2/proc"),
                                  "record",
                                  "--config",
                                  config,
                                  "--interval",
                                  "20ms",
                                  "--count",
                                  "3",
                                  "--out",
                                  trace};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runCommand(argv);
  };
  RunResult several = record({});
  EXPECT_EQ(several.exit_code, 2);
  EXPECT_THAT(several.err, HasSubstr("has 2 targets; pick one with --target NAME"));

  RunResult r = record({"--target", "app", "--name", "renamed"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(trace);
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    json j = json::parse(line);
    EXPECT_EQ(j["target"], "renamed");
    EXPECT_EQ(j["signals"]["gc_cycles"], 31) << line;
    EXPECT_EQ(j["signals"]["usage_bytes"], 192 * 1024 * 1024) << line;
  }
  EXPECT_EQ(n, 3);
}

// A JVM in a cgroup of a fixture v2 tree: its perf-data file under <proc>/<pid>/root/tmp, as a
// container's private /tmp is seen from the host.
TEST(StatusConfig, ReadsTheJvmAmongTheCgroupsProcesses) {
  TempDir t;
  t.write("cg/cgroup.controllers", "memory\n");
  t.write("cg/app/memory.current", "209715200\n");
  t.write("cg/app/memory.max", "536870912\n");
  t.write("cg/app/memory.stat", "anon 200000000\nfile 0\ninactive_file 0\n");
  t.write("cg/app/memory.events", "oom_kill 0\n");
  t.write("cg/app/cgroup.procs", "4242\n");
  t.write("proc/self/cgroup", "0::/\n");
  t.write("proc/4242/status", "Name:\tjava\nNSpid:\t4242\t1\nVmRSS:\t1000 kB\n");
  t.write("proc/4242/stat", "4242 (java) S 1 1 1 0 -1 0 10 0 2 0 0 0 0 0 20 0 1 0 0 0 0\n");
  t.write("ctr/tmp/hsperfdata_app/1",
          testing::readFixture("runtime-captured/hsperfdata-jdk17-parallel"));
  std::filesystem::create_directory_symlink(t.path() + "/ctr", t.path() + "/proc/4242/root");
  t.write("c.yaml", "targets: [{name: app, cgroup: app, jvm: {}}]\n");
  RunResult r =
      runCommand({binaryPath(), "--cgroup-root", t.path() + "/cg", "--proc-root",
                  t.path() + "/proc", "status", "--config", t.path() + "/c.yaml", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = json::parse(r.out);
  // The values SOURCE.md records for this capture (jdk17-parallel, -Xmx256m).
  EXPECT_EQ(doc["signals"]["heap_limit_bytes"], 268435456);
  EXPECT_EQ(doc["signals"]["gc_cycles"], 6);
  EXPECT_EQ(doc["signals"]["usage_bytes"], 209715200);
  ASSERT_EQ(doc["runtime_endpoints"].size(), 1u);
  EXPECT_EQ(doc["runtime_endpoints"][0]["format"], "jvm_perfdata");
  EXPECT_EQ(doc["runtime_endpoints"][0]["pid"], 4242);
  // Named, not a path: the file is read through a descriptor from the door (core/target_fs.h).
  EXPECT_EQ(doc["runtime_endpoints"][0]["file"], "pid 4242's root:/tmp/hsperfdata_app/1");

  RunResult table = runCommand({binaryPath(), "--cgroup-root", t.path() + "/cg", "--proc-root",
                                t.path() + "/proc", "status", "--config", t.path() + "/c.yaml"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("runtime        jvm perf data of pid 4242: ok"));
  EXPECT_THAT(table.out, HasSubstr("(limit 256.0 MiB)"));

  // No JVM: the target is still read, and the table says why the JVM rows are empty.
  std::filesystem::remove_all(t.path() + "/ctr/tmp/hsperfdata_app");
  RunResult none = runCommand({binaryPath(), "--cgroup-root", t.path() + "/cg", "--proc-root",
                               t.path() + "/proc", "status", "--config", t.path() + "/c.yaml"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("runtime        jvm perf data: "));
  EXPECT_THAT(none.out, HasSubstr("heap           - in use"));

  // The host has no JVM of its own to read: the config says so.
  t.write("h.yaml", "targets: [{name: h, host: true, jvm: {}}]\n");
  RunResult host = runCommand({binaryPath(), "--proc-root", t.path() + "/proc", "status",
                               "--config", t.path() + "/h.yaml"});
  EXPECT_EQ(host.exit_code, 2);
  EXPECT_THAT(host.err, HasSubstr("h.yaml:1:33: targets[0].jvm: a JVM is read from a cgroup's"));
}

}  // namespace
}  // namespace oomsentinel
