// The dump action end to end on a real cgroup v1 child, one test per runtime: the example target
// leaks into a limited cgroup, `oomsentinel run` fires a critical rule whose actions include
// dump, and the bundle must be published before the kernel kills the target, with evidence that
// points at the leak (google-pprof, go tool pprof, the JVM's class histogram).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/real_cgroup.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::freeLoopbackPort;
using oomsentinel::testing::parseIsoTime;
using oomsentinel::testing::slurp;
using oomsentinel::testing::unixNow;

using nlohmann::json;
using oomsentinel::testing::RealV1Cgroup;
using oomsentinel::testing::runCommand;
using oomsentinel::testing::RunResult;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct RaceResult {
  bool killed = false;
  double killed_at = 0;     // when waitpid saw the SIGKILL (the kill itself is a bit earlier)
  std::string bundle;       // the published bundle's path
  double published_at = 0;  // from its manifest
  json manifest;
  std::string log;
};

// Runs the daemon on `config_body` (targets and rules; the dump section is added), starts the
// target with `spawn`, waits for the kernel to kill it, and reads what was published.
template <typename Spawn>
RaceResult race(const TempDir& dir, const std::string& config_body, Spawn spawn) {
  RaceResult r;
  std::string incidents = dir.path() + "/incidents";
  dir.write("config.yaml",
            "poll: {interval: 200ms, fast_interval: 20ms, fast_above: 40%}\n"
            "dump: {dir: " +
                incidents + ", min_free: 0, timeout: 20s}\n" + config_body);
  std::string log_path = dir.path() + "/daemon.log";
  oomsentinel::testing::DaemonProcess daemon(
      {oomsentinel::testing::runArgs("", dir.path() + "/config.yaml", {"--log-format", "json"}),
       log_path});
  // Started, and the target's cgroup resolved (in its first tick).
  if (!daemon.waitForLog("watching target")) {
    r.log = daemon.log();
    return r;
  }
  pid_t target = spawn();
  int status = 0;
  for (int i = 0; i < 6000; ++i) {  // at most 60 s
    if (waitpid(target, &status, WNOHANG) == target) {
      r.killed_at = unixNow();
      r.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  // A bundle still being written would be finished by now if it was going to beat the kill.
  daemon.waitForLog("incident bundle published", 2s);
  daemon.stop();
  r.log = slurp(log_path);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(incidents, ec)) {
    if (e.path().filename().string().rfind(".partial", 0) == 0) continue;
    r.bundle = e.path().string();
    r.manifest = json::parse(slurp(r.bundle + "/manifest.json"), nullptr, false);
    if (!r.manifest.is_discarded() && r.manifest.contains("published_at"))
      r.published_at = parseIsoTime(r.manifest["published_at"].get<std::string>());
    break;
  }
  return r;
}

std::string resultOf(const json& manifest, const std::string& dumper) {
  for (const auto& d : manifest["dumps"])
    if (d["dumper"] == dumper) return d["result"].get<std::string>();
  return "(none)";
}

const char* kCriticalRule =
    "rules:\n"
    "  - name: oom-imminent\n"
    "    expr: working_set_ratio > 60%\n"
    "    severity: critical\n"
    "    actions: [log, dump]\n";

TEST(DumpV1Real, CppHeapProfileIsPublishedBeforeTheKillAndNamesTheLeak) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  std::string leak = OOMSENTINEL_CPP_LEAK;
  if (leak.empty()) GTEST_SKIP() << "examples/cpp-leak was not built (libgoogle-perftools-dev)";
  if (::access("/usr/bin/google-pprof", X_OK) != 0)
    GTEST_SKIP() << "google-pprof is missing (Debian package google-perftools)";
  RealV1Cgroup cg("oomsentinel-it-dump-cpp", 256 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  std::string prefix = dir.path() + "/cpp-leak";
  RaceResult r =
      race(dir,
           "targets:\n  - name: cpp\n    cgroup: " + cg.relative() +
               "\n    gperftools: {heap_prefix: " + prefix + ", signal: SIGUSR2}\n" + kCriticalRule,
           [&] {
             return cg.spawn({"/usr/bin/env", "HEAPPROFILE=" + prefix, "HEAPPROFILESIGNAL=12", leak,
                              "--rate", "40MiB/s"});
           });
  ASSERT_TRUE(r.killed) << "the kernel did not kill cpp-leak\n" << r.log;
  ASSERT_FALSE(r.bundle.empty()) << "no bundle\n" << r.log;
  EXPECT_EQ(resultOf(r.manifest, "gperftools"), "ok") << r.manifest.dump(2);
  EXPECT_EQ(resultOf(r.manifest, "proc"), "ok") << r.manifest.dump(2);
  EXPECT_LT(r.published_at, r.killed_at) << "published after the kill\n" << r.log;
  std::cout << "cpp: bundle published " << (r.killed_at - r.published_at) * 1000
            << " ms before the kill was seen\n";
  // google-pprof symbolizes a PIE only through the path recorded in the profile's maps: the
  // executable where it ran (exe_path.txt), not the bundle's copy.
  std::string exe = slurp(r.bundle + "/exe_path.txt");
  while (!exe.empty() && (exe.back() == '\n' || exe.back() == ' ')) exe.pop_back();
  RunResult pprof =
      runCommand({"/usr/bin/google-pprof", "--text", exe, r.bundle + "/heap.prof"}, 60);
  ASSERT_EQ(pprof.exit_code, 0) << pprof.err;
  std::istringstream lines(pprof.out);
  std::string line, top;
  while (std::getline(lines, line))
    if (line.find('%') != std::string::npos) {
      top = line;
      break;
    }
  EXPECT_THAT(top, HasSubstr("leakOneChunk")) << pprof.out;
}

TEST(DumpV1Real, GoPprofIsPublishedBeforeTheKillAndNamesTheLeak) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  std::string go_leak = OOMSENTINEL_GO_LEAK;
  if (go_leak.empty()) GTEST_SKIP() << "examples/go-leak was not built (golang-go)";
  RealV1Cgroup cg("oomsentinel-it-dump-go", 256 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  std::string addr = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  RaceResult r =
      race(dir,
           "targets:\n  - name: go\n    cgroup: " + cg.relative() +
               "\n    go: {pprof_url: 'http://" + addr + "', profiles: [heap]}\n" + kCriticalRule,
           [&] {
             return cg.spawn({go_leak, "--listen", addr, "--rate", "40MiB/s", "--churn", "0"});
           });
  ASSERT_TRUE(r.killed) << "the kernel did not kill go-leak\n" << r.log;
  ASSERT_FALSE(r.bundle.empty()) << "no bundle\n" << r.log;
  EXPECT_EQ(resultOf(r.manifest, "go_pprof"), "ok") << r.manifest.dump(2);
  EXPECT_LT(r.published_at, r.killed_at) << "published after the kill\n" << r.log;
  std::cout << "go: bundle published " << (r.killed_at - r.published_at) * 1000
            << " ms before the kill was seen\n";
  RunResult top = runCommand({"/usr/bin/go", "tool", "pprof", "-top", "-sample_index=inuse_space",
                              r.bundle + "/go-heap.pb.gz"},
                             120);
  ASSERT_EQ(top.exit_code, 0) << top.err;
  std::istringstream lines(top.out);
  std::string line, first;
  bool table = false;
  while (std::getline(lines, line)) {
    if (table) {
      first = line;
      break;
    }
    table = line.find("flat%") != std::string::npos;
  }
  EXPECT_THAT(first, HasSubstr("main.(*leak).grow")) << top.out;
  // The bundle's own heap report (docs/heap-report.md) names it too, without a Go toolchain.
  json report = json::parse(slurp(r.bundle + "/report.json"), nullptr, false);
  ASSERT_TRUE(report.is_object()) << slurp(r.bundle + "/report.json");
  EXPECT_EQ(report.value("status", ""), "ok") << report.dump(2);
  ASSERT_TRUE(report.contains("top_by_caller") && !report["top_by_caller"].empty())
      << report.dump(2);
  EXPECT_EQ(report["top_by_caller"][0].value("function", ""), "main.(*leak).grow")
      << report.dump(2);
  EXPECT_THAT(slurp(r.bundle + "/report.txt"), HasSubstr("main.(*leak).grow"));
  // The publish's log line names it (and the alert would: AlertsV1Real).
  EXPECT_THAT(r.log, HasSubstr("\"top_growth\":\"main.(*leak).grow holds ")) << r.log;
}

TEST(DumpV1Real, JvmClassHistogramIsPublishedBeforeTheKillAndShowsTheLeak) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  std::string java_leak = OOMSENTINEL_JAVA_LEAK;
  if (java_leak.empty()) GTEST_SKIP() << "examples/java-leak was not built (no JDK 17)";
  if (::access("/usr/bin/jcmd", X_OK) != 0) GTEST_SKIP() << "jcmd is missing (a JDK)";
  // The JVM's own heap is big enough to reach the cgroup limit first: the kernel, not an
  // OutOfMemoryError, ends it.
  RealV1Cgroup cg("oomsentinel-it-dump-java", 384 << 20);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  RaceResult r =
      race(dir,
           "targets:\n  - name: java\n    cgroup: " + cg.relative() +
               "\n    jvm: {perfdata: true, class_histogram: true}\n" + kCriticalRule,
           [&] {
             return cg.spawn({"/usr/bin/env", "JAVA_LEAK_OPTS=-Xms64m -Xmx2g -XX:+UseSerialGC",
                              java_leak, "--rate", "20MiB/s", "--chunk", "256KiB"});
           });
  ASSERT_TRUE(r.killed) << "the kernel did not kill java-leak\n" << r.log;
  ASSERT_FALSE(r.bundle.empty()) << "no bundle\n" << r.log;
  EXPECT_EQ(resultOf(r.manifest, "jvm"), "ok") << r.manifest.dump(2);
  EXPECT_LT(r.published_at, r.killed_at) << "published after the kill\n" << r.log;
  std::cout << "java: bundle published " << (r.killed_at - r.published_at) * 1000
            << " ms before the kill was seen\n";
  std::string histogram = slurp(r.bundle + "/class_histogram.txt");
  // The first row of the histogram (after the header and its dashes) is the leaked byte[].
  std::istringstream lines(histogram);
  std::string line, first;
  while (std::getline(lines, line))
    if (line.find(" 1: ") != std::string::npos || line.rfind("   1:", 0) == 0) {
      first = line;
      break;
    }
  EXPECT_THAT(first, HasSubstr("[B")) << histogram.substr(0, 800);
  // The bundle's own heap report (docs/heap-report.md, "The JVM") ranks it first, readable.
  json report = json::parse(slurp(r.bundle + "/report.json"), nullptr, false);
  ASSERT_TRUE(report.is_object()) << slurp(r.bundle + "/report.json");
  EXPECT_EQ(report.value("runtime", ""), "jvm") << report.dump(2);
  EXPECT_EQ(report.value("status", ""), "ok") << report.dump(2);
  ASSERT_TRUE(report.contains("top_by_class") && !report["top_by_class"].empty()) << report.dump(2);
  EXPECT_EQ(report["top_by_class"][0].value("class", ""), "byte[]") << report.dump(2);
  EXPECT_THAT(slurp(r.bundle + "/report.txt"), HasSubstr("byte[] (java.base@"));
  // The publish's log line names it (the alert carries the same line as top_growth).
  EXPECT_THAT(r.log, HasSubstr("\"top_growth\":\"byte[] (java.base@")) << r.log;
}

}  // namespace
}  // namespace oomsentinel
