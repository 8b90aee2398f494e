// dumpers/: capturing evidence while the process is still alive.
// BundleBudget: the bytes every artifact of one bundle may take together (dump.max_bundle_bytes)
// and the free space the host keeps (dump.min_free), checked again before each artifact: a dump
// writes up to GiBs after IncidentStore::begin looked at the disk, and several dumpers write at
// once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

namespace oomsentinel {

struct BundleLimits {
  std::uint64_t max_bundle_bytes = 0;  // all artifacts of the bundle together; 0: no cap
  std::uint64_t min_free = 0;          // free space left in the bundle's file system
};

class BundleBudget {
 public:
  BundleBudget(std::string dir, BundleLimits limits) : dir_(std::move(dir)), limits_(limits) {}
  const std::string& dir() const { return dir_; }
  const BundleLimits& limits() const { return limits_; }
  std::uint64_t used() const { return used_.load(); }
  // Takes up to `n` bytes of what is left under max_bundle_bytes; returns how many it took.
  std::uint64_t take(std::uint64_t n);
  void giveBack(std::uint64_t n) { used_.fetch_sub(n); }

 private:
  std::string dir_;
  BundleLimits limits_;
  std::atomic<std::uint64_t> used_{0};
};

// While it lives, every artifact written into `dir` through dumpers/artifact.h is charged to a
// budget of `limits` (artifacts name the bundle by its directory, so no dumper has to carry it).
class BundleBudgetScope {
 public:
  BundleBudgetScope(const std::string& dir, BundleLimits limits);
  ~BundleBudgetScope();
  BundleBudgetScope(const BundleBudgetScope&) = delete;
  BundleBudgetScope& operator=(const BundleBudgetScope&) = delete;
  const BundleBudget& budget() const { return *budget_; }

 private:
  std::shared_ptr<BundleBudget> budget_;
};

// The budget of the bundle being written at `dir`; null when none is (a dumper's own tests).
std::shared_ptr<BundleBudget> bundleBudgetFor(const std::string& dir);

// What an artifact about to be written into `dir` may take, before a byte is written: at most
// `cap` (DumpRequest::max_bytes, 0: none) and at most the free space of dir's file system above
// min_free. `limit` says which of them set the result ("" when cap is 0 and nothing else binds).
// An Error ("not written: ...") when there is no room at all.
struct ArtifactRoom {
  std::uint64_t cap = 0;  // 0: no cap
  std::string limit;      // "dump.max_artifact_bytes", "dump.min_free"
};
Result<ArtifactRoom> artifactRoom(const std::string& dir, const std::string& name,
                                  std::uint64_t cap);

}  // namespace oomsentinel
