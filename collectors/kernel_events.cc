#include "collectors/kernel_events.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace oomsentinel {

namespace {

Status writeWhole(int fd, const std::string& text, const std::string& path) {
  for (;;) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n == static_cast<ssize_t>(text.size())) return Ok{};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError("the kernel refused '" + text + "'", path, errno);
    return makeError("a short write of '" + text + "'", path);
  }
}

// Registers `efd` for the events of `file` (an open descriptor of a cgroup control file) with
// `args` after it ("" for the OOM notifier, a threshold for usage).
Status registerEvent(int control, const std::string& control_path, int efd, int file,
                     const std::string& args) {
  std::string line = std::to_string(efd) + " " + std::to_string(file);
  if (!args.empty()) line += " " + args;
  return writeWhole(control, line, control_path);
}

}  // namespace

Status V1MemoryEvents::start(const std::string& dir, const std::string& control_path,
                             OwnedFd& control) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return makeError("cannot watch the cgroup", dir, errno);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  fd_ = OwnedFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (fd() < 0) return makeError("cannot make an eventfd", dir, errno);
  control = OwnedFd(::open(control_path.c_str(), O_WRONLY | O_CLOEXEC));
  if (control.get() < 0) return makeError("cannot open", control_path, errno);
  return Ok{};
}

Result<V1MemoryEvents> V1MemoryEvents::arm(const std::string& dir,
                                           std::vector<std::uint64_t> thresholds, bool oom) {
  thresholds.erase(std::remove(thresholds.begin(), thresholds.end(), 0u), thresholds.end());
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  V1MemoryEvents out;
  OwnedFd control;
  std::string control_path = dir + "/cgroup.event_control";
  if (auto st = out.start(dir, control_path, control); !st) return st.error();
  if (!thresholds.empty()) {
    std::string usage_path = dir + "/memory.usage_in_bytes";
    OwnedFd usage(::open(usage_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (usage.get() < 0) return makeError("cannot open", usage_path, errno);
    for (std::uint64_t t : thresholds)
      if (auto st2 =
              registerEvent(control.get(), control_path, out.fd(), usage.get(), std::to_string(t));
          !st2)
        return st2.error();
    // Memory plus swap, only where the kernel accounts swap (swapaccount): with swap in use it
    // runs ahead of usage, so a level is reached there first; absent, it is simply not there.
    std::string memsw_path = dir + "/memory.memsw.usage_in_bytes";
    OwnedFd memsw(::open(memsw_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (memsw.get() >= 0) {
      for (std::uint64_t t : thresholds)
        if (auto st2 = registerEvent(control.get(), control_path, out.fd(), memsw.get(),
                                     std::to_string(t));
            !st2)
          return st2.error();
      out.memsw_ = true;
    }
  }
  if (oom) {
    std::string oom_path = dir + "/memory.oom_control";
    OwnedFd oom_fd(::open(oom_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (oom_fd.get() < 0) return makeError("cannot open", oom_path, errno);
    if (auto st2 = registerEvent(control.get(), control_path, out.fd(), oom_fd.get(), ""); !st2)
      return st2.error();
  }
  out.thresholds_ = std::move(thresholds);
  return out;
}

Result<V1MemoryEvents> V1MemoryEvents::armPressure(const std::string& dir, const char* level) {
  V1MemoryEvents out;
  OwnedFd control;
  std::string control_path = dir + "/cgroup.event_control";
  if (auto st = out.start(dir, control_path, control); !st) return st.error();
  std::string level_path = dir + "/memory.pressure_level";
  OwnedFd pressure(::open(level_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (pressure.get() < 0) return makeError("cannot open", level_path, errno);
  std::string args = std::string(level) + ",hierarchy";
  if (auto st2 = registerEvent(control.get(), control_path, out.fd(), pressure.get(), args); !st2) {
    if (st2.error().errnum != EINVAL) return st2.error();
    if (auto plain = registerEvent(control.get(), control_path, out.fd(), pressure.get(), level);
        !plain)
      return plain.error();
  }
  return out;
}

std::uint64_t V1MemoryEvents::drain() const {
  std::uint64_t count = 0;
  if (::read(fd(), &count, sizeof count) != static_cast<ssize_t>(sizeof count)) return 0;
  return count;
}

bool sameCgroupDir(const V1MemoryEvents& events, const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && st.st_dev == events.dev() && st.st_ino == events.ino();
}

Result<EventsWatch> EventsWatch::make() {
  EventsWatch w;
  w.fd_ = OwnedFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (w.fd() < 0) return makeError("cannot make an inotify instance", "", errno);
  return w;
}

Result<int> EventsWatch::add(const std::string& file) {
  int wd = ::inotify_add_watch(fd(), file.c_str(), IN_MODIFY);
  if (wd < 0) return makeError("cannot watch", file, errno);
  return wd;
}

void EventsWatch::remove(int wd) { ::inotify_rm_watch(fd(), wd); }

long EventsWatch::readSome(char* buf, unsigned long size) const {
  for (;;) {
    ssize_t n = ::read(fd(), buf, size);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

long EventsWatch::parseOne(const char* p, int* wd, bool* gone) {
  inotify_event e{};
  std::memcpy(&e, p, sizeof e);
  *wd = e.wd;
  *gone = (e.mask & IN_IGNORED) != 0;
  return static_cast<long>(sizeof(inotify_event) + e.len);
}

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

Status writeTrigger(int fd, Duration stall, Duration window, const std::string& path) {
  // The kernel wants microseconds, and the terminating NUL counts as part of the text.
  std::string text = "some " + std::to_string(duration_cast<microseconds>(stall).count()) + " " +
                     std::to_string(duration_cast<microseconds>(window).count());
  for (;;) {
    ssize_t n = ::write(fd, text.c_str(), text.size() + 1);
    if (n >= 0) return Ok{};
    if (errno == EINTR) continue;
    return makeError("the kernel refused the PSI trigger '" + text + "'", path, errno);
  }
}

}  // namespace

Result<PsiTrigger> PsiTrigger::open(const std::string& file, Duration stall, Duration window) {
  PsiTrigger out;
  out.file_ = file;
  out.fd_ = OwnedFd(::open(file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (out.fd() < 0) return makeError("cannot open for a PSI trigger", file, errno);
  auto first = writeTrigger(out.fd(), stall, window, file);
  if (first) {
    out.stall_ = stall;
    out.window_ = window;
    return out;
  }
  constexpr Duration kUnprivilegedStep = std::chrono::seconds(2);
  int err = first.error().errnum;
  bool on_step = window % kUnprivilegedStep == Duration::zero();
  if ((err != EINVAL && err != EPERM) || on_step) return first.error();
  // A trigger, once written, cannot be replaced on the same descriptor: open it again.
  Duration wide = (window / kUnprivilegedStep + 1) * kUnprivilegedStep;
  Duration wide_stall = duration_cast<Duration>(
      stall * (static_cast<double>(wide.count()) / static_cast<double>(window.count())));
  out.fd_ = OwnedFd(::open(file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (out.fd() < 0) return makeError("cannot open for a PSI trigger", file, errno);
  if (auto second = writeTrigger(out.fd(), wide_stall, wide, file); !second) {
    Error e = first.error();
    e.message += "; with the window widened to a multiple of 2s: " + second.error().message;
    return e;
  }
  out.stall_ = wide_stall;
  out.window_ = wide;
  out.widened_ = true;
  return out;
}

}  // namespace oomsentinel
