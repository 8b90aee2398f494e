// dumpers/: capturing evidence while the process is still alive.
// Which process of a target a dump is about: the pid of a pid target, or the largest (by RSS) of
// a cgroup's processes, with its start time so that a recycled pid is never signalled.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
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
// Why `pid` is not the process that was chosen with start time `starttime` (nullopt: it is),
// read from `stat_path` (its /proc/PID/stat, or the same file through a descriptor held on its
// /proc/PID): "pid N was recycled (start time X, expected Y)", or "pid N is gone".
std::optional<std::string> notTheChosenProcess(const std::string& stat_path, pid_t pid,
                                               std::uint64_t starttime);
std::optional<std::string> notTheChosenProcess(const HostPaths& paths, pid_t pid,
                                               std::uint64_t starttime);
// The largest process (VmRSS) listed in `cgroup_procs` (a cgroup.procs path); an Error when the
// cgroup has no process left.
Result<ChosenProcess> largestProcess(const HostPaths& paths, const std::string& cgroup_procs);

}  // namespace oomsentinel
