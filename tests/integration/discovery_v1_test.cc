// Real kernel, cgroup v1: nested memory cgroups with a sleeping process in each, found by
// cgroup_glob, by a process regex over their command lines, and by resolvePidCgroup.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "collectors/discovery.h"
#include "collectors/layout.h"
#include "tests/integration/background.h"
#include "tests/integration/real_cgroup.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using oomsentinel::testing::RealV1Cgroup;

// oomsentinel-discovery-test-<our pid>/{a,b,b/c} under the v1 memory root, one /bin/sleep in
// a, b/c and b each, whose argv[0] is a marker; all killed and removed by the destructor.
class NestedCgroups {
 public:
  NestedCgroups() {
    top_ = "oomsentinel-discovery-test-" + std::to_string(::getpid());
    for (const char* sub : {"", "/a", "/b", "/b/c"}) {
      std::string dir = std::string(RealV1Cgroup::kRoot) + "/" + top_ + sub;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        error_ = "mkdir " + dir + ": " + std::strerror(errno);
        return;
      }
      made_.push_back(dir);
    }
  }
  ~NestedCgroups() {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    for (auto it = made_.rbegin(); it != made_.rend(); ++it)
      for (int i = 0; i < 100 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  NestedCgroups(const NestedCgroups&) = delete;
  NestedCgroups& operator=(const NestedCgroups&) = delete;

  const std::string& top() const { return top_; }
  const std::string& error() const { return error_; }
  std::string marker(const std::string& sub) const {
    std::string m = "oomsentinel-discovery-marker-" + std::to_string(::getpid()) + "-" + sub;
    std::replace(m.begin(), m.end(), '/', '_');
    return m;
  }

  // /bin/sleep in <top>/<sub>, with argv[0] = marker(sub) (comm stays "sleep").
  pid_t spawn(const std::string& sub) {
    std::string procs = std::string(RealV1Cgroup::kRoot) + "/" + top_ + "/" + sub + "/cgroup.procs";
    std::string argv0 = marker(sub);
    char* argv[] = {argv0.data(), const_cast<char*>("600"), nullptr};
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
      ::close(fd);
      ::execv("/bin/sleep", argv);
      _exit(127);
    }
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

 private:
  std::string top_, error_;
  std::vector<std::string> made_;
  std::vector<pid_t> children_;
};

TEST(DiscoveryV1Real, GlobProcessRegexAndPidCgroupFindNestedChildren) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  if (::access("/bin/sleep", X_OK) != 0) GTEST_SKIP() << "no /bin/sleep to run in the cgroups";
  NestedCgroups cg;
  ASSERT_EQ(cg.error(), "");
  const std::vector<std::string> subs = {"a", "b", "b/c"};
  std::vector<pid_t> pids;
  for (const auto& s : subs) {
    pids.push_back(cg.spawn(s));
    ASSERT_GT(pids.back(), 0);
  }

  HostPaths paths;  // the real /proc and /sys/fs/cgroup
  auto layout = detectLayout(paths);
  ASSERT_TRUE(layout.ok()) << layout.error().describe();
  ASSERT_EQ(layout->memory_version, CgroupVersion::kV1);

  auto globbed = discoverCgroupGlob(*layout, "it", cg.top() + "/**");
  ASSERT_TRUE(globbed.ok()) << globbed.error().describe();
  std::vector<std::string> names, cgroups;
  for (const auto& d : *globbed) {
    names.push_back(d.target.name);
    cgroups.push_back(d.target.cgroup);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"it", "it/a", "it/b", "it/b/c"}));
  EXPECT_EQ(cgroups, (std::vector<std::string>{cg.top(), cg.top() + "/a", cg.top() + "/b",
                                               cg.top() + "/b/c"}));

  // The children may still be between fork and exec: wait until all three show the marker.
  const std::string regex = "^oomsentinel-discovery-marker-" + std::to_string(::getpid()) + "-";
  std::vector<Discovered> found;
  for (int i = 0; i < 100; ++i) {
    auto r = discoverProcesses(paths, *layout, "sleepers", regex);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    found = *r;
    if (found.size() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(found.size(), 3u);
  std::vector<pid_t> sorted = pids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(found[i].target.pid, sorted[i]);
    EXPECT_EQ(found[i].target.name, "sleepers/" + std::to_string(sorted[i]));
  }

  for (std::size_t i = 0; i < subs.size(); ++i) {
    auto r = resolvePidCgroup(paths, *layout, pids[i]);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->relative, "/" + cg.top() + "/" + subs[i]);
  }
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

// The whole daemon on the same nested cgroups: `oomsentinel run` with a cgroup_glob and a
// process selector, read through /metrics; a cgroup that goes away takes its series with it.
TEST(DiscoveryV1Real, TheDaemonWatchesWhatItFindsAndDropsWhatGoes) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  if (::access("/bin/sleep", X_OK) != 0) GTEST_SKIP() << "no /bin/sleep to run in the cgroups";
  NestedCgroups cg;
  ASSERT_EQ(cg.error(), "");
  pid_t in_c = -1;
  for (const char* sub : {"a", "b", "b/c"}) {
    pid_t p = cg.spawn(sub);
    ASSERT_GT(p, 0);
    if (std::string(sub) == "b/c") in_c = p;
  }
  testing::TempDir dir;
  int port = testing::freeLoopbackPort();
  dir.write("oomsentinel.yaml",
            "poll: {interval: 100ms, fast_interval: 100ms}\n"
            "discovery: {interval: 200ms}\n"
            "targets:\n"
            "  - {name: nest, cgroup_glob: \"" +
                cg.top() +
                "/**\"}\n"
                "  - {name: sleeper, process: \"^" +
                cg.marker("a") +
                " \"}\n"
                "rules:\n"
                "  - {name: big, expr: usage_bytes > 1TiB, actions: [log]}\n"
                "alerts: {metrics: {listen: \"127.0.0.1:" +
                std::to_string(port) + "\"}}\n");
  std::string metrics_url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  testing::DaemonProcess daemon(
      {testing::runArgs("", dir.path() + "/oomsentinel.yaml"), dir.path() + "/daemon.log"});
  ASSERT_TRUE(testing::waitForHttp(metrics_url, 10)) << testing::slurp(dir.path() + "/daemon.log");
  auto series = [&](const std::string& target) {
    return "oomsentinel_memory_usage_bytes{target=\"" + target + "\"}";
  };
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text = testing::httpGet(metrics_url).value_or("");
    if (text.find(series("nest/b/c")) != std::string::npos &&
        text.find(series("sleeper")) != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const char* t : {"nest", "nest/a", "nest/b", "nest/b/c", "sleeper"})
    EXPECT_THAT(text, HasSubstr(series(t))) << t << "\n"
                                            << text << testing::slurp(dir.path() + "/daemon.log");

  // b/c goes: its process killed, the cgroup removed.
  ::kill(in_c, SIGKILL);
  ::waitpid(in_c, nullptr, 0);
  std::string c = std::string(RealV1Cgroup::kRoot) + "/" + cg.top() + "/b/c";
  for (int i = 0; i < 100 && ::rmdir(c.c_str()) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    text = testing::httpGet(metrics_url).value_or("");
    gone = !text.empty() && text.find(series("nest/b/c")) == std::string::npos;
  }
  EXPECT_TRUE(gone) << text;
  EXPECT_THAT(text, HasSubstr(series("nest/b"))) << "the others stay";
  // Its reads fail at once (the series' gauges go); the next look drops the target itself.
  std::string log;
  for (int i = 0; i < 50; ++i) {
    log = testing::slurp(dir.path() + "/daemon.log");
    if (log.find("discovered target went away target=nest/b/c") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(log, HasSubstr("discovered target went away target=nest/b/c"));
  EXPECT_THAT(log, Not(HasSubstr("went away target=nest/b ")));
}

}  // namespace
}  // namespace oomsentinel
