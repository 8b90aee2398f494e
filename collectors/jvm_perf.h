// collectors/: turning kernel and runtime text into Snapshots.
// JvmPerfCollector: a JVM's heap and GC counters read from outside, without its cooperation, from
// its hsperfdata file (collectors/hsperfdata.h), for one pid or for the JVM among a cgroup's
// processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/hsperfdata.h"
#include "core/clock.h"
#include "core/host_paths.h"

namespace oomsentinel {

class JvmPerfCollector final : public Collector {
 public:
  // Searches for a JVM (and its file) at most this often while none is being read.
  static constexpr auto kSearchInterval = std::chrono::seconds(5);
  // At most this many of a cgroup's processes are looked at per search.
  static constexpr std::size_t kMaxCandidates = 256;

  // The JVM with this pid (as this host sees it).
  static JvmPerfCollector forPid(const HostPaths& paths, pid_t pid);
  // The first process listed in `cgroup_procs_path` (a cgroup.procs file) that has an
  // hsperfdata file; kept until it exits, then searched for again.
  static JvmPerfCollector forCgroup(const HostPaths& paths, std::string cgroup_procs_path);

  ~JvmPerfCollector() override;
  JvmPerfCollector(JvmPerfCollector&& other) noexcept;
  JvmPerfCollector& operator=(JvmPerfCollector&& other) noexcept;
  JvmPerfCollector(const JvmPerfCollector&) = delete;
  JvmPerfCollector& operator=(const JvmPerfCollector&) = delete;

  // Reads the whole file (one pread on a descriptor kept open) and maps it onto `out`
  // (mapHsperfdata). The JVM's counters are an optional addition to a target, so this never
  // fails: with no JVM found, a JVM still initialising, or a malformed file, the signals stay
  // absent and lastProblem() says why. The search for a JVM is timed by `out.steady`.
  Status collect(Snapshot& out) override;

  // Why the last collect set no JVM signal; empty when it set them.
  const std::string& lastProblem() const { return problem_; }
  // The process whose file is being read (its pid as this host sees it), and the file.
  std::optional<pid_t> jvmPid() const {
    return fd_ >= 0 ? std::optional<pid_t>(pid_) : std::nullopt;
  }
  const std::string& filePath() const { return file_path_; }

 private:
  explicit JvmPerfCollector(const HostPaths& paths) : paths_(paths) {}
  bool searchDue(SteadyTime now) const;
  void search(SteadyTime now);
  void adopt(pid_t pid, HsperfdataFile file);  // keeps the descriptor the door handed out
  bool stillThere();  // the process and its file, checked without allocation
  bool readFile();    // into buf_; false (and problem_) on failure
  void close();

  HostPaths paths_;
  std::optional<pid_t> fixed_pid_;
  std::string procs_path_;
  std::optional<SteadyTime> last_search_;
  pid_t pid_ = 0;
  int fd_ = -1;
  std::string pid_dir_, file_path_;
  std::string buf_;
  std::size_t len_ = 0;
  std::string problem_;
  std::vector<int> pids_;
};

}  // namespace oomsentinel
