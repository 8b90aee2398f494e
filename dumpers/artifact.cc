#include "dumpers/artifact.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "dumpers/sha256.h"

namespace oomsentinel {

const char* dumpResultName(DumpResult r) {
  switch (r) {
    case DumpResult::kOk:
      return "ok";
    case DumpResult::kPartial:
      return "partial";
    case DumpResult::kFailed:
      return "failed";
    case DumpResult::kSkipped:
      return "skipped";
    case DumpResult::kTimedOut:
      return "timed_out";
  }
  return "failed";
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status writeAll(int fd, const char* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot write", path, errno);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return Ok{};
}

Result<int> create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("cannot create", path, errno);
  return fd;
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

Result<Artifact> writeArtifact(const std::string& dir, const std::string& name,
                               std::string_view data, std::uint64_t max_bytes) {
  std::string path = dir + "/" + name;
  auto fd = create(path);
  if (!fd) return fd.error();
  Fd guard{*fd};
  Artifact a;
  a.file = name;
  a.truncated = max_bytes > 0 && data.size() > max_bytes;
  if (a.truncated) data = data.substr(0, max_bytes);
  if (auto st = writeAll(*fd, data.data(), data.size(), path); !st) return st.error();
  if (::fsync(*fd) != 0) return makeError("cannot fsync", path, errno);
  a.bytes = data.size();
  a.sha256 = sha256Hex(data);
  return a;
}

Result<Artifact> copyArtifact(const std::string& dir, const std::string& name,
                              const std::string& src, std::uint64_t max_bytes) {
  Fd in{::open(src.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) return makeError("cannot open", src, errno);
  std::string path = dir + "/" + name;
  auto fd = create(path);
  if (!fd) return fd.error();
  Fd out{*fd};
  Artifact a;
  a.file = name;
  Sha256 h;
  char buf[64 * 1024];
  off_t off = 0;
  for (;;) {
    std::size_t want = sizeof buf;
    if (max_bytes > 0) {
      std::uint64_t left = max_bytes - a.bytes;
      if (left == 0) {
        // Is there more? Then the copy is cut.
        char probe;
        a.truncated = ::pread(in.fd, &probe, 1, off) == 1;
        break;
      }
      if (left < want) want = static_cast<std::size_t>(left);
    }
    ssize_t n = ::pread(in.fd, buf, want, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot read", src, errno);
    }
    if (n == 0) break;
    if (auto st = writeAll(out.fd, buf, static_cast<std::size_t>(n), path); !st) return st.error();
    h.update(buf, static_cast<std::size_t>(n));
    a.bytes += static_cast<std::uint64_t>(n);
    off += n;
  }
  if (::fsync(out.fd) != 0) return makeError("cannot fsync", path, errno);
  a.sha256 = h.hex();
  return a;
}

Result<Artifact> finishArtifact(const std::string& dir, const std::string& name,
                                std::uint64_t max_bytes) {
  std::string path = dir + "/" + name;
  Fd fd{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (fd.fd < 0) return makeError("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) return makeError("cannot stat", path, errno);
  Artifact a;
  a.file = name;
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (max_bytes > 0 && size > max_bytes) {
    if (::ftruncate(fd.fd, static_cast<off_t>(max_bytes)) != 0)
      return makeError("cannot cut to the size cap", path, errno);
    size = max_bytes;
    a.truncated = true;
  }
  Sha256 h;
  char buf[64 * 1024];
  off_t off = 0;
  while (static_cast<std::uint64_t>(off) < size) {
    ssize_t n = ::pread(fd.fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return makeError("cannot read back", path, n < 0 ? errno : 0);
    h.update(buf, static_cast<std::size_t>(n));
    off += n;
  }
  ::fchmod(fd.fd, 0600);
  if (::fsync(fd.fd) != 0) return makeError("cannot fsync", path, errno);
  a.bytes = size;
  a.sha256 = h.hex();
  return a;
}

struct ArtifactStream::State {
  std::string path;
  Fd fd;
  Sha256 hash;
  Artifact artifact;
  std::uint64_t max_bytes = 0;
  bool finished = false;
};

ArtifactStream::ArtifactStream(std::unique_ptr<State> s) : s_(std::move(s)) {}
ArtifactStream::ArtifactStream(ArtifactStream&&) noexcept = default;
ArtifactStream& ArtifactStream::operator=(ArtifactStream&&) noexcept = default;

ArtifactStream::~ArtifactStream() {
  if (s_ && !s_->finished) ::unlink(s_->path.c_str());
}

Result<ArtifactStream> ArtifactStream::create(const std::string& dir, const std::string& name,
                                              std::uint64_t max_bytes) {
  auto s = std::make_unique<State>();
  s->path = dir + "/" + name;
  auto fd = oomsentinel::create(s->path);
  if (!fd) return fd.error();
  s->fd.fd = *fd;
  s->artifact.file = name;
  s->max_bytes = max_bytes;
  return ArtifactStream(std::move(s));
}

Status ArtifactStream::write(std::string_view data) {
  if (s_->finished) return makeError("already finished", s_->path);
  if (s_->max_bytes > 0) {
    std::uint64_t left = s_->max_bytes - s_->artifact.bytes;
    if (data.size() > left) {
      data = data.substr(0, static_cast<std::size_t>(left));
      s_->artifact.truncated = true;
    }
  }
  if (auto st = writeAll(s_->fd.fd, data.data(), data.size(), s_->path); !st) return st;
  s_->hash.update(data.data(), data.size());
  s_->artifact.bytes += data.size();
  return Ok{};
}

void ArtifactStream::markTruncated() { s_->artifact.truncated = true; }

std::uint64_t ArtifactStream::bytes() const { return s_->artifact.bytes; }

Result<Artifact> ArtifactStream::finish() {
  if (s_->finished) return makeError("already finished", s_->path);
  if (::fsync(s_->fd.fd) != 0) return makeError("cannot fsync", s_->path, errno);
  s_->finished = true;
  s_->artifact.sha256 = s_->hash.hex();
  return s_->artifact;
}

}  // namespace oomsentinel
