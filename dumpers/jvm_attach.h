// dumpers/: capturing evidence while the process is still alive.
// The HotSpot attach protocol spoken directly, without jcmd (issue 23): jcmd is a JVM, and its
// start-up was ~130 of the 132 ms of a class histogram (bench/README.md, bench_jvm_capture); the
// JVM itself answers in a few ms.
//
// Spoken by the dump thread itself, with no child and no copy of the daemon (docs/security.md):
// - The socket is reached through descriptors, never a path under <proc>/<pid>/root: the JVM's
//   /tmp (held through TargetFs, as the JVM resolves it) and, in it, /tmp/.java_pid<nspid> opened
//   O_PATH without following a symlink, checked to be a socket of the JVM's user, and connected
//   to through /proc/self/fd/<n> (the inode held, not a name looked up again).
// - For the connect (and the trigger file below) the thread takes the JVM's effective uid and gid
//   and no supplementary group, by raw system calls that change this thread only. The JVM checks
//   its peer's effective ids; no capability is effective meanwhile (an euid other than 0 has none);
//   the real and saved ids stay 0, so no process of the JVM's user may signal or ptrace this
//   thread meanwhile (the kernel compares those too), and the way back is always open.
// - A JVM without a listener is asked for one as jcmd does: /tmp/.attach_pid<nspid>, made as its
//   user, and SIGQUIT through the held pidfd (never a pid number). Only for a process that
//   catches SIGQUIT (the caller checks). A socket nobody listens on (left by an earlier JVM of the
//   same pid) gets the same handshake once, and the new socket HotSpot renames into place is
//   waited for.
// - The reply is read without blocking, until the deadline, and kept up to a cap in bytes: the
//   status line first (11 bytes at most), then the body into a file of ours or a string.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/host_paths.h"
#include "core/result.h"

namespace oomsentinel {

// How an exchange ended.
enum AttachExit : int {
  kAttachOk = 0,          // status 0; the body is the command's output
  kAttachRefused = 10,    // the JVM answered another status; its reason is the body
  kAttachNoSocket = 11,   // no socket, and the listener may not be started (or cannot be)
  kAttachBadSocket = 12,  // not a socket (a symlink, a file), or not the JVM user's
  kAttachConnect = 13,    // the socket did not take the connection
  kAttachGarbage = 14,    // no status line in the reply's first bytes
  kAttachIo = 15,         // a read or write failed, or our side failed (ids, a descriptor)
  kAttachTimedOut = 16,   // the deadline came first; the connection was closed
};

// The JVM, held by the caller.
struct AttachTarget {
  int tmp_fd = -1;  // its /tmp, as it resolves it (TargetFs)
  int pidfd = -1;   // the process (pidfd_open, its start time checked)
  pid_t nspid = 0;  // its pid in its own pid namespace: the names of the socket and the trigger
  uid_t uid = 0;    // its effective ids
  gid_t gid = 0;
  bool may_start_listener = false;  // it catches SIGQUIT
};

// Where the body goes: into `fd` (a file of ours, already open) up to `max_bytes` (0: no cap),
// else into AttachOutcome::text up to `max_text` bytes. Past the cap the body is cut and the
// connection closed.
struct AttachSink {
  int fd = -1;
  std::uint64_t max_bytes = 0;
  std::size_t max_text = 64 * 1024;
};

struct AttachOutcome {
  AttachExit exit = kAttachIo;
  std::string reason;  // one line when not kAttachOk: why
  std::string text;    // the body, when AttachSink::fd is -1 (kAttachOk and kAttachRefused)
  std::uint64_t body_bytes = 0;
  bool cut = false;        // the body passed the cap
  bool triggered = false;  // the listener was asked for (trigger file and SIGQUIT)
  Duration took{};
};

// One command ("GC.class_histogram -all") to the JVM, by `deadline` on `clock`. Runs on the calling
// thread and returns by the deadline (plus a system call's time) whatever the JVM does. Errors of
// the command itself (more than 1024 bytes, a NUL) are kAttachIo with the reason.
AttachOutcome attachAndAsk(const AttachTarget& target, std::string_view command,
                           const AttachSink& sink, SteadyTime deadline, const Clock& clock);

// jvm_dumper.h's attachSocketPredatesProcess with the boot time the kernel gives (btime of
// <proc>/stat): the socket's mtime against the start time (clock ticks after boot) of the process
// it names. False when the boot time cannot be read.
bool attachSocketIsStale(const HostPaths& paths, timespec socket_mtime, std::uint64_t start_ticks);

// The request of protocol version 1: "1\0jcmd\0<command>\0\0\0" (the operation and exactly
// three arguments, each ended by a NUL). Errors: a command HotSpot would refuse (longer than its
// 1024 bytes for an argument, or with a NUL).
Result<std::string> attachRequest(std::string_view command);

// The status line that starts a reply: an optional '-' and at most 9 digits, then '\n'.
// The status and where the body starts; nothing when `head` holds no such line (garbage, or a
// line longer than 11 bytes). Looks at 11 bytes at most, so any reply costs the same.
struct AttachStatus {
  int status = 0;
  std::size_t body = 0;
};
std::optional<AttachStatus> parseAttachStatus(std::string_view head);

}  // namespace oomsentinel
