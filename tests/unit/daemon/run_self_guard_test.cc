// Issue 19, fault 13: the daemon's own cgroup at its memory limit with 1000 targets. The real
// daemon runs in a real cgroup v1 memory cgroup of its own, watching 1000 real (empty) v1 cgroups
// found by a cgroup_glob and one more, "hot"; its limit is then lowered to just above its working
// set. It must degrade (say so, the gauge at 1, skims only, a dump refused with the reason) and go
// on ticking without being OOM-killed; the limit raised, it leaves degraded mode. Needs root and
// the v1 memory controller at /sys/fs/cgroup/memory (skips saying which is missing).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::eventually;
using ::testing::HasSubstr;
using testing::slurp;
using testing::TempDir;

constexpr const char* kV1 = "/sys/fs/cgroup/memory";
constexpr int kTargets = 1000;

// Real v1 memory cgroups made under kV1, removed (children first) by the destructor.
class V1Dirs {
 public:
  ~V1Dirs() {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    for (auto it = made_.rbegin(); it != made_.rend(); ++it)
      for (int i = 0; i < 100 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool make(const std::string& rel) {
    std::string dir = std::string(kV1) + "/" + rel;
    if (::mkdir(dir.c_str(), 0755) != 0) return false;
    made_.push_back(dir);
    return true;
  }
  // /bin/sleep moved into `rel` before its exec.
  void spawnSleep(const std::string& rel) {
    std::string procs = std::string(kV1) + "/" + rel + "/cgroup.procs";
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
      ::close(fd);
      ::execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) children_.push_back(pid);
  }

 private:
  std::vector<std::string> made_;
  std::vector<pid_t> children_;
};

// write(2) of `text` to a cgroup file; errno on failure, 0 on success.
int writeFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0 : errno;
  ::close(fd);
  return err;
}

// A "key value" line's value from a file such as memory.stat or oom_control (-1: none).
double keyed(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  double v;
  while (in >> k >> v)
    if (k == key) return v;
  return -1;
}

double number(const std::string& path) { return std::atof(slurp(path).c_str()); }

// A sample's value from the exposition ("name{labels} value" or "name value"); NaN: absent.
double sample(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::atof(line.c_str() + series.size() + 1);
  return std::nan("");
}

struct Figures {
  double usage, working_set, rss_kib;
};

Figures measure(const std::string& cg, pid_t pid) {
  double usage = number(cg + "/memory.usage_in_bytes");
  double inactive = keyed(slurp(cg + "/memory.stat"), "total_inactive_file");
  double rss = keyed(
      [&] {
        std::string s = slurp("/proc/" + std::to_string(pid) + "/status"), out;
        std::istringstream in(s);
        std::string line;
        while (std::getline(in, line))
          if (line.rfind("VmRSS:", 0) == 0) out = "VmRSS: " + line.substr(6);
        return out;
      }(),
      "VmRSS:");
  return {usage, usage - std::max(0.0, inactive), rss};
}

// The first line of `log` holding `text` ("" if none).
std::string lineWith(const std::string& log, const std::string& text) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find(text) != std::string::npos) return line;
  return "";
}

std::string mib(double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  return buf;
}

TEST(RunSelfGuard, NearItsOwnLimitWith1000TargetsItDegradesInsteadOfBeingOomKilled) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make cgroups";
  if (::access((std::string(kV1) + "/memory.limit_in_bytes").c_str(), F_OK) != 0)
    GTEST_SKIP() << "no cgroup v1 memory controller at " << kV1;
  if (::access("/bin/sleep", X_OK) != 0) GTEST_SKIP() << "no /bin/sleep to run in a cgroup";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The daemon's own memory is what this test measures, and a sanitizer's is not the daemon's:
  // under ASan the same 1001 targets took 347 MiB (its quarantine holds what is freed, and its
  // shadow memory scales with the heap), so a limit at 93% of that has the daemon reclaiming the
  // sanitizer's memory, not degrading on its own (its /metrics went unanswered). Release builds run
  // it.
  GTEST_SKIP() << "the daemon's own memory under a sanitizer is mostly the sanitizer's";
#endif

  const std::string tag = std::to_string(::getpid());
  const std::string own = "oomsentinel-selfguard-daemon-" + tag;
  const std::string top = "oomsentinel-selfguard-targets-" + tag;
  V1Dirs dirs;
  ASSERT_TRUE(dirs.make(own)) << std::strerror(errno);
  ASSERT_TRUE(dirs.make(top)) << std::strerror(errno);
  ASSERT_TRUE(dirs.make(top + "/hot")) << std::strerror(errno);
  for (int i = 0; i < kTargets; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "/t%04d", i);
    ASSERT_TRUE(dirs.make(top + name)) << name << ": " << std::strerror(errno);
  }
  const std::string cg = std::string(kV1) + "/" + own;
  ASSERT_EQ(writeFile(cg + "/memory.limit_in_bytes", "1G"), 0);

  TempDir dir;
  const int port = testing::freeLoopbackPort();
  dir.write("c.yaml",
            "poll:\n  interval: 200ms\n  fast_interval: 200ms\n"
            "alerts:\n  metrics: { listen: \"127.0.0.1:" +
                std::to_string(port) +
                "\" }\n"
                "dump:\n  dir: " +
                dir.path() +
                "/incidents\n"
                "targets:\n"
                "  - name: many\n    cgroup_glob: \"" +
                top +
                "/t*\"\n"
                "  - name: hot\n    cgroup: /" +
                top +
                "/hot\n    dumpers: [proc]\n"
                "rules:\n  - name: used\n    expr: usage_bytes > 0\n"
                "    actions: [log, dump]\n    targets: [hot]\n");
  const std::string procs = cg + "/cgroup.procs";
  testing::DaemonOptions options(
      {"run", "--config", dir.path() + "/c.yaml", "--state-file", dir.path() + "/state.json"},
      dir.path() + "/log");
  options.in_child = [procs] {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
    ::close(fd);
  };
  testing::DaemonProcess daemon(std::move(options));
  ASSERT_TRUE(daemon.started());
  auto metrics = [&] { return testing::httpGetLocal(port, "/metrics"); };
  // Every target found and read in full once (each has a series of its own then).
  ASSERT_TRUE(eventually(
      [&] { return sample(metrics(), "oomsentinel_targets{state=\"resolved\"}") >= kTargets + 1; },
      1500))
      << daemon.log();
  std::this_thread::sleep_for(
      std::chrono::seconds(2));  // a few ticks of 1001 reads: its working size
  Figures before = measure(cg, daemon.pid());
  std::cout << "[ figures  ] 1001 targets, not degraded: cgroup usage " << mib(before.usage)
            << ", working set " << mib(before.working_set) << ", VmRSS " << before.rss_kib
            << " KiB\n";
  EXPECT_EQ(sample(metrics(), "oomsentinel_degraded"), 0);

  // The limit lowered to just above the working set: 93% of it, over the 90% mark.
  double limit = std::ceil(before.working_set / 0.93 / 4096) * 4096;
  int err = EBUSY;
  for (int i = 0; i < 20 && err == EBUSY; ++i, limit += 256 * 1024)
    err = writeFile(cg + "/memory.limit_in_bytes", std::to_string(static_cast<long long>(limit)));
  ASSERT_EQ(err, 0) << std::strerror(err);
  ASSERT_TRUE(daemon.waitForLog("degraded: own memory", std::chrono::seconds(10))) << daemon.log();
  EXPECT_THAT(daemon.log(), HasSubstr("reading targets by skim only, no dumps"));
  ASSERT_TRUE(eventually([&] { return sample(metrics(), "oomsentinel_degraded") == 1; }));
  EXPECT_EQ(testing::httpGetLocal(port, "/healthz").rfind("ok: ", 0), 0u);
  EXPECT_THAT(testing::httpGetLocal(port, "/readyz"), HasSubstr("degraded: own memory"));
  ASSERT_TRUE(eventually([&] {
    return slurp(dir.path() + "/state.json").find("\"degraded\"") != std::string::npos;
  })) << "the state file (for status) says so too";

  // The hot target's rule fires on its skim; its dump is refused with the reason.
  dirs.spawnSleep(top + "/hot");
  ASSERT_TRUE(daemon.waitForLog("dump not started", std::chrono::seconds(10))) << daemon.log();
  EXPECT_THAT(daemon.log(), HasSubstr("why=\"degraded: own memory"));
  EXPECT_GE(sample(metrics(), "oomsentinel_degraded_dropped_total{what=\"dump\"}"), 1);
  // Ticks go on, skimming: the dropped full reads keep counting.
  double dropped = sample(metrics(), "oomsentinel_degraded_dropped_total{what=\"full_read\"}");
  ASSERT_TRUE(eventually([&] {
    return sample(metrics(), "oomsentinel_degraded_dropped_total{what=\"full_read\"}") > dropped;
  }));
  Figures during = measure(cg, daemon.pid());
  std::cout << "[ figures  ] degraded under a limit of " << mib(limit) << ": cgroup usage "
            << mib(during.usage) << ", working set " << mib(during.working_set) << ", VmRSS "
            << during.rss_kib << " KiB\n";
  EXPECT_TRUE(daemon.running());
  EXPECT_EQ(keyed(slurp(cg + "/memory.oom_control"), "oom_kill"), 0) << "the daemon was OOM-killed";
  std::string incidents = dir.path() + "/incidents";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(incidents, ec))
    ADD_FAILURE() << "a dump began while degraded: " << e.path();

  std::cout << "[ log      ] " << lineWith(daemon.log(), "degraded: own memory") << "\n";
  // The limit raised: it leaves degraded mode, full reads resume.
  ASSERT_EQ(writeFile(cg + "/memory.limit_in_bytes", "1G"), 0);
  ASSERT_TRUE(daemon.waitForLog("no longer degraded", std::chrono::seconds(10))) << daemon.log();
  ASSERT_TRUE(eventually([&] { return sample(metrics(), "oomsentinel_degraded") == 0; }));
  dropped = sample(metrics(), "oomsentinel_degraded_dropped_total{what=\"full_read\"}");
  std::this_thread::sleep_for(std::chrono::seconds(1));  // five ticks: none drops a full read
  EXPECT_EQ(sample(metrics(), "oomsentinel_degraded_dropped_total{what=\"full_read\"}"), dropped);
  EXPECT_TRUE(daemon.running());
  EXPECT_EQ(keyed(slurp(cg + "/memory.oom_control"), "oom_kill"), 0);
  std::cout << "[ log      ] " << lineWith(daemon.log(), "no longer degraded") << "\n";
  daemon.stop();
}

}  // namespace
}  // namespace oomsentinel
