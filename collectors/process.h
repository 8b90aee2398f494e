// collectors/: turning kernel text into Snapshots.
// A target's processes, summed: /proc/PID/status, smaps_rollup, stat. The processes are either
// one fixed pid or the members of a cgroup (its cgroup.procs, re-read every tick).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/control_file.h"
#include "core/clock.h"
#include "core/host_paths.h"

namespace oomsentinel {

class ProcessCollector final : public Collector {
 public:
  // At most this many processes are read per tick; above it the rss_* sums would be partial,
  // so they are left absent (process_count still says how many there are).
  static constexpr std::size_t kMaxProcesses = 512;

  // One process; its disappearance is an error (the target is gone).
  static ProcessCollector forPid(const HostPaths& paths, pid_t pid, bool with_smaps);
  // Every process listed in `cgroup_procs` (a cgroup.procs path).
  // `reopen_procs`: cgroup v1, whose pid list a held descriptor does not refresh.
  static ProcessCollector forCgroup(const HostPaths& paths, std::string cgroup_procs,
                                    bool with_smaps, bool reopen_procs);

  Status collect(Snapshot& out) override;

 private:
  struct Files {
    ControlFile status, smaps, stat;
  };
  ProcessCollector(const HostPaths& paths, bool with_smaps) : paths_(paths), smaps_(with_smaps) {}
  Status readOne(pid_t pid, Files& f);

  HostPaths paths_;
  bool smaps_;
  std::optional<pid_t> pid_;
  std::string pid_dir_;  // <proc root>/<pid> of a pid target
  std::optional<ControlFile> procs_;
  bool reopen_procs_ = true;
  static constexpr auto kProcsRefresh = std::chrono::seconds(1);
  std::optional<SteadyTime> procs_opened_;
  bool check_pid_dir_ = true;
  std::vector<int> pids_;
  std::map<pid_t, Files> files_;
  // Sums of the current tick.
  double rss_ = 0, anon_ = 0, file_ = 0, shmem_ = 0, swap_ = 0, data_ = 0, pss_ = 0, minflt_ = 0,
         majflt_ = 0;
  bool have_pss_ = false;
};

}  // namespace oomsentinel
