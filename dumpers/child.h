// dumpers/: capturing evidence while the process is still alive.
// Running a helper program (jcmd, a user's hook) bounded in time and output, without a shell,
// in its own process group so that a deadline takes down everything it started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cgroup_delegation.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/result.h"

namespace oomsentinel {

struct ChildSpec {
  // argv[0] is the program: a path when it holds a '/', else looked up in our own PATH (never
  // the PATH given in env_add, and never the current directory).
  std::vector<std::string> argv;
  // Set on top of our own environment (replacing a variable of the same name).
  std::vector<std::pair<std::string, std::string>> env_add;
  // Created (or emptied) with mode 0600; empty means /dev/null. Both may name the same file.
  std::string stdout_path, stderr_path;
  // 0 means no cap. A child whose stdout or stderr file passes it is stopped like a timed-out
  // one (its disk is the incident store's), and the file is cut to the cap afterwards.
  std::uint64_t max_output_bytes = 0;
  // Not 0: that stream goes through a pipe instead (its path is not used), read while the child
  // runs and kept in ChildResult::stdout_text/stderr_text up to this many bytes. Nothing of it
  // touches a disk, and it is never waited for: after the child ends what the pipe holds is
  // read without blocking (a descendant that keeps the pipe open holds nothing up). More than
  // the cap stops the child like an output file past max_output_bytes, and sets *_cut.
  std::size_t capture_stdout_bytes = 0;
  std::size_t capture_stderr_bytes = 0;
  // The child is stopped at this time: SIGTERM to its group, then SIGKILL after kill_grace.
  // A deadline already passed is an error: the program is not started.
  SteadyTime deadline{};
  Duration kill_grace = std::chrono::milliseconds(500);

  // Who the child is and where it runs. The defaults keep the daemon's own identity; every
  // descriptor below stays the caller's (it is only used, never closed, by runChild).
  //
  // Enter the mount, pid, network, IPC, UTS and cgroup namespaces of the process behind this
  // pidfd (not its user namespace), then chroot to
  // root_fd (a descriptor on that process's /proc/PID/root, so that a chrooted process is met
  // in its own root too). The program then runs in a second fork, the first process of our pid
  // in that pid namespace (setns(CLONE_NEWPID) applies to children only); it sees the target's
  // /tmp, /proc and pids, and argv[0] must be a path in the target's file system.
  int join_pidfd = -1;
  int root_fd = -1;
  // Run as this uid and gid with no supplementary groups.
  std::optional<uid_t> uid;
  gid_t gid = 0;
  // No capabilities at all (cleared with libcap-ng, also for uid 0) and PR_SET_NO_NEW_PRIVS,
  // so that no setuid binary or file capability gives them back.
  bool no_capabilities = false;
  // The environment is PATH=/usr/bin:/bin and env_add only, none of the daemon's.
  bool clean_environment = false;
  // The working directory. With cwd_as_fd3 the directory is also descriptor 3 of the child:
  // a path to it (/proc/self/fd/3) that needs no search permission on its parents.
  int cwd_fd = -1;
  bool cwd_as_fd3 = false;
  // A cgroup.procs file the child writes itself into before anything else, so that everything
  // it starts is in that cgroup too (see ChildCgroup).
  int cgroup_procs_fd = -1;
};

struct ChildResult {
  int exit_code = -1;       // its exit status, or -1 when it was killed by a signal
  int term_signal = 0;      // the signal that ended it, 0 when it exited
  bool timed_out = false;   // it was stopped at the deadline
  bool output_cut = false;  // it was stopped because an output passed the cap
  bool stdout_cut = false;  // that file was cut to max_output_bytes
  bool stderr_cut = false;
  std::string stdout_text, stderr_text;  // what was captured (ChildSpec::capture_*_bytes)
  // It had not ended 2s after SIGKILL (stuck in the kernel, e.g. on a hung NFS mount): a
  // background thread reaps it when it does, and exit_code/term_signal are unknown.
  bool abandoned = false;
  Duration took{};
  // "exited with status 0", "killed by signal 9 (SIGKILL)", "timed out after 2s; its process
  // group was killed", ...
  std::string describe() const;
};

// Starts spec.argv with stdin on /dev/null and no other descriptor of ours, in a new process
// group, and waits for it; then kills whatever it left behind in its group and reaps it, so
// nothing it started outlives the call. Errors: an empty argv, a program that is not found or
// not executable (the error names the path), an output file that cannot be created, a deadline
// already passed. Safe to call from several threads at once: it waits for its own pid only and
// installs no signal handler (and so requires that nobody else reaps with wait(-1)). Returns by
// deadline + kill_grace, plus up to 2s for a SIGKILLed process to let go of its memory.
Result<ChildResult> runChild(const ChildSpec& spec);

// The daemon's leaf under Delegate=yes is core/cgroup_delegation.h kDaemonLeaf: from then on the
// service's cgroup holds no process of its own; the children's cgroups are made beside the leaf,
// and on cgroup v2 controllers can be enabled for them without breaking the "no internal
// processes" rule.

struct DelegatedCgroup {
  std::string service_dir;  // the delegated cgroup: where the children's cgroups are made
  std::string enabled;      // controllers enabled for its children ("memory pids"), or empty
  std::string note;         // what could not be done (enabling controllers), or empty
};

// Under Delegate=yes on cgroup v2 (or the hybrid layout's unified tree): moves this process into
// <its cgroup>/daemon and enables the memory and pids controllers (those offered) for the
// service's children, so that a child cgroup can have limits of its own. Nothing when the cgroup
// is not a delegated one (no user.delegate xattr, cgroup v1 only): nullopt. Already in the leaf
// (a re-exec): the same answer without a move. Errors: the leaf cannot be made or entered.
Result<std::optional<DelegatedCgroup>> enterDelegatedLeaf(const HostPaths& paths);

// What a child's cgroup is allowed, where the tree offers the controller (cgroup v2 with it
// enabled for the child: under Delegate=yes after enterDelegatedLeaf). 0: no limit of ours.
struct ChildCgroupLimits {
  // memory.max; with it memory.oom.group=1, so that an OOM inside takes the whole cgroup, and
  // memory.swap.max=0, so that it cannot go on in swap past it. The child is then charged to its
  // own cgroup, and what it uses past this is its OOM, not the service's (whose MemoryHigh would
  // slow the daemon too).
  std::uint64_t memory_max = 0;
  std::uint64_t pids_max = 0;  // pids.max: a fork bomb stops there
};

// Writes `limits` into the cgroup directory `dir` (see ChildCgroupLimits; memory.max comes with
// memory.oom.group=1 and memory.swap.max=0, the latter skipped where swap is not accounted).
// Returns what could not be set ("no memory limit of its own (...)"), naming `parent` when the
// controller is not enabled for its children; empty when all was set. cgroup v1 (`v2` false):
// nothing is written.
std::string applyChildCgroupLimits(const std::string& dir, bool v2, const ChildCgroupLimits& limits,
                                   const std::string& parent);

// What sweepDelegated found where only the daemon belongs, and did about it.
struct DelegatedSweep {
  std::string service_dir;    // the delegated cgroup; empty when the daemon is not in its leaf
  std::vector<pid_t> killed;  // processes in the daemon's leaf that were not ours
  std::vector<std::string> cgroups;  // cgroups beside the leaf that were not ours (their names)
  std::string left;                  // what could not be killed or removed
  bool clean() const { return killed.empty() && cgroups.empty() && left.empty(); }
  std::string describe() const;
};

// A cgroup of its own for a child (an exec hook, jcmd) and everything it starts: a descendant that
// calls setsid() leaves the process group, never the cgroup. On cgroup v2 (or the hybrid layout's
// unified tree) made under the daemon's cgroup, or beside the daemon's leaf when it entered one
// (enterDelegatedLeaf), and ended with cgroup.kill; on v1 only, in the pids (else memory)
// hierarchy, ended by killing every process listed in cgroup.procs until it is empty.
class ChildCgroup {
 public:
  // Errors: no cgroup tree we know, or no permission to make one (not root, a read-only
  // /sys/fs/cgroup): the caller falls back to the process group and says so. A limit the tree
  // cannot set is no error: limitsNote() says which.
  static Result<ChildCgroup> create(const HostPaths& paths, std::string_view name,
                                    const ChildCgroupLimits& limits = {});
  ChildCgroup(ChildCgroup&&) noexcept;
  ChildCgroup& operator=(ChildCgroup&&) = delete;
  ~ChildCgroup();
  // For ChildSpec::cgroup_procs_fd.
  int procsFd() const { return procs_.get(); }
  const std::string& dir() const { return dir_; }
  // "no memory limit of its own: ..." when a limit asked for could not be set, else empty.
  const std::string& limitsNote() const { return limits_note_; }
  // Kills everything in it and in the cgroups the child made below it (cgroup.kill on v2; v1 and
  // older kernels: every listed pid, through pidfds), waits up to `limit` for it to be empty
  // (v2: "populated 0" in cgroup.events, which also waits out a killed multi-threaded process
  // still exiting), then removes those sub-cgroups deepest first and then it, retrying on EBUSY
  // until `limit`. Empty when it is gone, else why it is not ("2 processes did not end in DIR",
  // "its cgroup could not be removed: ..."). A killAll that failed is not waited for again by the
  // destructor, which only tries to remove the directory once more.
  std::string killAll(Duration limit = std::chrono::seconds(2));

  // After a child that could write the service's cgroup files ended (an exec hook as uid 0: it
  // has no capabilities, but the files are root's, and the unit makes the service's cgroup
  // writable): under Delegate=yes, with the daemon in its leaf, kills every process in the leaf
  // but `self` and the children runChild has not yet reaped (SIGKILL through a pidfd, after
  // checking it is listed still), and kills and removes every cgroup beside the leaf but the
  // leaf, systemd's .control and the ChildCgroups that exist. Nothing to do elsewhere: clean().
  static Result<DelegatedSweep> sweepDelegated(const HostPaths& paths, pid_t self);

 private:
  ChildCgroup(std::string dir, OwnedFd procs, bool v2);
  std::string dir_;
  OwnedFd procs_;
  bool v2_ = false;
  bool removed_ = false;
  bool kill_tried_ = false;  // killAll ran: the destructor does not wait again
  bool registered_ = false;  // in the list of the daemon's own cgroups (sweepDelegated)
  std::string limits_note_;
};

}  // namespace oomsentinel
