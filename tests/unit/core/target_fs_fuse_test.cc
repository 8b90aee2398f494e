// A target that serves its files from a FUSE file system and stops answering: every lookup, stat,
// open or read there waits on it for good. Work through the door with a deadline must come back
// by the deadline, cost at most one stuck thread per target and kMaxStuckTargetWorkers in all,
// and give the thread back once the file system answers (here: its connection is aborted).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <string>

#include "core/target_fs.h"
#include "tests/support/stalling_fuse.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using test::StallingFuse;
using testing::TempDir;

class TargetFsFuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!StallingFuse::unavailable().empty())
      GTEST_SKIP() << "no FUSE mount can be made here: " << StallingFuse::unavailable();
    root_ = tmp_.path() + "/root";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/tmp").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/fuse").c_str(), 0755), 0);
    std::ofstream(root_ + "/tmp/good.heap") << "a good profile";
    std::string why;
    fuse_ = StallingFuse::mount(root_ + "/fuse", &why);
    ASSERT_TRUE(fuse_) << why;
    ASSERT_EQ(targetWorkStats().stuck, 0u);
  }
  void TearDown() override {
    fuse_.reset();
    // The abort answers every stuck worker with ENOTCONN: each returns and gives its key back.
    EXPECT_TRUE(testing::eventually([] { return targetWorkStats().stuck == 0; }))
        << targetWorkStats().stuck << " workers still stuck after the FUSE connection was aborted";
  }
  std::shared_ptr<TargetFs> door() {
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return std::make_shared<TargetFs>(OwnedFd(fd), ::getuid(), "test root");
  }
  // Opens `path` through the door, for target `key`, waiting at most `timeout`.
  Result<OwnedFd> openBounded(const std::string& key, const std::string& path,
                              Duration timeout = std::chrono::milliseconds(200)) {
    auto fs = door();
    return withTargetTimeout<OwnedFd>(key, timeout,
                                      [fs, path]() { return fs->openFile(path, {}); });
  }

  TempDir tmp_;
  std::string root_;
  std::unique_ptr<StallingFuse> fuse_;
};

TEST_F(TargetFsFuseTest, AnOpenOnAStalledMountTimesOutByItsDeadline) {
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  auto fd = openBounded("pid 101", "/fuse/heap.0001.heap");
  Duration took = real.steadyNow() - t0;
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().errnum, ETIMEDOUT) << fd.error().describe();
  EXPECT_THAT(fd.error().message, HasSubstr("does not answer")) << fd.error().describe();
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_EQ(targetWorkStats().stuck, 1u);
}

TEST_F(TargetFsFuseTest, AListingOnAStalledMountTimesOutByItsDeadline) {
  auto fs = door();
  SystemClock real;
  auto entries = withTargetDeadline<std::vector<TargetDirEntry>>(
      "pid 102", real.steadyNow() + std::chrono::milliseconds(200),
      [fs]() -> Result<std::vector<TargetDirEntry>> {
        auto dir = fs->openDir("/fuse");
        if (!dir) return dir.error();
        return listTargetDir(dir->get(), "fuse");
      });
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.error().errnum, ETIMEDOUT) << entries.error().describe();
}

TEST_F(TargetFsFuseTest, AStuckTargetIsRefusedAtOnceAndOthersAreStillRead) {
  ASSERT_EQ(openBounded("pid 103", "/fuse/x").error().errnum, ETIMEDOUT);
  // The same target again: refused without a new thread or a wait, even for a good file.
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  auto again = openBounded("pid 103", "/tmp/good.heap", std::chrono::seconds(30));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum, EBUSY) << again.error().describe();
  EXPECT_LT(real.steadyNow() - t0, std::chrono::seconds(1));
  // Another target's files are read as before.
  auto good = openBounded("pid 104", "/tmp/good.heap", std::chrono::seconds(30));
  ASSERT_TRUE(good.ok()) << good.error().describe();
  char buf[64] = {};
  EXPECT_EQ(::read(good->get(), buf, sizeof buf - 1), 14);
  EXPECT_STREQ(buf, "a good profile");
}

TEST_F(TargetFsFuseTest, StuckWorkersAreCappedAndComeBackWhenTheMountAnswers) {
  const std::uint64_t before = targetWorkStats().abandoned_total;
  for (std::size_t i = 0; i < kMaxStuckTargetWorkers; ++i)
    ASSERT_EQ(
        openBounded("pid " + std::to_string(200 + i), "/fuse/x", std::chrono::milliseconds(50))
            .error()
            .errnum,
        ETIMEDOUT);
  EXPECT_EQ(targetWorkStats().stuck, kMaxStuckTargetWorkers);
  EXPECT_EQ(targetWorkStats().abandoned_total - before, kMaxStuckTargetWorkers);
  // The cap: no new thread for anyone, not even for a good file of a new target.
  auto refused = openBounded("pid 300", "/tmp/good.heap", std::chrono::seconds(30));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum, EBUSY);
  EXPECT_THAT(refused.error().message, HasSubstr("8 reads of targets' files are stuck"))
      << refused.error().describe();
  // The mount answers (its connection aborted): the workers return, and reading works again.
  fuse_.reset();
  ASSERT_TRUE(testing::eventually([] { return targetWorkStats().stuck == 0; }));
  auto good = openBounded("pid 300", "/tmp/good.heap", std::chrono::seconds(30));
  EXPECT_TRUE(good.ok()) << good.error().describe();
}

}  // namespace
}  // namespace oomsentinel
