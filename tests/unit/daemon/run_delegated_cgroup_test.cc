// The `run` process started in a cgroup systemd delegated to it (the unit's Delegate=yes) moves
// itself into the leaf <that cgroup>/daemon, where its children's cgroups go beside it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>

#include "core/host_paths.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::DaemonOptions;
using oomsentinel::testing::DaemonProcess;
using oomsentinel::testing::slurp;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;

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
    // Dropped (killed and reaped) before the cgroups it was in are removed.
    std::unique_ptr<DaemonProcess> daemon;
    ~Cleanup() {
      daemon.reset();
      ::rmdir(joinPath(service, "daemon").c_str());
      ::rmdir(service.c_str());
    }
  } cleanup{service, nullptr};
  // As systemd (>= 251) marks a cgroup it delegated.
  ASSERT_EQ(::setxattr(service.c_str(), "user.delegate", "1", 1, 0), 0) << std::strerror(errno);

  TempDir dir;
  // Its hook as uid 0 could write the service's cgroup files: said at start.
  dir.write("c.yaml",
            "targets:\n  - name: host\n    host: true\n"
            "    exec: {argv: [/bin/true], user: root}\n");
  std::string log = dir.path() + "/log";
  std::string procs = joinPath(service, "cgroup.procs");
  DaemonOptions options(oomsentinel::testing::runArgs("", dir.path() + "/c.yaml"), log);
  // Where systemd starts ExecStart=: the service's own cgroup.
  options.in_child = [procs] {
    int cg = ::open(procs.c_str(), O_WRONLY);
    if (cg < 0 || ::write(cg, "0", 1) != 1) ::_exit(126);
  };
  cleanup.daemon = std::make_unique<DaemonProcess>(std::move(options));
  DaemonProcess& daemon = *cleanup.daemon;
  ASSERT_TRUE(daemon.started());
  const pid_t pid = daemon.pid();
  ASSERT_TRUE(daemon.waitForLog("entered the leaf of its delegated cgroup")) << daemon.log();
  std::string where = slurp(paths.proc(pid, "cgroup"));
  EXPECT_THAT(where, HasSubstr("/" + name + "/daemon\n"));
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
