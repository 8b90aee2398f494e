#include "dumpers/proc_dumper.h"

#include <fcntl.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "core/owned_fd.h"
#include "dumpers/artifact.h"
#include "dumpers/target_process.h"

namespace oomsentinel {

DumpOutcome ProcDumper::run(const DumpRequest& req) {
  SystemClock clock;
  SteadyTime start = clock.steadyNow();
  DumpOutcome out;
  out.dumper = name();
  std::vector<std::string> errors;
  std::size_t tried = 0;
  auto copy = [&](const std::string& src, const std::string& as) {
    if (clock.steadyNow() >= req.deadline) {
      errors.push_back(as + ": not copied, the dump's deadline passed");
      ++tried;
      return;
    }
    if (::access(src.c_str(), F_OK) != 0) return;  // not offered here (v1, an old kernel)
    ++tried;
    auto a = copyArtifact(req.dir, as, src, req.max_bytes);
    if (a)
      out.artifacts.push_back(*a);
    else
      errors.push_back(a.error().describe());
  };
  if (req.pid) {
    const pid_t pid = *req.pid;
    const std::string prefix = "proc-" + std::to_string(pid) + "-";
    // The process's /proc directory held first, then its start time checked through it: if it
    // is the process chosen at the firing, every file below is read through this descriptor, so
    // a pid recycled in the middle of the copy yields errors (ESRCH), never another process's
    // files. Without a start time (0) the pid is taken as it is.
    OwnedFd held(::open(paths_.proc(pid, "").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const std::string through =
        held.get() >= 0 ? joinPath(HostPaths::kOwnFdDir, std::to_string(held.get())) : "";
    std::optional<std::string> refused;
    if (req.pid_starttime != 0)
      refused = held.get() < 0
                    ? std::optional<std::string>("pid " + std::to_string(pid) + " is gone")
                    : notTheChosenProcess(joinPath(through, "stat"), pid, req.pid_starttime);
    if (refused) {
      errors.push_back(*refused + ": its files were not read");
      ++tried;
    } else if (held.get() >= 0) {
      for (const char* f :
           {"status", "smaps_rollup", "maps", "cmdline", "oom_score", "oom_score_adj"})
        copy(joinPath(through, f), prefix + f + ".txt");
      if (smaps_) copy(joinPath(through, "smaps"), prefix + "smaps.txt");
    }
  }
  if (!req.cgroup_dir.empty()) {
    // v2 and v1 names; whichever exist.
    for (const char* f :
         {"memory.stat", "memory.events", "memory.events.local", "memory.pressure",
          "memory.current", "memory.max", "memory.high", "memory.swap.current",
          "memory.usage_in_bytes", "memory.limit_in_bytes", "memory.max_usage_in_bytes",
          "memory.oom_control", "memory.failcnt", "cgroup.procs"})
      copy(joinPath(req.cgroup_dir, f), std::string("cgroup-") + f + ".txt");
  }
  out.took = clock.steadyNow() - start;
  if (tried == 0) {
    out.result = DumpResult::kSkipped;
    out.error = "nothing to copy: no pid and no cgroup";
  } else if (errors.empty()) {
    out.result = DumpResult::kOk;
  } else {
    out.result = out.artifacts.empty() ? DumpResult::kFailed : DumpResult::kPartial;
    for (const auto& e : errors) out.error += (out.error.empty() ? "" : "; ") + e;
  }
  return out;
}

}  // namespace oomsentinel
