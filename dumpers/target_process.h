// dumpers/: capturing evidence while the process is still alive.
// Which process of a target a dump is about: the pid of a pid target, or the largest (by RSS) of
// a cgroup's processes, with its start time so that a recycled pid is never signalled.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/host_paths.h"
#include "core/result.h"

namespace oomsentinel {

struct ChosenProcess {
  pid_t pid = 0;
  std::uint64_t starttime = 0;  // field 22 of /proc/PID/stat
  std::uint64_t rss_kb = 0;
};

// The process `pid`, with its start time.
Result<ChosenProcess> describeProcess(const HostPaths& paths, pid_t pid);
// The largest process (VmRSS) listed in `cgroup_procs` (a cgroup.procs path); an Error when the
// cgroup has no process left.
Result<ChosenProcess> largestProcess(const HostPaths& paths, const std::string& cgroup_procs);

}  // namespace oomsentinel
