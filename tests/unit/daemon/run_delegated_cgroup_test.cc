// The `run` process started in a cgroup systemd delegated to it (the unit's Delegate=yes) moves
// itself into the leaf <that cgroup>/daemon, where its children's cgroups go beside it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>

#include "core/host_paths.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;
using oomsentinel::testing::TempDir;

TEST(RunDelegatedCgroup, TheDaemonMovesIntoItsLeafAtStart) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a cgroup";
  HostPaths paths;
  std::string v2;
  for (std::string r : {paths.cgroupRoot(), joinPath(paths.cgroupRoot(), "unified")}) {
    struct stat st;
    if (::stat(joinPath(r, "cgroup.controllers").c_str(), &st) == 0) {
      v2 = r;
      break;
    }
  }
  std::string own;
  std::istringstream lines(slurp(paths.proc(0, "cgroup")));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  if (v2.empty() || own.empty())
    GTEST_SKIP() << "no cgroup v2 tree here (neither /sys/fs/cgroup nor /sys/fs/cgroup/unified is "
                    "one)";
  const std::string name = "oomsentinel-run-test-" + std::to_string(::getpid()) + ".service";
  const std::string service = joinPath(joinPath(v2, own), name);
  if (::mkdir(service.c_str(), 0755) != 0)
    GTEST_SKIP() << "cannot make a cgroup under " << joinPath(v2, own) << ": "
                 << std::strerror(errno);
  struct Cleanup {
    std::string service;
    pid_t pid = -1;
    ~Cleanup() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
      ::rmdir(joinPath(service, "daemon").c_str());
      ::rmdir(service.c_str());
    }
  } cleanup{service};
  // As systemd (>= 251) marks a cgroup it delegated.
  ASSERT_EQ(::setxattr(service.c_str(), "user.delegate", "1", 1, 0), 0) << std::strerror(errno);

  TempDir dir;
  // Its hook as uid 0 could write the service's cgroup files: said at start.
  dir.write("c.yaml",
            "targets:\n  - name: host\n    host: true\n"
            "    exec: {argv: [/bin/true], user: root}\n");
  std::string log = dir.path() + "/log";
  std::string procs = joinPath(service, "cgroup.procs");
  pid_t pid = ::fork();
  if (pid == 0) {
    // Where systemd starts ExecStart=: the service's own cgroup.
    int cg = ::open(procs.c_str(), O_WRONLY);
    if (cg < 0 || ::write(cg, "0", 1) != 1) ::_exit(126);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    std::string bin = oomsentinel::testing::binaryPath();
    std::string cfg = dir.path() + "/c.yaml";
    ::execl(bin.c_str(), bin.c_str(), "run", "--config", cfg.c_str(), "--state-file", "none",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  cleanup.pid = pid;
  ASSERT_TRUE(oomsentinel::testing::eventually([&] {
    return slurp(log).find("entered the leaf of its delegated cgroup") != std::string::npos;
  })) << slurp(log);
  std::string where = slurp(paths.proc(pid, "cgroup"));
  EXPECT_NE(where.find("/" + name + "/daemon\n"), std::string::npos) << where;
  // The service's cgroup keeps no process of its own.
  EXPECT_EQ(slurp(procs), "");
  EXPECT_EQ(slurp(joinPath(service, "daemon/cgroup.procs")), std::to_string(pid) + "\n");
  EXPECT_TRUE(oomsentinel::testing::eventually([&] {
    return slurp(log).find("an exec hook runs as uid 0 under the delegated cgroup") !=
           std::string::npos;
  })) << slurp(log);
}

}  // namespace
}  // namespace oomsentinel
