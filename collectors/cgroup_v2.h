// collectors/: turning kernel text into Snapshots.
// cgroup v2 memory controller: memory.{current,max,high,low,min,peak,stat,events,events.local,
// pressure,swap.current,swap.max}, and the effective limit (the smallest memory.max on the path).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/control_file.h"
#include "collectors/parse.h"
#include "core/host_paths.h"

namespace oomsentinel {

class CgroupV2Collector final : public Collector {
 public:
  // `dir`: the cgroup's directory; `ancestors`: its parents' directories below the root (the
  // root itself has no memory.max), nearest first.
  CgroupV2Collector(std::string dir, std::vector<std::string> ancestors);
  Status collect(Snapshot& out) override;
  // memory.current and memory.pressure (the one signal of the built-in rules that no ratio
  // bounds), and the limit from the last collect().
  Status skim(Snapshot& out) override;

 private:
  struct Optional {
    ControlFile file;
    bool present = true;
  };
  Result<std::string_view> readOptional(Optional& f);
  Status readCurrent(Snapshot& out);
  Status readEvents(Snapshot& out);
  Status readPressure(Snapshot& out);

  std::string dir_;
  ControlFile current_, stat_;
  Optional max_, high_, low_, min_, peak_, events_, events_local_, pressure_, swap_current_,
      swap_max_;
  std::vector<Optional> ancestor_max_;
  std::optional<double> last_limit_;  // the effective limit at the last collect()
  KeyedSignals stat_keys_{"stat_"}, events_keys_{"events_"}, events_local_keys_{"events_local_"};
};

// Shared by the cgroup and host collectors: PSI fields onto psi_* signals.
void setPressure(const Psi& psi, Snapshot& out);

}  // namespace oomsentinel
