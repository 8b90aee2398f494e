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

// A target the config describes by a rule rather than by one cgroup or pid: discovery
// (collectors/discovery.h) turns it into zero or more concrete Targets, again and again, since
// processes and containers come and go.
enum class SelectorKind {
  kNone,         // a concrete target: no discovery
  kProcess,      // process: REGEX over each process's comm and command line
  kPidFile,      // pid_file: PATH holding a pid
  kCgroupGlob,   // cgroup_glob: GLOB over the memory hierarchy ('*', '?', '[...]', '**')
  kSystemdUnit,  // systemd_unit: NAME.service | NAME.scope | NAME.slice
};

struct TargetSelector {
  SelectorKind kind = SelectorKind::kNone;
  std::string pattern;  // the regex, path, glob or unit name as written

  bool any() const { return kind != SelectorKind::kNone; }
  bool operator==(const TargetSelector&) const = default;
};

// The config key of a selector ("process", "pid_file", "cgroup_glob", "systemd_unit"; "none").
const char* selectorKindName(SelectorKind kind);
// What discovery makes of a selector: kPid for process and pid_file, kCgroup for the others.
TargetKind selectorTargetKind(SelectorKind kind);

}  // namespace oomsentinel
