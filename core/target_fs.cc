#include "core/target_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace oomsentinel {

namespace {

// glibc 2.36 has no openat2 wrapper.
int openat2(int dir_fd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, path, &how, sizeof how));
}

// Inside the target's root, as the target would resolve the path; /proc magic links (its own
// /proc/1/root, /proc/self/fd/N) are never walked through. Mount points are crossed: a
// container's /tmp and volumes are mounts of its own, made by its runtime, not by the target.
constexpr std::uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
// One name in a directory already opened: it may not climb out or jump to "/".
constexpr std::uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

std::string describeWhere(std::string_view where, std::string_view path) {
  std::string s(where);
  s += ":";
  s += path;
  return s;
}

Result<OwnedFd> openDirWith(int dir_fd, std::string_view path, std::uint64_t resolve,
                            bool follow_last, std::string_view where) {
  std::string p(path.empty() ? "." : path);
  std::uint64_t flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (!follow_last) flags |= O_NOFOLLOW;
  int fd = openat2(dir_fd, p.c_str(), flags, resolve);
  if (fd < 0) return makeError("cannot open the directory", describeWhere(where, path), errno);
  return OwnedFd(fd);
}

Result<OwnedFd> openFileWith(int dir_fd, std::string_view path, std::uint64_t resolve,
                             const TargetFileRules& rules, std::string_view where) {
  const std::string shown = describeWhere(where, path);
  std::string p(path);
  // O_PATH first: nothing is opened for I/O until the inode is known to be a regular file, so a
  // device node placed by a target with CAP_MKNOD is never opened, nor a FIFO that would block.
  int pfd = openat2(dir_fd, p.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC, resolve);
  if (pfd < 0) {
    int e = errno;
    return makeError(
        e == ELOOP ? "refused: a symlink (a target's file is never followed out)" : "cannot open",
        shown, e);
  }
  OwnedFd path_fd(pfd);
  struct stat st;
  if (::fstat(path_fd.get(), &st) != 0) return makeError("cannot stat", shown, errno);
  // O_PATH with O_NOFOLLOW hands out the link itself rather than failing.
  if (S_ISLNK(st.st_mode))
    return makeError("refused: a symlink (a target's file is never followed)", shown, ELOOP);
  if (!S_ISREG(st.st_mode)) return makeError("refused: not a regular file", shown, EINVAL);
  if (rules.owner && st.st_uid != *rules.owner)
    return makeError("refused: owned by uid " + std::to_string(st.st_uid) + ", not the target's " +
                         std::to_string(*rules.owner),
                     shown, EPERM);
  if (rules.max_bytes > 0 && static_cast<std::uint64_t>(st.st_size) > rules.max_bytes)
    return makeError("refused: " + std::to_string(st.st_size) + " bytes, over the cap of " +
                         std::to_string(rules.max_bytes),
                     shown, EFBIG);
  // The same inode, now for reading. O_NONBLOCK: a file under a lease answers EWOULDBLOCK at
  // once rather than after the kernel's lease-break time.
  std::string again = joinPath(HostPaths::kOwnFdDir, std::to_string(path_fd.get()));
  int fd = ::open(again.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    return makeError(e == EWOULDBLOCK ? "cannot open now: the target holds a lease on it"
                                      : "cannot reopen for reading",
                     shown, e);
  }
  OwnedFd out(fd);
  struct stat st2;
  if (::fstat(out.get(), &st2) != 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev)
    return makeError("refused: the file changed while it was opened", shown, EAGAIN);
  return out;
}

bool oneComponent(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

}  // namespace

TargetFs::TargetFs(OwnedFd dir, uid_t owner, std::string where)
    : dir_(std::move(dir)), owner_(owner), where_(std::move(where)) {}

Result<TargetFs> TargetFs::open(const HostPaths& paths, pid_t pid, int pidfd, TargetAnchor anchor) {
  const char* link = anchor == TargetAnchor::kRoot ? "root" : "cwd";
  std::string path = paths.proc(pid, link);
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    return makeError(e == EACCES || e == EPERM
                         ? "cannot open the process's root or cwd (another user's process: this "
                           "needs root or CAP_SYS_PTRACE)"
                         : "cannot open the process's root or cwd",
                     path, e);
  }
  OwnedFd dir(fd);
  struct stat proc_st;
  std::string proc_dir = paths.proc(pid, "");
  if (::stat(proc_dir.c_str(), &proc_st) != 0)
    return makeError("cannot stat the process", proc_dir, errno);
  // The pidfd was opened before the descriptor above: if its process is still alive now, the
  // number still names it, so the root we hold is that process's.
  if (pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0)
    return makeError("the process exited (or its pid was reused) while its root was opened", path,
                     errno);
  return TargetFs(
      std::move(dir), proc_st.st_uid,
      "pid " + std::to_string(pid) + "'s " + (anchor == TargetAnchor::kRoot ? "root" : "cwd"));
}

Result<OwnedFd> TargetFs::openDir(std::string_view path) const {
  return openDirWith(dir_.get(), path, kInRoot, true, where_);
}

Result<OwnedFd> TargetFs::openFile(std::string_view path, const TargetFileRules& rules) const {
  return openFileWith(dir_.get(), path, kInRoot, rules, where_);
}

Result<OwnedFd> openTargetFileAt(int dir_fd, std::string_view name, const TargetFileRules& rules,
                                 std::string_view where) {
  if (!oneComponent(name))
    return makeError("refused: not a single file name", describeWhere(where, name), EINVAL);
  return openFileWith(dir_fd, name, kBeneath, rules, where);
}

Result<OwnedFd> openTargetDirAt(int dir_fd, std::string_view name, std::string_view where) {
  if (!oneComponent(name))
    return makeError("refused: not a single directory name", describeWhere(where, name), EINVAL);
  return openDirWith(dir_fd, name, kBeneath, false, where);
}

Result<std::vector<TargetDirEntry>> listTargetDir(int dir_fd, std::string_view where) {
  // fdopendir takes the descriptor over, and reads from its offset: a fresh one of our own.
  int fd = openat2(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK, kBeneath);
  if (fd < 0) return makeError("cannot list", std::string(where), errno);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd), &::closedir);
  if (!dir) {
    int e = errno;
    ::close(fd);
    return makeError("cannot list", std::string(where), e);
  }
  std::vector<TargetDirEntry> out;
  while (out.size() < kMaxDirEntries) {
    errno = 0;
    dirent* d = ::readdir(dir.get());
    if (!d) {
      if (errno != 0) return makeError("cannot list", std::string(where), errno);
      break;
    }
    std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    TargetDirEntry e;
    e.name = name;
    // Relative to the descriptor, not followed: what is there, not what it points at.
    if (::fstatat(::dirfd(dir.get()), d->d_name, &e.st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

// Abandoned workers by key. Never destroyed: a worker that returns during the process's exit
// still finds it.
struct StuckWorkers {
  std::mutex mu;
  std::map<std::string, std::size_t> by_key;
  std::size_t stuck = 0;
  std::uint64_t abandoned_total = 0;
};

StuckWorkers& stuckWorkers() {
  static auto* s = new StuckWorkers;
  return *s;
}

// A pooled worker: a thread that waits for one job at a time in `job`.
struct Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<target_fs_detail::WorkerJob> job;
};

// The workers waiting for work. Never destroyed, like StuckWorkers: waiting workers are still
// there at the process's exit.
struct WorkerPool {
  std::mutex mu;
  std::vector<std::shared_ptr<Worker>> idle;
  std::uint64_t started_total = 0;
};

WorkerPool& workerPool() {
  static auto* p = new WorkerPool;
  return *p;
}

// Back to the pool, unless enough wait already: then the worker ends.
bool backToPool(const std::shared_ptr<Worker>& w) {
  auto& pool = workerPool();
  std::lock_guard lock(pool.mu);
  if (pool.idle.size() >= kMaxIdleTargetWorkers) return false;
  pool.idle.push_back(w);
  return true;
}

void workerLoop(const std::shared_ptr<Worker>& w) {
  for (;;) {
    target_fs_detail::WorkerJob job;
    {
      std::unique_lock lock(w->mu);
      w->cv.wait(lock, [&] { return w->job.has_value(); });
      job = std::move(*w->job);
      w->job.reset();
    }
    job.run();
    job.run = nullptr;  // what the work held goes now
    // Waiting again before the caller is woken: its next read finds this worker. A job handed
    // over before this thread waits is found by the wait's predicate.
    bool keep = backToPool(w);
    job.deliver();
    if (!keep) return;
  }
}

}  // namespace

TargetWorkStats targetWorkStats() {
  TargetWorkStats out;
  {
    auto& s = stuckWorkers();
    std::lock_guard lock(s.mu);
    out.stuck = s.stuck;
    out.abandoned_total = s.abandoned_total;
  }
  auto& pool = workerPool();
  std::lock_guard lock(pool.mu);
  out.started_total = pool.started_total;
  out.idle = pool.idle.size();
  return out;
}

namespace target_fs_detail {

std::optional<Error> admit(const std::string& key) {
  auto& s = stuckWorkers();
  std::lock_guard lock(s.mu);
  if (s.by_key.count(key) != 0)
    return makeError(
        "refused: an earlier read of this target's files is still stuck (its file system does not "
        "answer: a stalled FUSE mount?); nothing is read there until it returns",
        key, EBUSY);
  if (s.stuck >= kMaxStuckTargetWorkers)
    return makeError("refused: " + std::to_string(s.stuck) +
                         " reads of targets' files are stuck (file systems that do not answer); "
                         "no target's files are read until one returns",
                     key, EBUSY);
  return std::nullopt;
}

void abandoned(const std::string& key) {
  auto& s = stuckWorkers();
  std::lock_guard lock(s.mu);
  ++s.by_key[key];
  ++s.stuck;
  ++s.abandoned_total;
}

void returned(const std::string& key) {
  auto& s = stuckWorkers();
  std::lock_guard lock(s.mu);
  auto it = s.by_key.find(key);
  if (it != s.by_key.end() && --it->second == 0) s.by_key.erase(it);
  if (s.stuck > 0) --s.stuck;
}

Error timedOut(const std::string& key) {
  return makeError(
      "timed out: the target's file system does not answer (a stalled FUSE mount?); the read "
      "is abandoned, and this target's files are not read again until it returns",
      key, ETIMEDOUT);
}

std::optional<Error> startWork(const std::string& key, WorkerJob job) {
  auto& pool = workerPool();
  std::shared_ptr<Worker> w;
  {
    std::lock_guard lock(pool.mu);
    if (!pool.idle.empty()) {
      w = std::move(pool.idle.back());
      pool.idle.pop_back();
    }
  }
  if (!w) {
    w = std::make_shared<Worker>();
    try {
      std::thread([w] { workerLoop(w); }).detach();
    } catch (const std::system_error& e) {
      return makeError("cannot start a thread to read the target's files", key, e.code().value());
    }
    std::lock_guard lock(pool.mu);
    ++pool.started_total;
  }
  {
    std::lock_guard lock(w->mu);
    w->job.emplace(std::move(job));
  }
  w->cv.notify_one();
  return std::nullopt;
}

}  // namespace target_fs_detail

}  // namespace oomsentinel
