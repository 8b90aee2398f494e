// core/: the shared vocabulary of oomsentinel.
// HostPaths: the cgroup root and proc root. The only place absolute kernel paths are written.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace oomsentinel {

class HostPaths {
 public:
  static constexpr std::string_view kDefaultCgroupRoot = "/sys/fs/cgroup";
  static constexpr std::string_view kDefaultProcRoot = "/proc";
  // This process's own executable, whatever the proc root of the targets is (--proc-root names
  // the host's /proc, where /proc/self would not be us): where the TLS module is looked for.
  static constexpr std::string_view kOwnExecutable = "/proc/self/exe";
  // This process's own descriptors, likewise always the real /proc: how a descriptor opened
  // with O_PATH is reopened for reading (core/target_fs.cc).
  static constexpr std::string_view kOwnFdDir = "/proc/self/fd";

  HostPaths() = default;
  HostPaths(std::string cgroup_root, std::string proc_root);

  const std::string& cgroupRoot() const { return cgroup_root_; }
  const std::string& procRoot() const { return proc_root_; }
  // True when the cgroup root was given by the user (then the tree, not mountinfo, decides
  // the cgroup version).
  bool cgroupRootGiven() const { return cgroup_root_ != kDefaultCgroupRoot; }

  // <proc root>/<pid>/<file>; pid 0 means "self".
  std::string proc(pid_t pid, std::string_view file) const;
  std::string procFile(std::string_view file) const;  // <proc root>/<file>, e.g. "meminfo"
  std::string meminfo() const { return procFile("meminfo"); }
  std::string vmstat() const { return procFile("vmstat"); }
  std::string memoryPressure() const { return procFile("pressure/memory"); }
  std::string selfMountinfo() const { return proc(0, "mountinfo"); }

 private:
  std::string cgroup_root_{kDefaultCgroupRoot};
  std::string proc_root_{kDefaultProcRoot};
};

// Joins path pieces with exactly one '/' between them.
std::string joinPath(std::string_view a, std::string_view b);

}  // namespace oomsentinel
