// The `run` process as root keeps only the capabilities it needs after start-up, in every one
// of its threads, and sets no_new_privs.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "core/host_paths.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using namespace std::chrono_literals;
using oomsentinel::testing::slurp;
using oomsentinel::testing::TempDir;

// The hex mask of a "CapXxx:" line of a status file.
std::uint64_t capField(const std::string& status, const std::string& key) {
  auto at = status.find(key + ":\t");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(status.substr(at + key.size() + 2, 16), nullptr, 16);
}

TEST(RunPrivileges, KeepsOnlyTheCapabilitiesItNeedsInEveryThread) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: as another user there is nothing to drop";
  TempDir dir;
  testing::writeAppCgroup(dir, 1000);
  dir.write("c.yaml", "targets:\n  - name: app\n    cgroup: /app\n");
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(
      {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log});
  const pid_t pid = daemon.pid();
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(oomsentinel::testing::eventually([&] {
    return slurp(log).find("dropped root's other capabilities") != std::string::npos;
  })) << slurp(log);
  EXPECT_THAT(slurp(log),
              HasSubstr("kept=sys_ptrace,dac_read_search,chown,fowner,kill,setuid,setgid,"
                        "sys_admin,sys_chroot,net_bind_service"));

  std::uint64_t wanted = 0;
  for (int cap : {CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_CHOWN, CAP_FOWNER, CAP_KILL, CAP_SETUID,
                  CAP_SETGID, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_NET_BIND_SERVICE})
    wanted |= 1ull << cap;
  // What this machine gives root at all (a container may hold back some).
  wanted &= capField(slurp(HostPaths().proc(0, "status")), "CapPrm");

  HostPaths paths;
  std::string status = slurp(paths.proc(pid, "status"));
  EXPECT_EQ(capField(status, "CapEff"), wanted) << status;
  EXPECT_EQ(capField(status, "CapPrm"), wanted) << status;
  EXPECT_EQ(capField(status, "CapBnd"), wanted) << status;
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1"));
  // Capabilities belong to each thread: every one of them, started after the drop, has no more.
  int threads = 0;
  for (const auto& t : std::filesystem::directory_iterator(paths.proc(pid, "task"))) {
    std::string ts = slurp(t.path().string() + "/status");
    if (ts.empty()) continue;
    ++threads;
    EXPECT_EQ(capField(ts, "CapEff"), wanted) << t.path();
    EXPECT_EQ(capField(ts, "CapBnd"), wanted) << t.path();
  }
  EXPECT_GT(threads, 1);

  int st = daemon.stop();
  EXPECT_TRUE(testing::exitedWith(st, 0)) << st;
}

TEST(RunPrivileges, UnderTheUnitsBoundingSetSaysOnceWhatItsChildrenCannotDo) {
  // As systemd starts it with systemd/oomsentinel.service's CapabilityBoundingSet=: the log names
  // what it really kept, and that jcmd cannot enter a JVM's namespaces (no jvm-dumper.conf).
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  testing::writeAppCgroup(dir, 1000);
  dir.write("c.yaml", "targets:\n  - name: app\n    cgroup: /app\n");
  std::string log = dir.path() + "/log";
  testing::DaemonOptions options{testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log};
  options.in_child = [] {
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
      if (cap != CAP_KILL && cap != CAP_SYS_PTRACE && cap != CAP_DAC_READ_SEARCH &&
          cap != CAP_SETUID && cap != CAP_SETGID && cap != CAP_FOWNER)
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  };
  testing::DaemonProcess daemon(std::move(options));
  ASSERT_TRUE(daemon.started());
  bool said = oomsentinel::testing::eventually(
      [&] { return slurp(log).find("dumpers' children are limited") != std::string::npos; });
  std::string text = slurp(log);
  daemon.stop();
  ASSERT_TRUE(said) << text;
  EXPECT_THAT(text, HasSubstr("kept=sys_ptrace,dac_read_search,fowner,kill,setuid,setgid\n"));
  EXPECT_THAT(text,
              HasSubstr("limits=\"jcmd cannot enter a JVM's mount and pid namespaces: no "
                        "CAP_SYS_ADMIN/CAP_SYS_CHROOT (systemd/jvm-dumper.conf gives them)\""));
  std::size_t first = text.find("dumpers' children are limited");
  EXPECT_EQ(text.find("dumpers' children are limited", first + 1), std::string::npos) << text;
}

}  // namespace
}  // namespace oomsentinel
