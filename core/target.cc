#include "core/target.h"

#include <utility>

namespace oomsentinel {

Target Target::cgroupPath(std::string name, std::string path) {
  Target t;
  t.name = std::move(name);
  t.kind = TargetKind::kCgroup;
  t.cgroup = std::move(path);
  return t;
}

Target Target::process(std::string name, pid_t pid) {
  Target t;
  t.name = std::move(name);
  t.kind = TargetKind::kPid;
  t.pid = pid;
  return t;
}

Target Target::self(std::string name) {
  Target t;
  t.name = std::move(name);
  t.kind = TargetKind::kSelf;
  return t;
}

Target Target::host(std::string name) {
  Target t;
  t.name = std::move(name);
  t.kind = TargetKind::kHost;
  return t;
}

const char* targetKindName(TargetKind kind) {
  switch (kind) {
    case TargetKind::kCgroup:
      return "cgroup";
    case TargetKind::kPid:
      return "pid";
    case TargetKind::kSelf:
      return "self";
    case TargetKind::kHost:
      return "host";
  }
  return "unknown";
}

const char* selectorKindName(SelectorKind kind) {
  switch (kind) {
    case SelectorKind::kProcess:
      return "process";
    case SelectorKind::kPidFile:
      return "pid_file";
    case SelectorKind::kCgroupGlob:
      return "cgroup_glob";
    case SelectorKind::kSystemdUnit:
      return "systemd_unit";
    case SelectorKind::kNone:
      break;
  }
  return "none";
}

TargetKind selectorTargetKind(SelectorKind kind) {
  switch (kind) {
    case SelectorKind::kProcess:
    case SelectorKind::kPidFile:
      return TargetKind::kPid;
    case SelectorKind::kCgroupGlob:
    case SelectorKind::kSystemdUnit:
      return TargetKind::kCgroup;
    case SelectorKind::kNone:
      break;
  }
  return TargetKind::kHost;
}

}  // namespace oomsentinel
