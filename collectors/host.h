// collectors/: turning kernel text into Snapshots.
// The host as a target (no cgroup limit): /proc/meminfo, /proc/pressure/memory, /proc/vmstat.
#pragma once

#include "collectors/collector.h"
#include "collectors/control_file.h"
#include "core/host_paths.h"

namespace oomsentinel {

class HostCollector final : public Collector {
 public:
  explicit HostCollector(const HostPaths& paths);
  Status collect(Snapshot& out) override;

 private:
  ControlFile meminfo_, pressure_, vmstat_;
  bool has_pressure_ = true;
};

}  // namespace oomsentinel
