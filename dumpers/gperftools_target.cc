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
#include "dumpers/gperftools_dumper.h"
#include "dumpers/gperftools_internal.h"

// What the gperftools dumper reads of its target: /proc texts, the profile directory through the
// door, the descriptors it holds open.
namespace oomsentinel {
namespace gperftools_detail {
namespace {

// /proc texts (environ, status, stat) are small; a cap keeps a hostile one from growing us.
constexpr std::size_t kMaxProcText = 1 << 20;

}  // namespace

// Straight to the kernel: glibc 2.36 (Debian 12) declares pidfd_open and pidfd_send_signal in
// <sys/pidfd.h> without extern "C", so C++ code cannot link against its wrappers.
int openPidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int sendThroughPidfd(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

Result<std::string> readSmallFile(const std::string& path) {
  return readFileUpTo(path, kMaxProcText);
}

Result<std::string> readLink(const std::string& path) {
  std::string out(PATH_MAX, '\0');
  ssize_t n = ::readlink(path.c_str(), out.data(), out.size());
  if (n < 0) return makeError("cannot read the link", path, errno);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string signalLabel(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  std::string out = std::to_string(sig);
  if (abbrev != nullptr) out += std::string(" (SIG") + abbrev + ")";
  return out;
}

std::string seconds(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", toSeconds(d));
  return buf;
}

// The value of `key` in a NUL-separated environ text, if present.
std::optional<std::string> environValue(std::string_view environ, std::string_view key) {
  while (!environ.empty()) {
    std::size_t end = environ.find('\0');
    std::string_view entry = environ.substr(0, end);
    if (entry.size() > key.size() && entry.substr(0, key.size()) == key && entry[key.size()] == '=')
      return std::string(entry.substr(key.size() + 1));
    if (end == std::string_view::npos) break;
    environ.remove_prefix(end + 1);
  }
  return std::nullopt;
}

// One of the masks of /proc/PID/status ("SigCgt", "SigIgn"), as a bit set (bit n-1: signal n).
std::optional<std::uint64_t> statusMask(std::string_view status, std::string_view key) {
  std::string needle(1, '\n');
  needle.append(key).push_back(':');
  std::size_t at = status.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  std::string value(status.substr(at + needle.size(), 32));
  char* end = nullptr;
  std::uint64_t mask = std::strtoull(value.c_str(), &end, 16);
  if (end == value.c_str()) return std::nullopt;
  return mask;
}

// Signals whose default action neither ends nor stops a process: sending one that the target
// does not catch is harmless (and produces no profile).
bool harmlessByDefault(int sig) {
  return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

// What a directory entry is, for a refusal that says why.
const char* kindOf(mode_t mode) {
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device node";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

Result<Scan> scanProfiles(const Families& f, const std::vector<long>* baseline) {
  auto entries = listTargetDir(f.dir->get(), f.where);
  if (!entries) return entries.error();
  Scan scan;
  scan.newest.assign(f.bases.size(), -1);
  for (const TargetDirEntry& e : *entries) {
    for (std::size_t i = 0; i < f.bases.size(); ++i) {
      long seq = heapProfileSequence(e.name, f.bases[i]);
      if (seq < 0) continue;
      scan.newest[i] = std::max(scan.newest[i], seq);
      if (baseline == nullptr || seq <= (*baseline)[i]) continue;
      // The target's own family first, then the highest number: the latest dump it made.
      auto& best = scan.next;
      if (!best || i < best->family || (i == best->family && seq > best->seq))
        best = Found{e.name, seq, i, e.st};
    }
  }
  return scan;
}

bool stalled(const Error& e) { return e.errnum == ETIMEDOUT || e.errnum == EBUSY; }

}  // namespace gperftools_detail

HeldOpenScan::HeldOpenScan(const HostPaths& paths, pid_t pid, std::size_t per_step)
    : fd_dir_(paths.proc(pid, "fd")), per_step_(std::max<std::size_t>(per_step, 1)) {}

HeldOpenScan::~HeldOpenScan() { restart(); }

void HeldOpenScan::restart() {
  if (dir_ != nullptr) ::closedir(static_cast<DIR*>(dir_));
  dir_ = nullptr;
}

HeldOpenScan::Answer HeldOpenScan::step(const struct stat& want) {
  examined_ = 0;
  if (want.st_dev != dev_ || want.st_ino != ino_) {
    restart();
    dev_ = want.st_dev;
    ino_ = want.st_ino;
  }
  if (dir_ == nullptr) {
    dir_ = ::opendir(fd_dir_.c_str());
    if (dir_ == nullptr) return Answer::kNotHeld;  // not allowed to look: the settle time decides
  }
  DIR* d = static_cast<DIR*>(dir_);
  while (examined_ < per_step_) {
    errno = 0;
    dirent* e = ::readdir(d);
    if (e == nullptr) {  // the end of a whole pass (or the process is gone): nobody holds it
      restart();
      return Answer::kNotHeld;
    }
    if (e->d_name[0] == '.') continue;
    ++examined_;
    // stat (not lstat) of the entry looks at the open file; it opens nothing.
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, 0) == 0 && st.st_dev == want.st_dev &&
        st.st_ino == want.st_ino) {
      restart();  // the next question needs a new pass
      return Answer::kHeld;
    }
  }
  return Answer::kNotYet;
}

Result<std::uint64_t> parseStatStartTime(std::string_view stat) {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the
  // last ')'.
  std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return makeError("no ')' in a stat line");
  std::string_view rest = stat.substr(close + 1);
  int field = 2;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    std::size_t end = rest.find_first_of(" \n");
    std::string_view token = rest.substr(0, end);
    if (++field == 22) {
      std::uint64_t v = 0;
      if (token.empty()) return makeError("empty start time in a stat line");
      for (char c : token) {
        if (c < '0' || c > '9') return makeError("bad start time '" + std::string(token) + "'");
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      return v;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return makeError("a stat line with fewer than 22 fields");
}

long heapProfileSequence(std::string_view name, std::string_view base) {
  constexpr std::string_view kExt = ".heap";
  if (name.size() < base.size() + 1 + 1 + kExt.size()) return -1;
  if (name.substr(0, base.size()) != base || name[base.size()] != '.') return -1;
  if (name.substr(name.size() - kExt.size()) != kExt) return -1;
  std::string_view digits =
      name.substr(base.size() + 1, name.size() - base.size() - 1 - kExt.size());
  if (digits.empty() || digits.size() > 9) return -1;
  long seq = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    seq = seq * 10 + (c - '0');
  }
  return seq;
}

}  // namespace oomsentinel
