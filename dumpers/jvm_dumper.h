// dumpers/: capturing evidence while the process is still alive.
// JvmDumper: a JVM's class histogram, and on request its heap dump, through jcmd (the JDK's
// attach mechanism), bounded in time and guarded by free disk space.
#pragma once

#include <sys/types.h>

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

// What jcmd needs to attach (checked on JDK 17 on Linux 6.x, see below):
// - Run as the JVM's user or as root. The JVM accepts a peer with its own euid or root only,
//   and jcmd has to signal it.
// - The JVM's /tmp reachable: jcmd looks for the attach socket /tmp/.java_pid<pid> as the JVM
//   sees it, through <proc>/<pid>/root/tmp/.java_pid<nspid>, where <nspid> is the JVM's pid in
//   its own pid namespace (the last NSpid in its status). So a JVM in a container (its own pid
//   and mount namespaces, even a private tmpfs on /tmp) is reachable from the host as root with
//   its host pid, and no shared /tmp is needed.
// - When that socket is not there yet, jcmd creates .attach_pid<nspid> and sends SIGQUIT, which
//   makes HotSpot start its attach listener. A process that is not a JVM dies of that SIGQUIT
//   (checked: jcmd 17 kills a `sleep`), so this dumper runs jcmd only when the socket already
//   exists or the process catches SIGQUIT (SigCgt), and says "not a JVM" otherwise. A JVM run
//   with -Xrs (it leaves SIGQUIT alone) is only reachable once its listener runs
//   (-XX:+StartAttachListener).
// Checked on this machine as root: jcmd attaches to a root JVM normally; to a JVM of another
// user (uid 65534); and to a JVM started with `unshare --fork --pid --mount-proc` (NSpid 1), also
// when that JVM has its own tmpfs on /tmp.
//
// GC.class_histogram forces a full collection (it counts live objects only): a pause, in a JVM
// already short of memory, and a cost we accept for the evidence. The heap dump (opt-in) stops
// the JVM while it writes a file the size of the live heap, and the JVM writes it itself, as
// its user and in its mount namespace. So the dump goes straight into the bundle only when the
// JVM sees the bundle's directory as the same directory (same device and inode through
// <proc>/<pid>/root) and can write there (it runs as root or as the directory's owner).
// Otherwise it goes to the JVM's own /tmp (/tmp/oomsentinel-<pid>-<n>.hprof), and is moved (or,
// across file systems, copied) from <proc>/<pid>/root/tmp into the bundle and removed there.
struct JvmDumpSpec {
  std::string jcmd = "jcmd";  // a path, or a name looked up in PATH
  bool class_histogram = true;
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
  // Artifacts: class_histogram.txt (jcmd's output as it is), heap.hprof. Results: kSkipped
  // without a pid; kFailed when jcmd cannot attach (with its reason) or the pid is not a JVM;
  // kPartial when the histogram is there but the heap dump was skipped or failed.
  DumpOutcome run(const DumpRequest& req) override;

 private:
  JvmDumpSpec spec_;
  HostPaths paths_;
};

// The pure parts, kept apart from the reading and tested on captured text.

// What <proc>/<pid>/status says that matters to jcmd.
struct JvmProcessFacts {
  uid_t euid = 0;
  pid_t nspid = 0;  // its pid in its own (innermost) pid namespace
  bool catches_sigquit = false;
};
Result<JvmProcessFacts> parseJvmProcessStatus(std::string_view status);
// Field 22 of <proc>/<pid>/stat, the process's start time in clock ticks.
std::optional<std::uint64_t> parseStartTime(std::string_view stat);
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
