#include "dumpers/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "core/host_paths.h"
#include "core/units.h"
#include "dumpers/child_internal.h"

extern char** environ;

namespace oomsentinel {
namespace child_detail {

const Clock& clock() {
  static const SystemClock c;
  return c;
}

Ours& ours() {
  static Ours* o = new Ours;  // never destroyed: children may outlive static destruction
  return *o;
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

}  // namespace child_detail

using child_detail::ChildSetup;
using child_detail::clock;
using child_detail::Fd;
using child_detail::kPollEvery;
using child_detail::ours;
using child_detail::ownOomScoreAdjNegative;
using child_detail::ownOomScoreAdjPath;
using child_detail::pidfdOpen;
using child_detail::readSetupReport;

namespace {

using std::chrono::milliseconds;

// While the child runs, its output files are measured this often against the cap: a runaway
// writer overshoots by at most what it writes in this time.
constexpr Duration kCapCheckEvery = milliseconds(50);
// After SIGKILL a process still has to tear down its memory, which takes a while for a big one;
// only then do we give up waiting for it.
constexpr Duration kAfterKillWait = milliseconds(2000);
// The whole environment of a child that gets a clean one, besides what the caller adds.
constexpr const char* kCleanPath = "/usr/bin:/bin";

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

namespace {

// The program to execute: looked up in our PATH, or, in a target's mount namespace, where the
// child finds it there (a full path only).
Result<std::string> programFor(const ChildSpec& spec) {
  return spec.join_pidfd >= 0
             ? (spec.argv[0].starts_with("/")
                    ? Result<std::string>(spec.argv[0])
                    : Result<std::string>(
                          makeError("a program run in a target's namespaces needs a full path",
                                    spec.argv[0], EINVAL)))
             : resolveProgram(spec.argv[0]);
}

// The child's output files and capture pipes, as the spec asks (on an error, what was opened is
// closed by its owners, the caller's locals).
Status openStreams(const ChildSpec& spec, Outputs& outputs, Capture (&caps)[2],
                   Fd (&capture_w)[2]) {
  outputs.cap = spec.max_output_bytes;
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

  return Ok{};
}

// Waits for the started child until it ends, passes its deadline or an output cap, then stops
// its process group and reaps it (in the background when it does not end even after SIGKILL).
void supervise(pid_t pid, const ChildSpec& spec, const Outputs& outputs, Capture (&caps)[2],
               ChildResult& result) {
  Fd pidfd(pidfdOpen(pid));
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
}

// What the child left: output files cut to the cap, what the capture pipes still hold.
void collectOutputs(const Outputs& outputs, Capture (&caps)[2], ChildResult& result) {
  result.stdout_cut = outputs.cut(outputs.out);
  result.stderr_cut = outputs.shared ? result.stdout_cut : outputs.cut(outputs.err);
  // What the pipes still hold, without waiting for an end a descendant may keep open.
  for (int i = 0; i < 2; ++i) {
    caps[i].drain();
    (i == 0 ? result.stdout_cut : result.stderr_cut) |= caps[i].over;
    (i == 0 ? result.stdout_text : result.stderr_text) = std::move(caps[i].text);
  }
}

}  // namespace

Result<ChildResult> runChild(const ChildSpec& spec) {
  SteadyTime start = clock().steadyNow();
  if (spec.argv.empty()) return makeError("no program to run: argv is empty");
  if (spec.deadline <= start)
    return makeError("the deadline has already passed; not started", spec.argv[0]);
  auto program = programFor(spec);
  if (!program) return program.error();

  Outputs outputs;
  // [0] stdout, [1] stderr; the write ends become the child's descriptors 1 and 2.
  Capture caps[2];
  Fd capture_w[2];
  if (auto st = openStreams(spec, outputs, caps, capture_w); !st) return st.error();

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

  ChildResult result;
  supervise(pid, spec, outputs, caps, result);
  collectOutputs(outputs, caps, result);
  result.took = clock().steadyNow() - start;
  return result;
}

}  // namespace oomsentinel
