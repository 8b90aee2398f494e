// The one door into a target's file system, attacked as a container would: symlinks out of its
// root (absolute, relative, through /proc magic links), FIFOs, device nodes, leases, hard links
// to files it does not own, sparse giants.
#include "core/target_fs.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using testing::TempDir;

class TargetFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/root";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/tmp").c_str(), 0755), 0);
    // What the host has and the container must never hand us.
    secret_ = tmp_.path() + "/host-secret";
    write(secret_, "HOST SECRET");
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  TargetFs door() {
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return TargetFs(OwnedFd(fd), ::getuid(), "test root");
  }
  static std::string readAll(int fd) {
    std::string s;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    return s;
  }

  TempDir tmp_;
  std::string root_, secret_;
};

TEST_F(TargetFsTest, ReadsARegularFileOfTheTarget) {
  write(root_ + "/tmp/heap.0001.heap", "heap profile");
  auto fd = door().openFile("/tmp/heap.0001.heap", {});
  ASSERT_TRUE(fd) << fd.error().describe();
  EXPECT_EQ(readAll(fd->get()), "heap profile");
}

TEST_F(TargetFsTest, AnAbsoluteSymlinkAsTheFileIsRefused) {
  ASSERT_EQ(::symlink(secret_.c_str(), (root_ + "/tmp/heap.0001.heap").c_str()), 0);
  auto fd = door().openFile("/tmp/heap.0001.heap", {});
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().errnum, ELOOP) << fd.error().describe();
}

TEST_F(TargetFsTest, AnAbsoluteSymlinkedDirectoryResolvesInsideTheRoot) {
  // /tmp/prof -> <host dir holding the secret>: inside the root that path does not exist.
  ASSERT_EQ(::symlink(tmp_.path().c_str(), (root_ + "/tmp/prof").c_str()), 0);
  auto fd = door().openFile("/tmp/prof/host-secret", {});
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().errnum, ENOENT) << fd.error().describe();
  // And a directory link that stays inside works as the target meant it.
  ASSERT_EQ(::mkdir((root_ + "/data").c_str(), 0755), 0);
  write(root_ + "/data/f", "inside");
  ASSERT_EQ(::symlink("/data", (root_ + "/tmp/data").c_str()), 0);
  auto ok = door().openFile("/tmp/data/f", {});
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(readAll(ok->get()), "inside");
}

TEST_F(TargetFsTest, DotDotCannotClimbOutOfTheRoot) {
  ASSERT_EQ(::symlink("../../../../../..", (root_ + "/tmp/up").c_str()), 0);
  auto viaLink = door().openFile("/tmp/up/host-secret", {});
  EXPECT_FALSE(viaLink);
  auto direct = door().openFile("../host-secret", {});
  EXPECT_FALSE(direct);
  auto deep = door().openFile("/tmp/../../../host-secret", {});
  EXPECT_FALSE(deep);
}

TEST_F(TargetFsTest, ProcMagicLinksAreNotWalked) {
  // The real root of this test process, with a real /proc: /proc/self/root and /proc/1/root are
  // magic links a container could point its files at.
  int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  TargetFs host(OwnedFd(fd), 0, "host root");
  std::string rel = secret_.substr(1);
  ASSERT_TRUE(host.openFile(rel, {})) << "the plain path is readable";
  auto magic = host.openFile("proc/self/root/" + rel, {});
  ASSERT_FALSE(magic);
  EXPECT_TRUE(magic.error().errnum == ELOOP || magic.error().errnum == EXDEV)
      << magic.error().describe();
  ASSERT_EQ(::symlink("/proc/1/root", (root_ + "/tmp/one").c_str()), 0);
  EXPECT_FALSE(door().openFile("/tmp/one" + secret_, {}));
}

TEST_F(TargetFsTest, AFifoIsRefusedWithoutBlocking) {
  // A plain open for reading would wait for a writer forever; the test would hang.
  ASSERT_EQ(::mkfifo((root_ + "/tmp/heap.0001.heap").c_str(), 0600), 0);
  auto fd = door().openFile("/tmp/heap.0001.heap", {});
  ASSERT_FALSE(fd);
  EXPECT_THAT(fd.error().message, HasSubstr("not a regular file")) << fd.error().describe();
}

TEST_F(TargetFsTest, ADeviceNodeIsNeverOpened) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod of a device node needs root";
  // /dev/null's numbers: harmless if a regression did open it, and refused either way.
  std::string dev = root_ + "/tmp/heap.0001.heap";
  ASSERT_EQ(::mknod(dev.c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
  auto fd = door().openFile("/tmp/heap.0001.heap", {});
  ASSERT_FALSE(fd);
  EXPECT_THAT(fd.error().message, HasSubstr("not a regular file"));
}

TEST_F(TargetFsTest, AFileUnderALeaseAnswersAtOnce) {
  std::string file = root_ + "/tmp/heap.0001.heap";
  write(file, "leased");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The target: takes a write lease and keeps it (the kernel would hold an opener for
    // /proc/sys/fs/lease-break-time, 45 s by default).
    int fd = ::open(file.c_str(), O_RDONLY);
    char ok = (fd >= 0 && ::fcntl(fd, F_SETLEASE, F_WRLCK) == 0) ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  if (ok != 'y') {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    GTEST_SKIP() << "F_SETLEASE refused here (needs the file's owner or CAP_LEASE)";
  }
  auto fd = door().openFile("/tmp/heap.0001.heap", {});
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().errnum, EWOULDBLOCK) << fd.error().describe();
}

TEST_F(TargetFsTest, AHardLinkToAFileOfAnotherOwnerIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  std::string file = root_ + "/tmp/heap.0001.heap";
  ASSERT_EQ(::link(secret_.c_str(), file.c_str()), 0);  // same file system: a hard link
  ASSERT_EQ(::chown(secret_.c_str(), 0, 0), 0);
  TargetFileRules rules;
  rules.owner = 4242;  // the target's uid
  auto fd = door().openFile("/tmp/heap.0001.heap", rules);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().errnum, EPERM) << fd.error().describe();
}

TEST_F(TargetFsTest, ASparseGiantIsRefusedByItsSize) {
  std::string file = root_ + "/tmp/heap.0001.heap";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{1} << 40), 0);  // 1 TiB of holes
  ::close(fd);
  TargetFileRules rules;
  rules.max_bytes = 64 << 20;
  auto got = door().openFile("/tmp/heap.0001.heap", rules);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errnum, EFBIG) << got.error().describe();
}

TEST_F(TargetFsTest, OneNameAtATimeInAnOpenDirectory) {
  write(root_ + "/tmp/a", "a");
  ASSERT_EQ(::symlink(secret_.c_str(), (root_ + "/tmp/b").c_str()), 0);
  auto dir = door().openDir("/tmp");
  ASSERT_TRUE(dir) << dir.error().describe();
  EXPECT_TRUE(openTargetFileAt(dir->get(), "a", {}, "tmp"));
  EXPECT_FALSE(openTargetFileAt(dir->get(), "b", {}, "tmp"));
  EXPECT_FALSE(openTargetFileAt(dir->get(), "../host-secret", {}, "tmp"));
  EXPECT_FALSE(openTargetFileAt(dir->get(), "..", {}, "tmp"));
  ASSERT_EQ(::symlink(tmp_.path().c_str(), (root_ + "/tmp/out").c_str()), 0);
  EXPECT_FALSE(openTargetDirAt(dir->get(), "out", "tmp"));
}

TEST_F(TargetFsTest, ListingSaysWhatIsThereWithoutFollowing) {
  write(root_ + "/tmp/a", "a");
  ASSERT_EQ(::symlink(secret_.c_str(), (root_ + "/tmp/b").c_str()), 0);
  auto dir = door().openDir("/tmp");
  ASSERT_TRUE(dir);
  auto list = listTargetDir(dir->get(), "tmp");
  ASSERT_TRUE(list) << list.error().describe();
  ASSERT_EQ(list->size(), 2u);
  for (const auto& e : *list) {
    if (e.name == "a") {
      EXPECT_TRUE(S_ISREG(e.st.st_mode));
    } else {
      EXPECT_TRUE(S_ISLNK(e.st.st_mode)) << e.name;
    }
  }
}

TEST_F(TargetFsTest, OpensAProcessRootAfterItsPidfd) {
  HostPaths paths;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  ASSERT_GE(pidfd, 0);
  OwnedFd guard(pidfd);
  auto fs = TargetFs::open(paths, ::getpid(), pidfd, TargetAnchor::kRoot);
  ASSERT_TRUE(fs) << fs.error().describe();
  EXPECT_EQ(fs->owner(), ::geteuid());
  EXPECT_TRUE(fs->openFile(secret_, {}));

  // A process that has exited: its pidfd says so, and its root is not handed out.
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  int child_fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  ASSERT_GE(child_fd, 0);
  OwnedFd child_guard(child_fd);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(TargetFs::open(paths, child, child_fd, TargetAnchor::kRoot));
}

}  // namespace
}  // namespace oomsentinel
