#include "collectors/target_collector.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "collectors/cgroup_v1.h"
#include "collectors/cgroup_v2.h"
#include "collectors/host.h"
#include "collectors/process.h"
#include "core/cgroup_delegation.h"

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
      if (target.pid <= 0)
        return makeError("pid must be positive, got " + std::to_string(target.pid));
      cg = resolvePidCgroup(paths, layout, target.pid);
      break;
    case TargetKind::kSelf:
      cg = resolvePidCgroup(paths, layout, 0);
      // Under the unit's Delegate=yes the daemon lives in <service>/daemon (dumpers/child.h
      // enterDelegatedLeaf), a leaf with no limit of its own: the daemon's memory is the
      // service's, whose memory.max systemd set and which counts its children too.
      if (cg && cg->version == CgroupVersion::kV2) {
        if (std::string service = delegatedServiceOfLeaf(cg->dir); !service.empty()) {
          std::string_view rel = cg->relative;
          rel = rel.substr(0, rel.rfind('/'));
          if (auto up = resolveCgroupPath(layout, rel.empty() ? "/" : rel)) cg = std::move(up);
        }
      }
      break;
    case TargetKind::kHost:
      break;
  }
  if (!cg) return cg.error();
  tc->paths_ = paths;
  tc->memory_root_ = layout.memory_root;
  tc->version_ = cg->version;
  tc->dir_ = cg->dir;
  tc->relative_ = cg->relative;
  struct stat st;
  if (::stat(tc->dir_.c_str(), &st) != 0) return makeError("cannot stat", tc->dir_, errno);
  tc->dir_dev_ = st.st_dev;
  tc->dir_ino_ = st.st_ino;
  tc->on_cgroupfs_ = isCgroupfs(tc->dir_);
  tc->buildCollectors(/*keep_process=*/false);
  return tc;
}

Result<std::unique_ptr<TargetCollector>> TargetCollector::createProcessOnly(const HostPaths& paths,
                                                                            const Target& target,
                                                                            double limit_bytes) {
  if (target.kind != TargetKind::kPid || target.pid <= 0)
    return makeError("a process-only target needs a pid");
  if (!(limit_bytes > 0)) return makeError("a process-only target needs a positive limit");
  if (!fileExists(paths.procFile(std::to_string(target.pid) + "/stat")))
    return makeError("no such process", paths.procFile(std::to_string(target.pid)), ESRCH);
  std::unique_ptr<TargetCollector> tc(new TargetCollector());
  tc->target_ = target;
  tc->paths_ = paths;
  tc->process_only_limit_ = limit_bytes;
  tc->collectors_.push_back(std::make_unique<ProcessCollector>(
      ProcessCollector::forPid(paths, target.pid, /*with_smaps=*/true)));
  return tc;
}

void TargetCollector::buildCollectors(bool keep_process) {
  std::unique_ptr<Collector> cgroup;
  if (version_ == CgroupVersion::kV2) {
    std::vector<std::string> ancestors;
    std::string rel = relative_;
    for (auto slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
         slash = rel.rfind('/')) {
      rel.resize(slash);
      ancestors.push_back(joinPath(memory_root_, rel));
    }
    cgroup = std::make_unique<CgroupV2Collector>(dir_, std::move(ancestors));
  } else {
    cgroup = std::make_unique<CgroupV1Collector>(dir_);
  }
  if (collectors_.empty()) {
    collectors_.push_back(std::move(cgroup));
  } else {
    collectors_[0] = std::move(cgroup);
  }
  if (keep_process && collectors_.size() > 1) return;
  // smaps_rollup walks the page tables: worth it for one process, too costly for every member
  // of a large cgroup at a fast tick.
  std::unique_ptr<Collector> procs;
  if (target_.kind == TargetKind::kPid) {
    procs = std::make_unique<ProcessCollector>(
        ProcessCollector::forPid(paths_, target_.pid, /*with_smaps=*/true));
  } else {
    procs = std::make_unique<ProcessCollector>(
        ProcessCollector::forCgroup(paths_, joinPath(dir_, "cgroup.procs"), false,
                                    /*reopen_procs=*/version_ == CgroupVersion::kV1));
  }
  if (collectors_.size() > 1)
    collectors_[1] = std::move(procs);
  else
    collectors_.push_back(std::move(procs));
}

Status TargetCollector::enableJvmPerfData() {
  if (jvm_) return Ok{};
  std::unique_ptr<JvmPerfCollector> c;
  if (target_.kind == TargetKind::kPid)
    c = std::make_unique<JvmPerfCollector>(JvmPerfCollector::forPid(paths_, target_.pid));
  else if (target_.kind == TargetKind::kHost)
    return makeError("jvm perf data needs a cgroup or pid target, not the host");
  else
    c = std::make_unique<JvmPerfCollector>(
        JvmPerfCollector::forCgroup(paths_, joinPath(dir_, "cgroup.procs")));
  jvm_ = c.get();
  // After the cgroup and process collectors, which buildCollectors replaces in place.
  collectors_.push_back(std::move(c));
  return Ok{};
}

// cgroupfs makes the held descriptors of a removed cgroup fail (ENODEV) and ControlFile then
// re-opens them; other filesystems (a fixture tree, a recorded tree being replayed) keep
// serving the removed files. One stat per tick makes both behave alike: a missing directory is
// an error, a directory made again under the same name gets fresh descriptors.
Status TargetCollector::checkCgroupDir() {
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0) {
    int e = errno;
    // Whatever comes back under this name is new, even if the filesystem reuses the inode.
    dir_dev_ = 0;
    dir_ino_ = 0;
    return makeError("cgroup is gone", dir_, e);
  }
  if (st.st_dev == dir_dev_ && st.st_ino == dir_ino_) return Ok{};
  dir_dev_ = st.st_dev;
  dir_ino_ = st.st_ino;
  // A pid target keeps its process collector: the pid's held files must not follow a new process.
  buildCollectors(/*keep_process=*/target_.kind == TargetKind::kPid);
  collected_ = false;
  return Ok{};
}

Status TargetCollector::collect(const Clock& clock, Snapshot& out) {
  out.clear();
  out.steady = clock.steadyNow();
  out.wall = clock.wallNow();
  if (target_.kind != TargetKind::kHost && !on_cgroupfs_ && !process_only_limit_)
    if (auto st = checkCgroupDir(); !st) return st;
  for (auto& c : collectors_)
    if (auto st = c->collect(out); !st) return st;
  if (process_only_limit_) {
    // What the process holds stands for what its cgroup would be charged.
    if (auto rss = out.get(Sig::kRssBytes)) {
      out.set(Sig::kUsageBytes, *rss);
      out.set(Sig::kWorkingSetBytes, *rss);
    }
    out.set(Sig::kLimitBytes, *process_only_limit_);
  }
  deriveSignals(out);
  collected_ = true;
  return Ok{};
}

Status TargetCollector::skim(const Clock& clock, Snapshot& out, bool* full) {
  *full = false;
  out.clear();
  out.steady = clock.steadyNow();
  out.wall = clock.wallNow();
  if (!on_cgroupfs_ && canSkim() && !process_only_limit_)
    if (auto st = checkCgroupDir(); !st) return st;
  // The host, or new collectors (a re-created cgroup) whose limit is not known yet.
  if (!canSkim() || !collected_ || process_only_limit_) {
    *full = true;
    return collect(clock, out);
  }
  if (auto st = collectors_[0]->skim(out); !st) return st;
  deriveSignals(out);
  return Ok{};
}

}  // namespace oomsentinel
