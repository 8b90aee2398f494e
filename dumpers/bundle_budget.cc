#include "dumpers/bundle_budget.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <map>
#include <mutex>

#include "core/units.h"

namespace oomsentinel {
namespace {

std::mutex& registryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::shared_ptr<BundleBudget>>& registry() {
  static std::map<std::string, std::shared_ptr<BundleBudget>> r;
  return r;
}

}  // namespace

std::uint64_t BundleBudget::take(std::uint64_t n) {
  if (limits_.max_bundle_bytes == 0) {
    used_.fetch_add(n);
    return n;
  }
  std::uint64_t cur = used_.load();
  for (;;) {
    std::uint64_t left = cur >= limits_.max_bundle_bytes ? 0 : limits_.max_bundle_bytes - cur;
    std::uint64_t got = n < left ? n : left;
    if (got == 0) return 0;
    if (used_.compare_exchange_weak(cur, cur + got)) return got;
  }
}

BundleBudgetScope::BundleBudgetScope(const std::string& dir, BundleLimits limits)
    : budget_(std::make_shared<BundleBudget>(dir, limits)) {
  std::lock_guard lock(registryMutex());
  registry()[dir] = budget_;
}

BundleBudgetScope::~BundleBudgetScope() {
  std::lock_guard lock(registryMutex());
  auto it = registry().find(budget_->dir());
  if (it != registry().end() && it->second == budget_) registry().erase(it);
}

std::shared_ptr<BundleBudget> bundleBudgetFor(const std::string& dir) {
  std::lock_guard lock(registryMutex());
  auto it = registry().find(dir);
  return it == registry().end() ? nullptr : it->second;
}

Result<ArtifactRoom> artifactRoom(const std::string& dir, const std::string& name,
                                  std::uint64_t cap) {
  ArtifactRoom room;
  room.cap = cap;
  if (cap > 0) room.limit = "dump.max_artifact_bytes";
  auto budget = bundleBudgetFor(dir);
  if (!budget) return room;
  const BundleLimits& l = budget->limits();
  if (l.max_bundle_bytes > 0 && budget->used() >= l.max_bundle_bytes)
    return makeError("not written: the bundle already holds " +
                         formatBytes(static_cast<double>(budget->used())) +
                         ", its cap (dump.max_bundle_bytes " +
                         formatBytes(static_cast<double>(l.max_bundle_bytes)) + ")",
                     dir + "/" + name, EFBIG);
  if (l.min_free > 0) {
    struct statvfs vfs;
    if (::statvfs(dir.c_str(), &vfs) != 0)
      return makeError("not written: cannot tell the free space", dir, errno);
    std::uint64_t free_bytes =
        static_cast<std::uint64_t>(vfs.f_bavail) * static_cast<std::uint64_t>(vfs.f_frsize);
    if (free_bytes <= l.min_free)
      return makeError("not written: " + formatBytes(static_cast<double>(free_bytes)) +
                           " free, under the reserve of " +
                           formatBytes(static_cast<double>(l.min_free)) + " (dump.min_free)",
                       dir + "/" + name, ENOSPC);
    std::uint64_t room_left = free_bytes - l.min_free;
    if (room.cap == 0 || room_left < room.cap) {
      room.cap = room_left;
      room.limit = "dump.min_free";
    }
  }
  return room;
}

}  // namespace oomsentinel
