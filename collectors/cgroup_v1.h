// collectors/: turning kernel text into Snapshots.
// cgroup v1 memory controller, mapped onto the same signal names as v2 (README: "v1 mapping").
#pragma once

#include <string>

#include "collectors/collector.h"
#include "collectors/control_file.h"
#include "core/host_paths.h"

namespace oomsentinel {

class CgroupV1Collector final : public Collector {
 public:
  explicit CgroupV1Collector(std::string dir);
  Status collect(Snapshot& out) override;

 private:
  Status readNumber(ControlFile& f, Sig sig, Snapshot& out, bool limit);

  std::string dir_;
  ControlFile usage_, limit_, max_usage_, failcnt_, stat_, oom_control_, memsw_usage_, memsw_limit_,
      memsw_failcnt_;
  bool has_memsw_ = false;
  KeyedSignals stat_keys_{"stat_"};
};

}  // namespace oomsentinel
