// Tests of dumpers/: whether a process a child left behind (a hook's grandchild, an escaped
// descendant) has been ended.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/host_paths.h"
#include "tests/support/test_support.h"

namespace oomsentinel::testing {

// True once `pid` is gone or a zombie (a grandchild's zombie belongs to init, not to us), asked
// every 10 ms for at most `limit`.
inline bool goneWithin(pid_t pid, Duration limit) {
  HostPaths paths;
  SystemClock clock;
  SteadyTime until = clock.steadyNow() + limit;
  while (clock.steadyNow() < until) {
    std::string stat = slurp(paths.proc(pid, "stat"));
    auto close = stat.rfind(')');
    if (stat.empty() || (close != std::string::npos && stat.substr(close + 2, 1) == "Z"))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace oomsentinel::testing
