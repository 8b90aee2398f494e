#include "dumpers/artifact.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "dumpers/bundle_budget.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/reduced_privileges.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using oomsentinel::testing::slurp;

using testing::TempDir;

mode_t modeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Artifact, Sha256OfKnownInputs) {
  // FIPS 180-2's examples.
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Artifact, WritesPrivateFilesWithSizeAndDigestAndCutsAtTheCap) {
  TempDir dir;
  auto a = writeArtifact(dir.path(), "status.txt", "abc", 0);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(a->file, "status.txt");
  EXPECT_EQ(a->bytes, 3u);
  EXPECT_FALSE(a->truncated);
  EXPECT_EQ(a->sha256, sha256Hex("abc"));
  EXPECT_EQ(modeOf(dir.path() + "/status.txt"), 0600u);

  auto cut = writeArtifact(dir.path(), "big", "abcdef", 4);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->bytes, 4u);
  EXPECT_EQ(slurp(dir.path() + "/big"), "abcd");
  EXPECT_EQ(cut->sha256, sha256Hex("abcd"));

  // An artifact is never overwritten.
  auto again = writeArtifact(dir.path(), "big", "x", 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum, EEXIST);
}

TEST(Artifact, CopiesAFileUpToTheCap) {
  TempDir dir;
  std::string content(200 * 1024, 'p');
  content[12345] = 'q';
  dir.write("src.heap", content);
  auto whole = copyArtifact(dir.path(), "copy.heap", dir.path() + "/src.heap", 0);
  ASSERT_TRUE(whole.ok()) << whole.error().describe();
  EXPECT_EQ(whole->bytes, content.size());
  EXPECT_FALSE(whole->truncated);
  EXPECT_EQ(whole->sha256, sha256Hex(content));
  EXPECT_EQ(slurp(dir.path() + "/copy.heap"), content);
  EXPECT_EQ(modeOf(dir.path() + "/copy.heap"), 0600u);

  auto cut = copyArtifact(dir.path(), "cut.heap", dir.path() + "/src.heap", 100000);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->bytes, 100000u);
  EXPECT_EQ(cut->sha256, sha256Hex(std::string_view(content).substr(0, 100000)));
  auto exact = copyArtifact(dir.path(), "exact.heap", dir.path() + "/src.heap", content.size());
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact->truncated);

  auto missing = copyArtifact(dir.path(), "m", dir.path() + "/nope", 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().path, dir.path() + "/nope");
}

TEST(Artifact, FinishesAFileWrittenByOthers) {
  TempDir dir;
  dir.write("out.txt", "hello world");
  ::chmod((dir.path() + "/out.txt").c_str(), 0644);
  auto a = finishArtifact(dir.path(), "out.txt", 5);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_TRUE(a->truncated);
  EXPECT_EQ(a->bytes, 5u);
  EXPECT_EQ(slurp(dir.path() + "/out.txt"), "hello");
  EXPECT_EQ(a->sha256, sha256Hex("hello"));
  EXPECT_EQ(modeOf(dir.path() + "/out.txt"), 0600u);
}

TEST(Artifact, FinishFollowsNoSymlinkAndOpensNoFifo) {
  // A child that wrote into the bundle (an exec hook) may have left these in place of its files.
  TempDir dir;
  dir.write("outside/secret", "host secret");
  ASSERT_EQ(::mkdir((dir.path() + "/b").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir.path() + "/b/exec").c_str(), 0700), 0);
  ASSERT_EQ(
      ::symlink((dir.path() + "/outside/secret").c_str(), (dir.path() + "/b/exec/last").c_str()),
      0);
  ASSERT_EQ(
      ::symlink((dir.path() + "/outside").c_str(), (dir.path() + "/b/exec/on_the_way").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir.path() + "/b/exec/fifo").c_str(), 0600), 0);
  for (const char* name : {"exec/last", "exec/on_the_way/secret", "../outside/secret"}) {
    auto a = finishArtifact(dir.path() + "/b", name, 4);
    EXPECT_FALSE(a.ok()) << name;
  }
  EXPECT_EQ(finishArtifact(dir.path() + "/b", "exec/last", 4).error().errnum, ELOOP);
  EXPECT_EQ(finishArtifact(dir.path() + "/b", "exec/on_the_way/secret", 4).error().errnum, ELOOP);
  // Not opened at all: an open for I/O of a FIFO without a writer would hang here.
  auto f = finishArtifact(dir.path() + "/b", "exec/fifo", 4);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("not a regular file")) << f.error().describe();
  // Nothing was cut or chmodded through a link.
  EXPECT_EQ(slurp(dir.path() + "/outside/secret"), "host secret");
}

TEST(Artifact, FinishRefusesAHardLinkToAnotherFile) {
  // A child that may write its folder links a file of the host there (as root without
  // capabilities, protected_hardlinks does not stop it): finishing it must not chmod, cut or
  // publish the host's file.
  TempDir dir;
  dir.write("outside/victim", "host secret");
  const std::string victim = dir.path() + "/outside/victim";
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  ASSERT_EQ(::mkdir((dir.path() + "/b").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir.path() + "/b/exec").c_str(), 0700), 0);
  ASSERT_EQ(::link(victim.c_str(), (dir.path() + "/b/exec/out.txt").c_str()), 0);
  auto a = finishArtifact(dir.path() + "/b", "exec/out.txt", 4);
  ASSERT_FALSE(a.ok()) << "a hard link was finished";
  EXPECT_EQ(a.error().errnum, EMLINK);
  EXPECT_THAT(a.error().message, HasSubstr("hard link (2 links)")) << a.error().describe();
  EXPECT_EQ(slurp(victim), "host secret");
  EXPECT_EQ(modeOf(victim), 0644u);

  // The child's own file (one link) is still taken.
  ASSERT_EQ(::unlink(victim.c_str()), 0);
  auto own = finishArtifact(dir.path() + "/b", "exec/out.txt", 4);
  ASSERT_TRUE(own.ok()) << own.error().describe();
  EXPECT_EQ(own->bytes, 4u);
}

TEST(Artifact, FinishTakesOnlyAFileOfOursOrOfItsWriter) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  TempDir dir;
  const std::string file = dir.path() + "/hook.txt";
  dir.write("hook.txt", "someone else's");
  ASSERT_EQ(::chown(file.c_str(), 4242, 4242), 0);
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  // Nobody named a writer, or another one: a file of uid 4242 is not the child's output.
  for (std::optional<uid_t> writer : {std::optional<uid_t>{}, std::optional<uid_t>{4243}}) {
    auto a = finishArtifact(dir.path(), "hook.txt", 4, writer);
    ASSERT_FALSE(a.ok()) << "a file of another owner was finished";
    EXPECT_EQ(a.error().errnum, EPERM);
    EXPECT_THAT(a.error().message, HasSubstr("owned by uid 4242")) << a.error().describe();
  }
  EXPECT_EQ(slurp(file), "someone else's");
  EXPECT_EQ(modeOf(file), 0644u);
  // Its writer's: taken, made private and cut.
  auto a = finishArtifact(dir.path(), "hook.txt", 4, 4242);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(slurp(file), "some");
  EXPECT_EQ(modeOf(file), 0600u);
}

TEST(Artifact, FinishesAnotherUsersFileWithTheUnitsCapabilitiesAlone) {
  // As the systemd unit runs it: root without CAP_DAC_OVERRIDE and CAP_CHOWN. The file stays its
  // writer's, made 0600 (CAP_FOWNER) and cut to the cap.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  const std::string file = dir.path() + "/hook.txt";
  dir.write("hook.txt", std::string(10000, 'x'));
  ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  std::string findings =
      testing::inReducedChild(testing::kUnitCapabilities, std::nullopt, [&]() -> std::string {
        testing::Findings f;
        int rw = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
        f.expect(rw < 0, "the child can still open another user's file for writing");
        if (rw >= 0) ::close(rw);
        auto a = finishArtifact(dir.path(), "hook.txt", 4096, 65534);
        if (!a) return "finishArtifact: " + a.error().describe();
        f.expect(a->truncated, "not marked truncated");
        f.expectEq(a->bytes, std::uint64_t{4096}, "bytes");
        f.expectEq(a->sha256, sha256Hex(std::string(4096, 'x')), "sha256");
        return f.text;
      });
  EXPECT_EQ(findings, "");
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_size, 4096);

  // Without CAP_FOWNER it cannot be made private: refused, not listed as finished.
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  findings = testing::inReducedChild({CAP_DAC_READ_SEARCH}, std::nullopt, [&]() -> std::string {
    auto a = finishArtifact(dir.path(), "hook.txt", 0, 65534);
    if (a) return "finished without CAP_FOWNER";
    return a.error().message == "cannot make it mode 0600" ? "" : a.error().describe();
  });
  EXPECT_EQ(findings, "");
}

TEST(Artifact, CopyArtifactRefusesASymlinkAndDoesNotBlockOnAFifo) {
  // For kernel files only, but a symlink in the last place is still never followed.
  TempDir dir;
  dir.write("secret", "host secret");
  ASSERT_EQ(::symlink((dir.path() + "/secret").c_str(), (dir.path() + "/link").c_str()), 0);
  ASSERT_EQ(::mkdir((dir.path() + "/out").c_str(), 0700), 0);
  auto a = copyArtifact(dir.path() + "/out", "copy", dir.path() + "/link", 0);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().errnum, ELOOP);
  // A FIFO without a writer: a blocking open would hang the test here.
  ASSERT_EQ(::mkfifo((dir.path() + "/fifo").c_str(), 0600), 0);
  // Opened at once, then refused by pread (a pipe has no offsets): an error, not a wait.
  auto f = copyArtifact(dir.path() + "/out", "fifo", dir.path() + "/fifo", 0);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().errnum, ESPIPE) << f.error().describe();
}

TEST(Artifact, CopyFromADescriptorKeepsHolesAndHashesTheLogicalContent) {
  TempDir dir;
  const std::string src = dir.path() + "/sparse";
  constexpr off_t kLength = off_t{32} << 20;
  int fd = ::open(src.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
  ASSERT_EQ(::pwrite(fd, "middle", 6, off_t{8} << 20), 6);
  ASSERT_EQ(::ftruncate(fd, kLength), 0);  // and a trailing hole
  ASSERT_EQ(::mkdir((dir.path() + "/out").c_str(), 0700), 0);
  auto a = copyArtifactFromFd(dir.path() + "/out", "copy", fd, 0);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  std::string logical = slurp(src);
  EXPECT_EQ(a->bytes, static_cast<std::uint64_t>(kLength));
  EXPECT_FALSE(a->truncated);
  EXPECT_EQ(a->sha256, sha256Hex(logical));
  EXPECT_EQ(slurp(dir.path() + "/out/copy"), logical);
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/out/copy").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kLength);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the holes were written as zeros";
  EXPECT_EQ(modeOf(dir.path() + "/out/copy"), 0600u);

  // Cut at the cap inside a hole: the length is the cap, still sparse.
  auto cut = copyArtifactFromFd(dir.path() + "/out", "cut", fd, off_t{16} << 20);
  ASSERT_TRUE(cut.ok()) << cut.error().describe();
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->truncated_by, "dump.max_artifact_bytes");
  EXPECT_EQ(cut->bytes, std::uint64_t{16} << 20);
  EXPECT_EQ(cut->sha256, sha256Hex(logical.substr(0, std::size_t{16} << 20)));
  ::close(fd);
}

TEST(Artifact, TheBundleCapCutsTheArtifactThatReachesItAndSaysWhy) {
  TempDir dir;
  BundleBudgetScope budget(dir.path(), {/*max_bundle_bytes=*/1000, /*min_free=*/0});
  auto first = writeArtifact(dir.path(), "first", std::string(600, 'a'), 0);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->truncated);
  dir.write("src", std::string(600, 'b'));
  auto second = copyArtifact(dir.path(), "second", dir.path() + "/src", 0);
  ASSERT_TRUE(second.ok()) << second.error().describe();
  EXPECT_TRUE(second->truncated);
  EXPECT_EQ(second->truncated_by, "dump.max_bundle_bytes");
  EXPECT_EQ(second->bytes, 400u);
  EXPECT_EQ(slurp(dir.path() + "/second"), std::string(400, 'b'));
  auto third = writeArtifact(dir.path(), "third", "c", 0);
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(third.error().message, HasSubstr("not written"));
  EXPECT_THAT(third.error().message, HasSubstr("dump.max_bundle_bytes"));
  EXPECT_EQ(budget.budget().used(), 1000u);
}

TEST(Artifact, FreeSpaceIsCheckedAgainBeforeEachArtifact) {
  TempDir dir;
  struct statvfs vfs;
  ASSERT_EQ(::statvfs(dir.path().c_str(), &vfs), 0);
  // A reserve larger than the disk: whatever is free, an artifact would eat into it.
  std::uint64_t more_than_the_disk = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize + 1;
  BundleBudgetScope budget(dir.path(), {0, more_than_the_disk});
  auto a = writeArtifact(dir.path(), "a", "x", 0);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("dump.min_free")) << a.error().describe();
  struct stat st;
  EXPECT_NE(::stat((dir.path() + "/a").c_str(), &st), 0) << "not even created";
}

}  // namespace
}  // namespace oomsentinel
