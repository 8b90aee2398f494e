// collectors/: turning kernel text into Snapshots.
// cgroup v1 memory controller, mapped onto the same signal names as v2 (docs/signals.md).
#pragma once

#include <optional>
#include <string>

#include "collectors/collector.h"
#include "collectors/control_file.h"
#include "core/host_paths.h"

namespace oomsentinel {

class CgroupV1Collector final : public Collector {
 public:
  explicit CgroupV1Collector(std::string dir);
  Status collect(Snapshot& out) override;
  // usage_in_bytes, and the limit from the last collect(). Not oom_control: formatting it costs
  // the kernel more than the usage does, and a kill that frees memory shows in the usage.
  Status skim(Snapshot& out) override;

 private:
  Status readNumber(ControlFile& f, Sig sig, Snapshot& out, bool limit);
  Status readOomControl(Snapshot& out);

  std::string dir_;
  ControlFile usage_, limit_, max_usage_, failcnt_, stat_, oom_control_, memsw_usage_, memsw_limit_,
      memsw_failcnt_;
  bool has_memsw_ = false;
  std::optional<double> last_limit_;  // the effective limit at the last collect()
  KeyedSignals stat_keys_{"stat_"};
};

}  // namespace oomsentinel
