#include "dumpers/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "core/host_paths.h"
#include "core/units.h"

extern char** environ;

namespace oomsentinel {
namespace {

using std::chrono::milliseconds;

const Clock& clock() {
  static const SystemClock c;
  return c;
}

// While the child runs, its output files are measured this often against the cap: a runaway
// writer overshoots by at most what it writes in this time.
constexpr Duration kCapCheckEvery = milliseconds(50);
// Without a pidfd (kernels before 5.3) the child's state is polled this often.
constexpr Duration kPollEvery = milliseconds(10);
// After SIGKILL a process still has to tear down its memory, which takes a while for a big one;
// only then do we give up waiting for it.
constexpr Duration kAfterKillWait = milliseconds(2000);

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
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
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

// True once the child has ended, false when `until` comes first. It is not reaped here: while
// it is a zombie its pid, and so its process-group id, cannot be reused, and the group can
// still be signalled safely.
bool waitEnd(pid_t pid, int pidfd, SteadyTime until) {
  for (;;) {
    Duration left = until - clock().steadyNow();
    if (pidfd >= 0) {
      auto ms = std::chrono::ceil<milliseconds>(std::max(left, Duration::zero())).count();
      pollfd p{pidfd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms, INT_MAX)));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) pidfd = -1;  // cannot happen with a valid pidfd; poll instead
      if (r == 0 && left <= Duration::zero()) return false;
      continue;
    }
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid)
      return true;
    if (left <= Duration::zero()) return false;
    std::this_thread::sleep_for(std::min(left, kPollEvery));
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

class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

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

}  // namespace

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

// The daemon runs with OOMScoreAdjust=-1000 (its systemd unit) and a child inherits it: inside
// the service's MemoryMax a jcmd or an exec hook would then be as unkillable as the daemon, and
// the kernel would have nothing to kill. Ours go back to the default, 0 (raising the value needs
// no privilege). The child may already be running its first instructions: they allocate little.
void resetOomScoreAdj(pid_t child) {
  HostPaths paths;
  int own = ::open(paths.procFile("self/oom_score_adj").c_str(), O_RDONLY | O_CLOEXEC);
  if (own < 0) return;
  char buf[16] = {};
  ssize_t n = ::read(own, buf, sizeof buf - 1);
  ::close(own);
  if (n <= 0 || std::atoi(buf) >= 0) return;
  int fd = ::open(paths.proc(child, "oom_score_adj").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::write(fd, "0", 1);
  ::close(fd);
}

Result<ChildResult> runChild(const ChildSpec& spec) {
  SteadyTime start = clock().steadyNow();
  if (spec.argv.empty()) return makeError("no program to run: argv is empty");
  if (spec.deadline <= start)
    return makeError("the deadline has already passed; not started", spec.argv[0]);
  auto program = resolveProgram(spec.argv[0]);
  if (!program) return program.error();

  Outputs outputs;
  outputs.cap = spec.max_output_bytes;
  if (!spec.stdout_path.empty()) {
    auto fd = createOutput(spec.stdout_path);
    if (!fd) return fd.error();
    outputs.out = std::move(*fd);
  }
  outputs.shared = !spec.stdout_path.empty() && spec.stderr_path == spec.stdout_path;
  if (!spec.stderr_path.empty() && !outputs.shared) {
    auto fd = createOutput(spec.stderr_path);
    if (!fd) return fd.error();
    outputs.err = std::move(*fd);
  }

  SpawnSetup setup;
  auto* fa = setup.actions();
  posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  if (outputs.out.get() >= 0)
    posix_spawn_file_actions_adddup2(fa, outputs.out.get(), 1);
  else
    posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0);
  if (outputs.shared)
    posix_spawn_file_actions_adddup2(fa, outputs.out.get(), 2);
  else if (outputs.err.get() >= 0)
    posix_spawn_file_actions_adddup2(fa, outputs.err.get(), 2);
  else
    posix_spawn_file_actions_addopen(fa, 2, "/dev/null", O_WRONLY, 0);
  // Ours are all O_CLOEXEC, but another thread's library may have opened one without it between
  // its open and its fcntl: close everything else in the child whatever its flags.
  posix_spawn_file_actions_addclosefrom_np(fa, 3);

  auto* attr = setup.attr();
  // Its own group, so that a deadline can signal everything it started; default signal
  // dispositions and an empty mask, so that a signal we ignore or block (the daemon's threads
  // block some) does not stay ignored or blocked in it.
  posix_spawnattr_setflags(attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setsigdefault(attr, &all);

  std::vector<std::string> env = childEnvironment(spec);
  auto c_argv = cArray(spec.argv);
  auto c_env = cArray(env);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program->c_str(), fa, attr, c_argv.data(), c_env.data());
  if (rc != 0) {
    const char* what = rc == ENOENT   ? "not found"
                       : rc == EACCES ? "not executable"
                                      : "cannot start";
    return makeError(what, *program, rc);
  }
  resetOomScoreAdj(pid);

  Fd pidfd(pidfdOpen(pid));
  ChildResult result;
  bool ended = false;
  for (;;) {
    SteadyTime until = spec.deadline;
    if (outputs.cap > 0) until = std::min(until, clock().steadyNow() + kCapCheckEvery);
    if (waitEnd(pid, pidfd.get(), until)) {
      ended = true;
      break;
    }
    if (outputs.overCap()) {
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
  result.took = clock().steadyNow() - start;
  return result;
}

}  // namespace oomsentinel
