// bench/: benchmarks and their recorded results.
// A small cgroup v2 tree (memory controller on) and proc tree written into a directory, so that
// the collect benchmark runs without root and without a v2 kernel.
#pragma once

#include <string>

#include "core/result.h"

namespace oomsentinel::bench {

struct FixtureTree {
  std::string cgroup_root, proc_root;
  std::string cgroup;  // the target, relative to cgroup_root
};

// Writes <dir>/cgroup and <dir>/proc: the container cgroup kubepods.slice/pod-bench/app (two
// ancestors with memory.max, every memory.* file the v2 collector reads, in a 6.1 kernel's
// text) holding two processes whose status and stat are copies of this process's own.
Result<FixtureTree> writeV2Fixture(const std::string& dir);

}  // namespace oomsentinel::bench
