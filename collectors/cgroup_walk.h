// collectors/: turning kernel text into Snapshots.
// Bounded walks of a cgroup hierarchy (discovery and namespace-relative pid resolution): a tree
// with a million cgroups must cost a clear error, never an unbounded tick.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace oomsentinel {

struct WalkLimits {
  int max_depth = 16;              // components below the root
  std::size_t max_dirs = 100'000;  // directories listed, all of a walk together
};

// The names of the sub-directories of `dir`, sorted. A directory that vanished is empty (a
// cgroup removed while we look is no error); other failures are.
Result<std::vector<std::string>> listSubdirs(const std::string& dir);

enum class WalkStep { kDescend, kSkip, kStop };

// Visits every directory below `root` breadth-first, in name order within a directory, as
// visit("a/b", depth) (no leading '/', depth 1 for root's children). kSkip does not descend into
// it, kStop ends the walk. An error when the tree is deeper than max_depth or has more than
// max_dirs directories, saying which.
Status walkCgroupTree(const std::string& root, const WalkLimits& limits,
                      const std::function<WalkStep(const std::string& relative, int depth)>& visit);

}  // namespace oomsentinel
