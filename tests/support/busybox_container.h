// tests/: a "container" for the end-to-end tests of hostile targets: a busybox root file system,
// and a process chrooted into it in a mount namespace of its own (no pid namespace: its pid is
// the same number on the host). Making one needs root.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace oomsentinel::testing {

inline constexpr const char* kBusybox = "/bin/busybox";

// "" when kBusybox is there, else what is missing (for GTEST_SKIP).
std::string busyboxUnavailable();
// <dir>/rootfs with /bin/busybox, each of `applets` a link to it, and empty /tmp and /proc.
// Returns its path.
std::string makeBusyboxRoot(const std::string& dir, const std::vector<std::string>& applets);
// Forks the container: its own mount namespace, chrooted into `root`, running `script` in
// busybox sh with `env` (and nothing else) as its environment. Returns its pid.
pid_t startContainer(const std::string& root, const std::string& script,
                     const std::vector<std::string>& env);
// SIGKILL, then reaped. Nothing for pid <= 0.
void killAndReap(pid_t pid);

}  // namespace oomsentinel::testing
