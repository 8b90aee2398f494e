// dumpers/: capturing evidence while the process is still alive.
// Dumper: one way to capture evidence (a heap profile by signal, pprof over HTTP, jcmd, a /proc
// snapshot, a user's command) into an incident bundle's directory, bounded in time and size.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace oomsentinel {

// What a dump is about and where its files go.
struct DumpRequest {
  std::string target;        // the target's name
  std::string rule;          // the rule that fired
  std::optional<pid_t> pid;  // the process to dump, as this host numbers it (when known)
  // Field 22 of /proc/PID/stat (start time in clock ticks) when the pid was chosen; 0 unknown.
  // A dumper that signals compares it after pidfd_open, so a recycled pid is never hit.
  std::uint64_t pid_starttime = 0;
  std::string cgroup_dir;       // the target's cgroup directory; empty for the host
  std::string dir;              // the bundle's directory (not yet published): write files here
  SteadyTime deadline{};        // every dumper is done, or gives up, by then
  std::uint64_t max_bytes = 0;  // per artifact; a larger one is cut and says so
};

// One file of a bundle.
struct Artifact {
  std::string file;  // relative to the bundle's directory
  std::uint64_t bytes = 0;
  std::string sha256;      // hex; filled when the file is written
  bool truncated = false;  // cut at DumpRequest::max_bytes
  // When truncated (or not written at all): the limit that cut it, as the config names it
  // ("dump.max_artifact_bytes", "dump.max_bundle_bytes", "dump.min_free").
  std::string truncated_by;
};

enum class DumpResult { kOk, kPartial, kFailed, kSkipped, kTimedOut };
const char* dumpResultName(DumpResult r);  // "ok", "partial", "failed", "skipped", "timed_out"

struct DumpOutcome {
  std::string dumper;  // its name: "proc", "gperftools", "go_pprof", "jvm", "exec"
  DumpResult result = DumpResult::kFailed;
  std::string error;  // why it failed, was partial or skipped; empty when ok
  std::vector<Artifact> artifacts;
  Duration took{};
  // The heap report's first site in one line (analysis/go_heap_report.h: topSiteLine), made
  // safe; "" when this dumper makes no report or the report ranks nothing. The alert's
  // top_growth annotation and the publish's log line carry it.
  std::string top_site;
};

class Dumper {
 public:
  virtual ~Dumper() = default;
  virtual const char* name() const = 0;
  // Captures into req.dir and returns what it wrote. Blocking: it runs on a dump thread, never
  // the tick's, and returns by req.deadline (kTimedOut, with whatever was written) whatever the
  // target does.
  virtual DumpOutcome run(const DumpRequest& req) = 0;
};

}  // namespace oomsentinel
