// `oomsentinel status` run as a program on the fixture trees of tests/fixtures/trees/ (figures
// in README.md there): the JSON and table it prints, its exit codes and its one-line reasons.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;
using nlohmann::json;
using testing::binaryPath;
using testing::fixture;
using testing::runCommand;
using testing::RunResult;
using testing::TempDir;

using testing::kMiB;

std::string cgroupRoot(const std::string& layout) { return fixture("trees/" + layout + "/cgroup"); }
std::string procRoot(const std::string& layout) { return fixture("trees/" + layout + "/proc"); }

RunResult runBinary(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

// `oomsentinel --cgroup-root <tree>/cgroup --proc-root <tree>/proc status ARGS...`
RunResult status(const std::string& layout, const std::vector<std::string>& args) {
  std::vector<std::string> a{"--cgroup-root", cgroupRoot(layout), "--proc-root", procRoot(layout),
                             "status"};
  a.insert(a.end(), args.begin(), args.end());
  return runBinary(a);
}

std::vector<std::string> statusLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The one JSON object of a successful `status --json`.
json statusJson(const std::string& layout, const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.push_back("--json");
  RunResult r = status(layout, a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto ls = statusLines(r.out);
  EXPECT_EQ(ls.size(), 1u) << r.out;
  if (ls.empty()) return json();
  json j = json::parse(ls[0], nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << ls[0];
  return j;
}

// A failed run: exit 2 and exactly `reason` as the first line of stderr.
void expectUsageFailure(const RunResult& r, const std::string& reason) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  auto ls = statusLines(r.err);
  ASSERT_FALSE(ls.empty());
  EXPECT_EQ(ls[0], reason);
}

// ---- JSON, per layout and target kind ----

TEST(StatusJson, V2Container) {
  json j = statusJson("v2", {"--cgroup", "kubepods.slice/pod-x/app"});
  EXPECT_EQ(j["target"], "kubepods.slice/pod-x/app");
  EXPECT_EQ(j["kind"], "cgroup");
  EXPECT_EQ(j["cgroup"], "/kubepods.slice/pod-x/app");
  EXPECT_EQ(j["cgroup_version"], "v2");
  EXPECT_EQ(j["layout"], "unified");
  EXPECT_FALSE(j.contains("pid"));
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["time"];
  EXPECT_GT(j["unix_time"].get<double>(), 1.6e9);
  const json& s = j["signals"];
  EXPECT_EQ(s["usage_bytes"], 192 * kMiB);
  EXPECT_EQ(s["limit_bytes"], 256 * kMiB);  // from pod-x: the container's memory.max is "max"
  EXPECT_EQ(s["working_set_bytes"], 160 * kMiB);
  EXPECT_EQ(s["usage_ratio"], 0.75);
  EXPECT_EQ(s["working_set_ratio"], 0.625);
  EXPECT_EQ(s["events_oom_kill"], 1);
  EXPECT_EQ(s["events_local_max"], 5);
  EXPECT_EQ(s["psi_some_avg10"], 12.5);
  EXPECT_EQ(s["psi_full_avg10"], 4);
  EXPECT_EQ(s["pgscan"], 4096);
  EXPECT_EQ(s["stat_pgscan_kswapd"], 1024);
  EXPECT_EQ(s["process_count"], 2);
  EXPECT_EQ(s["rss_bytes"], 150 * kMiB);
  // Absent, not zero.
  EXPECT_FALSE(s.contains("swap_limit_bytes"));
  EXPECT_FALSE(s.contains("pss_bytes"));
  EXPECT_FALSE(s.contains("failcnt"));
}

TEST(StatusJson, V2PidAndSelf) {
  json p = statusJson("v2", {"--pid", "4243"});
  EXPECT_EQ(p["kind"], "pid");
  EXPECT_EQ(p["pid"], 4243);
  EXPECT_EQ(p["target"], "pid-4243");
  EXPECT_EQ(p["cgroup"], "/kubepods.slice/pod-x/app");
  EXPECT_EQ(p["cgroup_version"], "v2");
  EXPECT_EQ(p["signals"]["process_count"], 1);
  EXPECT_EQ(p["signals"]["rss_bytes"], 51200 * 1024.0);
  EXPECT_EQ(p["signals"]["pss_bytes"], 48000 * 1024.0);
  EXPECT_EQ(p["signals"]["limit_bytes"], 256 * kMiB);

  json s = statusJson("v2", {"--self"});
  EXPECT_EQ(s["kind"], "self");
  EXPECT_EQ(s["target"], "self");
  EXPECT_EQ(s["cgroup"], "/kubepods.slice/pod-x/app");
  EXPECT_EQ(s["layout"], "unified");
}

TEST(StatusJson, HostIsTheDefaultAndHasNoCgroup) {
  for (const auto& args : {std::vector<std::string>{"--host"}, std::vector<std::string>{}}) {
    json j = statusJson("v2", args);
    EXPECT_EQ(j["kind"], "host");
    EXPECT_EQ(j["target"], "host");
    EXPECT_FALSE(j.contains("cgroup"));
    EXPECT_FALSE(j.contains("cgroup_version"));
    EXPECT_FALSE(j.contains("layout"));
    EXPECT_EQ(j["signals"]["limit_bytes"], 8192 * kMiB);
    EXPECT_EQ(j["signals"]["usage_ratio"], 0.25);
    EXPECT_EQ(j["signals"]["pgscan"], 1300);
    EXPECT_EQ(j["signals"]["events_oom_kill"], 3);
  }
}

TEST(StatusJson, V1Legacy) {
  json j = statusJson("v1", {"--cgroup", "batch/job"});
  EXPECT_EQ(j["cgroup_version"], "v1");
  EXPECT_EQ(j["layout"], "legacy");
  EXPECT_EQ(j["cgroup"], "/batch/job");
  EXPECT_EQ(j["signals"]["limit_bytes"], 64 * kMiB);  // hierarchical_memory_limit
  EXPECT_EQ(j["signals"]["usage_bytes"], 48 * kMiB);
  EXPECT_EQ(j["signals"]["working_set_ratio"], 0.625);
  EXPECT_EQ(j["signals"]["anon_bytes"], 32 * kMiB);
  EXPECT_EQ(j["signals"]["events_max"], 0);
  EXPECT_FALSE(j["signals"].contains("psi_some_avg10"));

  json b = statusJson("v1", {"--cgroup", "batch"});
  EXPECT_EQ(b["signals"]["events_max"], 20);
  EXPECT_EQ(b["signals"]["events_oom_kill"], 1);

  // The unlimited root: no limit, no ratios, never a zero limit.
  json root = statusJson("v1", {"--cgroup", "/"});
  EXPECT_EQ(root["cgroup"], "/");
  EXPECT_FALSE(root["signals"].contains("limit_bytes"));
  EXPECT_FALSE(root["signals"].contains("usage_ratio"));
  EXPECT_EQ(root["signals"]["usage_bytes"], 1024 * kMiB);

  json p = statusJson("v1", {"--pid", "5151"});
  EXPECT_EQ(p["cgroup"], "/batch/job");
  EXPECT_EQ(p["signals"]["proc_swap_bytes"], 1024 * 1024.0);
  json self = statusJson("v1", {"--self"});
  EXPECT_EQ(self["cgroup"], "/batch/job");
}

TEST(StatusJson, Hybrid) {
  json j = statusJson("hybrid", {"--cgroup", "system.slice/app.service"});
  EXPECT_EQ(j["cgroup_version"], "v1");
  EXPECT_EQ(j["layout"], "hybrid");
  EXPECT_EQ(j["signals"]["limit_bytes"], 128 * kMiB);
  EXPECT_EQ(j["signals"]["usage_ratio"], 0.75);
  EXPECT_FALSE(j["signals"].contains("memsw_usage_bytes"));
  json p = statusJson("hybrid", {"--pid", "6161"});
  EXPECT_EQ(p["cgroup"], "/system.slice/app.service");
  EXPECT_EQ(p["layout"], "hybrid");
  json self = statusJson("hybrid", {"--self"});
  EXPECT_EQ(self["cgroup"], "/system.slice/app.service");
}

// ---- the human table ----

TEST(StatusTable, ShowsLimitAndPercentages) {
  RunResult r = status("v2", {"--cgroup", "kubepods.slice/pod-x/app"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("kubepods.slice/pod-x/app (cgroup, cgroup /kubepods.slice/pod-x/app, v2 "
                        "unified layout)"));
  EXPECT_THAT(r.out, HasSubstr("  limit          256.0 MiB\n"));
  EXPECT_THAT(r.out, HasSubstr("  usage          192.0 MiB  (75.0% of limit)\n"));
  EXPECT_THAT(r.out, HasSubstr("  working set    160.0 MiB  (62.5% of limit)\n"));
  EXPECT_THAT(r.out, HasSubstr("  headroom       96.0 MiB\n"));
  EXPECT_THAT(r.out, HasSubstr("  oom kills      1\n"));
}

TEST(StatusTable, V1AndHybrid) {
  RunResult v1 = status("v1", {"--cgroup", "batch/job"});
  ASSERT_EQ(v1.exit_code, 0) << v1.err;
  EXPECT_THAT(v1.out, HasSubstr("v1 legacy layout"));
  EXPECT_THAT(v1.out, HasSubstr("  limit          64.0 MiB\n"));
  EXPECT_THAT(v1.out, HasSubstr("(75.0% of limit)"));
  EXPECT_THAT(v1.out, HasSubstr("  psi some       -\n"));

  RunResult root = status("v1", {"--cgroup", "/"});
  ASSERT_EQ(root.exit_code, 0) << root.err;
  EXPECT_THAT(root.out, HasSubstr("  limit          none (no cgroup limit on the path)\n"));
  EXPECT_THAT(root.out, HasSubstr("(- of limit)"));

  RunResult hy = status("hybrid", {"--cgroup", "system.slice/app.service"});
  ASSERT_EQ(hy.exit_code, 0) << hy.err;
  EXPECT_THAT(hy.out, HasSubstr("v1 hybrid layout"));
  EXPECT_THAT(hy.out, HasSubstr("  limit          128.0 MiB\n"));
  EXPECT_THAT(hy.out, HasSubstr("  working set    80.0 MiB  (62.5% of limit)\n"));
}

// ---- failures: exit 2 and a one-line reason ----

TEST(StatusErrors, BadFlags) {
  expectUsageFailure(status("v2", {"--bogus"}), "oomsentinel status: unknown argument '--bogus'");
  expectUsageFailure(status("v2", {"--pid", "abc"}),
                     "oomsentinel status: --pid needs a positive process id, got 'abc'");
  expectUsageFailure(status("v2", {"--pid", "0"}),
                     "oomsentinel status: --pid needs a positive process id, got '0'");
  expectUsageFailure(status("v2", {"--cgroup"}), "oomsentinel status: --cgroup needs a value");
  expectUsageFailure(status("v2", {"--host", "--self"}),
                     "oomsentinel status: give only one of --cgroup, --pid, --self, --host");
  expectUsageFailure(status("v2", {"--watch", "5ms"}),
                     "oomsentinel status: --watch: at least 10ms");
  expectUsageFailure(status("v2", {"--watch", "1"}),
                     "oomsentinel status: --watch: duration '1' needs a unit (ms, s, m, h)");
  expectUsageFailure(runBinary({"--bogus", "status"}),
                     "oomsentinel: unknown global flag '--bogus'");
  expectUsageFailure(runBinary({"frobnicate"}), "oomsentinel: unknown command 'frobnicate'");
  expectUsageFailure(runBinary({}), "oomsentinel: no command given");
}

TEST(StatusErrors, CountWithoutWatch) {
  RunResult r = status("v2", {"--count", "3"});
  expectUsageFailure(r, "oomsentinel status: --count goes with --watch");
  // The usage follows the reason.
  EXPECT_THAT(r.err, HasSubstr("usage: oomsentinel"));
}

TEST(StatusErrors, MissingCgroup) {
  RunResult r = status("v2", {"--cgroup", "kubepods.slice/nope"});
  expectUsageFailure(r, "oomsentinel status: " + cgroupRoot("v2") +
                            "/kubepods.slice/nope: no such cgroup (No such file or directory)");
  EXPECT_EQ(statusLines(r.err).size(), 1u) << r.err;
}

TEST(StatusErrors, V2RootPointsAtTheHost) {
  RunResult r = status("v2", {"--cgroup", "/"});
  expectUsageFailure(r, "oomsentinel status: " + cgroupRoot("v2") +
                            ": the cgroup v2 root has no memory.current; watch the host instead "
                            "(--host) (No such file or directory)");
}

TEST(StatusErrors, ATreeThatIsNeitherV1NorV2) {
  TempDir t;
  t.write("cpu/cpu.shares", "1024\n");
  RunResult r = runBinary({"--cgroup-root", t.path(), "--proc-root", procRoot("v2"), "status",
                           "--cgroup", "x", "--json"});
  expectUsageFailure(r, "oomsentinel status: " + t.path() +
                            ": neither a cgroup v2 tree (cgroup.controllers) nor a v1 memory "
                            "hierarchy (memory.limit_in_bytes, memory/memory.limit_in_bytes)");
  EXPECT_EQ(statusLines(r.err).size(), 1u) << r.err;
}

TEST(StatusErrors, MissingProcess) {
  RunResult r = status("v2", {"--pid", "99999"});
  expectUsageFailure(r, "oomsentinel status: " + procRoot("v2") +
                            "/99999/cgroup: no such process (No such process)");
  EXPECT_EQ(statusLines(r.err).size(), 1u) << r.err;
}

// ---- --watch ----

TEST(StatusWatch, CountSamplesOfJson) {
  RunResult r = status(
      "v2", {"--cgroup", "kubepods.slice/pod-x/app", "--watch", "10ms", "--count", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = statusLines(r.out);
  ASSERT_EQ(ls.size(), 3u) << r.out;
  double last = 0;
  for (const auto& l : ls) {
    json j = json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << l;
    EXPECT_EQ(j["signals"]["usage_bytes"], 192 * kMiB);
    double t = j["unix_time"].get<double>();
    EXPECT_GE(t, last);
    last = t;
  }
}

TEST(StatusWatch, HumanRowsUnderOneHeader) {
  RunResult r =
      status("hybrid", {"--cgroup", "system.slice/app.service", "--watch", "10ms", "--count", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = statusLines(r.out);
  std::size_t header = 0, rows = 0;
  for (std::size_t i = 0; i < ls.size(); ++i)
    if (ls[i].rfind("time ", 0) == 0 && ls[i].find("working set") != std::string::npos) header = i;
  ASSERT_GT(header, 0u) << r.out;
  for (std::size_t i = header + 1; i < ls.size(); ++i) {
    EXPECT_THAT(ls[i], HasSubstr("128.0 MiB"));  // the limit column
    EXPECT_THAT(ls[i], HasSubstr("62.5%"));
    ++rows;
  }
  EXPECT_EQ(rows, 2u) << r.out;
}

// Waits until a file named `name` in the directory watched by `fd` is read, or `timeout_ms`.
bool waitForRead(int fd, const std::string& name, int timeout_ms) {
  alignas(inotify_event) char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    for (ssize_t off = 0; n > 0 && off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buf + off);
      if (ev->len > 0 && name == ev->name) return true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
}

TEST(StatusWatch, ACgroupRemovedWhileWatchingExits1) {
  TempDir t;
  fs::copy(fixture("trees/v2"), t.path() + "/v2",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::string app = t.path() + "/v2/cgroup/kubepods.slice/pod-x/app";
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ASSERT_GE(in, 0);
  ASSERT_GE(inotify_add_watch(in, app.c_str(), IN_ACCESS), 0);
  // cgroup.procs is the tick's last cgroup file: once it is read, the first sample is taken
  // from a complete cgroup and the next one must find it gone.
  bool seen = false;
  std::thread remover([&] {
    seen = waitForRead(in, "cgroup.procs", 30000);
    std::error_code ec;
    fs::remove_all(app, ec);
  });
  RunResult r = runBinary({"--cgroup-root", t.path() + "/v2/cgroup", "--proc-root",
                           t.path() + "/v2/proc", "status", "--cgroup", "kubepods.slice/pod-x/app",
                           "--watch", "10ms", "--count", "3000", "--json"});
  remover.join();
  close(in);
  ASSERT_TRUE(seen) << "oomsentinel never read cgroup.procs: " << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_GE(statusLines(r.out).size(), 1u);  // it was watching before the cgroup went
  EXPECT_LT(statusLines(r.out).size(), 3000u);
  auto ls = statusLines(r.err);
  ASSERT_EQ(ls.size(), 1u) << r.err;
  EXPECT_EQ(ls[0], "oomsentinel status: kubepods.slice/pod-x/app: target is gone: " + app +
                       ": cgroup is gone (No such file or directory)");
}

// ---- help and version ----

TEST(StatusHelp, HelpFlagAndHelpCommand) {
  RunResult a = status("v2", {"--help"});
  RunResult b = runBinary({"help", "status"});
  for (const RunResult* r : {&a, &b}) {
    EXPECT_EQ(r->exit_code, 0) << r->err;
    EXPECT_EQ(r->err, "");
    EXPECT_EQ(r->out.rfind("usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] status\n", 0),
              0u)
        << r->out;
    EXPECT_THAT(r->out, HasSubstr("--watch INTERVAL"));
    EXPECT_THAT(r->out, HasSubstr("--count N"));
  }
  EXPECT_EQ(a.out, b.out);
  // --help wins over an otherwise bad command line.
  RunResult c = status("v2", {"--bogus", "--help"});
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_EQ(c.out, a.out);
}

TEST(StatusHelp, Version) {
  RunResult r = runBinary({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("oomsentinel [0-9]+\\.[0-9]+\\.[0-9]+\n")))
      << r.out;
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace oomsentinel
