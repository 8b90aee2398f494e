// bench/: benchmarks and their recorded results.
// A real cgroup v1 memory child holding one sleeping process, for measuring the collector on
// kernel files. Removed on destruction and on SIGINT/SIGTERM/SIGHUP, so that a benchmark
// stopped by hand or failing half-way leaves no cgroup behind.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "core/result.h"

namespace oomsentinel::bench {

class ScopedV1Cgroup {
 public:
  // False, with the reason, when this machine cannot give us one (not root, no v1 memory).
  static bool available(std::string* why);
  // Makes <v1 memory root>/oomsentinel-bench-<our pid> with a 1 GiB limit and moves a forked
  // child into it that touches 8 MiB (so that memory.stat has real numbers) and sleeps.
  // Only one may exist at a time (the signal handler knows one cgroup).
  static Result<std::unique_ptr<ScopedV1Cgroup>> create();
  ~ScopedV1Cgroup();
  ScopedV1Cgroup(const ScopedV1Cgroup&) = delete;
  ScopedV1Cgroup& operator=(const ScopedV1Cgroup&) = delete;

  const std::string& relative() const { return relative_; }  // "/oomsentinel-bench-<pid>"
  const std::string& dir() const { return dir_; }

 private:
  ScopedV1Cgroup() = default;
  std::string relative_, dir_;
};

}  // namespace oomsentinel::bench
