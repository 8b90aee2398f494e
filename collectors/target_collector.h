// collectors/: turning kernel text into Snapshots.
// TargetCollector: a Target resolved on this machine (its layout, its cgroup directory) and
// the collectors it needs, producing one Snapshot per call with the derived signals.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/jvm_perf.h"
#include "collectors/layout.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "core/target.h"

namespace oomsentinel {

class TargetCollector {
 public:
  // Resolves `target` now. Errors say what is missing (no such cgroup, no such process, no memory
  // controller) with the path involved.
  static Result<std::unique_ptr<TargetCollector>> create(const HostPaths& paths,
                                                         const CgroupLayout& layout,
                                                         const Target& target);
  // A pid target whose cgroup has no view here (a sidecar without the host's cgroupfs): its own
  // /proc counters, with usage and working set = its RSS and the limit given (the Downward API's
  // limits.memory). An approximation, said in docs/targets.md ("As a sidecar"): the container's
  // page cache and kernel memory are not seen. Used by the daemon only when create() cannot resolve
  // the cgroup.
  static Result<std::unique_ptr<TargetCollector>> createProcessOnly(const HostPaths& paths,
                                                                    const Target& target,
                                                                    double limit_bytes);
  // createProcessOnly's: the limit it was given (nullopt for a cgroup-backed one).
  std::optional<double> processOnlyLimit() const { return process_only_limit_; }

  // Clears `out`, stamps it with the clock's time and fills it. On error `out` holds whatever
  // was read before the failure. A cgroup directory that is gone is an error (isGone()); one
  // that was removed and made again under the same name is followed.
  Status collect(const Clock& clock, Snapshot& out);
  // The cheap read of a quiet tick (Collector::skim): the cgroup's usage and pressure, the limit of
  // the last collect(), and the ratio. When no collect() has succeeded since the collectors were
  // (re)built, it collects in full instead and sets *full.
  Status skim(const Clock& clock, Snapshot& out, bool* full);
  // Not the host: it has no cheap subset worth the name.
  bool canSkim() const { return target_.kind != TargetKind::kHost; }

  // Adds the JVM's perf-data counters (collectors/jvm_perf.h): the target's pid, or the JVM among
  // its cgroup's processes. Not for the host target. Idempotent.
  Status enableJvmPerfData();
  // The JVM reader when enabled (nullptr otherwise). Read it only between collect() calls.
  const JvmPerfCollector* jvm() const { return jvm_; }

  const Target& target() const { return target_; }
  CgroupVersion cgroupVersion() const { return version_; }
  const std::string& cgroupDir() const { return dir_; }            // empty for the host
  const std::string& cgroupRelative() const { return relative_; }  // empty for the host

 private:
  TargetCollector() = default;
  // Makes the cgroup collector and, unless `keep_process` and one exists, the process
  // collector, with fresh descriptors.
  void buildCollectors(bool keep_process);
  Status checkCgroupDir();

  Target target_;
  HostPaths paths_;
  std::string memory_root_;
  CgroupVersion version_ = CgroupVersion::kNone;
  std::string dir_, relative_;
  // The identity of dir_ when its files were opened.
  dev_t dir_dev_ = 0;
  ino_t dir_ino_ = 0;
  // On cgroupfs the held descriptors notice a removed or re-created cgroup themselves (ENODEV,
  // then ControlFile re-opens), so the per-tick stat is only for trees of plain files.
  bool on_cgroupfs_ = false;
  bool collected_ = false;  // a collect() succeeded since the collectors were built
  std::optional<double> process_only_limit_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  JvmPerfCollector* jvm_ = nullptr;  // owned by collectors_ (after the cgroup and processes)
};

// working_set_bytes = usage - inactive_file (the kubelet's definition, never below 0), and the
// ratios to the limit when a limit is known. Signals already set by a collector are kept.
void deriveSignals(Snapshot& s);

}  // namespace oomsentinel
