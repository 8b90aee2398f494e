#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "core/cgroup_delegation.h"
#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "dumpers/child.h"
#include "dumpers/child_internal.h"

// The sweep of the delegated cgroup: what is in the daemon's leaf or beside it and not the
// daemon's (ChildCgroup::sweepDelegated).
namespace oomsentinel {

using child_detail::cgroupProcs;
using child_detail::childCgroupBase;
using child_detail::Fd;
using child_detail::ours;
using child_detail::ownCgroupDir;
using child_detail::pidfdOpen;

namespace {
// Cgroups beside the leaf handled in one sweep; more are only counted.
constexpr std::size_t kMaxStrangers = 64;
// A stranger's name as the hook chose it, cut (the logger and the manifest make it safe).
std::string shortName(std::string_view name) {
  return std::string(name.substr(0, 64)) + (name.size() > 64 ? "..." : "");
}
}  // namespace

namespace {

// The parent of `pid` per <proc>/PID/stat, 0 when unknown.
pid_t parentOfPid(const HostPaths& paths, pid_t pid) {
  auto stat = readFileUpTo(paths.proc(pid, "stat"), 4096);
  if (!stat) return 0;
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 4 >= stat->size()) return 0;
  return static_cast<pid_t>(std::atoi(stat->c_str() + close + 4));  // ") S PPID"
}

// Whether `pid` is a child runChild has not reaped, or started by one (a child that got no
// cgroup of its own stays in the leaf with what it starts). Called with ours().mu held.
bool oursOrUnderOurs(const HostPaths& paths, pid_t pid, pid_t self) {
  for (int depth = 0; depth < 32 && pid > 1 && pid != self; ++depth) {
    if (ours().children.count(pid)) return true;
    pid = parentOfPid(paths, pid);
  }
  return false;
}

}  // namespace

std::string DelegatedSweep::describe() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  if (!killed.empty()) {
    std::string pids;
    for (pid_t p : killed) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
    add("killed " + std::to_string(killed.size()) +
        (killed.size() == 1 ? " process" : " processes") + " in the daemon's leaf " +
        joinPath(service_dir, kDaemonLeaf) + " that " + (killed.size() == 1 ? "was" : "were") +
        " not the daemon's (pid " + pids + ")");
  }
  if (!cgroups.empty()) {
    std::string names;
    for (const auto& n : cgroups) names += (names.empty() ? "" : ", ") + n;
    add("killed and removed " + std::to_string(cgroups.size()) +
        (cgroups.size() == 1 ? " cgroup" : " cgroups") + " beside the daemon's leaf in " +
        service_dir + " that " + (cgroups.size() == 1 ? "was" : "were") + " not the daemon's (" +
        names + ")");
  }
  if (!left.empty()) add(left);
  return out;
}

Result<DelegatedSweep> ChildCgroup::sweepDelegated(const HostPaths& paths, pid_t self) {
  DelegatedSweep out;
  auto base = childCgroupBase(paths);
  if (!base) return base.error();
  // Not in the leaf of a delegated cgroup: the children's cgroups are under the daemon's own, and
  // nobody but root with CAP_SYS_ADMIN's reach could write beside it.
  auto own = ownCgroupDir(paths);
  if (!own || !base->second || own->first == base->first) return out;
  out.service_dir = base->first;
  const std::string leaf = joinPath(base->first, kDaemonLeaf);
  {
    std::lock_guard<std::mutex> lock(ours().mu);
    for (pid_t pid : cgroupProcs(leaf)) {
      if (pid == self || oursOrUnderOurs(paths, pid, self)) continue;
      // Held first, then checked to be listed still: a pid reused meanwhile is not hit.
      Fd pidfd(pidfdOpen(pid));
      if (pidfd.get() < 0) continue;
      auto now = cgroupProcs(leaf);
      if (std::find(now.begin(), now.end(), pid) == now.end()) continue;
      if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0)
        out.killed.push_back(pid);
      else
        out.left += (out.left.empty() ? "" : "; ") + std::string("cannot kill pid ") +
                    std::to_string(pid) + " in " + leaf + ": " + std::strerror(errno);
    }
  }
  std::vector<std::string> strangers;
  std::size_t more = 0;
  if (DIR* d = ::opendir(base->first.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (e->d_type != DT_DIR || name == "." || name == ".." || name == kDaemonLeaf ||
          name == ".control")  // systemd's, for ExecReload= of a delegated unit
        continue;
      std::string dir = joinPath(base->first, name);
      {
        std::lock_guard<std::mutex> lock(ours().mu);
        if (ours().cgroups.count(dir)) continue;
      }
      if (strangers.size() < kMaxStrangers)
        strangers.push_back(std::string(name));
      else
        ++more;
    }
    ::closedir(d);
  }
  for (const auto& name : strangers) {
    ChildCgroup stranger(joinPath(base->first, name), OwnedFd(), true);
    std::string why = stranger.killAll(std::chrono::seconds(1));
    out.cgroups.push_back(shortName(name));
    if (!why.empty()) out.left += (out.left.empty() ? "" : "; ") + why;
  }
  if (more > 0)
    out.left += (out.left.empty() ? "" : "; ") + std::to_string(more) +
                " more cgroups beside the leaf were not looked at";
  return out;
}

}  // namespace oomsentinel
