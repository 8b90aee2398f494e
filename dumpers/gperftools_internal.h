// dumpers/: what the two halves of GperftoolsDumper (gperftools_dumper.h) share; private to
// dumpers/. gperftools_target.cc reads the target (its /proc texts, its profile directory through
// the door, the held-open scan), gperftools_dumper.cc runs the dump.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/owned_fd.h"
#include "core/result.h"

namespace oomsentinel::gperftools_detail {

// The profiler's handler gives up silently when the signal lands while the target holds the
// profiler's lock (inside malloc): if no file has even appeared by then, the signal is sent again.
inline constexpr Duration kResendAfter = std::chrono::seconds(1);
// The longest sleep between two looks at the directory.
inline constexpr Duration kMaxStep = std::chrono::milliseconds(25);

// Straight to the kernel: glibc 2.36 (Debian 12) declares pidfd_open and pidfd_send_signal in
// <sys/pidfd.h> without extern "C", so C++ code cannot link against its wrappers.
int openPidfd(pid_t pid);
int sendThroughPidfd(int pidfd, int sig);
// The text of a /proc file of the target, capped.
Result<std::string> readSmallFile(const std::string& path);
Result<std::string> readLink(const std::string& path);
// "12 (SIGUSR2)".
std::string signalLabel(int sig);
// "1.5s".
std::string seconds(Duration d);
// The value of `key` in a NUL-separated environ text, if present.
std::optional<std::string> environValue(std::string_view environ, std::string_view key);
// One of the masks of /proc/PID/status ("SigCgt", "SigIgn"), as a bit set (bit n-1: signal n).
std::optional<std::uint64_t> statusMask(std::string_view status, std::string_view key);
// Signals whose default action neither ends nor stops a process: sending one that the target
// does not catch is harmless (and produces no profile).
bool harmlessByDefault(int sig);

// The profile files a target may write: its own prefix, and prefix_<pid> when it inherited a
// HEAPPROFILE that its parent's profiler had already marked (gperftools sets the high bit of the
// value's first byte in the environment, and a process that finds it set adds its pid).
struct Families {
  // Where they are: the target's directory, opened by the door. Shared: a worker abandoned on a
  // stalled mount keeps it open until it returns (core/target_fs.h, withTargetDeadline).
  std::shared_ptr<OwnedFd> dir;
  std::string where;               // that directory, for messages: "pid 123's root:/tmp"
  std::vector<std::string> bases;  // file name prefixes; the first is the target's own
};

struct Found {
  std::string name;
  long seq = -1;
  std::size_t family = 0;
  struct stat st {};  // as lstat sees it: a symlink is a symlink
};

// What a directory entry is, for a refusal that says why.
const char* kindOf(mode_t mode);

struct Scan {
  std::vector<long> newest;   // the highest sequence number per family, -1 for none
  std::optional<Found> next;  // the best file beyond `baseline`, when one was given
};

// Entries as lstat sees them, through the door (at most kMaxDirEntries of a directory the target
// fills as it likes): the caller copies only a regular file, and refuses anything else by name.
Result<Scan> scanProfiles(const Families& f, const std::vector<long>* baseline);

// An error of core/target_fs.h's deadline: the target's file system did not answer in time, or an
// earlier worker is still stuck there.
bool stalled(const Error& e);

}  // namespace oomsentinel::gperftools_detail
