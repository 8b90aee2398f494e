#include "dumpers/jvm_attach.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "dumpers/jvm_dumper.h"

namespace oomsentinel {
namespace {

// The raw id system calls below take 32-bit ids on 64-bit kernels; on 32-bit x86 and arm the
// plain numbers are the old 16-bit calls, which would cut uids above 65535.
static_assert(sizeof(void*) == 8, "ThreadIds uses the 32-bit-id system calls of 64-bit Linux");

// HotSpot's limit for one argument of a request (attachListener.hpp, arg_length_max).
constexpr std::size_t kArgMax = 1024;
// "-123456789\n": longer and it is no status line.
constexpr std::size_t kStatusMax = 11;

// Milliseconds left until `deadline`, for poll(): 0 when it has passed.
int msLeft(const Clock& clock, SteadyTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.steadyNow());
  return static_cast<int>(std::clamp<std::int64_t>(left.count() + 1, 0, 60'000));
}

void sleepMs(int ms) {
  struct timespec t = {0, ms * 1000L * 1000L};
  ::nanosleep(&t, nullptr);
}

// The calling thread's ids and effective capabilities, and the way back to them. Raw system calls:
// glibc's setresuid and the like change every thread of the process (the daemon's ticks, its
// metrics server), these change this thread only (docs/security.md).
class ThreadIds {
 public:
  // Takes effective ids `uid`/`gid` and no supplementary group; nothing when they are ours
  // already (a daemon running as the JVM's user).
  Status become(uid_t uid, gid_t gid) {
    euid_ = static_cast<uid_t>(::syscall(SYS_geteuid));
    egid_ = static_cast<gid_t>(::syscall(SYS_getegid));
    if (euid_ == uid && egid_ == gid) return Ok{};
    header_ = {_LINUX_CAPABILITY_VERSION_3, 0};
    if (::syscall(SYS_capget, &header_, caps_) != 0)
      return makeError("cannot read this thread's capabilities", "", errno);
    int n = static_cast<int>(::syscall(SYS_getgroups, 0, nullptr));
    if (n < 0) return makeError("cannot read this thread's groups", "", errno);
    groups_.resize(static_cast<std::size_t>(n));
    if (n > 0 && ::syscall(SYS_getgroups, n, groups_.data()) != n)
      return makeError("cannot read this thread's groups", "", errno);
    std::string who = "uid " + std::to_string(uid) + ", gid " + std::to_string(gid);
    if (::syscall(SYS_setgroups, 0, nullptr) != 0)
      return makeError("cannot take the JVM's user (dropping our groups)", who, errno);
    changed_ = true;  // from here on the destructor puts everything back
    if (::syscall(SYS_setresgid, -1, gid, -1) != 0)
      return makeError("cannot take the JVM's group", who, errno);
    if (::syscall(SYS_setresuid, -1, uid, -1) != 0)
      return makeError("cannot take the JVM's user", who, errno);
    // From euid 0 the kernel has emptied the effective set already; from another uid (a daemon
    // that is not root but has capabilities) it has not.
    struct __user_cap_data_struct none[2] = {caps_[0], caps_[1]};
    none[0].effective = none[1].effective = 0;
    if (::syscall(SYS_capset, &header_, none) != 0)
      return makeError("cannot drop our capabilities", who, errno);
    return Ok{};
  }
  ThreadIds() = default;
  ThreadIds(const ThreadIds&) = delete;
  ThreadIds& operator=(const ThreadIds&) = delete;
  // Back to the ids and the very capabilities we had (the kernel would make every permitted one
  // effective at euid 0). The capabilities right after the uid: the gid and the groups need
  // CAP_SETGID, which the kernel gives back only on a return to euid 0 from another, not when
  // the euid stayed 0 (a JVM of uid 0 and another gid) nor for a daemon that is not root
  // (attacker's review: both aborted here). It cannot fail then (the saved uid is ours, the
  // permitted set is untouched); if it did, a daemon thread would go on as the JVM's user: stop
  // rather.
  ~ThreadIds() {
    if (!changed_) return;
    bool ok = ::syscall(SYS_setresuid, -1, euid_, -1) == 0 &&
              ::syscall(SYS_capset, &header_, caps_) == 0 &&
              ::syscall(SYS_setresgid, -1, egid_, -1) == 0 &&
              ::syscall(SYS_setgroups, groups_.size(), groups_.data()) == 0;
    if (!ok) {
      static const char kLine[] = "oomsentinel: cannot restore a dump thread's ids; stopping\n";
      (void)!::write(2, kLine, sizeof kLine - 1);
      std::abort();
    }
  }

 private:
  bool changed_ = false;
  uid_t euid_ = 0;
  gid_t egid_ = 0;
  std::vector<gid_t> groups_;
  struct __user_cap_header_struct header_ {};
  struct __user_cap_data_struct caps_[2]{};
};

struct Exchange {
  const AttachTarget& t;
  const Clock& clock;
  SteadyTime deadline;
  std::string socket_name, trigger_name;
  AttachOutcome out;

  AttachOutcome& end(AttachExit e, std::string why) {
    out.exit = e;
    out.reason = std::move(why);
    return out;
  }
};

// The socket, held: O_PATH without following a symlink, so what is checked is what is spoken to.
// -1 with errno when there is none.
OwnedFd holdSocket(const Exchange& x, struct stat& st) {
  OwnedFd fd(::openat(x.t.tmp_fd, x.socket_name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() >= 0 && ::fstat(fd.get(), &st) != 0) return OwnedFd();
  return fd;
}

// Asks HotSpot to start its listener, as jcmd does: it does so on SIGQUIT when the trigger file
// is there and is its user's; made as that user, by its name in the held /tmp. One there already
// serves as well.
Status startListener(Exchange& x) {
  {
    ThreadIds ids;
    if (auto s = ids.become(x.t.uid, x.t.gid); !s) return s;
    OwnedFd f(::openat(x.t.tmp_fd, x.trigger_name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    // Without it HotSpot ignores the SIGQUIT for its listener (it prints a thread dump): as jcmd,
    // no signal then. One there already (EEXIST) serves.
    if (f.get() < 0 && errno != EEXIST)
      return makeError("cannot make the trigger file in the JVM's /tmp", x.trigger_name, errno);
  }
  x.out.triggered = true;
  if (::syscall(SYS_pidfd_send_signal, x.t.pidfd, SIGQUIT, nullptr, 0) != 0)
    return makeError("cannot signal the JVM", "", errno);
  return Ok{};
}

// Waits (1 ms at a time) until /tmp/.java_pid<nspid> holds a socket other than inode `stale`
// (0: any), which HotSpot's listener puts there by a rename. False at the deadline.
bool waitForSocket(const Exchange& x, ino_t stale) {
  while (x.clock.steadyNow() < x.deadline) {
    struct stat st;
    if (::fstatat(x.t.tmp_fd, x.socket_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        (stale == 0 || st.st_ino != stale))
      return true;
    sleepMs(1);
  }
  return false;
}

// A connection to the held socket, as the JVM's user (its listener checks its peer's ids). A full
// backlog is waited out until the deadline. -1 with errno (EACCES: the ids could not be taken,
// said in `why`).
OwnedFd connectHeld(const Exchange& x, int held, std::string& why) {
  OwnedFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return s;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%.*s/%d",
                static_cast<int>(HostPaths::kOwnFdDir.size()), HostPaths::kOwnFdDir.data(), held);
  for (;;) {
    int rc = 0, e = 0;
    {
      ThreadIds ids;
      if (auto st = ids.become(x.t.uid, x.t.gid); !st) {
        why = st.error().describe();
        errno = EACCES;
        return OwnedFd();
      }
      rc = ::connect(s.get(), reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr);
      e = errno;
    }
    if (rc == 0) return s;
    if (e != EAGAIN || x.clock.steadyNow() >= x.deadline) {
      errno = e;
      return OwnedFd();
    }
    sleepMs(1);
  }
}

// The socket checked and connected to, asking for a listener when there is none or nobody listens
// (once). Nothing, with out.exit and out.reason set, when there is no connection.
OwnedFd connectToJvm(Exchange& x) {
  struct stat st {};
  OwnedFd held = holdSocket(x, st);
  if (held.get() < 0) {
    if (errno != ENOENT)
      return (x.end(kAttachBadSocket, "cannot look at the attach socket"), OwnedFd());
    if (!x.t.may_start_listener)
      return (x.end(kAttachNoSocket, "the JVM has no attach socket"), OwnedFd());
    if (auto s = startListener(x); !s)
      return (x.end(kAttachNoSocket, s.error().describe()), OwnedFd());
    if (!waitForSocket(x, 0)) return (x.end(kAttachTimedOut, "no attach socket came"), OwnedFd());
    held = holdSocket(x, st);
  }
  for (int attempt = 0;; ++attempt) {
    if (held.get() < 0)
      return (x.end(kAttachBadSocket, "cannot look at the attach socket"), OwnedFd());
    if (!S_ISSOCK(st.st_mode))
      return (x.end(kAttachBadSocket, "the attach socket is not a socket (a symlink or a file)"),
              OwnedFd());
    if (st.st_uid != x.t.uid)
      return (x.end(kAttachBadSocket, "the attach socket is another user's"), OwnedFd());
    std::string why;
    OwnedFd s = connectHeld(x, held.get(), why);
    if (s.get() >= 0) return s;
    if (!why.empty()) return (x.end(kAttachIo, why), OwnedFd());
    // Nobody listens there: a socket left by an earlier JVM of this pid (SIGKILLed, as by the OOM
    // killer, with a /tmp that outlived it). jcmd stops at "Connection refused"; HotSpot replaces
    // the socket when its listener starts, so it is asked to, and the new one is waited for.
    if (errno != ECONNREFUSED || !x.t.may_start_listener || x.out.triggered || attempt > 0)
      return (x.end(kAttachConnect, "the attach socket refused the connection"), OwnedFd());
    if (auto r = startListener(x); !r)
      return (x.end(kAttachNoSocket, r.error().describe()), OwnedFd());
    if (!waitForSocket(x, st.st_ino))
      return (x.end(kAttachTimedOut, "no new attach socket came"), OwnedFd());
    held = holdSocket(x, st);
  }
}

// Waits for `events` on `fd` until the deadline: false when it came first (or poll failed).
bool await(const Clock& clock, int fd, short events, SteadyTime deadline) {
  for (;;) {
    int left = msLeft(clock, deadline);
    if (left == 0) return false;
    struct pollfd p = {fd, events, 0};
    int rc = ::poll(&p, 1, left);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

bool sendRequest(const Clock& clock, int s, std::string_view req, SteadyTime deadline) {
  while (!req.empty()) {
    if (!await(clock, s, POLLOUT, deadline)) return false;
    ssize_t w = ::send(s, req.data(), req.size(), MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) return false;
    req.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

// Keeps `data` of the body: into the sink's file or the text, up to its cap. False once the cap
// is reached (the rest is not read).
bool keep(Exchange& x, const AttachSink& sink, const char* data, std::size_t n) {
  std::uint64_t room =
      sink.fd >= 0 ? (sink.max_bytes == 0 ? UINT64_MAX : sink.max_bytes) : sink.max_text;
  room -= std::min<std::uint64_t>(room, x.out.body_bytes);
  std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(room, n));
  if (sink.fd >= 0) {
    for (std::size_t done = 0; done < take;) {
      ssize_t w = ::write(sink.fd, data + done, take - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      done += static_cast<std::size_t>(w);
    }
  } else {
    x.out.text.append(data, take);
  }
  x.out.body_bytes += take;
  if (take < n) x.out.cut = true;
  return take == n;
}

// Reads the reply: the status line, then the body into the sink.
AttachOutcome& readReply(Exchange& x, int s, const AttachSink& sink) {
  std::vector<char> buf(64 * 1024);
  std::size_t got = 0;
  std::optional<AttachStatus> status;
  bool sink_failed = false;
  for (;;) {
    if (!await(x.clock, s, POLLIN, x.deadline))
      return x.end(kAttachTimedOut, "the reply did not end");
    // The status line a little at a time, so that a reply without one stops early.
    std::size_t want = status ? buf.size() : kStatusMax - got;
    ssize_t n = ::recv(s, buf.data() + (status ? 0 : got), want, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0)
      return x.end(kAttachIo, errno == ECONNRESET ? "the JVM reset the connection (it exited?)"
                                                  : "cannot read the reply");
    if (!status) {
      if (n == 0 && got == 0)
        return x.end(kAttachIo, "the JVM closed the connection without answering");
      got += static_cast<std::size_t>(n);
      status = parseAttachStatus(std::string_view(buf.data(), got));
      if (!status && (n == 0 || got >= kStatusMax))
        return x.end(kAttachGarbage, "the reply does not start with a status line");
      if (!status) continue;
      if (!keep(x, sink, buf.data() + status->body, got - status->body)) {
        sink_failed = !x.out.cut;
        break;
      }
      if (n == 0) break;
      continue;
    }
    if (n == 0) break;
    if (!keep(x, sink, buf.data(), static_cast<std::size_t>(n))) {
      sink_failed = !x.out.cut;
      break;
    }
  }
  if (sink_failed) return x.end(kAttachIo, "cannot write the reply");
  if (status->status != 0) {
    std::string_view body = x.out.text;
    return x.end(kAttachRefused, std::string(body.substr(0, body.find('\n'))));
  }
  x.out.exit = kAttachOk;
  return x.out;
}

}  // namespace

bool attachSocketIsStale(const HostPaths& paths, timespec socket_mtime, std::uint64_t start_ticks) {
  // Whole seconds: a boot time up to a second early makes the process look older, never the
  // socket, so the error is toward "not stale".
  auto stat = readFileUpTo(paths.procFile("stat"), 1u << 20);
  auto btime = stat ? parseBootTime(*stat) : std::nullopt;
  return btime && attachSocketPredatesProcess(socket_mtime, start_ticks, ::sysconf(_SC_CLK_TCK),
                                              timespec{static_cast<time_t>(*btime), 0});
}

Result<std::string> attachRequest(std::string_view command) {
  if (command.size() > kArgMax || command.find('\0') != std::string_view::npos)
    return makeError("not a command HotSpot takes", std::string(command.substr(0, 64)), EINVAL);
  std::string req("1\0jcmd\0", 7);
  req += command;
  req.append("\0\0\0", 3);
  return req;
}

std::optional<AttachStatus> parseAttachStatus(std::string_view head) {
  std::size_t i = 0;
  bool negative = i < head.size() && head[i] == '-';
  if (negative) ++i;
  std::size_t digits_from = i;
  int value = 0;
  while (i < head.size() && i - digits_from < 9 && head[i] >= '0' && head[i] <= '9') {
    value = value * 10 + (head[i] - '0');
    ++i;
  }
  if (i == digits_from || i >= head.size() || head[i] != '\n') return std::nullopt;
  return AttachStatus{negative ? -value : value, i + 1};
}

AttachOutcome attachAndAsk(const AttachTarget& target, std::string_view command,
                           const AttachSink& sink, SteadyTime deadline, const Clock& clock) {
  SteadyTime start = clock.steadyNow();
  Exchange x{target,
             clock,
             deadline,
             ".java_pid" + std::to_string(target.nspid),
             ".attach_pid" + std::to_string(target.nspid),
             {}};
  auto finish = [&](AttachOutcome& o) {
    // Our trigger, if it is still there: a plain file of the JVM's user, by its name in the held
    // /tmp (HotSpot removes it when it starts its listener; one that never came leaves it).
    // Removed as the JVM's user, not as root.
    struct stat st;
    ThreadIds ids;
    if (x.out.triggered &&
        ::fstatat(target.tmp_fd, x.trigger_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && st.st_uid == target.uid && ids.become(target.uid, target.gid).ok())
      ::unlinkat(target.tmp_fd, x.trigger_name.c_str(), 0);
    o.took = clock.steadyNow() - start;
    return std::move(o);
  };
  auto request = attachRequest(command);
  if (!request) return finish(x.end(kAttachIo, request.error().describe()));
  OwnedFd s = connectToJvm(x);
  if (s.get() < 0) return finish(x.out);
  if (!sendRequest(clock, s.get(), *request, deadline))
    return finish(clock.steadyNow() >= deadline
                      ? x.end(kAttachTimedOut, "the request was not taken")
                      : x.end(kAttachIo, "cannot send the request"));
  return finish(readReply(x, s.get(), sink));
}

}  // namespace oomsentinel
