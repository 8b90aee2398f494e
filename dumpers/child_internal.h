// dumpers/: what the pieces of runChild and ChildCgroup (child.h) share; private to dumpers/.
// child.cc starts a child and waits for it, child_main.cc is what the child does after fork(),
// child_cgroup.cc the children's cgroups and killAll, child_sweep.cc the sweep of the delegated
// cgroup.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/host_paths.h"
#include "core/result.h"
#include "dumpers/child.h"

namespace oomsentinel::child_detail {

// The steady clock of runChild and killAll (the system's: ChildSpec has no Clock).
const Clock& clock();

// What of the delegated cgroup is the daemon's own right now: the children runChild started and
// has not reaped (one is in the daemon's leaf from its fork until it joins its cgroup, or for its
// whole run when it has none), and the ChildCgroups that exist (registered before their mkdir).
// sweepDelegated leaves these alone. The lock is held across fork() so that a child is never in
// the leaf unregistered; the child itself never touches it.
struct Ours {
  std::mutex mu;
  std::set<pid_t> children;
  std::set<std::string> cgroups;
};
Ours& ours();

// Without a pidfd (kernels before 5.3) the child's state is polled this often.
inline constexpr Duration kPollEvery = std::chrono::milliseconds(10);

// A descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// pidfd_open(2), -1 with errno ENOSYS where the system call is missing.
int pidfdOpen(pid_t pid);

// What the child needs after fork(), all prepared before it.
struct ChildSetup {
  const char* program = nullptr;
  char** argv = nullptr;
  char** envp = nullptr;
  int in = -1, out = -1, err = -1;
  int report_fd = -1;
  const ChildSpec* spec = nullptr;
  std::string oom_score_adj_path;
  bool reset_oom_score_adj = false;
};

// After fork(): sets up the child per s.spec and execs, or reports the step that failed on
// s.report_fd and exits 127 (child_main.cc).
[[noreturn]] void childMain(const ChildSetup& s);
// Waits for the child's report: nothing (the pipe closed at exec) or the step that failed.
std::optional<std::pair<std::string, int>> readSetupReport(int fd, SteadyTime deadline);

// The daemon runs with OOMScoreAdjust=-1000 (its systemd unit) and a child inherits it: inside
// the service's MemoryMax a jcmd or an exec hook would then be as unkillable as the daemon, and
// the kernel would have nothing to kill. Ours go back to the default, 0 (raising the value needs
// no privilege), before they run anything.
std::string ownOomScoreAdjPath();
bool ownOomScoreAdjNegative(const std::string& path);

// The pids listed in dir/cgroup.procs (none when it cannot be read).
std::vector<pid_t> cgroupProcs(const std::string& dir);
// Where the daemon's own cgroup is, as a directory, in the tree a child cgroup can go into.
Result<std::pair<std::string, bool>> ownCgroupDir(const HostPaths& paths);

// Where the children's cgroups go: beside the daemon's leaf when it entered one in a delegated
// cgroup (a child under the leaf would be a process's sibling-less subgroup, and the leaf's own
// controllers are not enabled for children), else under the daemon's own cgroup.
Result<std::pair<std::string, bool>> childCgroupBase(const HostPaths& paths);

}  // namespace oomsentinel::child_detail
