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
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
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

// Whether a process still holds a file open (the heap profiler still writing it), looked up a
// bounded number of its descriptors at a time. stat() of each <proc>/PID/fd entry is a path walk
// through a magic link, and a target may hold as many descriptors as RLIMIT_NOFILE lets it (a
// million): one settle step must stay short. The directory stays open across steps and /proc
// lists descriptors in number order, so a step resumes where the last one stopped; "not held" is
// said only once a whole pass, begun after the caller's last restart(), met no descriptor on the
// file.
class HeldOpenScan {
 public:
  static constexpr std::size_t kPerStep = 4096;
  enum class Answer { kHeld, kNotHeld, kNotYet };

  HeldOpenScan(const HostPaths& paths, pid_t pid, std::size_t per_step = kPerStep);
  ~HeldOpenScan();
  HeldOpenScan(const HeldOpenScan&) = delete;
  HeldOpenScan& operator=(const HeldOpenScan&) = delete;

  // The next pass starts from the first descriptor (the file changed: what an earlier pass saw
  // says nothing any more). A step on another file (device, inode) restarts by itself.
  void restart();
  // Looks at up to per_step descriptors. kNotHeld also when the directory cannot be read (not
  // allowed to look, or the process is gone): then the settle time alone decides.
  Answer step(const struct stat& want);
  // How many descriptors the last step looked at.
  std::size_t lastExamined() const { return examined_; }

 private:
  std::string fd_dir_;
  std::size_t per_step_;
  void* dir_ = nullptr;  // DIR*, kept open between the steps of one pass
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::size_t examined_ = 0;
};

}  // namespace oomsentinel
