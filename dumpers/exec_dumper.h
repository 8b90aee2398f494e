// dumpers/: capturing evidence while the process is still alive.
// ExecDumper: the user's own command (`exec: {argv, timeout}`), run without a shell with the
// incident's facts in its environment; whatever it leaves in the bundle becomes evidence.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/host_paths.h"
#include "dumpers/child.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

// The command runs as `user` (default nobody), with no capabilities and no_new_privs, in its
// own cgroup, and with an environment of its own, none of the daemon's:
//   PATH                      /usr/bin:/bin
//   OOMSENTINEL_TARGET        the target's name
//   OOMSENTINEL_RULE          the rule that fired
//   OOMSENTINEL_PID           the process to look at (only when the target has one)
//   OOMSENTINEL_INCIDENT_DIR  its folder in the bundle, where it may write files: it starts
//                             there, and the variable names it as /proc/self/fd/3. The folder
//                             stays the daemon's (no CAP_CHOWN needed): while the command runs
//                             it is 01777, and only that descriptor leads there (the bundle's
//                             parents are 0700 root); afterwards it is 0700 again.
// A daemon that cannot switch users (not root, or root without CAP_SETUID/CAP_SETGID, as in a
// Kubernetes sidecar) runs it as its own uid, still without capabilities, and says so in the
// result. Its stdout and stderr go to exec/stdout.txt and exec/stderr.txt in the bundle; every
// regular file it leaves there (subdirectories too) is an artifact, made 0600 and cut at the
// request's max_bytes. The files stay its user's (making them root's would take CAP_CHOWN);
// symlinks, FIFOs, sockets, devices and hard links are removed, never followed or finished. It
// is stopped, with everything it started, at min(timeout, the request's deadline), and anything
// it left running in its process group is killed when it exits. Everything it started is killed
// through its cgroup, also what left the process group with setsid(); where no cgroup can be
// made (not root, a read-only cgroup tree) only the process group is, and the result says so.
struct ExecIdentity {
  std::string user = "nobody";  // a name or a number; "root" keeps uid 0 (still no capabilities)
  HostPaths paths;              // where its cgroup goes (beside the daemon's own)
  // Its cgroup's memory.max (with memory.oom.group=1, memory.swap.max=0) and pids.max, where the
  // tree offers the controllers (config: exec.memory_max, exec.pids_max, whose defaults these are).
  ChildCgroupLimits limits{64ull << 20, 512};
};

// Who the command runs as. uid set: switch to uid/gid; unset: it keeps the daemon's uid, and
// `note` says why when that is not the configured user. `can_switch`: the daemon holds
// CAP_SETUID and CAP_SETGID (effective).
struct ExecRunAs {
  std::optional<uid_t> uid;
  gid_t gid = 0;
  std::string note;
};
ExecRunAs chooseExecRunAs(const std::string& user, uid_t uid, gid_t gid, uid_t our_euid,
                          bool can_switch);

// The uid exec.user names (a name, a number, or nobody's 65534 without a passwd entry).
Result<uid_t> execUserUid(const std::string& user);

class ExecDumper final : public Dumper {
 public:
  ExecDumper(std::vector<std::string> argv, Duration timeout, ExecIdentity identity = {});
  const char* name() const override { return "exec"; }
  DumpOutcome run(const DumpRequest& req) override;

 private:
  std::vector<std::string> argv_;
  Duration timeout_;
  ExecIdentity identity_;
};

}  // namespace oomsentinel
