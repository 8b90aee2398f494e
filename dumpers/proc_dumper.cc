#include "dumpers/proc_dumper.h"

#include <unistd.h>

#include "dumpers/artifact.h"

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
    for (const char* f :
         {"status", "smaps_rollup", "maps", "cmdline", "oom_score", "oom_score_adj"})
      copy(paths_.proc(pid, f), prefix + f + ".txt");
    if (smaps_) copy(paths_.proc(pid, "smaps"), prefix + "smaps.txt");
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
