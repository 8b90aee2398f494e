#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "core/cgroup_delegation.h"
#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "dumpers/child.h"
#include "dumpers/child_internal.h"

// The children's cgroups: the daemon's leaf under Delegate=yes, a child's own cgroup, its limits,
// and killAll.
namespace oomsentinel {
namespace child_detail {
namespace {

std::string_view lastComponent(std::string_view dir) {
  auto slash = dir.rfind('/');
  return slash == std::string_view::npos ? dir : dir.substr(slash + 1);
}

std::string parentOf(std::string_view dir) {
  auto slash = dir.rfind('/');
  return std::string(slash == std::string_view::npos ? std::string_view{} : dir.substr(0, slash));
}

// Writes the whole text in one write(2), as the kernel's control files want it.
Status writeControl(const std::string& path, std::string_view text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return makeError("cannot open", path, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return makeError("cannot write " + std::string(text) + " to", path, errno);
  return Ok{};
}

}  // namespace

std::vector<pid_t> cgroupProcs(const std::string& dir) {
  std::vector<pid_t> out;
  auto text = readFileUpTo(joinPath(dir, "cgroup.procs"), 1 << 20);
  if (!text) return out;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.empty()) out.push_back(static_cast<pid_t>(std::atoi(std::string(line).c_str())));
  }
  return out;
}

// Where the daemon's own cgroup is, as a directory, in the tree a child cgroup can go into.
Result<std::pair<std::string, bool>> ownCgroupDir(const HostPaths& paths) {
  auto text = readFileUpTo(paths.proc(0, "cgroup"), 64 * 1024);
  if (!text) return text.error();
  std::string v2, pids, memory;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    auto c1 = line.find(':');
    auto c2 = line.find(':', c1 == std::string_view::npos ? 0 : c1 + 1);
    if (c1 == std::string_view::npos || c2 == std::string_view::npos) continue;
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (line.substr(0, c1) == "0" && controllers.empty()) v2 = path;
    for (std::string_view c = controllers; !c.empty();) {
      auto comma = c.find(',');
      std::string_view one = c.substr(0, comma);
      if (one == "pids") pids = path;
      if (one == "memory") memory = path;
      c = comma == std::string_view::npos ? std::string_view{} : c.substr(comma + 1);
    }
  }
  struct stat st;
  const std::string& root = paths.cgroupRoot();
  if (!v2.empty()) {
    if (::stat(joinPath(root, "cgroup.controllers").c_str(), &st) == 0)
      return std::make_pair(joinPath(root, v2), true);
    std::string unified = joinPath(root, "unified");
    if (::stat(joinPath(unified, "cgroup.controllers").c_str(), &st) == 0)
      return std::make_pair(joinPath(unified, v2), true);
  }
  if (!pids.empty()) return std::make_pair(joinPath(joinPath(root, "pids"), pids), false);
  if (!memory.empty()) return std::make_pair(joinPath(joinPath(root, "memory"), memory), false);
  return makeError("no cgroup tree of ours found", paths.proc(0, "cgroup"), ENOENT);
}

// Where the children's cgroups go: beside the daemon's leaf when it entered one in a delegated
// cgroup (a child under the leaf would be a process's sibling-less subgroup, and the leaf's own
// controllers are not enabled for children), else under the daemon's own cgroup.
Result<std::pair<std::string, bool>> childCgroupBase(const HostPaths& paths) {
  auto own = ownCgroupDir(paths);
  if (!own) return own.error();
  if (own->second && lastComponent(own->first) == kDaemonLeaf) {
    std::string service = parentOf(own->first);
    if (cgroupMarkedDelegated(service)) return std::make_pair(service, true);
  }
  return own;
}

}  // namespace child_detail

using child_detail::cgroupProcs;
using child_detail::childCgroupBase;
using child_detail::clock;
using child_detail::Fd;
using child_detail::kPollEvery;
using child_detail::ours;
using child_detail::ownCgroupDir;
using child_detail::pidfdOpen;
namespace {
using child_detail::lastComponent;
using child_detail::parentOf;
using child_detail::writeControl;
using std::chrono::milliseconds;
}  // namespace

Result<std::optional<DelegatedCgroup>> enterDelegatedLeaf(const HostPaths& paths) {
  auto own = ownCgroupDir(paths);
  // No cgroup tree of ours, or v1 only: there is nothing systemd could have delegated to us.
  if (!own || !own->second) return std::optional<DelegatedCgroup>();
  DelegatedCgroup out;
  const bool in_leaf = lastComponent(own->first) == kDaemonLeaf;
  out.service_dir = in_leaf ? parentOf(own->first) : own->first;
  if (!cgroupMarkedDelegated(out.service_dir)) return std::optional<DelegatedCgroup>();
  if (!in_leaf) {
    std::string leaf = joinPath(out.service_dir, kDaemonLeaf);
    bool made = ::mkdir(leaf.c_str(), 0755) == 0;
    if (!made && errno != EEXIST)
      return makeError("cannot create the daemon's leaf cgroup", leaf, errno);
    // "0": the writer itself, with all its threads.
    if (auto moved = writeControl(joinPath(leaf, "cgroup.procs"), "0"); !moved) {
      if (made) ::rmdir(leaf.c_str());
      return moved.error();
    }
  }
  // Only what the service's cgroup offers: one unknown name fails the whole write.
  auto offered = readFileUpTo(joinPath(out.service_dir, "cgroup.controllers"), 4096);
  std::string want;
  for (std::string_view c : {"memory", "pids"}) {
    if (!offered) break;
    std::string_view rest = *offered;
    bool has = false;
    while (!rest.empty() && !has) {
      auto sp = rest.find_first_of(" \n");
      has = rest.substr(0, sp) == c;
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    if (!has) continue;
    want += (want.empty() ? "+" : " +") + std::string(c);
    out.enabled += (out.enabled.empty() ? "" : " ") + std::string(c);
  }
  if (!want.empty()) {
    if (auto st = writeControl(joinPath(out.service_dir, "cgroup.subtree_control"), want); !st) {
      out.note = "children get no memory or pids limit: " + st.error().describe();
      out.enabled.clear();
    }
  }
  return std::optional<DelegatedCgroup>(std::move(out));
}

std::string applyChildCgroupLimits(const std::string& dir, bool v2, const ChildCgroupLimits& limits,
                                   const std::string& parent) {
  std::string note;
  auto limit = [&](const char* file, std::uint64_t value, const char* what) {
    if (value == 0) return;
    Status st = v2 ? writeControl(joinPath(dir, file), std::to_string(value))
                   : Status(makeError("cgroup v1", dir));
    if (st && std::string_view(file) == "memory.max") {
      st = writeControl(joinPath(dir, "memory.oom.group"), "1");
      // memory.max does not cover swap: without this a runaway child is not OOM-killed in its
      // cgroup but pushed out into the host's swap, where it thrashes on (and slows the host).
      // No such file: swap accounting is off (swapaccount=0, or no swap), and nothing to bound.
      if (st) {
        Status swap = writeControl(joinPath(dir, "memory.swap.max"), "0");
        if (!swap && swap.error().errnum != ENOENT) st = swap;
      }
    }
    if (st) return;
    note += note.empty() ? "" : "; ";
    note +=
        std::string("no ") + what + " limit of its own (" +
        (st.error().errnum == ENOENT ? "the controller is not enabled for " + parent + "'s children"
                                     : st.error().describe()) +
        ")";
  };
  limit("memory.max", limits.memory_max, "memory");
  limit("pids.max", limits.pids_max, "pids");
  return note;
}

ChildCgroup::ChildCgroup(std::string dir, OwnedFd procs, bool v2)
    : dir_(std::move(dir)), procs_(std::move(procs)), v2_(v2) {}

ChildCgroup::ChildCgroup(ChildCgroup&& o) noexcept
    : dir_(std::move(o.dir_)),
      procs_(std::move(o.procs_)),
      v2_(o.v2_),
      removed_(std::exchange(o.removed_, true)),
      kill_tried_(o.kill_tried_),
      registered_(std::exchange(o.registered_, false)),
      limits_note_(std::move(o.limits_note_)) {}

ChildCgroup::~ChildCgroup() {
  // After a killAll that gave up, no second wait: only what can be removed now is.
  if (!removed_ && !kill_tried_) killAll();
  if (!removed_) ::rmdir(dir_.c_str());
  if (registered_) {
    std::lock_guard<std::mutex> lock(ours().mu);
    ours().cgroups.erase(dir_);
  }
}

Result<ChildCgroup> ChildCgroup::create(const HostPaths& paths, std::string_view name,
                                        const ChildCgroupLimits& limits) {
  auto base = childCgroupBase(paths);
  if (!base) return base.error();
  std::string dir = joinPath(base->first, name);
  {
    std::lock_guard<std::mutex> lock(ours().mu);
    ours().cgroups.insert(dir);
  }
  auto unregister = [&] {
    std::lock_guard<std::mutex> lock(ours().mu);
    ours().cgroups.erase(dir);
  };
  if (::mkdir(dir.c_str(), 0700) != 0) {
    int e = errno;
    unregister();
    return makeError("cannot create a cgroup", dir, e);
  }
  std::string procs = joinPath(dir, "cgroup.procs");
  int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    ::rmdir(dir.c_str());
    unregister();
    return makeError("cannot open", procs, e);
  }
  ChildCgroup cg(std::move(dir), OwnedFd(fd), base->second);
  cg.registered_ = true;
  cg.limits_note_ = applyChildCgroupLimits(cg.dir_, cg.v2_, limits, base->first);
  return cg;
}

namespace {

// A child running as root (exec.user: root) may make cgroups of its own inside its cgroup; they
// are walked this deep and this wide, no further: what is beyond stays, and killAll says so.
constexpr int kMaxSubDepth = 8;
constexpr std::size_t kMaxSubCgroups = 256;

// `dir` and the cgroups below it, parents before their children, up to the bounds above; `cut`
// is set when some were left out.
void subtree(const std::string& dir, int depth, std::vector<std::string>& out, bool& cut) {
  out.push_back(dir);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || std::strcmp(e->d_name, ".") == 0 ||
        std::strcmp(e->d_name, "..") == 0)
      continue;
    if (depth >= kMaxSubDepth || out.size() >= kMaxSubCgroups) {
      cut = true;
      continue;
    }
    subtree(joinPath(dir, e->d_name), depth + 1, out, cut);
  }
  ::closedir(d);
}

// cgroup v2: whether anything is left in `dir` or below it ("populated 1" in cgroup.events);
// nullopt when the file cannot be read.
std::optional<bool> populated(const std::string& dir) {
  auto text = readFileUpTo(joinPath(dir, "cgroup.events"), 4096);
  if (!text) return std::nullopt;
  auto at = text->find("populated ");
  if (at == std::string::npos) return std::nullopt;
  return text->compare(at, 11, "populated 0") != 0;
}

}  // namespace

namespace {

// What is left in the subtree of `dir` (its cgroups listed into `tree`): processes listed (v1,
// or v2 without cgroup.events), or v2's "populated" (which also counts a killed multi-threaded
// process still exiting).
std::size_t processesLeft(const std::string& dir, bool v2, std::vector<std::string>& tree,
                          bool& cut) {
  tree.clear();
  cut = false;
  subtree(dir, 0, tree, cut);
  if (v2)
    if (auto p = populated(dir)) {
      if (!*p) return 0;
      std::size_t n = 0;
      for (const auto& d : tree) n += cgroupProcs(d).size();
      return std::max<std::size_t>(n, 1);
    }
  std::size_t n = 0;
  for (const auto& d : tree) n += cgroupProcs(d).size();
  return n;
}

// SIGKILL to every process listed in the cgroups of `tree`.
void killListed(const std::vector<std::string>& tree) {
  for (const auto& d : tree) {
    for (pid_t pid : cgroupProcs(d)) {
      // Held first, then checked to still be listed: a pid that was reused in between is no
      // longer in this cgroup (only our child's descendants can enter it), and is not hit.
      Fd pidfd(pidfdOpen(pid));
      if (pidfd.get() < 0) continue;
      auto now = cgroupProcs(d);
      if (std::find(now.begin(), now.end(), pid) != now.end())
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    }
  }
}

// Until `dir` changes: cgroup.events changes are announced with POLLPRI (v2); else kPollEvery.
void waitForChange(const std::string& dir, bool v2) {
  Fd events(v2 ? ::open(joinPath(dir, "cgroup.events").c_str(), O_RDONLY | O_CLOEXEC) : -1);
  if (events.get() >= 0) {
    char buf[256];
    (void)!::read(events.get(), buf, sizeof buf);
    pollfd p{events.get(), POLLPRI, 0};
    ::poll(&p, 1, static_cast<int>(kPollEvery / milliseconds(1)));
  } else {
    std::this_thread::sleep_for(kPollEvery);
  }
}

// Removes the emptied cgroups of `tree` (the one of `dir` and those its child made), deepest
// first; EBUSY (a cgroup whose last process is still being torn down) is tried again until
// `until`. The first that could not be removed, with its errno; "" when all were.
std::string removeEmptied(const std::string& dir, std::vector<std::string>& tree, bool& cut,
                          SteadyTime until, int& err) {
  std::string failed;
  for (;;) {
    failed.clear();
    for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
      if (::rmdir(it->c_str()) == 0 || errno == ENOENT) continue;
      if (failed.empty()) {
        failed = *it;
        err = errno;
      }
    }
    if (failed.empty() || err != EBUSY || clock().steadyNow() >= until) break;
    std::this_thread::sleep_for(kPollEvery);
    tree.clear();
    subtree(dir, 0, tree, cut);
  }
  return failed;
}

}  // namespace

std::string ChildCgroup::killAll(Duration limit) {
  if (removed_) return "";
  kill_tried_ = true;
  SteadyTime until = clock().steadyNow() + limit;
  bool killed_at_once = false;
  if (v2_) {
    // The whole subtree, sub-cgroups the child made included.
    int fd = ::open(joinPath(dir_, "cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      killed_at_once = ::write(fd, "1", 1) == 1;
      ::close(fd);
    }
  }
  std::vector<std::string> tree;
  bool cut = false;
  std::size_t remaining = processesLeft(dir_, v2_, tree, cut);
  while (remaining > 0 && clock().steadyNow() < until) {
    if (!killed_at_once) killListed(tree);
    waitForChange(dir_, v2_);
    remaining = processesLeft(dir_, v2_, tree, cut);
  }
  if (remaining > 0)
    return std::to_string(remaining) + (remaining == 1 ? " process" : " processes") +
           " did not end in " + dir_;
  int err = 0;
  std::string failed = removeEmptied(dir_, tree, cut, until, err);
  removed_ = failed.empty() && !cut;
  if (removed_) return "";
  if (cut)
    return "its cgroup " + dir_ + " could not be removed: it holds cgroups deeper than " +
           std::to_string(kMaxSubDepth) + " levels or more than " + std::to_string(kMaxSubCgroups) +
           " of them";
  return "its cgroup could not be removed: " + makeError("cannot remove", failed, err).describe();
}

}  // namespace oomsentinel
