#include "dumpers/incident_store.h"

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

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kPartialPrefix = ".partial-";
constexpr const char* kManifest = "manifest.json";
// A manifest is a few KiB; a bigger one is not ours, and reading it whole would cost the memory
// the watchdog exists to save.
constexpr std::size_t kMaxManifestBytes = 16u << 20;
// Past this many "-N" suffixes something is wrong with the directory, not just busy.
constexpr int kMaxCollisions = 10000;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

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

Status makeDurable(const std::string& dir) {
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dfd.fd < 0) return makeError("cannot open directory", dir, errno);
  return makeDurableAt(dfd.fd, dir, 0);
}

Status writeFileDurably(const std::string& path, std::string_view data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.fd < 0) return makeError("cannot create", path, errno);
  while (!data.empty()) {
    ssize_t w = ::write(fd.fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return makeError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(w));
  }
  if (::fsync(fd.fd) != 0) return makeError("cannot fsync", path, errno);
  return Ok{};
}

Result<std::string> readSmallFile(const std::string& path, std::size_t max) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.fd < 0) return makeError("cannot open", path, errno);
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

// What the bundle's files take, symlinks not followed.
std::uint64_t treeBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code sec;
    if (it->is_regular_file(sec) && !it->is_symlink(sec)) {
      auto n = it->file_size(sec);
      if (!sec) total += n;
    }
  }
  return total;
}

// ---- manifest ----

// nlohmann writes a non-finite double as null, which would lose the one value that explains a
// firing (a rate that went infinite); a string says what it was.
ordered_json number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return v;
}

ordered_json signalsJson(const std::vector<std::pair<std::string, double>>& signals) {
  ordered_json o = ordered_json::object();
  for (const auto& [name, v] : signals) o[name] = number(v);
  return o;
}

std::string manifestText(const IncidentInfo& info, const std::vector<DumpOutcome>& outcomes,
                         WallTime published_at) {
  ordered_json m;
  m["version"] = 1;
  m["target"] = info.target;
  m["rule"] = info.rule;
  m["severity"] = info.severity;
  m["expr"] = info.expr;
  m["fired_at"] = isoTime(info.fired_at);
  m["published_at"] = isoTime(published_at);
  ordered_json labels = ordered_json::object();
  for (const auto& [k, v] : info.labels) labels[k] = v;
  m["labels"] = std::move(labels);
  m["values"] = signalsJson(info.values);
  ordered_json history = ordered_json::array();
  for (const auto& s : info.history)
    history.push_back({{"time", isoTime(s.time)}, {"signals", signalsJson(s.signals)}});
  m["history"] = std::move(history);
  ordered_json artifacts = ordered_json::array(), dumps = ordered_json::array();
  std::uint64_t total = 0;
  for (const auto& o : outcomes) {
    ordered_json files = ordered_json::array();
    for (const auto& a : o.artifacts) {
      ordered_json entry = {{"dumper", o.dumper},
                            {"file", a.file},
                            {"bytes", a.bytes},
                            {"sha256", a.sha256},
                            {"truncated", a.truncated}};
      // Which limit cut it: the per-artifact cap, the bundle's cap or the host's free space.
      if (a.truncated && !a.truncated_by.empty()) entry["truncated_by"] = a.truncated_by;
      artifacts.push_back(std::move(entry));
      files.push_back(a.file);
      total += a.bytes;
    }
    dumps.push_back({{"dumper", o.dumper},
                     {"result", dumpResultName(o.result)},
                     {"error", o.error},
                     {"took_seconds", number(toSeconds(o.took))},
                     {"files", std::move(files)}});
  }
  m["artifacts"] = std::move(artifacts);
  m["dumps"] = std::move(dumps);
  m["total_bytes"] = total;
  // A dumper's error text may carry bytes from the target that are not UTF-8; replacing them
  // keeps the manifest valid JSON instead of throwing.
  return m.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// Fills `s` from dir/manifest.json; returns the first thing wrong with it ("" when none).
// `timed` tells whether fired_at came from the manifest.
std::string readManifest(const std::string& dir, IncidentSummary& s, bool& timed) {
  timed = false;
  auto text = readSmallFile(dir + "/" + kManifest, kMaxManifestBytes);
  if (!text) {
    if (text.error().errnum == ENOENT) return "no manifest.json";
    return "cannot read manifest.json: " + text.error().describe();
  }
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "manifest.json is not valid JSON";
  if (!j.is_object()) return "manifest.json is not a JSON object";
  std::string problem;
  auto note = [&](std::string p) {
    if (problem.empty()) problem = std::move(p);
  };
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer())
    note("manifest.json has no version");
  else if (version->get<long long>() != 1)
    note("manifest.json has version " + version->dump() + ", this oomsentinel reads 1");
  auto str = [&](const char* key, std::string& out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string())
      out = it->get<std::string>();
    else
      note(std::string("manifest.json has no '") + key + "'");
  };
  str("target", s.target);
  str("rule", s.rule);
  str("severity", s.severity);
  auto timeField = [&](const char* key, WallTime& out) {
    auto it = j.find(key);
    std::optional<WallTime> t;
    if (it != j.end() && it->is_string()) t = parseIsoTime(it->get<std::string>());
    if (t)
      out = *t;
    else
      note(std::string("manifest.json has no valid '") + key + "'");
    return t.has_value();
  };
  timed = timeField("fired_at", s.fired_at);
  timeField("published_at", s.published_at);
  auto artifacts = j.find("artifacts");
  if (artifacts != j.end() && artifacts->is_array())
    s.artifacts = artifacts->size();
  else
    note("manifest.json has no 'artifacts' list");
  auto dumps = j.find("dumps");
  if (dumps != j.end() && dumps->is_array()) {
    for (const auto& d : *dumps) {
      auto dumper = d.find("dumper");
      auto result = d.find("result");
      if (!d.is_object() || dumper == d.end() || !dumper->is_string() || result == d.end() ||
          !result->is_string()) {
        note("manifest.json has a dump without 'dumper' and 'result'");
        continue;
      }
      s.results.emplace_back(dumper->get<std::string>(), result->get<std::string>());
    }
  } else {
    note("manifest.json has no 'dumps' list");
  }
  return problem;
}

// The directories in `dir` that look like published bundles: not hidden (so never a
// `.partial-*`), a real directory (not a symlink), and holding a manifest.json or named like one.
// fired_at is the manifest's, else the name's, else the directory's mtime.
Result<std::vector<IncidentSummary>> scan(const std::string& dir) {
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.fd < 0) return makeError("cannot read", dir, errno);
  int dup = ::fcntl(dfd.fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return makeError("cannot read", dir, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(dup), ::closedir);
  if (!d) {
    ::close(dup);
    return makeError("cannot read", dir, errno);
  }
  std::vector<IncidentSummary> out;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return makeError("cannot read", dir, errno);
      break;
    }
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    struct stat st;
    if (::fstatat(dfd.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
      continue;
    std::optional<WallTime> from_name = nameTime(name);
    struct stat mst;
    bool has_manifest =
        ::fstatat(dfd.fd, (name + "/" + kManifest).c_str(), &mst, AT_SYMLINK_NOFOLLOW) == 0;
    if (!from_name && !has_manifest) continue;
    IncidentSummary s;
    s.name = name;
    s.path = dir + "/" + name;
    bool timed = false;
    s.problem = readManifest(s.path, s, timed);
    if (!timed)
      s.fired_at = from_name ? *from_name
                             : WallTime(std::chrono::duration_cast<WallTime::duration>(
                                   std::chrono::seconds(st.st_mtim.tv_sec) +
                                   std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    s.bytes = treeBytes(s.path);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

IncidentStore::IncidentStore(StoreLimits limits) : limits_(std::move(limits)) {}

Result<std::size_t> IncidentStore::prepare() {
  const std::string& dir = limits_.dir;
  if (dir.empty()) return makeError("no dump directory configured");
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return makeError("is not a directory", dir, ENOTDIR);
  } else if (errno != ENOENT) {
    return makeError("cannot stat", dir, errno);
  } else {
    // Each missing level is made 0700 here rather than with create_directories, which would
    // leave them to the umask: the dumps below can hold secrets.
    fs::path p = fs::path(dir).lexically_normal();
    fs::path at;
    for (const auto& part : p) {
      at /= part;
      if (part.empty() || part == "/") continue;
      if (::mkdir(at.c_str(), 0700) == 0) {
        if (::chmod(at.c_str(), 0700) != 0)
          return makeError("cannot make private", at.string(), errno);
      } else if (errno != EEXIST) {
        return makeError("cannot create", at.string(), errno);
      }
    }
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return makeError("is not a directory", dir, ENOTDIR);
  }

  // Only this store's own bundles in progress are spared: prepare() runs at start, when any
  // other `.partial-*` belongs to a process that is gone.
  std::set<std::string> mine;
  {
    std::lock_guard lock(mu_);
    mine = temps_;
  }
  std::size_t removed = 0;
  std::error_code ec;
  std::vector<std::string> leftovers;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::string path = dir + "/" + name;
    std::error_code sec;
    if (name.rfind(kPartialPrefix, 0) == 0 && it->is_directory(sec) && !it->is_symlink(sec) &&
        !mine.count(path))
      leftovers.push_back(path);
  }
  if (ec) return makeError("cannot read", dir, ec.value());
  for (const auto& path : leftovers) {
    if (auto s = removeTree(path); !s) return s.error();
    ++removed;
  }
  if (removed > 0) (void)fsyncDir(dir);
  return removed;
}

Result<PendingBundle> IncidentStore::begin(const IncidentInfo& info, WallTime now) {
  const std::string& dir = limits_.dir;
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0)
    return makeError("cannot tell the free space of the dump directory", dir, errno);
  std::uint64_t free_bytes =
      static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
  if (free_bytes < limits_.min_free)
    return makeError("skipped: " + formatBytes(static_cast<double>(free_bytes)) +
                         " free, under the reserve of " +
                         formatBytes(static_cast<double>(limits_.min_free)) + " (min_free)",
                     dir);

  PendingBundle b;
  b.info_ = info;
  if (b.info_.fired_at == WallTime{}) b.info_.fired_at = now;
  std::string base =
      compactTime(b.info_.fired_at) + "-" + namePart(info.target) + "-" + namePart(info.rule);
  std::string pid = std::to_string(::getpid());
  // The lock covers choosing the name and creating its temp directory, so two threads never
  // pick the same one; the final name is checked again at the rename.
  std::lock_guard lock(mu_);
  for (int n = 1; n <= kMaxCollisions; ++n) {
    std::string name = n == 1 ? base : base + "-" + std::to_string(n);
    if (reserved_.count(name) || exists(dir + "/" + name)) continue;
    std::string temp = dir + "/" + std::string(kPartialPrefix) + name + "-" + pid;
    if (::mkdir(temp.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      return makeError("cannot create the bundle's directory", temp, errno);
    }
    if (::chmod(temp.c_str(), 0700) != 0) {
      int err = errno;
      ::rmdir(temp.c_str());
      return makeError("cannot make private", temp, err);
    }
    reserved_.insert(name);
    temps_.insert(temp);
    b.name_ = name;
    b.base_ = base;
    b.temp_path_ = temp;
    b.final_path_ = dir + "/" + name;
    b.pending_ = true;
    return b;
  }
  return makeError("no free bundle name after " + std::to_string(kMaxCollisions) + " tries",
                   dir + "/" + base);
}

Result<std::string> IncidentStore::publish(PendingBundle& bundle,
                                           const std::vector<DumpOutcome>& outcomes, WallTime now,
                                           RetentionReport* retention) {
  if (!bundle.pending_) return makeError("the bundle is not pending", bundle.temp_path_);
  const std::string& dir = limits_.dir;
  std::string text = manifestText(bundle.info_, outcomes, now);
  if (auto s = writeFileDurably(bundle.temp_path_ + "/" + kManifest, text); !s) return s.error();
  if (auto s = makeDurable(bundle.temp_path_); !s) return s.error();

  // RENAME_NOREPLACE: a bundle is never published over another one, even one that appeared
  // after begin() (a second oomsentinel writing into the same directory).
  for (int tries = 0;; ++tries) {
    int rc = ::renameat2(AT_FDCWD, bundle.temp_path_.c_str(), AT_FDCWD, bundle.final_path_.c_str(),
                         RENAME_NOREPLACE);
    if (rc != 0 && errno == EINVAL) {
      // The file system cannot promise "no replace", and rename() would replace an empty
      // directory of that name: check first (racy only against another process).
      if (exists(bundle.final_path_)) {
        errno = EEXIST;
      } else {
        rc = ::rename(bundle.temp_path_.c_str(), bundle.final_path_.c_str());
      }
    }
    if (rc == 0) break;
    int err = errno;
    if ((err != EEXIST && err != ENOTEMPTY) || tries >= kMaxCollisions)
      return makeError("cannot publish", bundle.final_path_, err);
    std::lock_guard lock(mu_);
    for (int n = 2; n <= kMaxCollisions + 1; ++n) {
      std::string name = bundle.base_ + "-" + std::to_string(n);
      if (reserved_.count(name) || exists(dir + "/" + name)) continue;
      reserved_.erase(bundle.name_);
      reserved_.insert(name);
      bundle.name_ = name;
      bundle.final_path_ = dir + "/" + name;
      break;
    }
  }
  bundle.pending_ = false;
  // Past the rename the bundle is there for every reader; failing now would tell the caller it
  // is not. A parent that cannot be fsynced costs only the rename's durability across a crash.
  (void)fsyncDir(dir);

  // Still reserved while retention runs, so this pass (or a concurrent one) cannot remove it.
  auto r = enforceRetention(now);
  if (retention) {
    if (r)
      *retention = std::move(*r);
    else
      *retention = RetentionReport{{}, 0, 0, {r.error()}};
  }
  {
    std::lock_guard lock(mu_);
    reserved_.erase(bundle.name_);
    temps_.erase(bundle.temp_path_);
  }
  return bundle.final_path_;
}

void IncidentStore::abandon(PendingBundle& bundle) {
  if (!bundle.pending_) return;
  (void)removeTree(bundle.temp_path_);
  bundle.pending_ = false;
  std::lock_guard lock(mu_);
  reserved_.erase(bundle.name_);
  temps_.erase(bundle.temp_path_);
}

Result<RetentionReport> IncidentStore::enforceRetention(WallTime now) {
  std::lock_guard pass(retention_mu_);
  auto found = scan(limits_.dir);
  if (!found) return found.error();
  std::vector<IncidentSummary>& bundles = *found;
  std::set<std::string> busy;
  {
    std::lock_guard lock(mu_);
    busy = reserved_;
  }
  std::sort(bundles.begin(), bundles.end(), [](const IncidentSummary& a, const IncidentSummary& b) {
    if (a.fired_at != b.fired_at) return a.fired_at < b.fired_at;
    return a.name < b.name;
  });

  RetentionReport report;
  std::size_t count = bundles.size();
  std::uint64_t bytes = 0;
  for (const auto& b : bundles) bytes += b.bytes;
  bool removed_any = false;
  for (std::size_t i = 0; i < bundles.size(); ++i) {
    const IncidentSummary& s = bundles[i];
    if (busy.count(s.name)) continue;
    // Count and size never take the newest bundle: an empty store explains nothing.
    bool newest = i + 1 == bundles.size();
    RetentionReport::Removed r;
    if (now - s.fired_at > limits_.max_age) {
      r.reason = RetentionReport::Reason::kAge;
      r.why = "older than " + formatDuration(limits_.max_age);
    } else if (!newest && count > limits_.max_incidents) {
      r.reason = RetentionReport::Reason::kCount;
      r.why = "more than " + std::to_string(limits_.max_incidents) + " incidents";
    } else if (!newest && bytes > limits_.max_bytes) {
      r.reason = RetentionReport::Reason::kBytes;
      r.why = "over " + formatBytes(static_cast<double>(limits_.max_bytes)) + " in total";
    } else {
      continue;
    }
    if (auto st = removeTree(s.path); !st) {
      report.errors.push_back(st.error());
      continue;
    }
    removed_any = true;
    r.name = s.name;
    r.path = s.path;
    r.time = s.fired_at;
    r.bytes = s.bytes;
    report.removed.push_back(std::move(r));
    --count;
    bytes -= s.bytes;
  }
  report.kept = count;
  report.kept_bytes = bytes;
  if (removed_any) (void)fsyncDir(limits_.dir);
  return report;
}

Result<std::vector<IncidentSummary>> IncidentStore::list(const std::string& dir) {
  auto found = scan(dir);
  if (!found) return found.error();
  std::vector<IncidentSummary>& out = *found;
  std::sort(out.begin(), out.end(), [](const IncidentSummary& a, const IncidentSummary& b) {
    if (a.fired_at != b.fired_at) return a.fired_at > b.fired_at;
    return a.name > b.name;
  });
  return std::move(out);
}

}  // namespace oomsentinel
