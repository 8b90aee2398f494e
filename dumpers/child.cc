#include "dumpers/child.h"

#include <cap-ng.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/units.h"

extern char** environ;

namespace oomsentinel {
namespace {

using std::chrono::milliseconds;

const Clock& clock() {
  static const SystemClock c;
  return c;
}

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
Ours& ours() {
  static Ours* o = new Ours;  // never destroyed: children may outlive static destruction
  return *o;
}

// While the child runs, its output files are measured this often against the cap: a runaway
// writer overshoots by at most what it writes in this time.
constexpr Duration kCapCheckEvery = milliseconds(50);
// Without a pidfd (kernels before 5.3) the child's state is polled this often.
constexpr Duration kPollEvery = milliseconds(10);
// After SIGKILL a process still has to tear down its memory, which takes a while for a big one;
// only then do we give up waiting for it.
constexpr Duration kAfterKillWait = milliseconds(2000);
// The whole environment of a child that gets a clean one, besides what the caller adds.
constexpr const char* kCleanPath = "/usr/bin:/bin";

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

Status checkExecutable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int e = errno;
    return makeError(e == ENOENT || e == ENOTDIR ? "not found" : "cannot stat", path, e);
  }
  if (!S_ISREG(st.st_mode)) return makeError("not executable: not a regular file", path);
  if (::access(path.c_str(), X_OK) != 0) return makeError("not executable", path, errno);
  return Ok{};
}

// execvp's lookup, done here so that the error can say which file was wrong. Relative and
// empty PATH entries are skipped: what they find would depend on our working directory.
Result<std::string> resolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (auto st = checkExecutable(name); !st) return st.error();
    return name;
  }
  const char* env = std::getenv("PATH");
  std::string search = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  std::optional<Error> not_executable;
  std::string_view rest = search;
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate = joinPath(dir, name);
    auto st = checkExecutable(candidate);
    if (st) return candidate;
    if (!not_executable && st.error().errnum != ENOENT && st.error().errnum != ENOTDIR)
      not_executable = st.error();
  }
  if (not_executable) return *not_executable;
  return makeError("not found in PATH (" + search + ")", name, ENOENT);
}

Result<Fd> createOutput(const std::string& path) {
  // O_NOFOLLOW: the path is in a directory a child may write to; a symlink planted there must
  // not make us truncate another file.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return makeError("cannot create the output file", path, errno);
  ::fchmod(fd, 0600);  // it may have existed with a wider mode
  return Fd(fd);
}

std::vector<std::string> childEnvironment(const ChildSpec& spec) {
  std::vector<std::string> env;
  if (spec.clean_environment) {
    bool has_path = std::any_of(spec.env_add.begin(), spec.env_add.end(),
                                [](const auto& add) { return add.first == "PATH"; });
    if (!has_path) env.emplace_back(std::string("PATH=") + kCleanPath);
  }
  for (char** e = spec.clean_environment ? nullptr : environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool replaced = std::any_of(spec.env_add.begin(), spec.env_add.end(),
                                [&](const auto& add) { return add.first == key; });
    if (!replaced) env.emplace_back(kv);
  }
  for (const auto& [k, v] : spec.env_add) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> cArray(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int pidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// One stream of the child read through a pipe (ChildSpec::capture_*_bytes).
struct Capture {
  Fd read;  // non-blocking; empty when not captured, or once at its end or over its cap
  std::string text;
  std::size_t cap = 0;
  bool over = false;

  bool active() const { return read.get() >= 0; }
  // Reads what is there without blocking, at most cap + 1 bytes in all: a writer faster than us
  // cannot keep this loop going.
  void drain() {
    char buf[4096];
    while (active()) {
      ssize_t n = ::read(read.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        read.reset();  // its end (or a read error): nothing more will come
        return;
      }
      std::size_t room = cap - text.size();
      text.append(buf, std::min(room, static_cast<std::size_t>(n)));
      if (static_cast<std::size_t>(n) > room) {
        over = true;
        read.reset();
      }
    }
  }
};

// True once the child has ended, false when `until` comes first or a capture passes its cap. It
// is not reaped here: while it is a zombie its pid, and so its process-group id, cannot be
// reused, and the group can still be signalled safely. Captured pipes are read meanwhile, so a
// child never blocks on a full one.
bool waitEnd(pid_t pid, int pidfd, SteadyTime until, Capture* caps = nullptr, int ncaps = 0) {
  for (;;) {
    Duration left = until - clock().steadyNow();
    pollfd p[3];
    int n = 0;
    if (pidfd >= 0) p[n++] = {pidfd, POLLIN, 0};
    for (int i = 0; i < ncaps; ++i)
      if (caps[i].active()) p[n++] = {caps[i].read.get(), POLLIN, 0};
    // Without a pidfd (kernels before 5.3) the child's state is looked at every kPollEvery.
    Duration wait = pidfd >= 0 ? left : std::min(left, kPollEvery);
    auto ms = std::chrono::ceil<milliseconds>(std::max(wait, Duration::zero())).count();
    int r = ::poll(p, static_cast<nfds_t>(n), static_cast<int>(std::min<long long>(ms, INT_MAX)));
    if (r < 0 && errno != EINTR && pidfd >= 0) pidfd = -1;  // cannot happen with a valid pidfd
    bool over = false;
    for (int i = 0; i < ncaps; ++i) {
      caps[i].drain();
      over = over || caps[i].over;
    }
    if (over) return false;
    if (pidfd >= 0) {
      if (r > 0 && (p[0].revents & POLLIN)) return true;
    } else {
      siginfo_t info;
      std::memset(&info, 0, sizeof info);
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid)
        return true;
    }
    if (clock().steadyNow() >= until) return false;
  }
}

struct Outputs {
  Fd out, err;          // err is empty when both streams share `out`'s file
  bool shared = false;  // stdout and stderr go to the same file
  std::uint64_t cap = 0;

  static bool bigger(const Fd& fd, std::uint64_t cap) {
    struct stat st;
    return fd.get() >= 0 && ::fstat(fd.get(), &st) == 0 &&
           static_cast<std::uint64_t>(st.st_size) > cap;
  }
  bool overCap() const { return cap > 0 && (bigger(out, cap) || bigger(err, cap)); }
  // Cuts a file that passed the cap; true when it did.
  bool cut(const Fd& fd) const {
    if (cap == 0 || !bigger(fd, cap)) return false;
    return ::ftruncate(fd.get(), static_cast<off_t>(cap)) == 0;
  }
};

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
  if (spec.join_pidfd >= 0) {
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

void reapInBackground(pid_t pid) {
  try {
    std::thread([pid] {
      int status;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }).detach();
  } catch (const std::system_error&) {
    // No thread to spare: the zombie stays until the daemon exits, which is all we can do.
  }
}

std::vector<pid_t> cgroupProcs(const std::string& dir) {
  std::vector<pid_t> out;
  auto text = readFileUpTo(joinPath(dir, "cgroup.procs"), 1 << 20);
  if (!text) return out;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.empty()) out.push_back(static_cast<pid_t>(std::atoi(std::string(line).c_str())));
  }
  return out;
}

// Where the daemon's own cgroup is, as a directory, in the tree a child cgroup can go into.
Result<std::pair<std::string, bool>> ownCgroupDir(const HostPaths& paths) {
  auto text = readFileUpTo(paths.proc(0, "cgroup"), 64 * 1024);
  if (!text) return text.error();
  std::string v2, pids, memory;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    auto c1 = line.find(':');
    auto c2 = line.find(':', c1 == std::string_view::npos ? 0 : c1 + 1);
    if (c1 == std::string_view::npos || c2 == std::string_view::npos) continue;
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (line.substr(0, c1) == "0" && controllers.empty()) v2 = path;
    for (std::string_view c = controllers; !c.empty();) {
      auto comma = c.find(',');
      std::string_view one = c.substr(0, comma);
      if (one == "pids") pids = path;
      if (one == "memory") memory = path;
      c = comma == std::string_view::npos ? std::string_view{} : c.substr(comma + 1);
    }
  }
  struct stat st;
  const std::string& root = paths.cgroupRoot();
  if (!v2.empty()) {
    if (::stat(joinPath(root, "cgroup.controllers").c_str(), &st) == 0)
      return std::make_pair(joinPath(root, v2), true);
    std::string unified = joinPath(root, "unified");
    if (::stat(joinPath(unified, "cgroup.controllers").c_str(), &st) == 0)
      return std::make_pair(joinPath(unified, v2), true);
  }
  if (!pids.empty()) return std::make_pair(joinPath(joinPath(root, "pids"), pids), false);
  if (!memory.empty()) return std::make_pair(joinPath(joinPath(root, "memory"), memory), false);
  return makeError("no cgroup tree of ours found", paths.proc(0, "cgroup"), ENOENT);
}

std::string_view lastComponent(std::string_view dir) {
  auto slash = dir.rfind('/');
  return slash == std::string_view::npos ? dir : dir.substr(slash + 1);
}

std::string parentOf(std::string_view dir) {
  auto slash = dir.rfind('/');
  return std::string(slash == std::string_view::npos ? std::string_view{} : dir.substr(0, slash));
}

// Writes the whole text in one write(2), as the kernel's control files want it.
Status writeControl(const std::string& path, std::string_view text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return makeError("cannot open", path, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return makeError("cannot write " + std::string(text) + " to", path, errno);
  return Ok{};
}

// Where the children's cgroups go: beside the daemon's leaf when it entered one in a delegated
// cgroup (a child under the leaf would be a process's sibling-less subgroup, and the leaf's own
// controllers are not enabled for children), else under the daemon's own cgroup.
Result<std::pair<std::string, bool>> childCgroupBase(const HostPaths& paths) {
  auto own = ownCgroupDir(paths);
  if (!own) return own.error();
  if (own->second && lastComponent(own->first) == kDaemonLeaf) {
    std::string service = parentOf(own->first);
    if (cgroupMarkedDelegated(service)) return std::make_pair(service, true);
  }
  return own;
}

}  // namespace

Result<std::optional<DelegatedCgroup>> enterDelegatedLeaf(const HostPaths& paths) {
  auto own = ownCgroupDir(paths);
  // No cgroup tree of ours, or v1 only: there is nothing systemd could have delegated to us.
  if (!own || !own->second) return std::optional<DelegatedCgroup>();
  DelegatedCgroup out;
  const bool in_leaf = lastComponent(own->first) == kDaemonLeaf;
  out.service_dir = in_leaf ? parentOf(own->first) : own->first;
  if (!cgroupMarkedDelegated(out.service_dir)) return std::optional<DelegatedCgroup>();
  if (!in_leaf) {
    std::string leaf = joinPath(out.service_dir, kDaemonLeaf);
    bool made = ::mkdir(leaf.c_str(), 0755) == 0;
    if (!made && errno != EEXIST)
      return makeError("cannot create the daemon's leaf cgroup", leaf, errno);
    // "0": the writer itself, with all its threads.
    if (auto moved = writeControl(joinPath(leaf, "cgroup.procs"), "0"); !moved) {
      if (made) ::rmdir(leaf.c_str());
      return moved.error();
    }
  }
  // Only what the service's cgroup offers: one unknown name fails the whole write.
  auto offered = readFileUpTo(joinPath(out.service_dir, "cgroup.controllers"), 4096);
  std::string want;
  for (std::string_view c : {"memory", "pids"}) {
    if (!offered) break;
    std::string_view rest = *offered;
    bool has = false;
    while (!rest.empty() && !has) {
      auto sp = rest.find_first_of(" \n");
      has = rest.substr(0, sp) == c;
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    if (!has) continue;
    want += (want.empty() ? "+" : " +") + std::string(c);
    out.enabled += (out.enabled.empty() ? "" : " ") + std::string(c);
  }
  if (!want.empty()) {
    if (auto st = writeControl(joinPath(out.service_dir, "cgroup.subtree_control"), want); !st) {
      out.note = "children get no memory or pids limit: " + st.error().describe();
      out.enabled.clear();
    }
  }
  return std::optional<DelegatedCgroup>(std::move(out));
}

std::string applyChildCgroupLimits(const std::string& dir, bool v2, const ChildCgroupLimits& limits,
                                   const std::string& parent) {
  std::string note;
  auto limit = [&](const char* file, std::uint64_t value, const char* what) {
    if (value == 0) return;
    Status st = v2 ? writeControl(joinPath(dir, file), std::to_string(value))
                   : Status(makeError("cgroup v1", dir));
    if (st && std::string_view(file) == "memory.max") {
      st = writeControl(joinPath(dir, "memory.oom.group"), "1");
      // memory.max does not cover swap: without this a runaway child is not OOM-killed in its
      // cgroup but pushed out into the host's swap, where it thrashes on (and slows the host).
      // No such file: swap accounting is off (swapaccount=0, or no swap), and nothing to bound.
      if (st) {
        Status swap = writeControl(joinPath(dir, "memory.swap.max"), "0");
        if (!swap && swap.error().errnum != ENOENT) st = swap;
      }
    }
    if (st) return;
    note += note.empty() ? "" : "; ";
    note +=
        std::string("no ") + what + " limit of its own (" +
        (st.error().errnum == ENOENT ? "the controller is not enabled for " + parent + "'s children"
                                     : st.error().describe()) +
        ")";
  };
  limit("memory.max", limits.memory_max, "memory");
  limit("pids.max", limits.pids_max, "pids");
  return note;
}

ChildCgroup::ChildCgroup(std::string dir, OwnedFd procs, bool v2)
    : dir_(std::move(dir)), procs_(std::move(procs)), v2_(v2) {}

ChildCgroup::ChildCgroup(ChildCgroup&& o) noexcept
    : dir_(std::move(o.dir_)),
      procs_(std::move(o.procs_)),
      v2_(o.v2_),
      removed_(std::exchange(o.removed_, true)),
      kill_tried_(o.kill_tried_),
      registered_(std::exchange(o.registered_, false)),
      limits_note_(std::move(o.limits_note_)) {}

ChildCgroup::~ChildCgroup() {
  // After a killAll that gave up, no second wait: only what can be removed now is.
  if (!removed_ && !kill_tried_) killAll();
  if (!removed_) ::rmdir(dir_.c_str());
  if (registered_) {
    std::lock_guard<std::mutex> lock(ours().mu);
    ours().cgroups.erase(dir_);
  }
}

Result<ChildCgroup> ChildCgroup::create(const HostPaths& paths, std::string_view name,
                                        const ChildCgroupLimits& limits) {
  auto base = childCgroupBase(paths);
  if (!base) return base.error();
  std::string dir = joinPath(base->first, name);
  {
    std::lock_guard<std::mutex> lock(ours().mu);
    ours().cgroups.insert(dir);
  }
  auto unregister = [&] {
    std::lock_guard<std::mutex> lock(ours().mu);
    ours().cgroups.erase(dir);
  };
  if (::mkdir(dir.c_str(), 0700) != 0) {
    int e = errno;
    unregister();
    return makeError("cannot create a cgroup", dir, e);
  }
  std::string procs = joinPath(dir, "cgroup.procs");
  int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    ::rmdir(dir.c_str());
    unregister();
    return makeError("cannot open", procs, e);
  }
  ChildCgroup cg(std::move(dir), OwnedFd(fd), base->second);
  cg.registered_ = true;
  cg.limits_note_ = applyChildCgroupLimits(cg.dir_, cg.v2_, limits, base->first);
  return cg;
}

namespace {

// A child running as root (exec.user: root) may make cgroups of its own inside its cgroup; they
// are walked this deep and this wide, no further: what is beyond stays, and killAll says so.
constexpr int kMaxSubDepth = 8;
constexpr std::size_t kMaxSubCgroups = 256;

// `dir` and the cgroups below it, parents before their children, up to the bounds above; `cut`
// is set when some were left out.
void subtree(const std::string& dir, int depth, std::vector<std::string>& out, bool& cut) {
  out.push_back(dir);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || std::strcmp(e->d_name, ".") == 0 ||
        std::strcmp(e->d_name, "..") == 0)
      continue;
    if (depth >= kMaxSubDepth || out.size() >= kMaxSubCgroups) {
      cut = true;
      continue;
    }
    subtree(joinPath(dir, e->d_name), depth + 1, out, cut);
  }
  ::closedir(d);
}

// cgroup v2: whether anything is left in `dir` or below it ("populated 1" in cgroup.events);
// nullopt when the file cannot be read.
std::optional<bool> populated(const std::string& dir) {
  auto text = readFileUpTo(joinPath(dir, "cgroup.events"), 4096);
  if (!text) return std::nullopt;
  auto at = text->find("populated ");
  if (at == std::string::npos) return std::nullopt;
  return text->compare(at, 11, "populated 0") != 0;
}

}  // namespace

std::string ChildCgroup::killAll(Duration limit) {
  if (removed_) return "";
  kill_tried_ = true;
  SteadyTime until = clock().steadyNow() + limit;
  bool killed_at_once = false;
  if (v2_) {
    // The whole subtree, sub-cgroups the child made included.
    int fd = ::open(joinPath(dir_, "cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      killed_at_once = ::write(fd, "1", 1) == 1;
      ::close(fd);
    }
  }
  std::vector<std::string> tree;
  bool cut = false;
  // What is left in the subtree: processes listed (v1, or v2 without cgroup.events), or v2's
  // "populated" (which also counts a killed multi-threaded process still exiting).
  auto left = [&]() -> std::size_t {
    tree.clear();
    cut = false;
    subtree(dir_, 0, tree, cut);
    if (v2_)
      if (auto p = populated(dir_)) {
        if (!*p) return 0;
        std::size_t n = 0;
        for (const auto& d : tree) n += cgroupProcs(d).size();
        return std::max<std::size_t>(n, 1);
      }
    std::size_t n = 0;
    for (const auto& d : tree) n += cgroupProcs(d).size();
    return n;
  };
  std::size_t remaining = left();
  while (remaining > 0 && clock().steadyNow() < until) {
    if (!killed_at_once) {
      for (const auto& d : tree) {
        for (pid_t pid : cgroupProcs(d)) {
          // Held first, then checked to still be listed: a pid that was reused in between is no
          // longer in this cgroup (only our child's descendants can enter it), and is not hit.
          Fd pidfd(pidfdOpen(pid));
          if (pidfd.get() < 0) continue;
          auto now = cgroupProcs(d);
          if (std::find(now.begin(), now.end(), pid) != now.end())
            ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        }
      }
    }
    // cgroup.events changes are announced with POLLPRI: woken then, else every kPollEvery.
    Fd events(v2_ ? ::open(joinPath(dir_, "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC) : -1);
    if (events.get() >= 0) {
      char buf[256];
      (void)!::read(events.get(), buf, sizeof buf);
      pollfd p{events.get(), POLLPRI, 0};
      ::poll(&p, 1, static_cast<int>(kPollEvery / milliseconds(1)));
    } else {
      std::this_thread::sleep_for(kPollEvery);
    }
    remaining = left();
  }
  if (remaining > 0)
    return std::to_string(remaining) + (remaining == 1 ? " process" : " processes") +
           " did not end in " + dir_;
  // Empty: the sub-cgroups the child made go first, deepest first; EBUSY (a cgroup whose last
  // process is still being torn down) is tried again until the limit.
  std::string failed;
  int err = 0;
  for (;;) {
    failed.clear();
    for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
      if (::rmdir(it->c_str()) == 0 || errno == ENOENT) continue;
      if (failed.empty()) {
        failed = *it;
        err = errno;
      }
    }
    if (failed.empty() || err != EBUSY || clock().steadyNow() >= until) break;
    std::this_thread::sleep_for(kPollEvery);
    tree.clear();
    subtree(dir_, 0, tree, cut);
  }
  removed_ = failed.empty() && !cut;
  if (removed_) return "";
  if (cut)
    return "its cgroup " + dir_ + " could not be removed: it holds cgroups deeper than " +
           std::to_string(kMaxSubDepth) + " levels or more than " + std::to_string(kMaxSubCgroups) +
           " of them";
  return "its cgroup could not be removed: " + makeError("cannot remove", failed, err).describe();
}

namespace {
// Cgroups beside the leaf handled in one sweep; more are only counted.
constexpr std::size_t kMaxStrangers = 64;
// A stranger's name as the hook chose it, cut (the logger and the manifest make it safe).
std::string shortName(std::string_view name) {
  return std::string(name.substr(0, 64)) + (name.size() > 64 ? "..." : "");
}
}  // namespace

namespace {

// The parent of `pid` per <proc>/PID/stat, 0 when unknown.
pid_t parentOfPid(const HostPaths& paths, pid_t pid) {
  auto stat = readFileUpTo(paths.proc(pid, "stat"), 4096);
  if (!stat) return 0;
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 4 >= stat->size()) return 0;
  return static_cast<pid_t>(std::atoi(stat->c_str() + close + 4));  // ") S PPID"
}

// Whether `pid` is a child runChild has not reaped, or started by one (a child that got no
// cgroup of its own stays in the leaf with what it starts). Called with ours().mu held.
bool oursOrUnderOurs(const HostPaths& paths, pid_t pid, pid_t self) {
  for (int depth = 0; depth < 32 && pid > 1 && pid != self; ++depth) {
    if (ours().children.count(pid)) return true;
    pid = parentOfPid(paths, pid);
  }
  return false;
}

}  // namespace

std::string DelegatedSweep::describe() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  if (!killed.empty()) {
    std::string pids;
    for (pid_t p : killed) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
    add("killed " + std::to_string(killed.size()) +
        (killed.size() == 1 ? " process" : " processes") + " in the daemon's leaf " +
        joinPath(service_dir, kDaemonLeaf) + " that " + (killed.size() == 1 ? "was" : "were") +
        " not the daemon's (pid " + pids + ")");
  }
  if (!cgroups.empty()) {
    std::string names;
    for (const auto& n : cgroups) names += (names.empty() ? "" : ", ") + n;
    add("killed and removed " + std::to_string(cgroups.size()) +
        (cgroups.size() == 1 ? " cgroup" : " cgroups") + " beside the daemon's leaf in " +
        service_dir + " that " + (cgroups.size() == 1 ? "was" : "were") + " not the daemon's (" +
        names + ")");
  }
  if (!left.empty()) add(left);
  return out;
}

Result<DelegatedSweep> ChildCgroup::sweepDelegated(const HostPaths& paths, pid_t self) {
  DelegatedSweep out;
  auto base = childCgroupBase(paths);
  if (!base) return base.error();
  // Not in the leaf of a delegated cgroup: the children's cgroups are under the daemon's own, and
  // nobody but root with CAP_SYS_ADMIN's reach could write beside it.
  auto own = ownCgroupDir(paths);
  if (!own || !base->second || own->first == base->first) return out;
  out.service_dir = base->first;
  const std::string leaf = joinPath(base->first, kDaemonLeaf);
  {
    std::lock_guard<std::mutex> lock(ours().mu);
    for (pid_t pid : cgroupProcs(leaf)) {
      if (pid == self || oursOrUnderOurs(paths, pid, self)) continue;
      // Held first, then checked to be listed still: a pid reused meanwhile is not hit.
      Fd pidfd(pidfdOpen(pid));
      if (pidfd.get() < 0) continue;
      auto now = cgroupProcs(leaf);
      if (std::find(now.begin(), now.end(), pid) == now.end()) continue;
      if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0)
        out.killed.push_back(pid);
      else
        out.left += (out.left.empty() ? "" : "; ") + std::string("cannot kill pid ") +
                    std::to_string(pid) + " in " + leaf + ": " + std::strerror(errno);
    }
  }
  std::vector<std::string> strangers;
  std::size_t more = 0;
  if (DIR* d = ::opendir(base->first.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (e->d_type != DT_DIR || name == "." || name == ".." || name == kDaemonLeaf ||
          name == ".control")  // systemd's, for ExecReload= of a delegated unit
        continue;
      std::string dir = joinPath(base->first, name);
      {
        std::lock_guard<std::mutex> lock(ours().mu);
        if (ours().cgroups.count(dir)) continue;
      }
      if (strangers.size() < kMaxStrangers)
        strangers.push_back(std::string(name));
      else
        ++more;
    }
    ::closedir(d);
  }
  for (const auto& name : strangers) {
    ChildCgroup stranger(joinPath(base->first, name), OwnedFd(), true);
    std::string why = stranger.killAll(std::chrono::seconds(1));
    out.cgroups.push_back(shortName(name));
    if (!why.empty()) out.left += (out.left.empty() ? "" : "; ") + why;
  }
  if (more > 0)
    out.left += (out.left.empty() ? "" : "; ") + std::to_string(more) +
                " more cgroups beside the leaf were not looked at";
  return out;
}

std::string ChildResult::describe() const {
  std::string how;
  if (abandoned) {
    how = "did not end after SIGKILL (stuck in the kernel?); it is reaped in the background";
  } else if (term_signal != 0) {
    const char* abbrev = sigabbrev_np(term_signal);
    how = "killed by signal " + std::to_string(term_signal);
    if (abbrev != nullptr) how += std::string(" (SIG") + abbrev + ")";
  } else {
    how = "exited with status " + std::to_string(exit_code);
  }
  auto took_ms = std::chrono::duration_cast<milliseconds>(took);
  if (timed_out)
    return "timed out after " + formatDuration(took_ms) + "; its process group was killed (" + how +
           ")";
  if (output_cut) return "stopped: its output passed the size cap; " + how;
  return how;
}

Result<ChildResult> runChild(const ChildSpec& spec) {
  SteadyTime start = clock().steadyNow();
  if (spec.argv.empty()) return makeError("no program to run: argv is empty");
  if (spec.deadline <= start)
    return makeError("the deadline has already passed; not started", spec.argv[0]);
  // In another mount namespace the program is found there, by the child: a path only.
  auto program = spec.join_pidfd >= 0
                     ? (spec.argv[0].starts_with("/")
                            ? Result<std::string>(spec.argv[0])
                            : Result<std::string>(makeError(
                                  "a program run in a target's namespaces needs a full path",
                                  spec.argv[0], EINVAL)))
                     : resolveProgram(spec.argv[0]);
  if (!program) return program.error();

  Outputs outputs;
  outputs.cap = spec.max_output_bytes;
  // [0] stdout, [1] stderr; the write ends become the child's descriptors 1 and 2.
  Capture caps[2];
  Fd capture_w[2];
  for (int i = 0; i < 2; ++i) {
    std::size_t cap = i == 0 ? spec.capture_stdout_bytes : spec.capture_stderr_bytes;
    if (cap == 0) continue;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return makeError("cannot create a pipe", "", errno);
    caps[i].read = Fd(fds[0]);
    capture_w[i] = Fd(fds[1]);
    caps[i].cap = cap;
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  if (!spec.stdout_path.empty() && !caps[0].active()) {
    auto fd = createOutput(spec.stdout_path);
    if (!fd) return fd.error();
    outputs.out = std::move(*fd);
  }
  outputs.shared = !spec.stdout_path.empty() && spec.stderr_path == spec.stdout_path &&
                   !caps[0].active() && !caps[1].active();
  if (!spec.stderr_path.empty() && !outputs.shared && !caps[1].active()) {
    auto fd = createOutput(spec.stderr_path);
    if (!fd) return fd.error();
    outputs.err = std::move(*fd);
  }

  // Everything the child needs is made here: after fork() it may only make system calls (the
  // daemon has other threads, and one of them may hold malloc's lock).
  Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (devnull.get() < 0) return makeError("cannot open", "/dev/null", errno);
  std::vector<std::string> env = childEnvironment(spec);
  auto c_argv = cArray(spec.argv);
  auto c_env = cArray(env);
  ChildSetup setup;
  setup.program = program->c_str();
  setup.argv = c_argv.data();
  setup.envp = c_env.data();
  setup.in = devnull.get();
  setup.out = capture_w[0].get() >= 0  ? capture_w[0].get()
              : outputs.out.get() >= 0 ? outputs.out.get()
                                       : devnull.get();
  setup.err = capture_w[1].get() >= 0  ? capture_w[1].get()
              : outputs.shared         ? outputs.out.get()
              : outputs.err.get() >= 0 ? outputs.err.get()
                                       : devnull.get();
  setup.spec = &spec;
  setup.oom_score_adj_path = ownOomScoreAdjPath();
  setup.reset_oom_score_adj = ownOomScoreAdjNegative(setup.oom_score_adj_path);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return makeError("cannot create a pipe", "", errno);
  Fd report_r(pipe_fds[0]), report_w(pipe_fds[1]);
  setup.report_fd = report_w.get();

  pid_t pid;
  {
    std::lock_guard<std::mutex> lock(ours().mu);
    pid = ::fork();
    if (pid == 0) childMain(setup);  // never returns
    if (pid > 0) ours().children.insert(pid);
  }
  if (pid < 0) return makeError("cannot start (fork)", *program, errno);
  struct Registered {
    pid_t pid;
    ~Registered() {
      std::lock_guard<std::mutex> lock(ours().mu);
      ours().children.erase(pid);
    }
  } registered{pid};
  report_w.reset();
  // Only the child's copies stay open: its end closes the pipes (unless a descendant holds them).
  capture_w[0].reset();
  capture_w[1].reset();
  // Until the program runs, the child says what failed on the pipe; EOF means it runs.
  if (auto failed = readSetupReport(report_r.get(), spec.deadline)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return makeError(failed->first, *program, failed->second);
  }

  Fd pidfd(pidfdOpen(pid));
  ChildResult result;
  bool ended = false;
  for (;;) {
    SteadyTime until = spec.deadline;
    if (outputs.cap > 0) until = std::min(until, clock().steadyNow() + kCapCheckEvery);
    if (waitEnd(pid, pidfd.get(), until, caps, 2)) {
      ended = true;
      break;
    }
    if (outputs.overCap() || caps[0].over || caps[1].over) {
      result.output_cut = true;
      break;
    }
    if (clock().steadyNow() >= spec.deadline) {
      result.timed_out = true;
      break;
    }
  }
  if (!ended) {
    ::kill(-pid, SIGTERM);
    ended = waitEnd(pid, pidfd.get(), clock().steadyNow() + spec.kill_grace);
  }
  // Whatever is left in the group: the leader that ignored SIGTERM, or what it started and left
  // behind (even after a clean exit: evidence helpers must not outlive their dump).
  ::kill(-pid, SIGKILL);
  if (!ended) ended = waitEnd(pid, pidfd.get(), clock().steadyNow() + kAfterKillWait);

  if (ended) {
    int status = 0;
    int r;
    while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == pid) {
      if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    }
  } else {
    result.abandoned = true;
    reapInBackground(pid);
  }

  result.stdout_cut = outputs.cut(outputs.out);
  result.stderr_cut = outputs.shared ? result.stdout_cut : outputs.cut(outputs.err);
  // What the pipes still hold, without waiting for an end a descendant may keep open.
  for (int i = 0; i < 2; ++i) {
    caps[i].drain();
    (i == 0 ? result.stdout_cut : result.stderr_cut) |= caps[i].over;
    (i == 0 ? result.stdout_text : result.stderr_text) = std::move(caps[i].text);
  }
  result.took = clock().steadyNow() - start;
  return result;
}

}  // namespace oomsentinel
