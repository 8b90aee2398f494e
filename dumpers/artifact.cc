#include "dumpers/artifact.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "core/host_paths.h"
#include "dumpers/bundle_budget.h"
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

// The bytes of one artifact, charged to its bundle's budget as they are written (the budget is
// shared with the dumpers writing beside it).
struct Charge {
  std::shared_ptr<BundleBudget> budget;
  explicit Charge(const std::string& dir) : budget(bundleBudgetFor(dir)) {}
  // How many of `n` bytes may still be written.
  std::uint64_t take(std::uint64_t n) { return budget ? budget->take(n) : n; }
  void giveBack(std::uint64_t n) {
    if (budget && n > 0) budget->giveBack(n);
  }
};

void cutBy(Artifact& a, const std::string& limit) {
  a.truncated = true;
  if (a.truncated_by.empty()) a.truncated_by = limit;
}

constexpr const char* kBundleCap = "dump.max_bundle_bytes";

}  // namespace

std::string sha256Hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

Result<Artifact> writeArtifact(const std::string& dir, const std::string& name,
                               std::string_view data, std::uint64_t max_bytes) {
  auto room = artifactRoom(dir, name, max_bytes);
  if (!room) return room.error();
  std::string path = dir + "/" + name;
  auto fd = create(path);
  if (!fd) return fd.error();
  Fd guard{*fd};
  Artifact a;
  a.file = name;
  if (room->cap > 0 && data.size() > room->cap) {
    cutBy(a, room->limit);
    data = data.substr(0, room->cap);
  }
  Charge charge(dir);
  if (std::uint64_t got = charge.take(data.size()); got < data.size()) {
    cutBy(a, kBundleCap);
    data = data.substr(0, got);
  }
  if (auto st = writeAll(*fd, data.data(), data.size(), path); !st) return st.error();
  if (::fsync(*fd) != 0) return makeError("cannot fsync", path, errno);
  a.bytes = data.size();
  a.sha256 = sha256Hex(data);
  return a;
}

Result<Artifact> copyArtifact(const std::string& dir, const std::string& name,
                              const std::string& src, std::uint64_t max_bytes) {
  // O_NOFOLLOW: a symlink in the last place is refused, never followed to whatever it names;
  // O_NONBLOCK: a FIFO or a leased file answers at once instead of holding a dump slot.
  Fd in{::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)};
  if (in.fd < 0) return makeError("cannot open", src, errno);
  auto room = artifactRoom(dir, name, max_bytes);
  if (!room) return room.error();
  max_bytes = room->cap;
  std::string path = dir + "/" + name;
  auto fd = create(path);
  if (!fd) return fd.error();
  Fd out{*fd};
  Artifact a;
  a.file = name;
  Charge charge(dir);
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
        if (::pread(in.fd, &probe, 1, off) == 1) cutBy(a, room->limit);
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
    if (std::uint64_t got = charge.take(static_cast<std::uint64_t>(n));
        got < static_cast<std::uint64_t>(n)) {
      cutBy(a, kBundleCap);
      n = static_cast<ssize_t>(got);
      if (n == 0) break;
      if (auto st = writeAll(out.fd, buf, static_cast<std::size_t>(n), path); !st)
        return st.error();
      h.update(buf, static_cast<std::size_t>(n));
      a.bytes += static_cast<std::uint64_t>(n);
      break;
    }
    if (auto st = writeAll(out.fd, buf, static_cast<std::size_t>(n), path); !st) return st.error();
    h.update(buf, static_cast<std::size_t>(n));
    a.bytes += static_cast<std::uint64_t>(n);
    off += n;
  }
  if (::fsync(out.fd) != 0) return makeError("cannot fsync", path, errno);
  a.sha256 = h.hex();
  return a;
}

namespace {

// The checks on the inode `fd` (an O_PATH descriptor of `path`) holds before anything else is
// done to it; `st` is its stat.
Status checkOwnFile(int fd, const std::string& path, std::optional<uid_t> writer, struct stat& st) {
  if (::fstat(fd, &st) != 0) return makeError("cannot stat", path, errno);
  // O_PATH with O_NOFOLLOW hands out a symlink in the last place rather than failing.
  if (S_ISLNK(st.st_mode)) return makeError("refused: a symlink", path, ELOOP);
  if (!S_ISREG(st.st_mode)) return makeError("refused: not a regular file", path, EINVAL);
  // Checked on the inode we hold, before the chmod and the cut below touch it: a child that
  // hard-linked another file into its folder (one it may read or that protected_hardlinks lets
  // it link, e.g. as root without capabilities) would have us chmod, cut and publish that file.
  if (st.st_nlink != 1)
    return makeError(
        "refused: a hard link (" + std::to_string(st.st_nlink) + " links), not a file of its own",
        path, EMLINK);
  const uid_t ours = ::geteuid();
  if (st.st_uid != ours && (!writer || st.st_uid != *writer))
    return makeError(
        "refused: owned by uid " + std::to_string(st.st_uid) + ", not by " +
            (writer && *writer != ours ? "its writer's uid " + std::to_string(*writer) + " or "
                                       : std::string()) +
            "ours (" + std::to_string(ours) + ")",
        path, EPERM);
  return Ok{};
}

// Cuts the file that `fd` reads (`again`: its /proc/self/fd path) to `keep` bytes, for `limit`.
Status cutTo(int fd, bool writable, const std::string& again, std::uint64_t keep,
             const std::string& limit, const std::string& path) {
  int cut_fd = fd;
  Fd writer;
  if (!writable) {
    // Another user's file that only its owner may write: for the cut, the "other" write bit
    // stands for a moment (CAP_FOWNER), and the mode is 0600 again at once. Nobody else can
    // reach it meanwhile: the bundle's folders are root's, 0700.
    if (::chmod(again.c_str(), 0602) == 0) {
      writer.fd = ::open(again.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
      ::chmod(again.c_str(), 0600);
    }
    if (writer.fd < 0) return makeError("cannot open to cut it to " + limit, path, errno);
    cut_fd = writer.fd;
  }
  if (::ftruncate(cut_fd, static_cast<off_t>(keep)) != 0)
    return makeError("cannot cut to " + limit, path, errno);
  return Ok{};
}

// The SHA-256 of the first `size` bytes `fd` reads, as hex.
Result<std::string> digestOf(int fd, std::uint64_t size, const std::string& path) {
  Sha256 h;
  char buf[64 * 1024];
  off_t off = 0;
  while (static_cast<std::uint64_t>(off) < size) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return makeError("cannot read back", path, n < 0 ? errno : 0);
    h.update(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return h.hex();
}

}  // namespace

Result<Artifact> finishArtifact(const std::string& dir, const std::string& name,
                                std::uint64_t max_bytes, std::optional<uid_t> writer) {
  std::string path = dir + "/" + name;
  // The file may be in a folder a child wrote to (an exec hook's): no symlink anywhere in `name`
  // is followed, nothing climbs out of `dir`, and the inode is known to be a regular file before
  // it is opened for I/O (a FIFO left there would block, a device node must never be opened).
  Fd dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir_fd.fd < 0) return makeError("cannot open", dir, errno);
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  Fd at{static_cast<int>(::syscall(SYS_openat2, dir_fd.fd, name.c_str(), &how, sizeof how))};
  if (at.fd < 0)
    return makeError(errno == ELOOP ? "refused: a symlink on the way" : "cannot open", path, errno);
  struct stat st;
  if (auto ok = checkOwnFile(at.fd, path, writer, st); !ok) return ok.error();
  // A file of another user (an exec hook's, a JVM's heap dump) is made 0600 first, with
  // CAP_FOWNER, through the descriptor; the daemon keeps no CAP_DAC_OVERRIDE, so it may then
  // only read it (CAP_DAC_READ_SEARCH), and a cut takes a writable descriptor of its own below.
  const std::string again = joinPath(HostPaths::kOwnFdDir, std::to_string(at.fd));
  if (::chmod(again.c_str(), 0600) != 0 && (st.st_mode & 07777) != 0600)
    return makeError("cannot make it mode 0600", path, errno);
  bool writable = true;
  Fd fd{::open(again.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (fd.fd < 0 && errno == EACCES) {
    writable = false;
    fd.fd = ::open(again.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  }
  if (fd.fd < 0) return makeError("cannot open", path, errno);
  Artifact a;
  a.file = name;
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  // Already on the disk: what the limits refuse is cut off again (the free-space check measures
  // the disk with this file on it, so only the bundle's cap and max_bytes apply here).
  Charge charge(dir);
  std::uint64_t keep = size;
  std::string limit;
  if (max_bytes > 0 && keep > max_bytes) {
    keep = max_bytes;
    limit = "dump.max_artifact_bytes";
  }
  if (std::uint64_t got = charge.take(keep); got < keep) {
    keep = got;
    if (limit.empty()) limit = kBundleCap;
  }
  if (keep < size) {
    if (auto cut = cutTo(fd.fd, writable, again, keep, limit, path); !cut) return cut.error();
    size = keep;
    cutBy(a, limit);
  }
  auto digest = digestOf(fd.fd, size, path);
  if (!digest) return digest.error();
  if (::fsync(fd.fd) != 0) return makeError("cannot fsync", path, errno);
  a.bytes = size;
  a.sha256 = *digest;
  return a;
}

namespace {

// Zeros for the digest: a hole reads as zeros, and the digest is of what a reader sees.
void hashHole(Sha256& h, std::uint64_t n) {
  static const char kZeros[64 * 1024] = {};
  while (n > 0) {
    std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof kZeros));
    h.update(kZeros, k);
    n -= k;
  }
}

// Where the next data of `fd` is at or after `pos`, at most `end` (the rest is a hole).
Result<std::uint64_t> nextData(int fd, std::uint64_t pos, std::uint64_t end,
                               const std::string& src) {
  off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
  if (data < 0) {
    if (errno != ENXIO) return makeError("cannot seek", src, errno);
    return end;
  }
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(data), end);
}

// All of p[0..n) written at `pos` of `fd`.
Status pwriteAll(int fd, const char* p, std::size_t n, std::uint64_t pos, const std::string& path) {
  off_t at = static_cast<off_t>(pos);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, at);
    if (w < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot write", path, errno);
    }
    p += w;
    at += w;
    n -= static_cast<std::size_t>(w);
  }
  return Ok{};
}

}  // namespace

Result<Artifact> copyArtifactFromFd(const std::string& dir, const std::string& name, int fd,
                                    std::uint64_t max_bytes) {
  const std::string src = "descriptor " + std::to_string(fd) + " (" + name + ")";
  struct stat st;
  if (::fstat(fd, &st) != 0) return makeError("cannot stat", src, errno);
  if (!S_ISREG(st.st_mode)) return makeError("not a regular file", src, EINVAL);
  auto room = artifactRoom(dir, name, max_bytes);
  if (!room) return room.error();
  std::string path = dir + "/" + name;
  auto created = create(path);
  if (!created) return created.error();
  Fd out{*created};
  Artifact a;
  a.file = name;
  Charge charge(dir);
  Sha256 h;
  // The size when the copy starts: a file of a target that keeps growing is not followed.
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t end = size;
  if (room->cap > 0 && size > room->cap) {
    end = room->cap;
    cutBy(a, room->limit);
  }
  char buf[64 * 1024];
  std::uint64_t pos = 0;
  bool stop = false;
  while (pos < end && !stop) {
    // The next data at or after pos; ENXIO: none before the end (the rest is a hole). A file
    // system without SEEK_DATA treats the whole file as data (EINVAL is not expected on Linux
    // since 3.1, where the generic answer is "all data").
    auto next = nextData(fd, pos, end, src);
    if (!next) return next.error();
    std::uint64_t data_at = *next;
    if (data_at > pos) {
      hashHole(h, data_at - pos);
      pos = data_at;
      if (pos >= end) break;
    }
    off_t hole = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
    std::uint64_t hole_at =
        hole < 0 ? end : std::min<std::uint64_t>(static_cast<std::uint64_t>(hole), end);
    while (pos < hole_at) {
      std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(hole_at - pos, sizeof buf));
      ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        return makeError("cannot read", src, errno);
      }
      if (n == 0) {  // the file shrank under us: the copy ends where it does
        end = pos;
        stop = true;
        break;
      }
      std::uint64_t got = charge.take(static_cast<std::uint64_t>(n));
      if (got < static_cast<std::uint64_t>(n)) {
        cutBy(a, kBundleCap);
        n = static_cast<ssize_t>(got);
        end = pos + got;
        stop = true;
      }
      if (n > 0) {
        if (auto wrote = pwriteAll(out.fd, buf, static_cast<std::size_t>(n), pos, path); !wrote)
          return wrote.error();
        h.update(buf, static_cast<std::size_t>(n));
        pos += static_cast<std::uint64_t>(n);
      }
      if (stop) break;
    }
  }
  // The length, trailing hole included; holes before it were never written.
  if (::ftruncate(out.fd, static_cast<off_t>(pos)) != 0)
    return makeError("cannot set the length", path, errno);
  if (::fsync(out.fd) != 0) return makeError("cannot fsync", path, errno);
  a.bytes = pos;
  a.sha256 = h.hex();
  return a;
}

struct ArtifactStream::State {
  std::string path;
  Fd fd;
  Sha256 hash;
  Artifact artifact;
  std::uint64_t max_bytes = 0;
  std::string limit;  // which limit max_bytes is (artifactRoom)
  std::optional<Charge> charge;
  bool finished = false;
};

ArtifactStream::ArtifactStream(std::unique_ptr<State> s) : s_(std::move(s)) {}
ArtifactStream::ArtifactStream(ArtifactStream&&) noexcept = default;
ArtifactStream& ArtifactStream::operator=(ArtifactStream&&) noexcept = default;

ArtifactStream::~ArtifactStream() {
  if (s_ && !s_->finished) {
    ::unlink(s_->path.c_str());
    if (s_->charge) s_->charge->giveBack(s_->artifact.bytes);
  }
}

Result<ArtifactStream> ArtifactStream::create(const std::string& dir, const std::string& name,
                                              std::uint64_t max_bytes) {
  // The same room as every other artifact: free space above min_free, and the bundle's budget.
  auto room = artifactRoom(dir, name, max_bytes);
  if (!room) return room.error();
  auto s = std::make_unique<State>();
  s->path = dir + "/" + name;
  auto fd = oomsentinel::create(s->path);
  if (!fd) return fd.error();
  s->fd.fd = *fd;
  s->artifact.file = name;
  s->max_bytes = room->cap;
  s->limit = room->limit;
  s->charge.emplace(dir);
  return ArtifactStream(std::move(s));
}

Status ArtifactStream::write(std::string_view data) {
  if (s_->finished) return makeError("already finished", s_->path);
  if (s_->max_bytes > 0) {
    std::uint64_t left = s_->max_bytes - s_->artifact.bytes;
    if (data.size() > left) {
      data = data.substr(0, static_cast<std::size_t>(left));
      cutBy(s_->artifact, s_->limit);
    }
  }
  std::uint64_t got = s_->charge->take(data.size());
  if (got < data.size()) {
    data = data.substr(0, static_cast<std::size_t>(got));
    cutBy(s_->artifact, kBundleCap);
  }
  if (auto st = writeAll(s_->fd.fd, data.data(), data.size(), s_->path); !st) return st;
  s_->hash.update(data.data(), data.size());
  s_->artifact.bytes += data.size();
  return Ok{};
}

void ArtifactStream::markTruncated() { cutBy(s_->artifact, s_->limit); }

std::uint64_t ArtifactStream::bytes() const { return s_->artifact.bytes; }

Result<Artifact> ArtifactStream::finish() {
  if (s_->finished) return makeError("already finished", s_->path);
  if (::fsync(s_->fd.fd) != 0) return makeError("cannot fsync", s_->path, errno);
  s_->finished = true;
  s_->artifact.sha256 = s_->hash.hex();
  return s_->artifact;
}

}  // namespace oomsentinel
