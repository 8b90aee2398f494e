#include "collectors/jvm_perf.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "collectors/control_file.h"
#include "collectors/hsperfdata.h"
#include "collectors/parse.h"
#include "core/target_fs.h"

namespace oomsentinel {

JvmPerfCollector JvmPerfCollector::forPid(const HostPaths& paths, pid_t pid) {
  JvmPerfCollector c(paths);
  c.fixed_pid_ = pid;
  c.problem_ = "not searched yet";
  return c;
}

JvmPerfCollector JvmPerfCollector::forCgroup(const HostPaths& paths,
                                             std::string cgroup_procs_path) {
  JvmPerfCollector c(paths);
  c.procs_path_ = std::move(cgroup_procs_path);
  c.problem_ = "not searched yet";
  return c;
}

JvmPerfCollector::~JvmPerfCollector() { close(); }

JvmPerfCollector::JvmPerfCollector(JvmPerfCollector&& other) noexcept
    : paths_(std::move(other.paths_)),
      fixed_pid_(other.fixed_pid_),
      procs_path_(std::move(other.procs_path_)),
      last_search_(other.last_search_),
      pid_(other.pid_),
      fd_(std::exchange(other.fd_, -1)),
      pid_dir_(std::move(other.pid_dir_)),
      file_path_(std::move(other.file_path_)),
      buf_(std::move(other.buf_)),
      len_(other.len_),
      problem_(std::move(other.problem_)),
      pids_(std::move(other.pids_)) {}

JvmPerfCollector& JvmPerfCollector::operator=(JvmPerfCollector&& other) noexcept {
  if (this != &other) {
    close();
    paths_ = std::move(other.paths_);
    fixed_pid_ = other.fixed_pid_;
    procs_path_ = std::move(other.procs_path_);
    last_search_ = other.last_search_;
    pid_ = other.pid_;
    fd_ = std::exchange(other.fd_, -1);
    pid_dir_ = std::move(other.pid_dir_);
    file_path_ = std::move(other.file_path_);
    buf_ = std::move(other.buf_);
    len_ = other.len_;
    problem_ = std::move(other.problem_);
    pids_ = std::move(other.pids_);
  }
  return *this;
}

void JvmPerfCollector::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool JvmPerfCollector::searchDue(SteadyTime now) const {
  return !last_search_ || now - *last_search_ >= kSearchInterval || now < *last_search_;
}

void JvmPerfCollector::adopt(pid_t pid, HsperfdataFile file) {
  close();
  // The descriptor, not the path: the file is re-read every tick with pread, and a path under
  // the target's root would be resolved again each time, through whatever the target put there.
  fd_ = file.fd.release();
  pid_ = pid;
  pid_dir_ = paths_.proc(pid, "");
  file_path_ = std::move(file.path);
}

void JvmPerfCollector::search(SteadyTime now) {
  last_search_ = now;
  if (fixed_pid_) {
    // No pidfd (-1): a collector reads what a pid names at each tick and holds no process
    // (pidfds are the dumpers', which signal). A pid reused between the listing and the open hands
    // over another process's root; what is read there is still confined to that root, a regular
    // file of that process's own user, 1 MiB at most, read without blocking, and only counters
    // are taken from it (no byte of it reaches a message); stillThere() drops it when the pid's
    // /proc directory goes.
    auto found = findHsperfdataFile(paths_, *fixed_pid_, -1);
    if (!found) {
      problem_ = found.error().describe();
      return;
    }
    adopt(*fixed_pid_, std::move(*found));
    return;
  }
  auto text = readWholeFile(procs_path_);
  if (!text) {
    problem_ = text.error().describe();
    return;
  }
  if (auto st = parsePidList(*text, pids_); !st) {
    problem_ = makeError(st.error().message, procs_path_).describe();
    return;
  }
  if (pids_.empty()) {
    problem_ = procs_path_ + ": no process in the cgroup";
    return;
  }
  std::string first_problem;
  const std::size_t limit = std::min(pids_.size(), kMaxCandidates);
  for (std::size_t i = 0; i < limit; ++i) {
    pid_t pid = pids_[i];
    auto found = findHsperfdataFile(paths_, pid, -1);  // no pidfd: see above
    if (found) {
      adopt(pid, std::move(*found));
      return;
    }
    if (first_problem.empty())
      first_problem = "pid " + std::to_string(pid) + ": " + found.error().describe();
    // A file system that did not answer (core/target_fs.h) is most likely the /tmp that the
    // cgroup's processes share: one wait per search, not one per process.
    if (found.error().errnum == ETIMEDOUT) {
      problem_ = first_problem;
      return;
    }
  }
  std::string among = pids_.size() > limit ? "first " + std::to_string(limit) + " of the " +
                                                 std::to_string(pids_.size())
                                           : std::to_string(pids_.size());
  problem_ =
      "no JVM among the " + among + " processes in " + procs_path_ + " (" + first_problem + ")";
}

bool JvmPerfCollector::stillThere() {
  struct stat st;
  if (::stat(pid_dir_.c_str(), &st) != 0) {
    problem_ = "the JVM (pid " + std::to_string(pid_) + ") exited; searching again";
    return false;
  }
  return true;
}

namespace {

// The whole file at `fd`, or why not; ENOENT when it was removed (the JVM exited).
Result<std::string> readHsperfdata(int fd, const std::string& path, pid_t pid) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return makeError("cannot stat", path, errno);
  if (st.st_nlink == 0)
    // A JVM that exits removes its file; a new JVM removes the stale file of a killed one.
    return makeError("the hsperfdata file of pid " + std::to_string(pid) +
                         " was removed (the JVM exited); searching again",
                     "", ENOENT);
  auto size = static_cast<std::size_t>(st.st_size);
  if (size > kMaxHsperfdataBytes)
    return makeError("hsperfdata file of " + std::to_string(size) + " bytes is over 1 MiB", path);
  std::string buf(size, '\0');
  std::size_t len = 0;
  while (len < size) {
    ssize_t n = ::pread(fd, buf.data() + len, size - len, static_cast<off_t>(len));
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot read", path, errno);
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  buf.resize(len);
  return buf;
}

}  // namespace

bool JvmPerfCollector::readFile() {
  // On a worker with a deadline: the file is the target's, on a file system it may serve itself
  // (FUSE) and stall, and this runs on one of the daemon's read threads. The worker reads through
  // its own duplicate of the descriptor, into its own buffer: it may outlive this call.
  auto fd = std::make_shared<OwnedFd>(::fcntl(fd_, F_DUPFD_CLOEXEC, 0));
  if (fd->get() < 0) {
    problem_ = makeError("cannot duplicate the descriptor of", file_path_, errno).describe();
    return false;
  }
  auto got = withTargetTimeout<std::string>(
      "pid " + std::to_string(pid_), kTargetReadTimeout,
      [fd, path = file_path_, pid = pid_]() { return readHsperfdata(fd->get(), path, pid); });
  if (!got) {
    if (got.error().errnum == ENOENT) {
      problem_ = got.error().message;
      close();
    } else {
      problem_ = got.error().describe();
    }
    return false;
  }
  buf_ = std::move(*got);
  len_ = buf_.size();
  return true;
}

Status JvmPerfCollector::collect(Snapshot& out) {
  if (fd_ >= 0 && !stillThere()) close();
  if (fd_ < 0) {
    if (!searchDue(out.steady)) return Ok{};
    search(out.steady);
    if (fd_ < 0) return Ok{};
  }
  if (!readFile()) return Ok{};
  auto n = mapHsperfdata(std::string_view(buf_.data(), len_), out);
  if (!n) {
    // The JVM writes the file while we read it; an entry it was adding may be half there.
    if (!readFile()) return Ok{};
    n = mapHsperfdata(std::string_view(buf_.data(), len_), out);
  }
  if (!n) {
    problem_ = makeError(n.error().message, file_path_).describe();
    return Ok{};
  }
  problem_.clear();
  return Ok{};
}

}  // namespace oomsentinel
