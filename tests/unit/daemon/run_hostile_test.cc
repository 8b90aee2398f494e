// Hostile targets, end to end: a real daemon watching a "container" (a busybox chroot in a mount
// namespace of its own) that attacks it through what it controls. Whatever the container does,
// nothing from outside its root reaches a bundle or a log, and the daemon keeps ticking.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/busybox_container.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using testing::slurp;
using testing::startContainer;
using testing::TempDir;

constexpr const char* kSecret = "HOST-SECRET-f00d";

// Every regular file under `dir`, read whole.
std::string everythingUnder(const std::string& dir) {
  std::string all;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) all += slurp(it->path().string());
  }
  return all;
}

class RunHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: chroot and a mount namespace for the target";
    if (auto why = testing::busyboxUnavailable(); !why.empty()) GTEST_SKIP() << why;
    secret_ = dir_.path() + "/host-secret";
    dir_.write("host-secret", std::string(kSecret) + "\n");
    root_ = testing::makeBusyboxRoot(dir_.path(), {"sh", "ln", "sleep", "mkdir", "mkfifo"});
  }
  void TearDown() override {
    daemon_.reset();
    testing::killAndReap(target_);
  }
  // A config that dumps the target with gperftools as soon as it is seen.
  std::string dumpConfig(pid_t target) {
    std::string cfg = dir_.path() + "/c.yaml";
    dir_.write("c.yaml",
               "poll: {interval: 100ms}\n"
               "dump: {dir: " +
                   dir_.path() +
                   "/incidents, min_free: 1MiB, timeout: 5s}\n"
                   "targets:\n  - name: box\n    pid: " +
                   std::to_string(target) +
                   "\n"
                   "    dumpers: [gperftools]\n"
                   "    gperftools: {heap_prefix: /tmp/heap, signal: SIGUSR2}\n"
                   "rules:\n  - name: now\n    expr: rss_bytes > 0\n    actions: [dump]\n");
    return cfg;
  }

  // The container answers the heap-profile signal with a link to a host file where the profile
  // is expected; root used to follow it and publish the host file as heap.prof.
  void expectNoSecretAfterADump(const std::string& link_target) {
    std::string script =
        "trap 'ln -s " + link_target + " /tmp/heap.0001.heap' USR2; while :; do sleep 1; done";
    target_ = startContainer(root_, script, {"HEAPPROFILE=/tmp/heap", "HEAPPROFILESIGNAL=12"});
    ASSERT_GT(target_, 0);
    std::string log = dir_.path() + "/log";
    daemon_.emplace(testing::DaemonOptions{testing::runArgs("", dumpConfig(target_)), log});
    ASSERT_TRUE(daemon_->waitForLog("incident bundle published")) << daemon_->log();
    std::string bundles = everythingUnder(dir_.path() + "/incidents");
    EXPECT_THAT(bundles, Not(HasSubstr(kSecret))) << "a host file reached the bundle";
    EXPECT_THAT(slurp(log), Not(HasSubstr(kSecret))) << "a host file reached the log";
    EXPECT_TRUE(daemon_->running()) << "the daemon stopped";
  }

  TempDir dir_;
  std::string secret_, root_;
  pid_t target_ = -1;
  std::optional<testing::DaemonProcess> daemon_;
};

TEST_F(RunHostile, AnAbsoluteSymlinkAtTheHeapProfileDoesNotPublishAHostFile) {
  expectNoSecretAfterADump(secret_);
}

TEST_F(RunHostile, ASymlinkThroughAProcRootMagicLinkDoesNotPublishAHostFile) {
  // Resolved by the daemon, /proc/<pid>/root of a host process (/proc/1/root on a node; this
  // test's own here, where pid 1 belongs to another user namespace) is the host's root.
  expectNoSecretAfterADump("/proc/" + std::to_string(::getpid()) + "/root" + secret_);
}

TEST_F(RunHostile, ARelativeSymlinkClimbingOutDoesNotPublishAHostFile) {
  // Inside the chroot ".." stops at its root; seen from the host through /proc/PID/root, the
  // chroot is a plain directory and ".." climbs out of it.
  std::string up;
  for (int i = 0; i < 24; ++i) up += "../";
  expectNoSecretAfterADump(up + secret_.substr(1));
}

}  // namespace
}  // namespace oomsentinel
