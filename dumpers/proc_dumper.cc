#include "dumpers/proc_dumper.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/owned_fd.h"
#include "dumpers/artifact.h"
#include "dumpers/target_process.h"

namespace oomsentinel {
namespace {

enum class Liveness { kAlive, kExited };

// A process that exits (killed by the OOM killer in the middle of the dump, the very case a dump
// is for) gives no error on the files it leaves: once its memory is released (early in its exit,
// while its state still says running) its maps and smaps end early or read as empty, its cmdline
// as empty, and once reaped its files are not found at all. Its stat, read through the held
// descriptor, tells: gone, a zombie ('Z', 'X'), PF_EXITING in its flags (set before the memory
// goes), or no memory (vsize 0).
Liveness livenessOf(const std::string& stat_path) {
  auto stat = readFileUpTo(stat_path, 4096);
  if (!stat) return Liveness::kExited;
  auto close = stat->rfind(')');
  if (close == std::string::npos) return Liveness::kExited;
  std::istringstream fields(stat->substr(close + 1));
  // After the name: state (field 3), ..., flags (field 9), ..., vsize (field 23).
  std::vector<std::string> f;
  for (std::string w; f.size() < 21 && fields >> w;) f.push_back(w);
  if (f.size() < 21) return Liveness::kExited;
  constexpr unsigned long kPfExiting = 0x4;
  unsigned long flags = std::strtoul(f[6].c_str(), nullptr, 10);
  bool exiting = f[0] == "Z" || f[0] == "X" || (flags & kPfExiting) != 0 || f[20] == "0";
  return exiting ? Liveness::kExited : Liveness::kAlive;
}

// The process's files, read through `through` (its held /proc directory) with `copy` (false: the
// file does not exist), its stat asked again after each: a file read once the process had
// exited may be cut short or empty (kept, and named), and one not found then was not "not
// offered" (named). A stat that cannot be read at the start is not watched (a fixture tree
// without one; the start-time check covers a process that is gone by then).
template <typename Copy>
void copyProcessFiles(const std::string& through, pid_t pid, bool with_smaps, Copy& copy,
                      const std::vector<Artifact>& artifacts, std::vector<std::string>& errors,
                      std::size_t& tried) {
  const std::string prefix = "proc-" + std::to_string(pid) + "-";
  const std::string stat = joinPath(through, "stat");
  const bool watched = ::access(stat.c_str(), F_OK) == 0;
  Liveness life = watched ? livenessOf(stat) : Liveness::kAlive;
  std::vector<std::string> files = {"status",  "smaps_rollup", "maps",
                                    "cmdline", "oom_score",    "oom_score_adj"};
  if (with_smaps) files.emplace_back("smaps");
  std::string doubtful;
  for (const auto& f : files) {
    const std::string as = prefix + f + ".txt";
    std::size_t kept = artifacts.size();
    bool found = copy(joinPath(through, f), as);
    if (watched && life != Liveness::kExited) life = livenessOf(stat);
    if (!watched || life != Liveness::kExited) continue;
    if (artifacts.size() > kept) {
      doubtful += (doubtful.empty() ? "" : ", ") + as;
    } else if (!found) {
      errors.push_back(as + ": not copied, the process had exited");
      ++tried;
    }
  }
  if (!doubtful.empty())
    errors.push_back("pid " + std::to_string(pid) + " exited during the copy: " + doubtful +
                     " may be incomplete");
}

}  // namespace

DumpOutcome ProcDumper::run(const DumpRequest& req) {
  SystemClock clock;
  SteadyTime start = clock.steadyNow();
  DumpOutcome out;
  out.dumper = name();
  std::vector<std::string> errors;
  std::size_t tried = 0;
  // False when `src` does not exist (nothing was tried).
  auto copy = [&](const std::string& src, const std::string& as) {
    if (clock.steadyNow() >= req.deadline) {
      errors.push_back(as + ": not copied, the dump's deadline passed");
      ++tried;
      return true;
    }
    if (::access(src.c_str(), F_OK) != 0) return false;  // not offered here (v1, an old kernel)
    ++tried;
    auto a = copyArtifact(req.dir, as, src, req.max_bytes);
    if (a)
      out.artifacts.push_back(*a);
    else
      errors.push_back(a.error().describe());
    return true;
  };
  if (req.pid) {
    const pid_t pid = *req.pid;
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
      copyProcessFiles(through, pid, smaps_, copy, out.artifacts, errors, tried);
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
