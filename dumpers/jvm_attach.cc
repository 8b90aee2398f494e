#include "dumpers/jvm_attach.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace oomsentinel {
namespace {

// HotSpot's limit for one argument of a request (attachListener.hpp, arg_length_max).
constexpr std::size_t kArgMax = 1024;
// "-123456789\n": longer and it is no status line.
constexpr std::size_t kStatusMax = 11;

// The child's stderr: a literal line, without allocation.
int say(int code, const char* line) {
  (void)!::write(2, line, std::strlen(line));
  return code;
}

bool writeAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

int readFailed() {
  return say(kAttachIo, errno == ECONNRESET ? "the JVM reset the connection (it exited?)\n"
                                            : "cannot read the reply\n");
}

}  // namespace

std::string attachRequest(std::string_view command) {
  std::string req("1\0jcmd\0", 7);
  req += command;
  req.append("\0\0\0", 3);
  return req;
}

Status prepareAttachCall(AttachCall& call, pid_t nspid, std::string_view command,
                         bool may_start_listener) {
  if (command.size() > kArgMax || command.find('\0') != std::string_view::npos)
    return makeError("not a command HotSpot takes", std::string(command.substr(0, 64)), EINVAL);
  std::string req = attachRequest(command);
  static_assert(sizeof(AttachCall::request) >= kArgMax + 16);
  std::memcpy(call.request, req.data(), req.size());
  call.request_len = req.size();
  std::snprintf(call.socket, sizeof call.socket, "/tmp/.java_pid%d", static_cast<int>(nspid));
  std::snprintf(call.trigger, sizeof call.trigger, "/tmp/.attach_pid%d", static_cast<int>(nspid));
  call.nspid = nspid;
  call.may_start_listener = may_start_listener;
  return Ok{};
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

namespace {

// Asks HotSpot to start its listener, as jcmd does: it does so on SIGQUIT when this file is there
// and is its user's (or root's): ours is, we run as its user. One there already serves as well.
bool startListener(const AttachCall& c) {
  int fd = ::open(c.trigger, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  return ::kill(c.nspid, SIGQUIT) == 0;
}

// Waits (1 ms at a time; the parent's deadline bounds it) until the socket path holds something
// other than inode `stale` (0: anything), which HotSpot's listener puts there by a rename.
void waitForSocket(const AttachCall& c, ino_t stale, struct stat& st) {
  while (::lstat(c.socket, &st) != 0 || (stale != 0 && st.st_ino == stale)) {
    struct timespec ms = {0, 1000 * 1000};
    ::nanosleep(&ms, nullptr);
  }
}

// A connection to the JVM user's own socket; when there is none, -1 (not a socket of its user)
// or -3 (no socket made) with the reason said, or -2 with connect()'s errno.
int connectTo(const AttachCall& c, const struct stat& st) {
  // connect() follows a symlink: only the JVM user's own socket is spoken to. (We are that user,
  // in its namespaces: what a swap after this check reaches, it could reach itself.)
  if (!S_ISSOCK(st.st_mode))
    return say(-1, "the attach socket is not a socket (a symlink or a file)\n");
  if (st.st_uid != ::geteuid()) return say(-1, "the attach socket is another user's\n");
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return say(-3, "cannot make a socket\n");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, c.socket, sizeof c.socket);
  if (::connect(s, reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) == 0) return s;
  int e = errno;
  ::close(s);
  errno = e;
  return -2;
}

}  // namespace

int attachChildMain(const void* arg) {
  const AttachCall& c = *static_cast<const AttachCall*>(arg);
  struct stat st;
  bool triggered = false;
  if (::lstat(c.socket, &st) != 0) {
    if (errno != ENOENT) return say(kAttachBadSocket, "cannot look at the attach socket\n");
    if (!c.may_start_listener) return say(kAttachNoSocket, "the JVM has no attach socket\n");
    if (!startListener(c)) return say(kAttachNoSocket, "cannot signal the JVM\n");
    triggered = true;
    waitForSocket(c, 0, st);
  }
  int s = connectTo(c, st);
  // Nobody listens there: a socket left by an earlier JVM of this pid (SIGKILLed, as by the OOM
  // killer, with a /tmp that outlived it). jcmd stops at "Connection refused"; HotSpot replaces
  // the socket when its listener starts, so it is asked to, and the new one is waited for.
  if (s == -2 && errno == ECONNREFUSED && c.may_start_listener && !triggered) {
    if (!startListener(c)) return say(kAttachNoSocket, "cannot signal the JVM\n");
    triggered = true;
    waitForSocket(c, st.st_ino, st);
    s = connectTo(c, st);
  }
  if (triggered) ::unlink(c.trigger);
  if (s == -1) return kAttachBadSocket;  // said
  if (s == -3) return kAttachConnect;    // said
  if (s < 0) return say(kAttachConnect, "the attach socket refused the connection\n");
  if (!writeAll(s, c.request, c.request_len)) return say(kAttachIo, "cannot send the request\n");
  // The status line first, read a little at a time so that a reply without one stops early;
  // then the body as it comes, onto stdout (its cap is our parent's).
  char buf[65536];
  std::size_t got = 0;
  std::optional<AttachStatus> status;
  while (!status) {
    ssize_t n = ::read(s, buf + got, kStatusMax - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return readFailed();
    if (n == 0 && got == 0)
      return say(kAttachIo, "the JVM closed the connection without answering\n");
    got += static_cast<std::size_t>(n);
    status = parseAttachStatus(std::string_view(buf, got));
    if (!status && (n == 0 || got >= kStatusMax))
      return say(kAttachGarbage, "the reply does not start with a status line\n");
  }
  if (!writeAll(1, buf + status->body, got - status->body))
    return say(kAttachIo, "cannot write the reply\n");
  for (;;) {
    ssize_t n = ::read(s, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return readFailed();
    if (n == 0) break;
    if (!writeAll(1, buf, static_cast<std::size_t>(n)))
      return say(kAttachIo, "cannot write the reply\n");
  }
  return status->status == 0 ? kAttachOk : kAttachRefused;
}

std::string describeAttachExit(int exit_code, std::string_view err) {
  std::string_view line = err.substr(0, err.find('\n'));
  if (!line.empty()) return std::string(line);
  return "the attach child exited with status " + std::to_string(exit_code);
}

}  // namespace oomsentinel
