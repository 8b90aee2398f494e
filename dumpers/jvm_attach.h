// dumpers/: capturing evidence while the process is still alive.
// The HotSpot attach protocol spoken directly, without jcmd (issue 23): jcmd is a JVM, and its
// start-up was ~130 of the 132 ms of a class histogram (bench/README.md, bench_jvm_capture); the
// JVM itself answers in a few ms. Spoken by a child of runChild (ChildSpec::call) that is already
// in the JVM's namespaces and root, as its user, with no capabilities: the same place and power
// jcmd had, without starting a program of the target's at all.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace oomsentinel {

// What the child does, all fixed before the fork (it may not allocate after it).
struct AttachCall {
  char socket[64] = {};   // /tmp/.java_pid<nspid>, in the JVM's root
  char trigger[64] = {};  // /tmp/.attach_pid<nspid>: asks HotSpot to start its listener
  pid_t nspid = 0;        // the JVM, in its pid namespace (where the child runs)
  // Without a socket: create the trigger and SIGQUIT the JVM, as jcmd does, then wait for the
  // socket (until the child's deadline). Only for a process that catches SIGQUIT.
  bool may_start_listener = false;
  char request[1100] = {};  // attachRequest()
  std::size_t request_len = 0;
};

// How the child ended (its exit status); its stderr has one line more.
enum AttachExit : int {
  kAttachOk = 0,          // status 0; the command's output is on its stdout
  kAttachRefused = 10,    // the JVM answered another status; its reason is on stdout
  kAttachNoSocket = 11,   // no socket, and the listener may not be started
  kAttachBadSocket = 12,  // not a socket (a symlink, a file), or not the JVM user's
  kAttachConnect = 13,    // the socket did not take the connection
  kAttachGarbage = 14,    // no status line in the reply's first bytes
  kAttachIo = 15,         // a read or write failed
};

// Fills `call` for `nspid` and the jcmd command line (e.g. "GC.class_histogram -all").
// Errors: a command HotSpot would refuse (longer than its 1024 bytes for an argument, or with a
// NUL).
Status prepareAttachCall(AttachCall& call, pid_t nspid, std::string_view command,
                         bool may_start_listener);
// The request of protocol version 1: "1\0jcmd\0<command>\0\0\0" (the operation and exactly
// three arguments, each ended by a NUL).
std::string attachRequest(std::string_view command);

// The status line that starts a reply: an optional '-' and at most 9 digits, then '\n'.
// Pure and without allocation (it runs in the child): the status and where the body starts;
// nothing when `head` holds no such line (garbage, or a line longer than 11 bytes). Looks at 11
// bytes at most, so any reply costs the same.
struct AttachStatus {
  int status = 0;
  std::size_t body = 0;
};
std::optional<AttachStatus> parseAttachStatus(std::string_view head);

// The child's whole work (ChildSpec::call with an AttachCall): system calls only. Returns an
// AttachExit.
int attachChildMain(const void* call);

// Why the child failed, in one line, from its exit status and stderr.
std::string describeAttachExit(int exit_code, std::string_view err);

}  // namespace oomsentinel
