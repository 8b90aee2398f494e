// core/: the shared vocabulary of oomsentinel.
// Target: what the user asked to watch, before it is resolved against the running system.
#pragma once

#include <sys/types.h>

#include <string>

namespace oomsentinel {

enum class TargetKind {
  kCgroup,  // a cgroup path relative to the memory hierarchy's root
  kPid,     // a process: its cgroup, plus its own /proc counters
  kSelf,    // oomsentinel's own cgroup (the sidecar case)
  kHost,    // the whole machine: /proc/meminfo, /proc/pressure/memory, /proc/vmstat
};

struct Target {
  std::string name;  // used in labels, logs and incident names
  TargetKind kind = TargetKind::kHost;
  std::string cgroup;  // kCgroup
  pid_t pid = 0;       // kPid

  static Target cgroupPath(std::string name, std::string path);
  static Target process(std::string name, pid_t pid);
  static Target self(std::string name = "self");
  static Target host(std::string name = "host");
};

const char* targetKindName(TargetKind kind);

}  // namespace oomsentinel
