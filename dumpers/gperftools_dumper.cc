#include "dumpers/gperftools_dumper.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/owned_fd.h"
#include "core/target_fs.h"
#include "dumpers/artifact.h"
#include "dumpers/gperftools_internal.h"
#include "dumpers/target_process.h"

namespace oomsentinel {

using namespace std::chrono_literals;
using gperftools_detail::environValue;
using gperftools_detail::Families;
using gperftools_detail::Found;
using gperftools_detail::harmlessByDefault;
using gperftools_detail::kindOf;
using gperftools_detail::kMaxStep;
using gperftools_detail::kResendAfter;
using gperftools_detail::openPidfd;
using gperftools_detail::readLink;
using gperftools_detail::readSmallFile;
using gperftools_detail::Scan;
using gperftools_detail::scanProfiles;
using gperftools_detail::seconds;
using gperftools_detail::sendThroughPidfd;
using gperftools_detail::signalLabel;
using gperftools_detail::stalled;
using gperftools_detail::statusMask;

namespace {

// Why no profile was taken by the deadline: what was seen of it (`current`, the newest new file,
// and its size), and a hint from what the target's environment and signal mask said.
std::string notSettled(const GperftoolsSpec& spec, const std::string* current,
                       std::uint64_t current_size, bool handled, bool profiler_read_it, int sends,
                       const std::string& dir_in_target, Duration waited) {
  std::string what = current ? *current + " did not settle (" + std::to_string(current_size) +
                                   " bytes, still changing, empty or held open)"
                             : "no new " + spec.heap_prefix + ".NNNN.heap";
  std::string hint;
  if (!handled)
    hint = "the target does not catch signal " + signalLabel(spec.signal) +
           ", so no heap profiler is listening in it";
  else if (!profiler_read_it)
    hint =
        "HEAPPROFILE is in the target's environment but tcmalloc's heap profiler never "
        "marked it as read: is libtcmalloc (not tcmalloc_minimal) linked or LD_PRELOADed?";
  else
    hint = "HEAPPROFILE=" + spec.heap_prefix +
           " and HEAPPROFILESIGNAL=" + std::to_string(spec.signal) +
           " are in the target's environment and it catches the signal (sent " +
           std::to_string(sends) + " times): can it write to " +
           (dir_in_target.empty() ? std::string(spec.heap_prefix.front() == '/' ? "/" : "its cwd")
                                  : dir_in_target) +
           ", or is it stopped?";
  return what + " within " + seconds(waited) + " (" + hint + ")";
}

}  // namespace

namespace {

// What google-pprof needs beside the profile: the target's maps, its executable's path and, when
// asked (copy_executable), the executable itself before the deadline; what could not be taken
// is added to `problems`.
void copyContext(const HostPaths& paths, const DumpRequest& req, pid_t pid, const std::string& who,
                 const Result<std::string>& exe_path, bool target_gone, bool copy_executable,
                 const Clock& clock, std::vector<Artifact>& artifacts,
                 std::vector<std::string>& problems) {
  if (!target_gone) {
    if (auto maps = copyArtifact(req.dir, "maps.txt", paths.proc(pid, "maps"), req.max_bytes); maps)
      artifacts.push_back(*maps);
    else
      problems.push_back("maps.txt: " + maps.error().describe());
  }
  if (exe_path) {
    if (auto a = writeArtifact(req.dir, "exe_path.txt", *exe_path + "\n", req.max_bytes); a)
      artifacts.push_back(*a);
    else
      problems.push_back("exe_path.txt: " + a.error().describe());
  } else {
    problems.push_back("exe_path.txt: " + exe_path.error().describe());
  }
  if (copy_executable && !target_gone && clock.steadyNow() >= req.deadline) {
    problems.push_back("exe: not copied, the deadline has passed");
  } else if (copy_executable && !target_gone) {
    // Through the exe link rather than its path: the file on disk may have been replaced since
    // the target started, and only this one matches the profile's addresses.
    // The link is the kernel's (the file the target executed), so it is followed; the file is
    // still checked to be a regular one, and opened without blocking.
    // The binary can sit on the target's own file system as well: with the deadline too.
    // Larger than the cap: not copied, exe_path.txt says which binary to give google-pprof.
    auto exe = withTargetDeadline<std::optional<Artifact>>(
        who, req.deadline,
        [exe = paths.proc(pid, "exe"), dir = req.dir,
         max = req.max_bytes]() -> Result<std::optional<Artifact>> {
          OwnedFd exe_fd(::open(exe.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
          struct stat st;
          if (exe_fd.get() < 0) return makeError("cannot open", exe, errno);
          if (::fstat(exe_fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
            return makeError("not a regular file", exe, EINVAL);
          if (max != 0 && static_cast<std::uint64_t>(st.st_size) > max)
            return std::optional<Artifact>();
          auto a = copyArtifactFromFd(dir, "exe", exe_fd.get(), 0);
          if (!a) return a.error();
          return std::optional<Artifact>(std::move(*a));
        });
    if (!exe) {
      if (stalled(exe.error())) ::unlink(joinPath(req.dir, "exe").c_str());
      problems.push_back("exe: " + exe.error().describe());
    } else if (*exe) {
      artifacts.push_back(**exe);
    }
  }
}

}  // namespace

namespace {

// Why the target must not be signalled (nullopt when it may): it is no longer the process chosen,
// its environment did not ask for this signal, or nothing in it would catch the signal. Also
// says whether tcmalloc's profiler read HEAPPROFILE and whether the signal is caught.
std::optional<std::string> refusal(const HostPaths& paths, const GperftoolsSpec& spec,
                                   const DumpRequest& req, pid_t pid, const std::string& who,
                                   bool& profiler_read_it, bool& handled) {
  // Read after pidfd_open: if the number was reused before it, the process the pidfd holds
  // started later than the one that was chosen, and its start time says so.
  if (req.pid_starttime != 0)
    if (auto why = notTheChosenProcess(paths, pid, req.pid_starttime))
      return *why + ": not signalling";

  // Only a process that asked for this signal through tcmalloc's variables gets it: to anything
  // else SIGUSR2 (or most signals) would be fatal.
  auto environ = readSmallFile(paths.proc(pid, "environ"));
  if (!environ)
    return std::optional<std::string>("cannot check the target's environment before signalling: " +
                                      environ.error().describe());
  auto heap_profile = environValue(*environ, "HEAPPROFILE");
  auto heap_signal = environValue(*environ, "HEAPPROFILESIGNAL");
  // The profiler marks the variable it has read by setting the high bit of its first byte.
  profiler_read_it = heap_profile && !heap_profile->empty() && ((*heap_profile)[0] & 0x80);
  if (profiler_read_it) (*heap_profile)[0] = static_cast<char>((*heap_profile)[0] & 0x7f);
  auto environment_says = [&]() {
    return "HEAPPROFILE=" + (heap_profile ? "'" + *heap_profile + "'" : std::string("(unset)")) +
           ", HEAPPROFILESIGNAL=" +
           (heap_signal ? "'" + *heap_signal + "'" : std::string("(unset)"));
  };
  if (!heap_profile || *heap_profile != spec.heap_prefix || !heap_signal ||
      std::strtol(heap_signal->c_str(), nullptr, 10) != spec.signal)
    return std::optional<std::string>(who + "'s environment has " + environment_says() +
                                      ", expected HEAPPROFILE='" + spec.heap_prefix +
                                      "', HEAPPROFILESIGNAL='" + std::to_string(spec.signal) +
                                      "': not signalling");

  // The environment can say yes while nothing listens (tcmalloc not loaded, a wrapper process
  // that only passes the variables on): then the kernel's disposition decides.
  auto status = readSmallFile(paths.proc(pid, "status"));
  if (!status) return std::optional<std::string>(status.error().describe());
  auto caught = statusMask(*status, "SigCgt");
  auto ignored = statusMask(*status, "SigIgn");
  if (!caught || !ignored)
    return std::optional<std::string>(who + ": no SigCgt/SigIgn in its status");
  const std::uint64_t bit = std::uint64_t{1} << (spec.signal - 1);
  handled = (*caught & bit) != 0;
  if (!handled && !(*ignored & bit) && !harmlessByDefault(spec.signal))
    return std::optional<std::string>(
        who + " does not catch signal " + signalLabel(spec.signal) +
        ", which would end or stop it: tcmalloc's heap profiler is not running in "
        "it (is libtcmalloc linked or LD_PRELOADed?); not signalling");

  return std::nullopt;
}

// The directory the target's profiles appear in, held open, and the file names they take.
struct ProfileDir {
  Families families;
  uid_t owner = 0;            // of the target's file system view (TargetFs::owner)
  std::string dir_in_target;  // the heap prefix's directory, as the target names it
};

Result<ProfileDir> openProfileDir(const HostPaths& paths, const GperftoolsSpec& spec, pid_t pid,
                                  int pidfd, const std::string& who, SteadyTime deadline) {
  // Where the files appear, through the target's own view of the file system, and only through
  // the door (core/target_fs.h): the target owns that directory and everything in it.
  std::string_view prefix = spec.heap_prefix;
  std::size_t slash = prefix.rfind('/');
  std::string dir_in_target =
      slash == std::string_view::npos ? "" : std::string(prefix.substr(0, slash));
  std::string base(slash == std::string_view::npos ? prefix : prefix.substr(slash + 1));
  const bool absolute = prefix.front() == '/';
  // Everything done in the target's file system waits for it, and a target can serve that file
  // system itself (FUSE) and stop answering: each step runs on a worker that is waited for until
  // the dump's deadline at most, and abandoned then (core/target_fs.h).
  struct Opened {
    uid_t owner = 0;
    std::string where;
    std::shared_ptr<OwnedFd> dir;
  };
  auto own_pidfd = std::make_shared<OwnedFd>(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
  auto opened = withTargetDeadline<Opened>(
      who, deadline, [paths, pid, own_pidfd, absolute, dir_in_target]() -> Result<Opened> {
        auto fs = TargetFs::open(paths, pid, own_pidfd->get(),
                                 absolute ? TargetAnchor::kRoot : TargetAnchor::kCwd);
        if (!fs) return fs.error();
        // Held open, because the target's root and cwd links vanish with it: a profile finished
        // just before an exit (the OOM killer's) is still reachable through this descriptor.
        auto dir_fd = fs->openDir(dir_in_target.empty() && absolute ? "/" : dir_in_target);
        if (!dir_fd) return dir_fd.error();
        return Opened{fs->owner(), fs->where(), std::make_shared<OwnedFd>(std::move(*dir_fd))};
      });
  if (!opened) return opened.error();
  ProfileDir out;
  out.owner = opened->owner;
  out.dir_in_target = dir_in_target;
  out.families.dir = opened->dir;
  out.families.where =
      opened->where + ":" + (dir_in_target.empty() ? (absolute ? "/" : ".") : dir_in_target);
  out.families.bases = {base + "_" + std::to_string(pid), base};
  return out;
}

Result<Scan> scanWithDeadline(const std::string& who, SteadyTime deadline, const Families& families,
                              std::optional<std::vector<long>> baseline) {
  return withTargetDeadline<Scan>(who, deadline, [families, baseline]() {
    return scanProfiles(families, baseline ? &*baseline : nullptr);
  });
}

// The wait for the profile: how it ends early (`end`), or the file seen last and whether it is
// complete (settled, and not held open by the target) or the target exited.
struct Wait {
  std::optional<std::pair<DumpResult, std::string>> end;
  std::optional<Found> current;
  std::uint64_t current_size = 0;
  bool complete = false, target_gone = false;
  int sends = 0;
};

// Sends the signal, then waits for a new file that has stopped growing, sending it again while
// none appears.
Wait waitForProfile(const HostPaths& paths, const GperftoolsSpec& spec, const Clock& clock,
                    pid_t pid, int pidfd, const std::string& who, SteadyTime deadline,
                    const Families& families, const std::vector<long>& baseline) {
  Wait out;
  auto end = [&](DumpResult r, std::string why) {
    out.end = std::make_pair(r, std::move(why));
    return std::move(out);
  };
  if (clock.steadyNow() >= deadline)
    return end(DumpResult::kTimedOut, "the deadline passed before the signal was sent");
  auto send = [&]() -> int { return sendThroughPidfd(pidfd, spec.signal) == 0 ? 0 : errno; };
  if (int err = send(); err != 0) {
    if (err == ESRCH)
      return end(DumpResult::kFailed, "the target exited before its profile was written");
    return end(DumpResult::kFailed, "pidfd_send_signal(" + signalLabel(spec.signal) + ") to " +
                                        who + " failed: " + std::strerror(err));
  }
  SteadyTime last_send = clock.steadyNow();
  out.sends = 1;

  // Wait for a new file that has stopped growing. The pidfd doubles as the sleep: it turns
  // readable when the target exits, which ends the wait at once.
  const Duration step = std::clamp<Duration>(spec.settle / 4, 1ms, kMaxStep);
  std::optional<Found>& current = out.current;
  std::uint64_t& current_size = out.current_size;
  // Spread over the steps of the wait: a target with many descriptors costs more steps, never a
  // long one.
  auto held = std::make_shared<HeldOpenScan>(paths, pid);
  SteadyTime stable_since{};
  bool &complete = out.complete, &target_gone = out.target_gone;
  for (;;) {
    auto scan = scanWithDeadline(who, deadline, families, baseline);
    if (!scan && stalled(scan.error()))
      return end(DumpResult::kTimedOut,
                 "cannot look for the target's profile: " + scan.error().describe());
    SteadyTime now = clock.steadyNow();
    if (scan && scan->next) {
      // The profiler writes a regular file; anything else under that name (a symlink to a host
      // file, a FIFO that would block a read) was put there, and is refused at once.
      if (!S_ISREG(scan->next->st.st_mode))
        return end(DumpResult::kFailed,
                   "refused the profile " + scan->next->name + " in " + families.where +
                       ": it is " + kindOf(scan->next->st.st_mode) +
                       ", not a regular file (a target's file is never followed or opened "
                       "for reading unless it is one); nothing copied");
      std::uint64_t size = static_cast<std::uint64_t>(scan->next->st.st_size);
      if (!current || current->name != scan->next->name || size != current_size) {
        current = scan->next;
        current_size = size;
        stable_since = now;
        held->restart();
      } else if (size > 0 && now - stable_since >= spec.settle) {
        // stat() of the target's descriptors asks the file system of each file it has open: under
        // the dump's deadline, on a worker that owns the scan with us (one left behind keeps it).
        auto answer = withTargetDeadline<HeldOpenScan::Answer>(
            who, deadline, [held, st = scan->next->st]() -> Result<HeldOpenScan::Answer> {
              return held->step(st);
            });
        if (!answer)
          return end(DumpResult::kTimedOut,
                     "cannot look at the target's open files: " + answer.error().describe());
        if (*answer == HeldOpenScan::Answer::kNotHeld) {
          complete = true;
          break;
        }
      }
    } else if (!current && now - last_send >= kResendAfter && send() == 0) {
      last_send = now;
      ++out.sends;
    }
    if (target_gone) break;  // that was the last look, after the exit
    if (now >= deadline) break;
    Duration wait = std::min(step, deadline - now);
    int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
    pollfd p{pidfd, POLLIN, 0};
    if (::poll(&p, 1, std::max(ms, 1)) > 0) target_gone = true;
  }

  return out;
}

}  // namespace

namespace {

// A request this dumper cannot act on, with the result it gets; nullopt when it can.
std::optional<std::pair<DumpResult, std::string>> badRequest(const DumpRequest& req,
                                                             const GperftoolsSpec& spec) {
  if (!req.pid || *req.pid <= 0)
    return std::make_pair(DumpResult::kSkipped, "no process to signal: the target has no pid");
  if (spec.heap_prefix.empty())
    return std::make_pair(DumpResult::kFailed,
                          "no heap_prefix configured (the target's HEAPPROFILE)");
  if (spec.signal < 1 || spec.signal > 64)
    return std::make_pair(DumpResult::kFailed, "signal " + std::to_string(spec.signal) +
                                                   " is not a signal number (1-64)");
  return std::nullopt;
}

// The profile `done_name` copied into the bundle as heap.prof, under the dump's deadline.
Result<Artifact> copyProfile(const std::string& who, const DumpRequest& req,
                             const Families& families, uid_t owner, const std::string& done_name) {
  // Through the door again for the one name: not a symlink, a regular file of the target's user,
  // within the size cap, opened without blocking (a file under a lease is an error at once, not
  // a 45 s wait for the lease-break time).
  TargetFileRules rules;
  rules.max_bytes = req.max_bytes;
  rules.owner = owner;
  auto heap = withTargetDeadline<Artifact>(
      who, req.deadline,
      [families, done_name, rules, dir = req.dir, max = req.max_bytes]() -> Result<Artifact> {
        auto profile = openTargetFileAt(families.dir->get(), done_name, rules, families.where);
        if (!profile) return profile.error();
        return copyArtifactFromFd(dir, "heap.prof", profile->get(), max);
      });
  // An abandoned copy writes on into its file: the bundle does not keep it (the worker's writes
  // go to an unlinked inode, freed when it returns).
  if (!heap && stalled(heap.error())) ::unlink(joinPath(req.dir, "heap.prof").c_str());
  return heap;
}

}  // namespace

GperftoolsDumper::GperftoolsDumper(const HostPaths& paths, GperftoolsSpec spec)
    : paths_(paths), spec_(std::move(spec)) {}

DumpOutcome GperftoolsDumper::run(const DumpRequest& req) {
  const SteadyTime start = clock_.steadyNow();
  DumpOutcome out;
  out.dumper = name();
  auto finish = [&](DumpResult r, std::string error) -> DumpOutcome {
    out.result = r;
    out.error = std::move(error);
    out.took = clock_.steadyNow() - start;
    return std::move(out);
  };

  if (auto bad = badRequest(req, spec_)) return finish(bad->first, std::move(bad->second));
  const pid_t pid = *req.pid;
  const std::string who = "pid " + std::to_string(pid);

  // From here on the pidfd names one process whatever happens to the number.
  OwnedFd pidfd(openPidfd(pid));
  if (pidfd.get() < 0) {
    int err = errno;
    if (err == ESRCH) return finish(DumpResult::kFailed, who + " does not exist");
    return finish(DumpResult::kFailed,
                  "pidfd_open(" + std::to_string(pid) + ") failed: " + std::strerror(err));
  }
  bool profiler_read_it = false, handled = false;
  if (auto why = refusal(paths_, spec_, req, pid, who, profiler_read_it, handled))
    return finish(DumpResult::kFailed, *why);

  auto opened = openProfileDir(paths_, spec_, pid, pidfd.get(), who, req.deadline);
  if (!opened)
    return finish(stalled(opened.error()) ? DumpResult::kTimedOut : DumpResult::kFailed,
                  "cannot open the target's profile directory: " + opened.error().describe() +
                      "; not signalling");
  const Families& families = opened->families;

  auto before = scanWithDeadline(who, req.deadline, families, std::nullopt);
  if (!before)
    return finish(
        stalled(before.error()) ? DumpResult::kTimedOut : DumpResult::kFailed,
        "cannot look for the target's profiles: " + before.error().describe() + "; not signalling");
  const std::vector<long> baseline = before->newest;
  // Read now, while it surely exists: the exe link is gone once the target exits.
  auto exe_path = readLink(paths_.proc(pid, "exe"));

  Wait w = waitForProfile(paths_, spec_, clock_, pid, pidfd.get(), who, req.deadline, families,
                          baseline);
  if (w.end) return finish(w.end->first, std::move(w.end->second));
  const std::optional<Found>& current = w.current;
  const bool target_gone = w.target_gone;
  if (!w.complete && !target_gone) {
    return finish(
        DumpResult::kTimedOut,
        notSettled(spec_, current ? &current->name : nullptr, w.current_size, handled,
                   profiler_read_it, w.sends, opened->dir_in_target, req.deadline - start));
  }
  if (!w.complete && !current)
    return finish(DumpResult::kFailed, "the target exited before its profile was written");
  const std::string done_name = current->name;

  std::vector<std::string> problems;
  auto heap = copyProfile(who, req, families, opened->owner, done_name);
  if (!heap)
    return finish(stalled(heap.error()) ? DumpResult::kTimedOut : DumpResult::kFailed,
                  "cannot copy the profile " + done_name + ": " + heap.error().describe());
  out.artifacts.push_back(*heap);
  if (heap->truncated) problems.push_back("heap.prof cut (" + heap->truncated_by + ")");
  if (target_gone)
    problems.push_back("the target exited during the dump: " + done_name + " may be incomplete");

  copyContext(paths_, req, pid, who, exe_path, target_gone, spec_.copy_executable, clock_,
              out.artifacts, problems);

  if (problems.empty()) return finish(DumpResult::kOk, "");
  std::string joined;
  for (const auto& p : problems) joined += (joined.empty() ? "" : "; ") + p;
  return finish(DumpResult::kPartial, joined);
}

}  // namespace oomsentinel
