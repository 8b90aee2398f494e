// dumpers/: capturing evidence while the process is still alive.
// ProcDumper: what the kernel says at that moment, for any runtime: the process's status,
// smaps_rollup and maps (smaps when asked), and the cgroup's memory files.
#pragma once

#include "core/host_paths.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

class ProcDumper final : public Dumper {
 public:
  ProcDumper(const HostPaths& paths, bool with_smaps) : paths_(paths), smaps_(with_smaps) {}
  const char* name() const override { return "proc"; }
  // kOk when every file that exists was copied, kPartial when some could not be, or when the
  // process exited during the copy (the files read from then on are named: the kernel ends them
  // early or empty without an error), kFailed when none could (the process and the cgroup are
  // both gone).
  DumpOutcome run(const DumpRequest& req) override;

 private:
  HostPaths paths_;
  bool smaps_;
};

}  // namespace oomsentinel
