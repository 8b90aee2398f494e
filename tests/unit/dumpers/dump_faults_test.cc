// The fault matrix (docs/reliability.md, issue 19) for the dump action: a real full tmpfs in the
// middle of a bundle, and the dump directory removed, made read-only, replaced by a symlink or
// made again by another user while the daemon runs. Whatever happens, no
// half bundle is ever visible, the report says why there is none, and the next dump works.
#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "dumpers/artifact.h"
#include "dumpers/dump_runner.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

// Writes one artifact of `bytes`.
class SizedDumper final : public Dumper {
 public:
  explicit SizedDumper(std::size_t bytes) : bytes_(bytes) {}
  const char* name() const override { return "sized"; }
  DumpOutcome run(const DumpRequest& req) override {
    DumpOutcome o;
    o.dumper = "sized";
    auto a = writeArtifact(req.dir, "evidence.bin", std::string(bytes_, 'x'), 0);
    if (a) {
      o.artifacts.push_back(*a);
      o.result = DumpResult::kOk;
    } else {
      o.result = DumpResult::kFailed;
      o.error = a.error().describe();
    }
    return o;
  }

 private:
  std::size_t bytes_;
};

DumpJob job(const std::string& target, std::size_t bytes) {
  DumpJob j;
  j.info.target = target;
  j.info.rule = "oom-imminent";
  j.info.severity = "critical";
  j.dumpers = {std::make_shared<SizedDumper>(bytes)};
  j.timeout = 5s;
  return j;
}

DumpReport runOne(DumpRunner& r) {
  SystemClock real;
  SteadyTime until = real.steadyNow() + 10s;
  while (real.steadyNow() < until) {
    auto done = r.takeFinished();
    if (!done.empty()) return done.front();
    std::this_thread::sleep_for(2ms);
  }
  ADD_FAILURE() << "no report within 10s";
  return {};
}

// Every entry of the dump directory: a published bundle has its manifest; nothing else is seen.
void expectOnlyWholeBundles(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename();
    EXPECT_NE(name.rfind(".partial-", 0), 0u) << "left behind: " << name;
    EXPECT_TRUE(fs::exists(e.path() / "manifest.json"))
        << "a bundle without its manifest: " << name;
  }
}

// A store in `dir` with no free-space reserve (so that the disk, not the check, says no) and a
// runner over it. ok() is false when the store could not be prepared.
struct Bench {
  StoreLimits limits;
  std::shared_ptr<IncidentStore> store;
  SystemClock clock;
  std::unique_ptr<DumpRunner> runner;
  explicit Bench(std::string dir) {
    limits.dir = std::move(dir);
    limits.min_free = 0;
    store = std::make_shared<IncidentStore>(limits);
    if (store->prepare().ok())
      runner = std::make_unique<DumpRunner>(
          store, StormLimits{.per_minute = 10, .target_cooldown = 0s}, clock);
  }
  bool ok() const { return runner != nullptr; }
};

// Row 4: the free-space check passes (min_free 0), then the disk fills up under the artifact's
// write(2). No half bundle is left, the report says ENOSPC, and once there is room again the
// next bundle is published.
TEST(DumpFaults, AFullDiskInTheMiddleOfABundleLeavesNothingHalfMadeAndTheNextOneWorks) {
  TempDir tmp;
  testing::TmpfsMount m(tmp.path() + "/mnt", "256k");
  if (!m.why().empty()) GTEST_SKIP() << m.why();

  Bench b(m.dir() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const StoreLimits& l = b.limits;

  ASSERT_FALSE(runner.submit(job("big", 1 << 20)));  // 1 MiB into 256 KiB
  DumpReport full = runOne(runner);
  EXPECT_FALSE(full.published) << full.path;
  EXPECT_THAT(full.error, HasSubstr(std::strerror(ENOSPC)));
  expectOnlyWholeBundles(l.dir);

  ASSERT_FALSE(runner.submit(job("small", 1024)));
  DumpReport next = runOne(runner);
  EXPECT_TRUE(next.published) << next.error;
  expectOnlyWholeBundles(l.dir);
}

// Row 5: the dump directory removed while running. The dump has no bundle and says which
// directory is missing; once it is back, the next dump publishes.
TEST(DumpFaults, TheDumpDirectoryRemovedWhileRunningIsSaidAndTheNextDumpWorksOnceItIsBack) {
  TempDir tmp;
  Bench b(tmp.path() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const StoreLimits& l = b.limits;

  fs::remove_all(l.dir);
  ASSERT_FALSE(runner.submit(job("app", 1024)));
  DumpReport gone = runOne(runner);
  EXPECT_FALSE(gone.published) << gone.path;
  EXPECT_THAT(gone.error, HasSubstr(l.dir));
  EXPECT_THAT(gone.error, HasSubstr(std::strerror(ENOENT)));

  ASSERT_TRUE(fs::create_directory(l.dir));
  ASSERT_FALSE(runner.submit(job("app2", 1024)));
  DumpReport back = runOne(runner);
  EXPECT_TRUE(back.published) << back.error;
  expectOnlyWholeBundles(l.dir);
}

// Row 5: the dump directory unwritable while running (its file system remounted read-only, which
// root's capabilities do not get past). The dump has no bundle and says why; writable again, the
// next dump publishes.
TEST(DumpFaults, AReadOnlyDumpDirectoryIsSaidAndTheNextDumpWorksOnceWritable) {
  TempDir tmp;
  testing::TmpfsMount m(tmp.path() + "/mnt", "1m");
  if (!m.why().empty()) GTEST_SKIP() << m.why();

  Bench b(m.dir() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const StoreLimits& l = b.limits;

  ASSERT_EQ(::mount(nullptr, m.dir().c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  ASSERT_FALSE(runner.submit(job("app", 1024)));
  DumpReport refused = runOne(runner);
  EXPECT_FALSE(refused.published) << refused.path;
  EXPECT_THAT(refused.error, HasSubstr(std::strerror(EROFS)));
  EXPECT_THAT(refused.error, HasSubstr(l.dir));

  ASSERT_EQ(::mount(nullptr, m.dir().c_str(), nullptr, MS_REMOUNT, nullptr), 0)
      << std::strerror(errno);
  ASSERT_FALSE(runner.submit(job("app2", 1024)));
  DumpReport back = runOne(runner);
  EXPECT_TRUE(back.published) << back.error;
  expectOnlyWholeBundles(l.dir);
}

// Writes its artifact, then runs `during` (what an attacker or an operator does to the dump
// directory while the dumpers write), then tries a second artifact through the path it was given.
class SwappingDumper final : public Dumper {
 public:
  explicit SwappingDumper(std::function<void()> during) : during_(std::move(during)) {}
  const char* name() const override { return "swapping"; }
  DumpOutcome run(const DumpRequest& req) override {
    DumpOutcome o;
    o.dumper = "swapping";
    auto a = writeArtifact(req.dir, "before.bin", "before", 0);
    during_();
    auto b = writeArtifact(req.dir, "after.bin", "after", 0);
    o.result = a && b ? DumpResult::kOk : DumpResult::kPartial;
    if (!b) o.error = b.error().describe();
    return o;
  }

 private:
  std::function<void()> during_;
};

// Every file below `dir`, relative, symlinks not followed.
std::vector<std::string> filesUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.push_back(fs::relative(e.path(), dir).string());
  return out;
}

// Row 5: the dump directory replaced by a symlink while running (someone who can write its
// parent moves it aside and puts a symlink to a directory of their choosing in its place). No
// bundle is written through the symlink, the report says why; once the real directory is back,
// the next dump publishes into it.
TEST(DumpFaults, ADumpDirectoryReplacedByASymlinkIsNeverFollowedAndItsReturnIsUsed) {
  TempDir tmp;
  Bench b(tmp.path() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const std::string& dir = b.limits.dir;
  const std::string aside = tmp.path() + "/moved-aside", elsewhere = tmp.path() + "/elsewhere";
  ASSERT_TRUE(fs::create_directory(elsewhere));

  ASSERT_EQ(::rename(dir.c_str(), aside.c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(::symlink(elsewhere.c_str(), dir.c_str()), 0) << std::strerror(errno);
  ASSERT_FALSE(runner.submit(job("app", 1024)));
  DumpReport refused = runOne(runner);
  EXPECT_FALSE(refused.published) << refused.path;
  EXPECT_THAT(refused.error, HasSubstr(dir + ": the dump directory was replaced by a symlink, "
                                             "which is never followed"));
  EXPECT_TRUE(filesUnder(elsewhere).empty());
  EXPECT_TRUE(filesUnder(aside).empty());

  // The real directory back at the path (the one held: moved back).
  ASSERT_EQ(::unlink(dir.c_str()), 0);
  ASSERT_EQ(::rename(aside.c_str(), dir.c_str()), 0) << std::strerror(errno);
  ASSERT_FALSE(runner.submit(job("app2", 1024)));
  DumpReport back = runOne(runner);
  EXPECT_TRUE(back.published) << back.error;
  EXPECT_EQ(fs::path(back.path).parent_path(), fs::path(dir));
  EXPECT_TRUE(filesUnder(elsewhere).empty());
  expectOnlyWholeBundles(dir);
}

// Row 5, in the middle of a bundle: the directory swapped for a symlink while the dumpers write.
// The bundle is not published (not into the directory moved aside, not through the symlink),
// what it had is removed, and the report says the directory changed.
TEST(DumpFaults, ADumpDirectorySwappedForASymlinkDuringABundleIsNotPublishedThrough) {
  TempDir tmp;
  Bench b(tmp.path() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const std::string& dir = b.limits.dir;
  const std::string aside = tmp.path() + "/moved-aside", elsewhere = tmp.path() + "/elsewhere";
  ASSERT_TRUE(fs::create_directory(elsewhere));

  DumpJob j = job("app", 16);
  j.dumpers = {std::make_shared<SwappingDumper>([&] {
    EXPECT_EQ(::rename(dir.c_str(), aside.c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(::symlink(elsewhere.c_str(), dir.c_str()), 0) << std::strerror(errno);
  })};
  ASSERT_FALSE(runner.submit(std::move(j)));
  DumpReport r = runOne(runner);
  EXPECT_FALSE(r.published) << r.path;
  EXPECT_THAT(r.error, HasSubstr("the dump directory changed while the bundle was written"));
  EXPECT_THAT(r.error, HasSubstr(dir + ": the dump directory was replaced by a symlink"));
  // The dumper's second write went to the path, through the symlink, where no `.partial-`
  // directory is: nothing was made there.
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_EQ(r.outcomes[0].result, DumpResult::kPartial);
  EXPECT_THAT(r.outcomes[0].error, HasSubstr(std::strerror(ENOENT)));
  EXPECT_TRUE(filesUnder(elsewhere).empty());
  EXPECT_TRUE(filesUnder(aside).empty()) << "abandoned where it was begun";
}

// Row 5, in the middle of a bundle: the directory moved aside and a new one made in its place
// while the dumpers write. The bundle is not published into the new directory (nor left in the
// old one), the report says so, and the next dump publishes into the new directory.
TEST(DumpFaults, ADumpDirectoryMadeAgainDuringABundleIsUsedFromTheNextOne) {
  TempDir tmp;
  Bench b(tmp.path() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const std::string& dir = b.limits.dir;
  const std::string aside = tmp.path() + "/moved-aside";

  DumpJob j = job("app", 16);
  j.dumpers = {std::make_shared<SwappingDumper>([&] {
    EXPECT_EQ(::rename(dir.c_str(), aside.c_str()), 0) << std::strerror(errno);
    EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0) << std::strerror(errno);
  })};
  ASSERT_FALSE(runner.submit(std::move(j)));
  DumpReport r = runOne(runner);
  EXPECT_FALSE(r.published) << r.path;
  EXPECT_THAT(r.error, HasSubstr(dir + ": the dump directory was replaced (removed and made "
                                       "again) while the bundle was written"));
  EXPECT_TRUE(filesUnder(aside).empty()) << "abandoned where it was begun";
  EXPECT_TRUE(filesUnder(dir).empty());

  ASSERT_FALSE(runner.submit(job("app2", 1024)));
  DumpReport next = runOne(runner);
  EXPECT_TRUE(next.published) << next.error;
  EXPECT_EQ(fs::path(next.path).parent_path(), fs::path(dir));
  expectOnlyWholeBundles(dir);
}

// Row 5: the dump directory removed and made again by someone else than oomsentinel's user (who
// could then move bundles away or swap what is written in it): refused, saying whose it is.
TEST(DumpFaults, ADumpDirectoryMadeAgainByAnotherUserIsNotUsed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  TempDir tmp;
  Bench b(tmp.path() + "/incidents");
  ASSERT_TRUE(b.ok());
  DumpRunner& runner = *b.runner;
  const std::string& dir = b.limits.dir;

  fs::remove_all(dir);
  ASSERT_TRUE(fs::create_directory(dir));
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0) << std::strerror(errno);
  ASSERT_FALSE(runner.submit(job("app", 1024)));
  DumpReport refused = runOne(runner);
  EXPECT_FALSE(refused.published) << refused.path;
  EXPECT_THAT(refused.error,
              HasSubstr(dir + ": the dump directory is owned by uid 65534, not by oomsentinel's"));
  EXPECT_TRUE(filesUnder(dir).empty());

  ASSERT_EQ(::chown(dir.c_str(), 0, 0), 0) << std::strerror(errno);
  ASSERT_FALSE(runner.submit(job("app2", 1024)));
  DumpReport back = runOne(runner);
  EXPECT_TRUE(back.published) << back.error;
}

}  // namespace
}  // namespace oomsentinel
