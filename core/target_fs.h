// core/: the shared vocabulary of oomsentinel.
// TargetFs: the one door into a watched process's file system. Everything read from a target's
// root or cwd (heap profiles, hsperfdata, a JVM's /tmp) is opened through it, never by a path
// under <proc>/<pid>/root: the target owns those files and may have put anything there.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/result.h"

namespace oomsentinel {

// What a file opened from a target must be. A file that is anything else is refused with an
// Error that says why, and its bytes are never read.
struct TargetFileRules {
  std::uint64_t max_bytes = 0;  // larger files (by st_size, holes included) are refused; 0: none
  std::optional<uid_t> owner;   // the file must belong to this uid (the target's, usually)
};

// One entry of a target's directory, as lstat sees it (a symlink is a symlink, never followed).
struct TargetDirEntry {
  std::string name;
  struct stat st {};
};

enum class TargetAnchor { kRoot, kCwd };

// How many entries listDir looks at: a target can fill its /tmp with a million files, and a scan
// runs on a read thread or a dump slot.
inline constexpr std::size_t kMaxDirEntries = 4096;

class TargetFs {
 public:
  // A descriptor on <proc>/<pid>/root (or cwd), taken after `pidfd` (when >= 0) was opened and
  // checked to still hold a live process afterwards, so the number cannot have been reused by
  // another process in between. The owner is the uid that owns <proc>/<pid>.
  static Result<TargetFs> open(const HostPaths& paths, pid_t pid, int pidfd, TargetAnchor anchor);
  // The door on an already-open directory (tests, and a target's root held across its exit).
  TargetFs(OwnedFd dir, uid_t owner, std::string where);

  int fd() const { return dir_.get(); }
  uid_t owner() const { return owner_; }
  // For messages: "pid 123's root".
  const std::string& where() const { return where_; }

  // A directory, resolved as the target would resolve it: absolute symlinks and ".." stay inside
  // the root (RESOLVE_IN_ROOT), /proc magic links are refused, the open never blocks.
  Result<OwnedFd> openDir(std::string_view path) const;
  // A file, resolved the same way; the last component must not be a symlink, and the file must
  // be a regular file that keeps `rules`. Opened without following, checked, then reopened for
  // reading: a FIFO, socket or device node is never opened for I/O, and a file under a lease
  // answers EWOULDBLOCK at once instead of holding the caller for the lease-break time.
  Result<OwnedFd> openFile(std::string_view path, const TargetFileRules& rules) const;

 private:
  OwnedFd dir_;
  uid_t owner_ = 0;
  std::string where_;
};

// A file named `name` (one component, no '/') in a directory already opened through the door,
// with the same checks as TargetFs::openFile.
Result<OwnedFd> openTargetFileAt(int dir_fd, std::string_view name, const TargetFileRules& rules,
                                 std::string_view where);
// A directory named `name` (one component) in such a directory; not followed if a symlink.
Result<OwnedFd> openTargetDirAt(int dir_fd, std::string_view name, std::string_view where);
// The entries of a directory opened through the door (not "." or ".."), at most kMaxDirEntries,
// each lstat'ed relative to the directory descriptor.
Result<std::vector<TargetDirEntry>> listTargetDir(int dir_fd, std::string_view where);

// Work on a target's file system with a deadline. A target can serve its files from a FUSE file
// system of its own: a path lookup, fstat, open, read or readdir there waits on the FUSE server,
// as long as it likes, and O_NONBLOCK does not help. So such work runs on a worker thread and
// the caller waits at most until the deadline; a worker still stuck then is abandoned (never
// joined: what its lambda holds, descriptors included, is released when it returns, and the
// process's exit ends its wait). The lambda must own all it touches (captures by value; a
// descriptor as a shared_ptr<OwnedFd> or a dup), never the caller's stack.
//
// The workers are pooled: a collector reads each JVM's perf data every tick, and a thread made
// and ended for each read would be most of that read's cost. A worker that finishes its work
// waits for the next (at most kMaxIdleTargetWorkers wait, the rest end); a caller takes a
// waiting worker, or starts one when none waits. An abandoned worker is no longer the pool's
// until it returns; the next caller gets another.
//
// The cost is bounded: `key` names the target (its pid); while an abandoned worker of a key has
// not returned, new work for that key is refused at once, and while kMaxStuckTargetWorkers are
// abandoned, all new work is refused, until one returns. So stuck targets cost at most that many
// threads, plus the calls already under way when the cap was reached (a read thread or a dump
// slot each: a handful), and each caller waits for at most its deadline.
inline constexpr std::size_t kMaxStuckTargetWorkers = 8;
// As many workers as can be busy at once in a daemon that is not stuck: its 4 read threads and
// its dump slots (each one call at a time). More are started when needed and end afterwards.
inline constexpr std::size_t kMaxIdleTargetWorkers = 8;
// The deadline of a collector's read of a target's file (the JVM's hsperfdata): it runs on one
// of the daemon's few read threads.
inline constexpr Duration kTargetReadTimeout = std::chrono::seconds(1);

struct TargetWorkStats {
  std::size_t stuck = 0;              // abandoned workers that have not returned yet
  std::uint64_t abandoned_total = 0;  // workers abandoned since the start
  std::uint64_t started_total = 0;    // worker threads started since the start
  std::size_t idle = 0;               // workers waiting for work
};
TargetWorkStats targetWorkStats();

namespace target_fs_detail {
// nullopt: go ahead; else why not.
std::optional<Error> admit(const std::string& key);
void abandoned(const std::string& key);
void returned(const std::string& key);
Error timedOut(const std::string& key);

// One piece of work for a pooled worker: it calls `run`, goes back to the pool (or ends), then
// calls `deliver`. In that order, so that a caller woken by `deliver` finds the worker waiting
// again for its next read, and a read every tick keeps one thread.
struct WorkerJob {
  std::function<void()> run;
  std::function<void()> deliver;
};
// Hands `job` to a waiting worker, or to a new one; an Error if no thread could be started.
std::optional<Error> startWork(const std::string& key, WorkerJob job);

template <typename T>
struct WorkState {
  std::optional<Result<T>> done;  // the worker's alone, between run and deliver
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> out;
  bool abandoned = false;
};

// Waits with `wait(lock, pred)` (a deadline or a timeout) for the work.
template <typename T, typename Wait>
Result<T> runBounded(const std::string& key, std::function<Result<T>()> work, Wait wait) {
  if (auto refused = admit(key)) return *refused;
  auto st = std::make_shared<WorkState<T>>();
  WorkerJob job;
  // The worker drops `run` (and what the work held) as soon as it has run, not with the state.
  job.run = [st, work = std::move(work)] { st->done.emplace(work()); };
  job.deliver = [st, key] {
    std::unique_lock lock(st->mu);
    if (st->abandoned) {
      returned(key);
      lock.unlock();
      st->done.reset();  // a descriptor it holds is closed here: nobody waits for it
      return;
    }
    st->out.emplace(std::move(*st->done));
    st->done.reset();
    st->cv.notify_all();
  };
  if (auto not_started = startWork(key, std::move(job))) return *not_started;
  std::unique_lock lock(st->mu);
  if (!wait(lock, st->cv, [&] { return st->out.has_value(); })) {
    st->abandoned = true;
    abandoned(key);
    return timedOut(key);
  }
  return std::move(*st->out);
}
}  // namespace target_fs_detail

// At least this long is waited for any work, even at or past its deadline: a last look taken at
// the deadline is not abandoned (and its target marked stuck) for a few microseconds.
inline constexpr Duration kMinTargetWait = std::chrono::milliseconds(50);

// `work` for target `key` ("pid 123"), waited for until `deadline` (a real steady time), and at
// least kMinTargetWait.
template <typename T>
Result<T> withTargetDeadline(const std::string& key, SteadyTime deadline,
                             std::function<Result<T>()> work) {
  return target_fs_detail::runBounded<T>(
      key, std::move(work), [deadline](auto& lock, auto& cv, auto pred) {
        return cv.wait_for(lock, kMinTargetWait, pred) || cv.wait_until(lock, deadline, pred);
      });
}
// The same, waited for at most `timeout`.
template <typename T>
Result<T> withTargetTimeout(const std::string& key, Duration timeout,
                            std::function<Result<T>()> work) {
  return target_fs_detail::runBounded<T>(
      key, std::move(work),
      [timeout](auto& lock, auto& cv, auto pred) { return cv.wait_for(lock, timeout, pred); });
}

}  // namespace oomsentinel
