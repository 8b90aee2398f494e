// dumpers/: capturing evidence while the process is still alive.
// ExecDumper: the user's own command (`exec: {argv, timeout}`), run without a shell with the
// incident's facts in its environment; whatever it leaves in the bundle becomes evidence.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/host_paths.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

// The command runs as `user` (default nobody), with no capabilities and no_new_privs, in its
// own cgroup, and with an environment of its own, none of the daemon's:
//   PATH                      /usr/bin:/bin
//   OOMSENTINEL_TARGET        the target's name
//   OOMSENTINEL_RULE          the rule that fired
//   OOMSENTINEL_PID           the process to look at (only when the target has one)
//   OOMSENTINEL_INCIDENT_DIR  its folder in the bundle, where it may write files: it starts
//                             there, the folder is its user's, and the variable names it as
//                             /proc/self/fd/3 (the bundle's parents stay closed to that user)
// Its stdout and stderr go to exec.stdout.txt and exec.stderr.txt in the bundle; every regular
// file it leaves in the bundle (subdirectories too; symlinks are not followed) is an artifact,
// cut at the request's max_bytes. It is stopped, with everything it started, at
// min(timeout, the request's deadline), and anything it left running in its process group is
// killed when it exits. Everything it started is killed through its cgroup, also what left the
// process group with setsid(); where no cgroup can be made (not root, a read-only cgroup tree)
// only the process group is, and the result says so.
struct ExecIdentity {
  std::string user = "nobody";  // a name or a number; "root" keeps uid 0 (still no capabilities)
  HostPaths paths;              // where its cgroup goes (beside the daemon's own)
};

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
