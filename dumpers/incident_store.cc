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
using incident_detail::exists;
using incident_detail::fsyncDir;
using incident_detail::kManifest;
using incident_detail::kMaxCollisions;
using incident_detail::kPartialPrefix;
using incident_detail::makeDurable;
using incident_detail::manifestText;
using incident_detail::namePart;
using incident_detail::removeTree;
using incident_detail::scan;
using incident_detail::writeFileDurably;

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
