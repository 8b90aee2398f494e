// dumpers/: capturing evidence while the process is still alive.
// GperftoolsDumper: asks a tcmalloc process for a heap profile by signal and copies the file it
// writes, with the process's maps and executable, so google-pprof can read it in the bundle.
//
// What the target needs, all from its start:
//   - tcmalloc with the heap profiler: linked (-ltcmalloc, not tcmalloc_minimal) or
//     LD_PRELOAD=libtcmalloc.so;
//   - HEAPPROFILE=<prefix> in its environment: the profiler starts and writes <prefix>.NNNN.heap
//     (its own intervals: 1 GiB allocated, 100 MiB more in use; a child that inherits the
//     variable writes <prefix>_<its pid>.NNNN.heap);
//   - HEAPPROFILESIGNAL=<signal number> (decimal, e.g. 12 for SIGUSR2): the profiler installs a
//     handler that writes the next <prefix>.NNNN.heap when that signal arrives.
// Before signalling, the dumper checks the target's environment (both variables, against the
// spec) and its signal dispositions: a signal whose default action would kill or stop the target
// is never sent to a process that does not catch it.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/host_paths.h"
#include "core/result.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

struct GperftoolsSpec {
  // The HEAPPROFILE value, as the target sees it (its mount namespace; relative to its working
  // directory when relative).
  std::string heap_prefix;
  int signal = SIGUSR2;
  // A new profile counts as written once its size has not changed for this long (and the target
  // no longer holds it open).
  Duration settle = std::chrono::milliseconds(100);
  // google-pprof needs the binary to symbolize; it is copied when it fits DumpRequest::max_bytes.
  bool copy_executable = true;
};

class GperftoolsDumper final : public Dumper {
 public:
  GperftoolsDumper(const HostPaths& paths, GperftoolsSpec spec);
  const char* name() const override { return "gperftools"; }
  DumpOutcome run(const DumpRequest& req) override;

 private:
  HostPaths paths_;
  GperftoolsSpec spec_;
  // The waits below are real ones (poll on the pidfd, the target writing a file), so the time
  // that bounds them is the real one too.
  SystemClock clock_;
};

// Field 22 (starttime, clock ticks after boot) of a /proc/PID/stat text. Pure.
Result<std::uint64_t> parseStatStartTime(std::string_view stat);

// The sequence number of a heap profile file name "<base>.NNNN.heap", or -1 when `name` is not
// one. Pure.
long heapProfileSequence(std::string_view name, std::string_view base);

}  // namespace oomsentinel
