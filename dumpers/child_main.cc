#include <cap-ng.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <utility>

#include "core/host_paths.h"
#include "dumpers/child_internal.h"

// What a child of runChild does between fork() and exec: system calls only.
namespace oomsentinel::child_detail {
namespace {

using std::chrono::milliseconds;

// What the child reports on the pipe when a step fails: the step and its errno.
enum SetupStep : int {
  kStepCgroup = 1,
  kStepSetns,
  kStepChroot,
  kStepFork,
  kStepStdio,
  kStepCwd,
  kStepGroups,
  kStepUid,
  kStepCaps,
  kStepNoNewPrivs,
  kStepExec,
};

const char* describeStep(int step) {
  switch (step) {
    case kStepCgroup:
      return "cannot join the child's cgroup";
    case kStepSetns:
      return "cannot enter the target's mount and pid namespaces";
    case kStepChroot:
      return "cannot enter the target's root";
    case kStepFork:
      return "cannot start in the target's pid namespace (fork)";
    case kStepStdio:
      return "cannot set up stdin/stdout/stderr";
    case kStepCwd:
      return "cannot enter the working directory";
    case kStepGroups:
    case kStepUid:
      return "cannot switch to the user";
    case kStepCaps:
      return "cannot drop the capabilities";
    case kStepNoNewPrivs:
      return "cannot set no_new_privs";
    case kStepExec:
      return "cannot execute";
  }
  return "cannot start";
}

[[noreturn]] void failStep(int fd, int step) {
  int msg[2] = {step, errno};
  (void)!::write(fd, msg, sizeof msg);
  ::_exit(127);
}

}  // namespace

// The daemon runs with OOMScoreAdjust=-1000 (its systemd unit) and a child inherits it: inside
// the service's MemoryMax a jcmd or an exec hook would then be as unkillable as the daemon, and
// the kernel would have nothing to kill. Ours go back to the default, 0 (raising the value needs
// no privilege), before they run anything.
std::string ownOomScoreAdjPath() { return HostPaths().procFile("self/oom_score_adj"); }

bool ownOomScoreAdjNegative(const std::string& path) {
  int own = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (own < 0) return false;
  char buf[16] = {};
  ssize_t n = ::read(own, buf, sizeof buf - 1);
  ::close(own);
  return n > 0 && std::atoi(buf) < 0;
}

namespace {

// A child in the target's pid namespace ended: end the same way, so that our parent sees its
// status (a signal is re-raised on ourselves, without a core file).
[[noreturn]] void relayEnd(int status) {
  if (WIFSIGNALED(status)) {
    struct rlimit none {};
    ::setrlimit(RLIMIT_CORE, &none);
    ::kill(::getpid(), WTERMSIG(status));
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

// Closes every descriptor from 3 up but those in keep[0..n) (system calls only: after fork()).
// Another thread's runChild may be between its pipe2() and its fork(): our copies of its report
// and capture pipes, and of the cgroup.procs file it holds, must not live on in a process of ours
// that never execs (O_CLOEXEC only acts at exec), or its setup report waits for our end.
void closeAllBut(int* keep, int n) {
  for (int i = 1; i < n; ++i)  // insertion sort: n is a handful
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
  unsigned from = 3;
  for (int i = 0; i <= n; ++i) {
    unsigned to = i < n ? static_cast<unsigned>(keep[i]) : ~0u;
    if (i < n && (keep[i] < 0 || to < from)) continue;  // unused, below 3, or a duplicate
    if (to > from) {
      unsigned last = i < n ? to - 1 : ~0u;
      if (::syscall(SYS_close_range, from, last, 0) != 0) {
        // Before Linux 5.9: one by one, up to our limit of descriptors.
        struct rlimit lim {};
        ::getrlimit(RLIMIT_NOFILE, &lim);
        unsigned end = lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > (1u << 20)
                           ? (1u << 20)
                           : static_cast<unsigned>(lim.rlim_cur);
        for (unsigned fd = from; fd <= last && fd < end; ++fd) ::close(static_cast<int>(fd));
      }
    }
    if (i < n) from = to + 1;
  }
}

// After fork(), for a child run in a target's namespaces: enters them and its root, then forks
// again (setns(CLONE_NEWPID) applies to children only). Returns in that second child; the first
// waits for it and ends as it does. Steps that fail are reported on `report`.
void enterTarget(const ChildSetup& s, int report) {
  const ChildSpec& spec = *s.spec;
  // Every namespace of the target's but its user namespace: the program is the target's own
  // (jcmd beside its java), so it must not see our network, IPC, host name or cgroup tree.
  constexpr int kJoin =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  if (::setns(spec.join_pidfd, kJoin) != 0) failStep(report, kStepSetns);
  if (spec.root_fd >= 0 && (::fchdir(spec.root_fd) != 0 || ::chroot(".") != 0))
    failStep(report, kStepChroot);
  if (::chdir("/") != 0) failStep(report, kStepChroot);
  pid_t inner = ::fork();
  if (inner < 0) failStep(report, kStepFork);
  if (inner > 0) {
    // This process never execs and waits for the whole run: it keeps no descriptor at all.
    if (::syscall(SYS_close_range, 0u, ~0u, 0) != 0) {
      ::close(report);
      ::close(s.report_fd);
    }
    int status = 0;
    while (::waitpid(inner, &status, 0) < 0) {
      if (errno != EINTR) ::_exit(127);
    }
    relayEnd(status);
  }
}

}  // namespace

// After fork(): system calls only, no allocation, no lock.
[[noreturn]] void childMain(const ChildSetup& s) {
  const ChildSpec& spec = *s.spec;
  {
    int keep[] = {s.in,
                  s.out,
                  s.err,
                  s.report_fd,
                  spec.join_pidfd,
                  spec.root_fd,
                  spec.cwd_fd,
                  spec.cgroup_procs_fd};
    closeAllBut(keep, static_cast<int>(sizeof keep / sizeof keep[0]));
  }
  // Default dispositions and an empty mask: a signal the daemon ignores or blocks must not stay
  // ignored or blocked in the child. Dispositions first, so nothing pending is delivered to a
  // handler of ours.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Its own group, so that a deadline can signal everything it started.
  ::setpgid(0, 0);
  // Until it execs (which makes it dumpable again) it is a copy of the daemon's memory, about to
  // enter a target's pid namespace as the target's user: no ptrace, no /proc/PID/mem for that
  // user (a root in a container without CAP_SYS_PTRACE included).
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Above every descriptor below, so that moving those to 0-3 never closes it.
  int report = ::fcntl(s.report_fd, F_DUPFD_CLOEXEC, 64);
  if (report < 0) report = s.report_fd;
  if (s.reset_oom_score_adj) {
    int fd = ::open(s.oom_score_adj_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, "0", 1);
      ::close(fd);
    }
  }
  if (spec.cgroup_procs_fd >= 0 && ::write(spec.cgroup_procs_fd, "0", 1) != 1)
    failStep(report, kStepCgroup);
  if (spec.join_pidfd >= 0) enterTarget(s, report);
  if (::dup2(s.in, 0) < 0 || ::dup2(s.out, 1) < 0 || ::dup2(s.err, 2) < 0)
    failStep(report, kStepStdio);
  if (spec.cwd_fd >= 0) {
    if (::fchdir(spec.cwd_fd) != 0) failStep(report, kStepCwd);
    if (spec.cwd_as_fd3) {
      if (spec.cwd_fd == 3 ? ::fcntl(3, F_SETFD, 0) != 0 : ::dup2(spec.cwd_fd, 3) < 0)
        failStep(report, kStepCwd);
    }
  }
  // Ours are all O_CLOEXEC, but another thread's library may have opened one without it between
  // its open and its fcntl: every other descriptor is closed at exec, whatever its flags.
  ::syscall(SYS_close_range, spec.cwd_as_fd3 ? 4u : 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  if (spec.uid) {
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) failStep(report, kStepGroups);
    if (::syscall(SYS_setresgid, spec.gid, spec.gid, spec.gid) != 0) failStep(report, kStepUid);
    if (::syscall(SYS_setresuid, *spec.uid, *spec.uid, *spec.uid) != 0) failStep(report, kStepUid);
  }
  if (spec.no_capabilities) {
    // A switch away from uid 0 already empties them; uid 0 keeps them unless told.
    capng_clear(CAPNG_SELECT_CAPS);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) failStep(report, kStepCaps);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) failStep(report, kStepNoNewPrivs);
  }
  ::execve(s.program, s.argv, s.envp);
  failStep(report, kStepExec);
}

// Waits for the child's report: nothing (the pipe closed at exec) or the step that failed.
std::optional<std::pair<std::string, int>> readSetupReport(int fd, SteadyTime deadline) {
  int msg[2] = {0, 0};
  std::size_t got = 0;
  while (got < sizeof msg) {
    Duration left = deadline - clock().steadyNow();
    auto wait = std::chrono::ceil<milliseconds>(std::max(left, Duration::zero())).count();
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(wait, INT_MAX)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;  // still starting at the deadline: stopped like a late one
    ssize_t n = ::read(fd, reinterpret_cast<char*>(msg) + got, sizeof msg - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  if (msg[0] == kStepExec && (msg[1] == ENOENT || msg[1] == ENOTDIR))
    return std::make_pair(std::string("not found"), msg[1]);
  if (msg[0] == kStepExec && msg[1] == EACCES)
    return std::make_pair(std::string("not executable"), msg[1]);
  return std::make_pair(std::string(describeStep(msg[0])), msg[1]);
}

}  // namespace oomsentinel::child_detail
