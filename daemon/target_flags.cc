#include "daemon/target_flags.h"

#include <cstdlib>

#include "collectors/layout.h"

namespace oomsentinel {

bool takeTargetFlag(Args& args, std::optional<Target>& target) {
  std::optional<std::string> v;
  Target t;
  if (args.flag("--cgroup", &v)) {
    t = Target::cgroupPath(*v, *v);
  } else if (args.flag("--pid", &v)) {
    char* end = nullptr;
    long pid = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || pid <= 0 || pid > 0x3fffffff)
      throw UsageError{"--pid needs a positive process id, got '" + *v + "'"};
    t = Target::process("pid-" + *v, static_cast<pid_t>(pid));
  } else if (args.flag("--self")) {
    t = Target::self();
  } else if (args.flag("--host")) {
    t = Target::host();
  } else {
    return false;
  }
  if (target) throw UsageError{"give only one of --cgroup, --pid, --self, --host"};
  target = std::move(t);
  return true;
}

Result<OpenedTarget> openTarget(const HostPaths& paths, const Target& target) {
  OpenedTarget out;
  CgroupLayout layout;
  if (target.kind != TargetKind::kHost) {
    auto l = detectLayout(paths);
    if (!l) return l.error();
    layout = *l;
    out.layout = layoutKindName(layout.kind);
  }
  auto tc = TargetCollector::create(paths, layout, target);
  if (!tc) return tc.error();
  out.collector = std::move(*tc);
  return out;
}

}  // namespace oomsentinel
