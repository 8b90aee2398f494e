// dumpers/: capturing evidence while the process is still alive.
// JvmDumper: a JVM's class histogram, and on request its heap dump, through jcmd (the JDK's
// attach mechanism), bounded in time and guarded by free disk space.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/host_paths.h"
#include "core/result.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

// How jcmd is run (JvmAttach::kDirect, this struct's default, speaks the attach protocol from the
// dump thread instead: jvm_attach.h) (issue 18: the target controls its /tmp, its
// files and its pid numbers):
// - The JVM is held by a pidfd, checked against the request's start time, and its root opened
//   through core/target_fs. Its /tmp is opened as the JVM resolves it (a symlink stays inside
//   its root), and its attach socket /tmp/.java_pid<nspid> is looked for in that directory.
// - jcmd is the one beside the JVM's own java (the directory of <proc>/<pid>/exe, in the JVM's
//   file system; JvmDumpSpec::jcmd overrides it). It runs in the JVM's mount and pid namespaces
//   (setns through the pidfd) and chrooted to the JVM's root, forked once more so that it is
//   inside that pid namespace and addresses the JVM by <nspid>; as the JVM's euid and egid (the
//   attach listener accepts a peer with its own euid), no capabilities, no_new_privs, and an
//   environment of PATH only. It can then reach no more than the JVM's user could.
// - When the socket is not there yet, jcmd creates .attach_pid<nspid> and sends SIGQUIT itself
//   (as the JVM's user, in its pid namespace), which makes HotSpot start its attach listener. A
//   process that is not a JVM dies of that SIGQUIT, so this dumper runs jcmd only when the
//   socket already exists or the process catches SIGQUIT (SigCgt), and says "not a JVM"
//   otherwise. Nothing of ours signals the JVM but jcmd, or the direct exchange (through the
//   held pidfd), which does the same handshake with a 1 ms poll of the socket where jcmd polls
//   at 20 ms and more.
// - The direct exchange (jvm_attach.h) checks the held socket (a socket, not a symlink, of the
//   JVM's user) before it connects, sends one request, reads a status line of at most 11 bytes
//   and the reply, capped in bytes and timed. A socket that refuses the connection is one an
//   earlier JVM of this pid left (SIGKILLed, /tmp kept): where jcmd stops there, the exchange
//   does the handshake (a SIGQUIT-catching process only) and waits for the new socket HotSpot
//   renames over it.
// GC.class_histogram forces a full collection (it counts live objects only): a pause, in a JVM
// already short of memory, and a cost we accept for the evidence. The heap dump (opt-in) stops
// the JVM while it writes a file the size of the live heap, and the JVM writes it itself, as
// its user and in its mount namespace. So the dump goes straight into the bundle only when the
// JVM sees the bundle's directory as the same directory (same device and inode, resolved in its
// root) and can write there (it runs as root or as the directory's owner). Otherwise it goes to
// the JVM's own /tmp (/tmp/oomsentinel-<pid>-<n>.hprof), and is moved (or, across file systems,
// copied) from the held /tmp descriptor into the bundle and unlinked there (unlinkat).
// How the JVM is asked (issue 23, bench/README.md "bench_jvm_capture": jcmd's own start-up was
// ~130 of the 132 ms of a class histogram, its first attach ~85 ms more, the JVM's answer 7 ms).
enum class JvmAttach {
  // The HotSpot attach protocol spoken by the dump thread itself (dumpers/jvm_attach.h): no
  // child, nothing executed; the socket held by a descriptor in the JVM's /tmp, connected to with
  // the thread's effective ids taken from the JVM for the moment, the reply counted to the byte.
  // Needs no JDK beside the JVM (a JRE is enough).
  kDirect,
  // The jcmd beside the JVM's java: for a JVM whose attach listener speaks another protocol
  // than HotSpot's version 1 (what JDK 17's jcmd sends, and what is tested here; OpenJ9's
  // listener is another). Not automatic on a direct failure: a socket that is not the JVM
  // user's or a listener that does not answer fails jcmd the same way, after another ~130-400
  // ms of a race already short.
  kJcmd,
};

struct JvmDumpSpec {
  JvmAttach attach = JvmAttach::kDirect;
  // A full path in the JVM's file system; empty: the jcmd beside the JVM's own java (its
  // /proc/<pid>/exe), which is there in a JDK image and of the JVM's own version. kJcmd only.
  std::string jcmd;
  bool class_histogram = true;
  // GC.class_histogram -all: every object on the heap, reachable or not, without the full
  // collection that the default runs first (5 ms on bench_jvm_capture's simple heap; tens to
  // hundreds of ms on a big object graph, in a JVM short of memory). The trade: garbage not yet
  // collected is counted, so a class that churns looks bigger than what it keeps.
  bool class_histogram_all = false;
  bool heap_dump = false;
  // The heap dump's time, within the request's deadline. jcmd is killed when it runs out, but
  // the JVM finishes writing anyway: the unfinished file is unlinked so that its space comes
  // back when the JVM closes it.
  Duration heap_dump_budget = std::chrono::seconds(30);
  // Free space needed where the JVM writes the heap dump (and in the bundle when the dump is
  // copied), or it is skipped.
  std::uint64_t heap_dump_min_free = 1ull << 30;
  // Any other jcmd run (attach and histogram) gets at most this, within the request's deadline.
  Duration command_timeout = std::chrono::seconds(20);
};

class JvmDumper final : public Dumper {
 public:
  explicit JvmDumper(JvmDumpSpec spec = {}, HostPaths paths = {});
  const char* name() const override { return "jvm"; }
  // Artifacts: class_histogram.txt (the JVM's reply as it is; by jcmd, after jcmd's "<pid>:"
  // line), heap.hprof, and when the histogram was asked for, the heap report made of it:
  // report.json and report.txt (dumpers/jvm_report.cc, docs/heap-report.md), its ranking or why
  // there is none. Results: kSkipped without a pid; kFailed when the JVM cannot be attached to
  // (with the reason) or the pid is not a JVM; kTimedOut at the deadline; kPartial when the
  // histogram is there but cut, or the heap dump was skipped or failed, or the report could not
  // be written.
  DumpOutcome run(const DumpRequest& req) override;

 private:
  // Everything but the report (jvm_dumper.cc).
  DumpOutcome capture(const DumpRequest& req);
  JvmDumpSpec spec_;
  HostPaths paths_;
};

// The pure parts, kept apart from the reading and tested on captured text.

// What <proc>/<pid>/status says that matters to jcmd.
struct JvmProcessFacts {
  uid_t euid = 0;
  gid_t egid = 0;
  pid_t nspid = 0;  // its pid in its own (innermost) pid namespace
  bool catches_sigquit = false;
};
Result<JvmProcessFacts> parseJvmProcessStatus(std::string_view status);
// Field 22 of <proc>/<pid>/stat, the process's start time in clock ticks.
std::optional<std::uint64_t> parseStartTime(std::string_view stat);
// The "btime" line of <proc>/stat: the wall clock at boot, in seconds since the epoch.
std::optional<std::uint64_t> parseBootTime(std::string_view proc_stat);
// True when an attach socket last changed (`socket_mtime`, wall clock) more than a second before
// its process started (`start_ticks` after boot; `boot_at` is the wall clock at boot, REALTIME
// minus BOOTTIME): an earlier process left it (a JVM killed with its pid since reused, or a
// container's pid 1 restarted over a /tmp that outlived it), and nothing listens on it.
bool attachSocketPredatesProcess(timespec socket_mtime, std::uint64_t start_ticks, long ticks_per_s,
                                 timespec boot_at);
// True when jcmd's stdout is a class histogram (its " num  #instances  #bytes  class name"
// header). jcmd reports failures with exit status 1 but some (a command the JVM refuses) with 0.
bool looksLikeClassHistogram(std::string_view out);
// Why a jcmd run failed, in one line: the first line of its stdout that is not the "<pid>:" it
// starts with, else the first line of its stderr (where the attach exceptions go).
std::string jcmdReason(std::string_view out, std::string_view err);
// Nothing when GC.heap_dump's reply says the file was written, else why not in one line (the
// JVM answers "Unable to create <path>: File exists" with jcmd's exit status 0).
std::optional<std::string> heapDumpProblem(std::string_view out, std::string_view err);

}  // namespace oomsentinel
