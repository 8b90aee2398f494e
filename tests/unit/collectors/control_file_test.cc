// tests/: ControlFile (one descriptor, re-read with pread at offset 0, re-opened when the kernel
// says the file is gone) on temporary files, on /proc of a child, and on a real cgroup v1 child.
#include "collectors/control_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "core/host_paths.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::TempDir;

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st.st_ino;
}

// Descriptors this process has open, to see that ControlFile closes what it opens.
int openDescriptors() {
  int n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(HostPaths().proc(0, "fd")))
    ++n;
  return n;
}

// "line 0\nline 1\n..." up to at least `size` bytes, cut to exactly `size`: no two 4 KiB blocks
// are alike, so a block read twice or skipped shows.
std::string numberedLines(std::size_t size) {
  std::string s;
  for (int i = 0; s.size() < size; ++i) s += "line " + std::to_string(i) + "\n";
  s.resize(size);
  return s;
}

std::string readOk(ControlFile& f) {
  auto r = f.read();
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? std::string(*r) : std::string("<error>");
}

TEST(ControlFile, ReadsTheWholeFileAndKeepsItOpen) {
  TempDir dir;
  dir.write("memory.current", "21610496\n");
  ControlFile f(dir.path() + "/memory.current");
  EXPECT_EQ(f.path(), dir.path() + "/memory.current");
  EXPECT_FALSE(f.isOpen());  // opened on the first read, not by the constructor
  EXPECT_EQ(readOk(f), "21610496\n");
  EXPECT_TRUE(f.isOpen());
}

TEST(ControlFile, EmptyFileIsEmptyText) {
  TempDir dir;
  dir.write("cgroup.procs", "");
  ControlFile f(dir.path() + "/cgroup.procs");
  auto r = f.read();
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(*r, "");
}

TEST(ControlFile, ReReadSeesContentRewrittenInPlace) {
  TempDir dir;
  const std::string path = dir.path() + "/memory.usage_in_bytes";
  dir.write("memory.usage_in_bytes", "123456789\n");
  ControlFile f(path);
  EXPECT_EQ(readOk(f), "123456789\n");
  ino_t inode = inodeOf(path);

  // Shorter: no bytes of the old text may survive at the end.
  dir.write("memory.usage_in_bytes", "7\n");
  ASSERT_EQ(inodeOf(path), inode) << "the rewrite must keep the inode for this test to mean it";
  EXPECT_EQ(readOk(f), "7\n");

  // Longer again, and a read with nothing changed gives the same text.
  dir.write("memory.usage_in_bytes", "18446744073709551615\n");
  EXPECT_EQ(readOk(f), "18446744073709551615\n");
  EXPECT_EQ(readOk(f), "18446744073709551615\n");
}

TEST(ControlFile, HoldsOneDescriptorAcrossReads) {
  // A regular file replaced under the same name is not followed: the descriptor still reads
  // the old inode. Only the kernel's ENODEV/ENOENT/ESTALE (a removed cgroup) makes it re-open,
  // see ControlFileOnV1Cgroup below. This pins "a tick costs a read, not an open".
  TempDir dir;
  const std::string path = dir.path() + "/memory.stat";
  dir.write("memory.stat", "old 1\n");
  ControlFile f(path);
  EXPECT_EQ(readOk(f), "old 1\n");
  ASSERT_EQ(::unlink(path.c_str()), 0);
  dir.write("memory.stat", "new 2\n");
  EXPECT_EQ(readOk(f), "old 1\n");
  // A fresh ControlFile (or an explicit open()) sees the new file.
  ControlFile fresh(path);
  EXPECT_EQ(readOk(fresh), "new 2\n");
  ASSERT_TRUE(f.open().ok());
  EXPECT_EQ(readOk(f), "new 2\n");
}

TEST(ControlFile, FileLargerThanTheInitialBuffer) {
  TempDir dir;
  const std::string path = dir.path() + "/memory.stat";
  for (std::size_t size : {std::size_t{4095}, std::size_t{4096}, std::size_t{4097},
                           std::size_t{10000}, std::size_t{70000}}) {
    SCOPED_TRACE(size);
    std::string text = numberedLines(size);
    dir.write("memory.stat", text);
    ControlFile f(path);
    std::string got = readOk(f);
    EXPECT_EQ(got.size(), size);
    EXPECT_TRUE(got == text) << "content differs";
  }
}

TEST(ControlFile, GrowsThenShrinksOnTheSameDescriptor) {
  TempDir dir;
  const std::string path = dir.path() + "/vmstat";
  dir.write("vmstat", "a 1\n");
  ControlFile f(path);
  EXPECT_EQ(readOk(f), "a 1\n");
  std::string big = numberedLines(20000);
  dir.write("vmstat", big);
  EXPECT_TRUE(readOk(f) == big);
  dir.write("vmstat", "b 2\n");
  EXPECT_EQ(readOk(f), "b 2\n");
}

TEST(ControlFile, UpToFourMiBIsReadOneByteMoreIsAnError) {
  TempDir dir;
  const std::string path = dir.path() + "/big";
  constexpr std::size_t kFourMiB = 4 << 20;
  std::string text = numberedLines(kFourMiB);
  dir.write("big", text);
  ControlFile f(path);
  std::string got = readOk(f);
  EXPECT_EQ(got.size(), kFourMiB);
  EXPECT_TRUE(got == text) << "content differs";

  dir.write("big", text + "x");
  auto r = f.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, EFBIG);
  EXPECT_EQ(r.error().path, path);
  EXPECT_EQ(r.error().describe(), path + ": file larger than 4 MiB (File too large)");
  EXPECT_FALSE(r.error().isGone());
}

TEST(ControlFile, MissingFileIsAGoneErrorWithThePath) {
  TempDir dir;
  const std::string path = dir.path() + "/memory.swap.current";
  ControlFile f(path);
  auto r = f.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, ENOENT);
  EXPECT_EQ(r.error().path, path);
  EXPECT_EQ(r.error().message, "cannot open");
  EXPECT_EQ(r.error().describe(), path + ": cannot open (No such file or directory)");
  EXPECT_TRUE(r.error().isGone());
  EXPECT_FALSE(f.isOpen());

  Status st = f.open();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().errnum, ENOENT);
  EXPECT_EQ(st.error().describe(), path + ": cannot open (No such file or directory)");
}

TEST(ControlFile, FileThatAppearsLaterIsOpenedByTheNextRead) {
  TempDir dir;
  const std::string path = dir.path() + "/memory.events";
  ControlFile f(path);
  ASSERT_FALSE(f.read().ok());
  dir.write("memory.events", "oom_kill 1\n");
  EXPECT_EQ(readOk(f), "oom_kill 1\n");
}

TEST(ControlFile, DirectoryIsAReadErrorNotGone) {
  TempDir dir;
  ControlFile f(dir.path());
  auto r = f.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, EISDIR);
  EXPECT_EQ(r.error().describe(), dir.path() + ": cannot read (Is a directory)");
  EXPECT_FALSE(r.error().isGone());
}

TEST(ControlFile, DefaultConstructedHasNoFile) {
  ControlFile f;
  EXPECT_FALSE(f.isOpen());
  auto r = f.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, ENOENT);
}

TEST(ControlFile, MovesTheDescriptorAndClosesIt) {
  TempDir dir;
  dir.write("a", "A\n");
  dir.write("b", "B\n");
  const int before = openDescriptors();
  {
    ControlFile a(dir.path() + "/a");
    EXPECT_EQ(readOk(a), "A\n");
    EXPECT_EQ(openDescriptors(), before + 1);

    ControlFile moved(std::move(a));
    EXPECT_TRUE(moved.isOpen());
    EXPECT_FALSE(a.isOpen());  // NOLINT(bugprone-use-after-move): the moved-from state is API
    EXPECT_EQ(readOk(moved), "A\n");
    EXPECT_EQ(openDescriptors(), before + 1);

    ControlFile b(dir.path() + "/b");
    EXPECT_EQ(readOk(b), "B\n");
    EXPECT_EQ(openDescriptors(), before + 2);
    moved = std::move(b);      // closes a's descriptor
    EXPECT_FALSE(b.isOpen());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(openDescriptors(), before + 1);
    EXPECT_EQ(moved.path(), dir.path() + "/b");
    EXPECT_EQ(readOk(moved), "B\n");

    ASSERT_TRUE(moved.open().ok());  // re-open closes the old descriptor first
    EXPECT_EQ(openDescriptors(), before + 1);
  }
  EXPECT_EQ(openDescriptors(), before);
}

TEST(ReadWholeFile, ContentOrErrorAndNoDescriptorKept) {
  TempDir dir;
  dir.write("cgroup", "0::/fixture\n");
  const int before = openDescriptors();
  auto r = readWholeFile(dir.path() + "/cgroup");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(*r, "0::/fixture\n");
  EXPECT_EQ(openDescriptors(), before);

  auto missing = readWholeFile(dir.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ENOENT);
  EXPECT_EQ(missing.error().describe(),
            dir.path() + "/nope: cannot open (No such file or directory)");
}

TEST(FileExists, FilesAndDirectories) {
  TempDir dir;
  dir.write("x", "1");
  EXPECT_TRUE(fileExists(dir.path() + "/x"));
  EXPECT_TRUE(fileExists(dir.path()));
  EXPECT_FALSE(fileExists(dir.path() + "/y"));
}

TEST(ControlFile, ProcessThatExitedIsNotReopened) {
  // procfs answers ESRCH on a held /proc/PID file once the process is gone. ControlFile does not
  // re-open on ESRCH: the pid may be reused, and re-opening would read a stranger. Callers see
  // ESRCH (the process collector treats it as "left").
  pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    pause();
    _exit(0);
  }
  const std::string path = HostPaths().proc(child, "status");
  ControlFile f(path);
  auto alive = f.read();
  ASSERT_TRUE(alive.ok()) << alive.error().describe();
  EXPECT_NE(alive->find("Pid:\t" + std::to_string(child) + "\n"), std::string_view::npos);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);

  auto r = f.read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, ESRCH);
  EXPECT_EQ(r.error().describe(), path + ": cannot read (No such process)");
  EXPECT_TRUE(f.isOpen());
}

// ---- the re-open path, on a real cgroup v1 memory child (root only) ----

bool writeFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

class ControlFileOnV1Cgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = joinPath(HostPaths().cgroupRoot(), "memory");
    if (geteuid() != 0)
      GTEST_SKIP() << "needs root to create a cgroup under " << root_ << " (euid " << geteuid()
                   << ")";
    if (!fileExists(joinPath(root_, "memory.limit_in_bytes")))
      GTEST_SKIP() << "no cgroup v1 memory hierarchy: " << root_
                   << "/memory.limit_in_bytes does not exist (cgroup v2-only host?)";
    dir_ = joinPath(root_, "oomsentinel-control-file-test-" + std::to_string(getpid()));
    if (::mkdir(dir_.c_str(), 0755) != 0)
      GTEST_SKIP() << "cannot create " << dir_ << ": " << std::strerror(errno)
                   << " (read-only cgroupfs?)";
    created_ = true;
  }
  void TearDown() override {
    if (created_) ::rmdir(dir_.c_str());
  }

  // Creates the cgroup again with `limit` (it is empty, so rmdir works).
  void recreate(const std::string& limit) {
    ASSERT_EQ(::rmdir(dir_.c_str()), 0) << dir_ << ": " << std::strerror(errno);
    created_ = false;
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << dir_ << ": " << std::strerror(errno);
    created_ = true;
    ASSERT_TRUE(writeFile(joinPath(dir_, "memory.limit_in_bytes"), limit));
  }

  std::string root_, dir_;
  bool created_ = false;
};

TEST_F(ControlFileOnV1Cgroup, RemovedAndRecreatedCgroupIsFollowed) {
  const std::string path = joinPath(dir_, "memory.limit_in_bytes");
  ASSERT_TRUE(writeFile(path, "64M"));
  ControlFile f(path);
  EXPECT_EQ(readOk(f), "67108864\n");

  // The premise: a descriptor of a removed cgroup's file answers ENODEV, also after a cgroup of
  // the same name is made again.
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  recreate("32M");
  char buf[64];
  errno = 0;
  EXPECT_EQ(::pread(raw, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ENODEV) << std::strerror(errno);
  ::close(raw);

  // ControlFile re-opens once and reads the new cgroup.
  EXPECT_EQ(readOk(f), "33554432\n");
  EXPECT_TRUE(f.isOpen());
}

TEST_F(ControlFileOnV1Cgroup, RemovedCgroupIsReportedGoneThenFollowedWhenItComesBack) {
  const std::string path = joinPath(dir_, "memory.limit_in_bytes");
  ASSERT_TRUE(writeFile(path, "64M"));
  ControlFile f(path);
  EXPECT_EQ(readOk(f), "67108864\n");

  ASSERT_EQ(::rmdir(dir_.c_str()), 0) << std::strerror(errno);
  created_ = false;
  auto r = f.read();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().isGone());
  EXPECT_EQ(r.error().errnum, ENOENT);  // the re-open's answer, after the read's ENODEV
  EXPECT_EQ(r.error().describe(), path + ": cannot open (No such file or directory)");
  EXPECT_FALSE(f.isOpen());

  ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << std::strerror(errno);
  created_ = true;
  ASSERT_TRUE(writeFile(path, "16M"));
  EXPECT_EQ(readOk(f), "16777216\n");
}

}  // namespace
}  // namespace oomsentinel
