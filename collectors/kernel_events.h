// collectors/: turning kernel text into Snapshots, and the kernel's own notifications.
// The descriptors the kernel signals when a memory level is crossed or pressure builds, so the
// daemon can start a tick at once instead of at its next poll (docs/design/wakeups.md).
// Plain descriptors here; the daemon's scheduler waits on them as Asio objects.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/owned_fd.h"
#include "core/result.h"

namespace oomsentinel {

// cgroup v1: one eventfd registered through a memory cgroup's cgroup.event_control for each
// usage threshold (memory.usage_in_bytes crossing it, either way; and memory.memsw.usage_in_bytes,
// memory plus swap, at the same levels when the kernel accounts swap) and, optionally, for the OOM
// notifier (memory.oom_control: the cgroup hit its limit and reclaim failed). The kernel also
// signals it when the cgroup is removed. Closing it unregisters everything, so re-arming with
// other levels is a new V1MemoryEvents.
class V1MemoryEvents {
 public:
  // `cgroup_dir` is the cgroup's directory in the v1 memory hierarchy. Thresholds of 0 are left
  // out. An error names the file and what the kernel said.
  static Result<V1MemoryEvents> arm(const std::string& cgroup_dir,
                                    std::vector<std::uint64_t> thresholds, bool oom);
  // vmpressure (memory.pressure_level): signalled for each notification at `level` ("low",
  // "medium", "critical") or above, in the cgroup or below it. Registered in "hierarchy" mode so
  // that other listeners up the tree still get their notifications as before (the kernel's
  // default mode stops at the first cgroup with a listener); kernels without modes get the plain
  // level.
  static Result<V1MemoryEvents> armPressure(const std::string& cgroup_dir, const char* level);
  int fd() const { return fd_.get(); }
  // Hands the eventfd (and with it the registrations) to whoever waits on it; fd() is then -1.
  OwnedFd takeFd() { return std::move(fd_); }
  const std::vector<std::uint64_t>& thresholds() const { return thresholds_; }
  bool memsw() const { return memsw_; }  // the thresholds are on memory.memsw.usage_in_bytes too
  // The identity of the directory when it was armed: a re-created cgroup differs.
  dev_t dev() const { return dev_; }
  ino_t ino() const { return ino_; }
  // Reads the eventfd's count, clearing it (0 when nothing was signalled).
  std::uint64_t drain() const;

 private:
  // The cgroup's identity, a fresh eventfd, and `control` opened on cgroup.event_control.
  Status start(const std::string& dir, const std::string& control_path, OwnedFd& control);
  OwnedFd fd_;
  std::vector<std::uint64_t> thresholds_;
  bool memsw_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// True when `dir` still is the directory (device and inode) that `events` was armed on.
bool sameCgroupDir(const V1MemoryEvents& events, const std::string& dir);

// cgroup v2: one inotify instance for the memory.events files of many cgroups. The kernel reports
// a change of their counters (low, high, max, oom, oom_kill) as a modification of the file; a
// removed cgroup's watch ends with IN_IGNORED.
class EventsWatch {
 public:
  static Result<EventsWatch> make();
  int fd() const { return fd_.get(); }
  // The watch descriptor of `file` (memory.events of a cgroup), or an error naming it.
  Result<int> add(const std::string& file);
  void remove(int wd);
  // Reads every pending event without blocking: f(wd, gone) for each, `gone` when the watch
  // ended (the cgroup was removed).
  template <typename F>
  void drain(F&& f) const {
    alignas(8) char buf[4096];
    for (;;) {
      long n = readSome(buf, sizeof buf);
      if (n <= 0) return;
      for (long at = 0; at < n;) {
        int wd = 0;
        bool gone = false;
        at += parseOne(buf + at, &wd, &gone);
        f(wd, gone);
      }
    }
  }

 private:
  long readSome(char* buf, unsigned long size) const;
  static long parseOne(const char* p, int* wd, bool* gone);
  OwnedFd fd_;
};

// A PSI trigger (Documentation/accounting/psi.rst): "some <stall> <window>" written to a
// pressure file (/proc/pressure/memory, or a v2 cgroup's memory.pressure); the descriptor then
// polls with POLLPRI whenever the tasks stalled that long within a window.
class PsiTrigger {
 public:
  // Windows under 2 s, or not a multiple of it, need CAP_SYS_RESOURCE; without it the kernel
  // refuses them (EINVAL or EPERM). Then the window is rounded up to a multiple of 2 s, the stall
  // scaled to keep its share of the window, and widened() says so.
  static Result<PsiTrigger> open(const std::string& pressure_file, Duration stall, Duration window);
  int fd() const { return fd_.get(); }
  OwnedFd takeFd() { return std::move(fd_); }  // fd() is then -1; the trigger lives with it
  Duration stall() const { return stall_; }
  Duration window() const { return window_; }
  bool widened() const { return widened_; }
  const std::string& file() const { return file_; }

 private:
  OwnedFd fd_;
  Duration stall_{}, window_{};
  bool widened_ = false;
  std::string file_;
};

}  // namespace oomsentinel
