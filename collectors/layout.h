// collectors/: turning kernel text into Snapshots.
// Cgroup layout: where the memory controller lives (v2 unified, v1, or hybrid), and resolving a
// target (cgroup path, pid, self) to a directory in it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collectors/parse.h"
#include "core/host_paths.h"
#include "core/result.h"
#include "core/target.h"

namespace oomsentinel {

enum class CgroupVersion { kNone, kV1, kV2 };
const char* cgroupVersionName(CgroupVersion v);

struct CgroupLayout {
  enum class Kind {
    kUnified,  // cgroup v2 only, memory controller on it
    kLegacy,   // cgroup v1 memory controller, no cgroup2 mount
    kHybrid,   // v1 memory controller plus a cgroup2 mount without memory (systemd "hybrid")
    kNone,     // no memory controller reachable
  };
  Kind kind = Kind::kNone;
  CgroupVersion memory_version = CgroupVersion::kNone;
  std::string memory_root;  // directory of the hierarchy that has the memory controller
  // The part of the hierarchy mounted at memory_root (mountinfo's root field): "/" normally,
  // a sub-path for bind mounts and cgroup namespaces. Stripped from /proc/PID/cgroup paths.
  std::string mount_root = "/";
  std::string unified_root;  // the cgroup2 mount, when there is one
  std::string why_none;      // for kNone: what was looked at
};
const char* layoutKindName(CgroupLayout::Kind k);

// Pure: decides from parsed mountinfo plus the root cgroup.controllers text of the cgroup2
// mount (empty when unreadable).
CgroupLayout layoutFromMounts(const std::vector<MountInfo>& mounts,
                              std::string_view unified_controllers);

// Reads either the tree at the user's --cgroup-root or, by default, <proc root>/self/mountinfo.
Result<CgroupLayout> detectLayout(const HostPaths& paths);

struct ResolvedCgroup {
  CgroupVersion version = CgroupVersion::kNone;
  std::string relative;  // "/" for the root, "/system.slice/app.service" ...
  std::string dir;       // absolute directory
};

// The memory cgroup of a process, from <proc root>/<pid>/cgroup (pid 0 = self).
Result<ResolvedCgroup> resolvePidCgroup(const HostPaths& paths, const CgroupLayout& layout,
                                        pid_t pid);
// A path relative to the memory hierarchy root; must exist.
Result<ResolvedCgroup> resolveCgroupPath(const CgroupLayout& layout, std::string_view path);

}  // namespace oomsentinel
