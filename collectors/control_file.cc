#include "collectors/control_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace oomsentinel {
namespace {
constexpr std::size_t kInitialBuffer = 4096;
// Kernel control files are small; a file larger than this is not one we understand.
constexpr std::size_t kMaxFile = 4 << 20;
}  // namespace

ControlFile::ControlFile(std::string path) : path_(std::move(path)) {}

ControlFile::~ControlFile() { close(); }

ControlFile::ControlFile(ControlFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      read_to_eof_(other.read_to_eof_),
      buf_(std::move(other.buf_)) {}

ControlFile& ControlFile::operator=(ControlFile&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    read_to_eof_ = other.read_to_eof_;
    buf_ = std::move(other.buf_);
  }
  return *this;
}

void ControlFile::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status ControlFile::open() {
  close();
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return makeError("cannot open", path_, errno);
  fd_ = fd;
  if (buf_.size() < kInitialBuffer) buf_.resize(kInitialBuffer);
  return Ok{};
}

Result<std::string_view> ControlFile::readOnce() {
  std::size_t used = 0;
  for (;;) {
    if (used == buf_.size()) {
      // One byte more than kMaxFile so that a file of exactly kMaxFile reaches its end.
      if (buf_.size() > kMaxFile) return makeError("file larger than 4 MiB", path_, EFBIG);
      buf_.resize(std::min(buf_.size() * 2, kMaxFile + 1));
    }
    ssize_t n = ::pread(fd_, buf_.data() + used, buf_.size() - used, static_cast<off_t>(used));
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot read", path_, errno);
    }
    if (n == 0) break;
    std::size_t asked = buf_.size() - used;
    used += static_cast<std::size_t>(n);
    // seq_file and regular files fill the buffer unless the end came first, so a short read is
    // the end: this saves the second, empty pread per file per tick. Record lists that are
    // produced in chunks (cgroup.procs) ask to read on to an explicit 0.
    if (!read_to_eof_ && static_cast<std::size_t>(n) < asked) break;
  }
  return std::string_view(buf_.data(), used);
}

Result<std::string_view> ControlFile::read() {
  if (fd_ < 0) {
    if (auto st = open(); !st) return st.error();
    return readOnce();
  }
  auto r = readOnce();
  if (r || !r.error().isGone()) return r;
  // The cgroup (or process) behind the descriptor went away; a re-created one has the same path.
  if (auto st = open(); !st) return st.error();
  return readOnce();
}

Result<std::string> readWholeFile(const std::string& path) {
  ControlFile f(path);
  f.setReadToEof(true);  // read once, so no reason to trust a short read
  auto r = f.read();
  if (!r) return r.error();
  return std::string(*r);
}

bool fileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

namespace {
bool fsMagicIs(const std::string& path, std::initializer_list<unsigned long> magics) {
  struct statfs fs;
  if (::statfs(path.c_str(), &fs) != 0) return false;
  for (unsigned long m : magics)
    if (static_cast<unsigned long>(fs.f_type) == m) return true;
  return false;
}
}  // namespace

bool isCgroupfs(const std::string& path) {
  return fsMagicIs(path, {0x27e0ebUL /* CGROUP_SUPER_MAGIC */, 0x63677270UL /* CGROUP2 */});
}
bool isProcfs(const std::string& path) {
  return fsMagicIs(path, {0x9fa0UL /* PROC_SUPER_MAGIC */});
}

}  // namespace oomsentinel
