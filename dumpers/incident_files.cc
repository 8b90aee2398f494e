
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "core/units.h"
#include "dumpers/incident_store_internal.h"

// The times in bundle names and manifests, and the file operations of the store: durable,
// private, no symlink followed.
namespace oomsentinel::incident_detail {
namespace {

namespace fs = std::filesystem;

// ---- time ----

struct Civil {
  int year;
  unsigned month, day, hour, minute, second, millis;
};

Civil toCivil(WallTime t) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(t);
  auto day = floor<days>(ms);
  year_month_day ymd{day};
  hh_mm_ss hms{ms - day};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          static_cast<unsigned>(hms.hours().count()),
          static_cast<unsigned>(hms.minutes().count()),
          static_cast<unsigned>(hms.seconds().count()),
          static_cast<unsigned>(hms.subseconds().count())};
}

std::optional<WallTime> fromCivil(const Civil& c) {
  using namespace std::chrono;
  year_month_day ymd{year{c.year}, month{c.month}, day{c.day}};
  if (!ymd.ok() || c.hour > 23 || c.minute > 59 || c.second > 60 || c.millis > 999)
    return std::nullopt;
  // WallTime counts nanoseconds in 64 bits (1677-09-21 to 2262-04-11): a year outside would
  // overflow the conversion below (a manifest's or a bundle name's "9999-...").
  if (c.year < 1678 || c.year > 2261) return std::nullopt;
  auto t = sys_days{ymd} + hours{c.hour} + minutes{c.minute} + seconds{c.second} +
           milliseconds{c.millis};
  return time_point_cast<WallTime::duration>(t);
}

}  // namespace

// "2026-11-29T09:35:12.123Z", as the manifest writes times.
std::string isoTime(WallTime t) {
  Civil c = toCivil(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", c.year, c.month, c.day,
                c.hour, c.minute, c.second, c.millis);
  return buf;
}

// "20261129T093512.123Z", as bundle names start: sorts like the time and has no ':' (which
// some tools that copy bundles off the host refuse in file names).
std::string compactTime(WallTime t) {
  Civil c = toCivil(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02u%02u%02u.%03uZ", c.year, c.month, c.day, c.hour,
                c.minute, c.second, c.millis);
  return buf;
}

namespace {

// Reads `n` digits at s[pos]; false when any is not a digit.
bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

// Parses the two layouts above. `compact` selects the bundle-name one; the text must end right
// after the 'Z'.
std::optional<WallTime> parseTime(std::string_view s, bool compact) {
  // Offsets of year, month, day, 'T', hour, minute, second, '.', millis, 'Z'.
  const std::size_t mo = compact ? 4 : 5, d = compact ? 6 : 8, t = compact ? 8 : 10, h = t + 1,
                    mi = compact ? 11 : 14, se = compact ? 13 : 17, dot = se + 2;
  unsigned y, m, dd, hh, mm, ss, ms;
  if (!digits(s, 0, 4, y) || !digits(s, mo, 2, m) || !digits(s, d, 2, dd) || !digits(s, h, 2, hh) ||
      !digits(s, mi, 2, mm) || !digits(s, se, 2, ss))
    return std::nullopt;
  if (s[t] != 'T') return std::nullopt;
  if (!compact && (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')) return std::nullopt;
  if (dot + 5 != s.size() || s[dot] != '.' || !digits(s, dot + 1, 3, ms) || s[dot + 4] != 'Z')
    return std::nullopt;
  return fromCivil({static_cast<int>(y), m, dd, hh, mm, ss, ms});
}

}  // namespace

std::optional<WallTime> parseIsoTime(std::string_view s) { return parseTime(s, false); }

// The time at the start of a bundle's name, when the name has a bundle's shape:
// "<compact time>-<something>".
std::optional<WallTime> nameTime(std::string_view name) {
  constexpr std::size_t kLen = 20;  // "20261129T093512.123Z"
  if (name.size() < kLen + 2 || name[kLen] != '-') return std::nullopt;
  return parseTime(name.substr(0, kLen), true);
}

// ---- files ----

// Target and rule names come from the config, but a name is still not a path: anything beyond
// [A-Za-z0-9._-] becomes '_', and the length is capped so the bundle name stays under NAME_MAX.
std::string namePart(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
    out.push_back(keep ? c : '_');
  }
  if (out.empty()) out = "_";
  return out;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

Status fsyncDir(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd < 0) return makeError("cannot open directory", path, errno);
  if (::fsync(fd.fd) != 0) return makeError("cannot fsync directory", path, errno);
  return Ok{};
}

Status removeTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return makeError("cannot remove", path, ec.value());
  return Ok{};
}

namespace {

// Every file of a bundle made private and durable before the rename makes it visible: dumpers
// write through artifact.cc, which already does this, but an exec hook's child may not have.
// Walked by descriptors, never by path (a hook's descendant that outlived it may still rename
// what it made): symlinks are left as they are, nothing that is not a regular file is opened,
// and no open waits (a FIFO swapped in after the check).
constexpr int kDurableDepth = 64;

Status makeDurableAt(int dir_fd, const std::string& dir, int depth) {
  Fd dfd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.fd < 0) return makeError("cannot open directory", dir, errno);
  int dup = ::fcntl(dfd.fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return makeError("cannot read directory", dir, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(dup), ::closedir);
  if (!d) {
    ::close(dup);
    return makeError("cannot read directory", dir, errno);
  }
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return makeError("cannot read directory", dir, errno);
      break;
    }
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (::fstatat(dfd.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return makeError("cannot stat", path, errno);
    const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    if (S_ISDIR(st.st_mode)) {
      if (depth >= kDurableDepth) continue;
      Fd sub(::openat(dfd.fd, name.c_str(), flags | O_DIRECTORY));
      if (sub.fd < 0) continue;  // changed since the look: not ours to follow
      if (auto s = makeDurableAt(sub.fd, path, depth + 1); !s) return s;
    } else if (S_ISREG(st.st_mode)) {
      Fd f(::openat(dfd.fd, name.c_str(), flags));
      struct stat now;
      if (f.fd < 0 || ::fstat(f.fd, &now) != 0 || !S_ISREG(now.st_mode) ||
          now.st_ino != st.st_ino || now.st_dev != st.st_dev)
        continue;  // swapped since the look (a FIFO, a link): left as it is, never read
      if ((now.st_mode & 07777) != 0600 && ::fchmod(f.fd, 0600) != 0)
        return makeError("cannot make private", path, errno);
      if (::fsync(f.fd) != 0) return makeError("cannot fsync", path, errno);
    }
  }
  // A folder an exec hook made stays its user's (no CAP_CHOWN): 0007 leaves that user no access
  // bits, while we, "other" to it, keep what retention needs.
  struct stat self;
  if (::fstat(dfd.fd, &self) != 0) return makeError("cannot stat", dir, errno);
  const mode_t mode = self.st_uid == ::geteuid() ? 0700 : 0007;
  if ((self.st_mode & 07777) != mode && ::fchmod(dfd.fd, mode) != 0)
    return makeError("cannot make private", dir, errno);
  if (::fsync(dfd.fd) != 0) return makeError("cannot fsync directory", dir, errno);
  return Ok{};
}
}  // namespace

Status makeDurable(const std::string& dir) {
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dfd.fd < 0) return makeError("cannot open directory", dir, errno);
  return makeDurableAt(dfd.fd, dir, 0);
}

Status makeDurableFd(int dir_fd, const std::string& shown) {
  return makeDurableAt(dir_fd, shown, 0);
}

Status fsyncFd(int dir_fd, const std::string& shown) {
  if (::fsync(dir_fd) != 0) return makeError("cannot fsync directory", shown, errno);
  return Ok{};
}

bool existsAt(int dir_fd, const std::string& name) {
  struct stat st;
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

Result<std::vector<std::string>> entriesAt(int dir_fd, const std::string& shown) {
  int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return makeError("cannot read directory", shown, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(dup), ::closedir);
  if (!d) {
    ::close(dup);
    return makeError("cannot read directory", shown, errno);
  }
  ::rewinddir(d.get());  // the duplicate shares its offset with dir_fd, read before perhaps
  std::vector<std::string> out;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return makeError("cannot read directory", shown, errno);
      return out;
    }
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
}

namespace {

// A folder an exec hook left read-only (a hook running as nobody can leave a 0500 one) given
// the write and search bits whose class we are in, so its entries can be removed: the daemon's
// unit keeps CAP_FOWNER (a mode can be changed) but not CAP_DAC_OVERRIDE (mode bits bind it).
Status makeEmptiable(int sub_fd, const std::string& shown) {
  struct stat st;
  if (::fstat(sub_fd, &st) != 0) return makeError("cannot stat", shown, errno);
  const mode_t need = st.st_uid == ::geteuid()   ? S_IRWXU
                      : st.st_gid == ::getegid() ? S_IRWXG
                                                 : S_IRWXO;
  if ((st.st_mode & need) != need && ::fchmod(sub_fd, need) != 0)
    return makeError("cannot remove: cannot make the folder writable", shown, errno);
  return Ok{};
}

Status removeTreeAtDepth(int dir_fd, const std::string& name, const std::string& shown, int depth) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Status(Ok{}) : makeError("cannot remove", shown, errno);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return makeError("cannot remove", shown, errno);
    return Ok{};
  }
  if (depth >= kRemoveDepth) return makeError("cannot remove: nested too deep", shown, ELOOP);
  // Never into another file system: what is mounted below a bundle (a hook's bind mount of a
  // host directory) is not the bundle's to empty.
  struct stat parent;
  if (::fstat(dir_fd, &parent) != 0) return makeError("cannot remove", shown, errno);
  if (parent.st_dev != st.st_dev)
    return makeError("not removed: a mount point (another file system), left as it is", shown,
                     EXDEV);
  {
    Fd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (sub.fd < 0) return makeError("cannot remove", shown, errno);
    if (auto s = makeEmptiable(sub.fd, shown); !s) return s;
    auto names = entriesAt(sub.fd, shown);
    if (!names) return names.error();
    for (const auto& n : *names)
      if (auto s = removeTreeAtDepth(sub.fd, n, shown + "/" + n, depth + 1); !s) return s;
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return makeError("cannot remove", shown, errno);
  return Ok{};
}

std::uint64_t treeBytesAtDepth(int dir_fd, const std::string& name, int depth) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  if (S_ISREG(st.st_mode)) return static_cast<std::uint64_t>(st.st_size);
  if (!S_ISDIR(st.st_mode) || depth >= kRemoveDepth) return 0;
  Fd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (sub.fd < 0) return 0;
  auto names = entriesAt(sub.fd, name);
  if (!names) return 0;
  std::uint64_t total = 0;
  for (const auto& n : *names) total += treeBytesAtDepth(sub.fd, n, depth + 1);
  return total;
}

}  // namespace

Status removeTreeAt(int dir_fd, const std::string& name, const std::string& shown) {
  return removeTreeAtDepth(dir_fd, name, shown, 0);
}

std::uint64_t treeBytesAt(int dir_fd, const std::string& name) {
  return treeBytesAtDepth(dir_fd, name, 0);
}

Status writeFileAt(int dir_fd, const std::string& name, std::string_view data, bool sync,
                   const std::string& shown) {
  Fd fd(
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.fd < 0) return makeError("cannot create", shown, errno);
  while (!data.empty()) {
    ssize_t w = ::write(fd.fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot write", shown, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  if (sync && ::fsync(fd.fd) != 0) return makeError("cannot fsync", shown, errno);
  return Ok{};
}

Status writeFileDurably(const std::string& path, std::string_view data) {
  return writeFileAt(AT_FDCWD, path, data, true, path);
}

Result<std::string> readSmallFile(const std::string& path, std::size_t max) {
  return readSmallFileAt(AT_FDCWD, path, max, path);
}

Result<std::string> readSmallFileAt(int dir_fd, const std::string& name, std::size_t max,
                                    const std::string& path) {
  // O_NONBLOCK: a FIFO put there (by a hook, or by whoever could write the directory) must not
  // hang the daemon's start or a retention pass; only a regular file is read.
  Fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
  if (fd.fd < 0) return makeError("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) return makeError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return makeError("is not a regular file", path, EINVAL);
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot read", path, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max)
      return makeError("larger than " + formatBytes(static_cast<double>(max)), path, EFBIG);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace oomsentinel::incident_detail
