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
#include <optional>
#include <string_view>

#include "core/units.h"
#include "dumpers/incident_store_internal.h"

namespace oomsentinel {

namespace fs = std::filesystem;
using incident_detail::compactTime;
using incident_detail::existsAt;
using incident_detail::fsyncFd;
using incident_detail::kBegunRecord;
using incident_detail::kLostFailedPrefix;
using incident_detail::kManifest;
using incident_detail::kMaxBegunBytes;
using incident_detail::kMaxCollisions;
using incident_detail::kPartialPrefix;
using incident_detail::makeDurableFd;
using incident_detail::manifestText;
using incident_detail::namePart;
using incident_detail::readSmallFileAt;
using incident_detail::removeTreeAt;
using incident_detail::scan;
using incident_detail::writeFileAt;

namespace {

// The `.partial-*` directories being written in this process, by every store (a reload makes a
// new store over the same directory while the old one's bundles are still being written):
// prepare() never takes one of these for a stopped run's.
std::mutex g_in_progress_mu;
std::set<std::string> g_in_progress;

void markInProgress(const std::string& temp_path, bool on) {
  std::lock_guard lock(g_in_progress_mu);
  if (on)
    g_in_progress.insert(temp_path);
  else
    g_in_progress.erase(temp_path);
}

bool inProgress(const std::string& temp_path) {
  std::lock_guard lock(g_in_progress_mu);
  return g_in_progress.count(temp_path) > 0;
}

// "<name>-<pid>" of a `.partial-<name>-<pid>`: the bundle's name.
std::string bundleNameOfPartial(std::string_view partial) {
  std::string_view rest = partial.substr(kPartialPrefix.size());
  auto dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == rest.size()) return std::string(rest);
  for (char c : rest.substr(dash + 1))
    if (c < '0' || c > '9') return std::string(rest);
  return std::string(rest.substr(0, dash));
}

}  // namespace

IncidentStore::IncidentStore(StoreLimits limits) : limits_(std::move(limits)) {}

Result<std::shared_ptr<const OwnedFd>> IncidentStore::heldDirLocked() {
  const std::string& dir = limits_.dir;
  struct stat at;
  if (::lstat(dir.c_str(), &at) != 0) {
    int err = errno;
    if (err == ENOENT)
      return makeError(
          "the dump directory is gone; it is not re-created while running (the next bundle uses "
          "it once it is back)",
          dir, err);
    return makeError("cannot look at the dump directory", dir, err);
  }
  if (S_ISLNK(at.st_mode))
    return makeError(
        "the dump directory was replaced by a symlink, which is never followed: no bundle is "
        "written through it (a real directory back at the path is used)",
        dir);
  if (!S_ISDIR(at.st_mode)) return makeError("is not a directory", dir, ENOTDIR);
  if (dir_fd_ && at.st_dev == dev_ && at.st_ino == ino_) return dir_fd_;
  // First use, or the directory was removed and made again: open what is there now, and hold it.
  OwnedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return makeError("cannot open the dump directory", dir, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return makeError("cannot stat", dir, errno);
  if (st.st_dev != at.st_dev || st.st_ino != at.st_ino)
    return makeError("the dump directory was replaced while it was being opened", dir);
  // Whoever owns it can move bundles away or swap what is inside while root writes there.
  if (st.st_uid != ::geteuid())
    return makeError("the dump directory is owned by uid " + std::to_string(st.st_uid) +
                         ", not by oomsentinel's (" + std::to_string(::geteuid()) + "): not used",
                     dir);
  // Whoever else can write it can swap what is in a bundle, or its name, while root writes there:
  // ours, so made private rather than used as it is (a chmod by hand, a directory made by a
  // script under umask 0).
  if ((st.st_mode & 022) != 0) {
    if (::fchmod(fd.get(), 0700) != 0)
      return makeError("the dump directory is writable by group or others and cannot be made 0700",
                       dir, errno);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    notices_.push_back("the dump directory " + dir + " was writable by group or others (mode " +
                       mode + "): made 0700");
  }
  dir_fd_ = std::make_shared<const OwnedFd>(std::move(fd));
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return dir_fd_;
}

Result<std::size_t> IncidentStore::prepare() { return prepare(SystemClock().wallNow()); }

Result<std::size_t> IncidentStore::prepare(WallTime now) {
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
  std::shared_ptr<const OwnedFd> held;
  {
    std::lock_guard lock(mu_);
    auto h = heldDirLocked();
    if (!h) return h.error();
    held = *h;
  }

  // Only the bundles in progress in this process are spared: prepare() runs at start, when any
  // other `.partial-*` belongs to a process that is gone.
  int dfd = held->get();
  auto names = incident_detail::entriesAt(dfd, dir);
  if (!names) return names.error();
  std::vector<std::string> leftovers;
  for (const std::string& name : *names) {
    struct stat pst;
    if (name.rfind(kPartialPrefix, 0) == 0 &&
        ::fstatat(dfd, name.c_str(), &pst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(pst.st_mode) &&
        !inProgress(dir + "/" + name))
      leftovers.push_back(name);
  }
  for (const auto& name : leftovers) recordLost(dfd, name, now);
  if (!leftovers.empty()) (void)fsyncFd(dfd, dir);
  return leftovers.size();
}

// A stopped run's `.partial-<name>-<pid>` becomes the record `<name>` of a lost incident: what
// its `.begun.json` said, outcome "lost", nothing else. What the stopped dump wrote is removed:
// no manifest ever vouched for it (sizes, hashes), and a half-written heap profile misleads.
void IncidentStore::recordLost(int dir_fd, const std::string& partial, WallTime now) {
  const std::string& dir = limits_.dir;
  const std::string shown = dir + "/" + partial;
  LostIncident lost;
  lost.name = bundleNameOfPartial(partial);
  auto keep = [&]() -> Status {
    incident_detail::Fd p(
        ::openat(dir_fd, partial.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (p.fd < 0) return makeError("cannot open", shown, errno);
    auto first = readSmallFileAt(p.fd, kBegunRecord, kMaxBegunBytes, shown + "/" + kBegunRecord);
    std::string text =
        incident_detail::lostManifestText(first ? *first : std::string(), lost.name, now, &lost);
    auto names = incident_detail::entriesAt(p.fd, shown);
    if (!names) return names.error();
    for (const auto& n : *names)
      if (auto s = removeTreeAt(p.fd, n, shown + "/" + n); !s) return s;
    if (auto s = writeFileAt(p.fd, kManifest, text, true, shown + "/" + kManifest); !s) return s;
    if (::fchmod(p.fd, 0700) != 0) return makeError("cannot make private", shown, errno);
    if (auto s = fsyncFd(p.fd, shown); !s) return s;
    // Never over a bundle of that name (one published by another oomsentinel?): "-lost" then.
    for (const std::string& name : {lost.name, lost.name + "-lost"}) {
      if (existsAt(dir_fd, name)) continue;
      if (::renameat2(dir_fd, partial.c_str(), dir_fd, name.c_str(), RENAME_NOREPLACE) == 0 ||
          (errno == EINVAL && ::renameat(dir_fd, partial.c_str(), dir_fd, name.c_str()) == 0)) {
        lost.path = dir + "/" + name;
        return Ok{};
      }
      if (errno != EEXIST && errno != ENOTEMPTY)
        return makeError("cannot publish", dir + "/" + name, errno);
    }
    return makeError("cannot publish: a bundle of that name is there already",
                     dir + "/" + lost.name);
  };
  if (auto s = keep(); !s) {
    lost.error = s.error().describe();
    if (auto r = removeTreeAt(dir_fd, partial, shown); !r) {
      // Left as `.partial-*`, every later start would record, log and count the same incident
      // lost again: out of prepare()'s way, and told once, here.
      const std::string failed =
          std::string(kLostFailedPrefix) + partial.substr(kPartialPrefix.size());
      if (::renameat2(dir_fd, partial.c_str(), dir_fd, failed.c_str(), RENAME_NOREPLACE) == 0)
        lost.error += "; what it left could not be removed (" + r.error().describe() +
                      "): kept as " + dir + "/" + failed + ", never recorded again";
      else
        lost.error += "; what it left could not be removed (" + r.error().describe() +
                      ") nor moved aside (" + std::strerror(errno) + ")";
    }
  }
  std::lock_guard lock(mu_);
  lost_.push_back(std::move(lost));
}

std::vector<LostIncident> IncidentStore::takeLost() {
  std::lock_guard lock(mu_);
  std::vector<LostIncident> out;
  out.swap(lost_);
  return out;
}

std::vector<std::string> IncidentStore::takeNotices() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.swap(notices_);
  return out;
}

Result<PendingBundle> IncidentStore::begin(const IncidentInfo& info, WallTime now) {
  const std::string& dir = limits_.dir;
  std::shared_ptr<const OwnedFd> held;
  {
    std::lock_guard lock(mu_);
    auto h = heldDirLocked();
    if (!h) return h.error();
    held = *h;
  }
  const int dfd = held->get();
  struct statvfs vfs;
  if (::fstatvfs(dfd, &vfs) != 0)
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
    if (reserved_.count(name) || existsAt(dfd, name)) continue;
    std::string temp_name = std::string(kPartialPrefix) + name + "-" + pid;
    std::string temp = dir + "/" + temp_name;
    if (::mkdirat(dfd, temp_name.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      return makeError("cannot create the bundle's directory", temp, errno);
    }
    OwnedFd tfd(::openat(dfd, temp_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (tfd.get() < 0 || ::fchmod(tfd.get(), 0700) != 0) {
      int err = errno;
      ::unlinkat(dfd, temp_name.c_str(), AT_REMOVEDIR);
      return makeError("cannot make private", temp, err);
    }
    // What prepare() reads back if the daemon stops before publish(). Not fsynced: it is there
    // for a killed daemon (the page cache survives it), and begin() is on the dump's clock. A
    // failure costs only that record's details, not the dump.
    (void)writeFileAt(tfd.get(), kBegunRecord, manifestText(b.info_, {}, now, "in_progress"), false,
                      temp + "/" + kBegunRecord);
    reserved_.insert(name);
    markInProgress(temp, true);
    b.name_ = name;
    b.base_ = base;
    b.temp_name_ = temp_name;
    b.temp_path_ = temp;
    b.final_path_ = dir + "/" + name;
    b.dir_fd_ = held;
    b.temp_fd_ = std::move(tfd);
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
  {
    // Published only where it was begun, and only if the path still names that directory: a
    // bundle is never renamed into a directory that is no longer the dump directory (removed,
    // moved aside, or swapped for a symlink while the dumpers wrote).
    std::lock_guard lock(mu_);
    auto h = heldDirLocked();
    if (!h)
      return makeError("the dump directory changed while the bundle was written: " +
                       h.error().describe());
    if (*h != bundle.dir_fd_)
      return makeError(
          "the dump directory was replaced (removed and made again) while the bundle was "
          "written; the bundle was not published into the new one",
          dir);
  }
  const int dfd = bundle.dir_fd_->get();
  std::string text = manifestText(bundle.info_, outcomes, now);
  if (auto s = writeFileAt(bundle.temp_fd_.get(), kManifest, text, true,
                           bundle.temp_path_ + "/" + kManifest);
      !s)
    return s.error();
  // Only once the manifest is written (see kBegunRecord); gone or not, it is not an artifact.
  (void)::unlinkat(bundle.temp_fd_.get(), kBegunRecord, 0);
  if (auto s = makeDurableFd(bundle.temp_fd_.get(), bundle.temp_path_); !s) return s.error();

  // RENAME_NOREPLACE: a bundle is never published over another one, even one that appeared
  // after begin() (a second oomsentinel writing into the same directory).
  for (int tries = 0;; ++tries) {
    int rc =
        ::renameat2(dfd, bundle.temp_name_.c_str(), dfd, bundle.name_.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && errno == EINVAL) {
      // The file system cannot promise "no replace", and rename() would replace an empty
      // directory of that name: check first (racy only against another process).
      if (existsAt(dfd, bundle.name_)) {
        errno = EEXIST;
      } else {
        rc = ::renameat(dfd, bundle.temp_name_.c_str(), dfd, bundle.name_.c_str());
      }
    }
    if (rc == 0) break;
    int err = errno;
    if ((err != EEXIST && err != ENOTEMPTY) || tries >= kMaxCollisions)
      return makeError("cannot publish", bundle.final_path_, err);
    std::lock_guard lock(mu_);
    for (int n = 2; n <= kMaxCollisions + 1; ++n) {
      std::string name = bundle.base_ + "-" + std::to_string(n);
      if (reserved_.count(name) || existsAt(dfd, name)) continue;
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
  (void)fsyncFd(dfd, dir);

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
  }
  markInProgress(bundle.temp_path_, false);
  bundle.temp_fd_ = OwnedFd();
  return bundle.final_path_;
}

void IncidentStore::abandon(PendingBundle& bundle) {
  if (!bundle.pending_) return;
  (void)removeTreeAt(bundle.dir_fd_->get(), bundle.temp_name_, bundle.temp_path_);
  bundle.pending_ = false;
  bundle.temp_fd_ = OwnedFd();
  markInProgress(bundle.temp_path_, false);
  std::lock_guard lock(mu_);
  reserved_.erase(bundle.name_);
}

Result<RetentionReport> IncidentStore::enforceRetention(WallTime now) {
  std::lock_guard pass(retention_mu_);
  std::shared_ptr<const OwnedFd> held;
  {
    std::lock_guard lock(mu_);
    auto h = heldDirLocked();
    if (!h) return h.error();
    held = *h;
  }
  auto found = scan(limits_.dir, held->get());
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
    if (auto st = removeTreeAt(held->get(), s.name, s.path); !st) {
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
  if (removed_any) (void)fsyncFd(held->get(), limits_.dir);
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
