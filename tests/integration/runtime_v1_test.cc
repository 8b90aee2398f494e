// Runtime signals end to end on a real cgroup v1 child: the Go example (examples/go-leak) and the
// Java example (examples/java-leak) leak inside it; `status --config` shows their heap and GC
// counts rising next to the kernel's usage, and a rule over rate(gc_cycles[10s]) fires when
// `replay` runs it over a trace that `record --config` took from them.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/real_cgroup.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::freeLoopbackPort;

using nlohmann::json;
using oomsentinel::testing::RealV1Cgroup;
using oomsentinel::testing::runCommand;
using oomsentinel::testing::RunResult;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A loopback port nobody listens on right now.
std::vector<json> jsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

RunResult oomsentinel(const std::vector<std::string>& args, int timeout_s = 60) {
  std::vector<std::string> argv{testing::binaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, timeout_s);
}

// Polls `status --config --json` until `signal` is present (the runtime answers), at most 20s.
std::optional<json> waitForSignal(const std::string& config, const std::string& signal) {
  for (int i = 0; i < 40; ++i) {
    RunResult r = oomsentinel({"status", "--config", config, "--json"});
    if (r.exit_code == 0) {
      json j = json::parse(r.out);
      if (j["signals"].contains(signal)) return j;
    }
    std::this_thread::sleep_for(500ms);
  }
  return std::nullopt;
}

// The kernel's and the runtime's view rising together over `samples` one-second samples.
void expectRising(const std::string& config, const std::string& runtime_signal) {
  RunResult r =
      oomsentinel({"status", "--config", config, "--json", "--watch", "1s", "--count", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto samples = jsonLines(r.out);
  ASSERT_EQ(samples.size(), 5u) << r.out;
  const json& first = samples.front()["signals"];
  const json& last = samples.back()["signals"];
  for (const char* sig : {"usage_bytes", "gc_cycles"}) {
    ASSERT_TRUE(first.contains(sig) && last.contains(sig)) << sig << "\n" << r.out;
    EXPECT_GT(last[sig].get<double>(), first[sig].get<double>()) << sig << "\n" << r.out;
  }
  ASSERT_TRUE(first.contains(runtime_signal) && last.contains(runtime_signal)) << r.out;
  EXPECT_GT(last[runtime_signal].get<double>(), first[runtime_signal].get<double>()) << r.out;
  std::cerr << "rising over 4s: usage " << first["usage_bytes"] << " -> " << last["usage_bytes"]
            << ", " << runtime_signal << " " << first[runtime_signal] << " -> "
            << last[runtime_signal] << ", gc_cycles " << first["gc_cycles"] << " -> "
            << last["gc_cycles"] << "\n";
}

// record --config for `seconds`, then replay a GC-rate rule over the trace: it must fire.
void expectGcRuleFiresInReplay(const TempDir& dir, const std::string& config, double per_second) {
  std::string trace = dir.path() + "/trace.jsonl";
  RunResult rec = oomsentinel(
      {"record", "--config", config, "--interval", "250ms", "--duration", "12s", "--out", trace});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  std::string rules = dir.path() + "/rules.yaml";
  char threshold[32];
  std::snprintf(threshold, sizeof threshold, "%g", per_second);
  dir.write("rules.yaml",
            "rules:\n"
            "  - name: gc-storm\n"
            "    expr: rate(gc_cycles[10s]) > " +
                std::string(threshold) +
                "\n"
                "    actions: [log]\n");
  RunResult rep = oomsentinel({"replay", "--config", rules, trace});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  bool fired = false;
  for (const auto& t : jsonLines(rep.out))
    fired = fired || (t["rule"] == "gc-storm" && t["state"] == "firing");
  EXPECT_TRUE(fired) << "replay printed:\n" << rep.out << rep.err;
}

TEST(RuntimeV1Real, GoLeakShowsHeapAndGcRisingAndAGcRuleFiresInReplay) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  std::string go_leak = OOMSENTINEL_GO_LEAK;
  if (go_leak.empty())
    GTEST_SKIP() << "examples/go-leak was not built: go or golang-github-prometheus-client-"
                    "golang-dev is missing (scripts/deps installs both)";
  RealV1Cgroup cg("oomsentinel-it-go", 1LL << 30);
  ASSERT_TRUE(cg.ok()) << cg.error();
  int port = freeLoopbackPort();
  std::string addr = "127.0.0.1:" + std::to_string(port);
  // GOGC=10 and churn: a GC every few MiB allocated, so the GC rate is several per second.
  pid_t pid = cg.spawn({"/usr/bin/env", "GOGC=10", go_leak, "--listen", addr, "--rate", "10MiB/s",
                        "--max", "400MiB", "--churn", "40MiB/s", "--hold"});
  ASSERT_GT(pid, 0);
  TempDir dir;
  dir.write("config.yaml",
            "targets:\n"
            "  - name: go\n"
            "    cgroup: " +
                cg.relative() +
                "\n"
                "    go: {pprof_url: 'http://" +
                addr +
                "'}\n"
                "    metrics_url: 'http://" +
                addr + "/metrics'\n");
  std::string config = dir.path() + "/config.yaml";
  auto first = waitForSignal(config, "heap_alloc_bytes");
  ASSERT_TRUE(first) << "go-leak's expvar never answered on " << addr;
  const json& s = (*first)["signals"];
  // Both endpoints answered: expvar's own fields and the client's process collector agree.
  EXPECT_TRUE(s.contains("gc_cpu_fraction"));
  EXPECT_TRUE(s.contains("go_heap_sys_bytes"));
  EXPECT_EQ((*first)["runtime_endpoints"].size(), 2u);
  for (const auto& e : (*first)["runtime_endpoints"]) EXPECT_EQ(e["fresh"], true) << e;

  expectRising(config, "heap_alloc_bytes");
  expectGcRuleFiresInReplay(dir, config, 1.0);
}

TEST(RuntimeV1Real, JavaLeakShowsHeapAndGcRisingAndAGcRuleFiresInReplay) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  std::string java_leak = OOMSENTINEL_JAVA_LEAK;
  if (java_leak.empty())
    GTEST_SKIP() << "examples/java-leak was not built: no javac of JDK 17 or later "
                    "(scripts/deps installs openjdk-17-jdk-headless)";
  RealV1Cgroup cg("oomsentinel-it-java", 1LL << 30);
  ASSERT_TRUE(cg.ok()) << cg.error();
  // A small young generation: heap use moves by less than 16 MiB between young GCs, while the
  // leak adds 20 MiB a second, and the churn makes several young GCs a second.
  pid_t pid = cg.spawn({"/usr/bin/env", "JAVA_LEAK_OPTS=-Xmx512m -Xmn16m -XX:+UseSerialGC",
                        java_leak, "--rate", "20MiB/s", "--chunk", "256KiB", "--max", "400MiB",
                        "--churn", "60MiB/s", "--hold"});
  ASSERT_GT(pid, 0);
  TempDir dir;
  dir.write("config.yaml",
            "targets:\n"
            "  - name: java\n"
            "    cgroup: " +
                cg.relative() +
                "\n"
                "    jvm: {perfdata: true}\n");
  std::string config = dir.path() + "/config.yaml";
  auto first = waitForSignal(config, "heap_alloc_bytes");
  ASSERT_TRUE(first) << "the JVM's perf-data file never appeared under /proc/PID/root/tmp";
  const json& s = (*first)["signals"];
  // -Xmx512m, read from the generations' maximum capacities.
  EXPECT_EQ(s["heap_limit_bytes"], 512 << 20);
  EXPECT_TRUE(s.contains("jvm_old_used_bytes"));
  ASSERT_EQ((*first)["runtime_endpoints"].size(), 1u);
  EXPECT_EQ((*first)["runtime_endpoints"][0]["format"], "jvm_perfdata");
  EXPECT_EQ((*first)["runtime_endpoints"][0]["pid"], pid);

  expectRising(config, "heap_alloc_bytes");
  expectGcRuleFiresInReplay(dir, config, 1.0);
}

}  // namespace
}  // namespace oomsentinel
