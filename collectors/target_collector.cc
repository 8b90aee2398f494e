#include "collectors/target_collector.h"

#include <algorithm>

#include "collectors/cgroup_v1.h"
#include "collectors/cgroup_v2.h"
#include "collectors/host.h"
#include "collectors/process.h"

namespace oomsentinel {

void deriveSignals(Snapshot& s) {
  auto usage = s.get(Sig::kUsageBytes);
  if (usage && !s.has(Sig::kWorkingSetBytes)) {
    if (auto inactive = s.get(Sig::kInactiveFileBytes))
      s.set(Sig::kWorkingSetBytes, std::max(0.0, *usage - *inactive));
  }
  auto limit = s.get(Sig::kLimitBytes);
  if (!limit || *limit <= 0) return;
  if (usage) s.set(Sig::kUsageRatio, *usage / *limit);
  if (auto ws = s.get(Sig::kWorkingSetBytes)) s.set(Sig::kWorkingSetRatio, *ws / *limit);
}

Result<std::unique_ptr<TargetCollector>> TargetCollector::create(const HostPaths& paths,
                                                                 const CgroupLayout& layout,
                                                                 const Target& target) {
  std::unique_ptr<TargetCollector> tc(new TargetCollector());
  tc->target_ = target;
  if (target.kind == TargetKind::kHost) {
    tc->collectors_.push_back(std::make_unique<HostCollector>(paths));
    return tc;
  }
  if (layout.memory_version == CgroupVersion::kNone)
    return makeError("no memory cgroup controller: " + layout.why_none);
  Result<ResolvedCgroup> cg = makeError("unresolved");
  switch (target.kind) {
    case TargetKind::kCgroup:
      cg = resolveCgroupPath(layout, target.cgroup);
      break;
    case TargetKind::kPid:
      if (target.pid <= 0) return makeError("pid must be positive, got " + std::to_string(target.pid));
      cg = resolvePidCgroup(paths, layout, target.pid);
      break;
    case TargetKind::kSelf:
      cg = resolvePidCgroup(paths, layout, 0);
      break;
    case TargetKind::kHost:
      break;
  }
  if (!cg) return cg.error();
  tc->version_ = cg->version;
  tc->dir_ = cg->dir;
  tc->relative_ = cg->relative;
  if (cg->version == CgroupVersion::kV2) {
    std::vector<std::string> ancestors;
    std::string rel = cg->relative;
    for (auto slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
         slash = rel.rfind('/')) {
      rel.resize(slash);
      ancestors.push_back(joinPath(layout.memory_root, rel));
    }
    tc->collectors_.push_back(std::make_unique<CgroupV2Collector>(cg->dir, std::move(ancestors)));
  } else {
    tc->collectors_.push_back(std::make_unique<CgroupV1Collector>(cg->dir));
  }
  // smaps_rollup walks the page tables: worth it for one process, too costly for every member
  // of a large cgroup at a fast tick.
  if (target.kind == TargetKind::kPid) {
    tc->collectors_.push_back(std::make_unique<ProcessCollector>(
        ProcessCollector::forPid(paths, target.pid, /*with_smaps=*/true)));
  } else {
    tc->collectors_.push_back(std::make_unique<ProcessCollector>(
        ProcessCollector::forCgroup(paths, joinPath(cg->dir, "cgroup.procs"), false)));
  }
  return tc;
}

Status TargetCollector::collect(const Clock& clock, Snapshot& out) {
  out.clear();
  out.steady = clock.steadyNow();
  out.wall = clock.wallNow();
  for (auto& c : collectors_)
    if (auto st = c->collect(out); !st) return st;
  deriveSignals(out);
  return Ok{};
}

}  // namespace oomsentinel
