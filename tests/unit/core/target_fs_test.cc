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
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <utility>

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

// A collector reads each JVM's perf data every tick through a worker with a deadline: reads in a
// row of a target that answers run on one thread, not on a new thread each.
TEST_F(TargetFsTest, ReadsInARowOfAWellBehavedTargetShareOneWorker) {
  write(root_ + "/tmp/hsperfdata", "perf data");
  auto fs = std::make_shared<TargetFs>(door());
  const std::uint64_t started_before = targetWorkStats().started_total;
  std::set<pid_t> threads;
  for (int i = 0; i < 20; ++i) {
    auto read = withTargetTimeout<std::pair<pid_t, std::string>>(
        "pid 500", std::chrono::seconds(30), [fs]() -> Result<std::pair<pid_t, std::string>> {
          auto fd = fs->openFile("/tmp/hsperfdata", {});
          if (!fd) return fd.error();
          return std::make_pair(::gettid(), readAll(fd->get()));
        });
    ASSERT_TRUE(read.ok()) << read.error().describe();
    EXPECT_EQ(read->second, "perf data");
    threads.insert(read->first);
  }
  EXPECT_EQ(threads.size(), 1u) << "20 reads ran on " << threads.size() << " threads";
  EXPECT_EQ(threads.count(::gettid()), 0u) << "the reads ran on the caller's thread";
  // None at all when an earlier test left a worker waiting.
  EXPECT_LE(targetWorkStats().started_total - started_before, 1u);
  EXPECT_GE(targetWorkStats().idle, 1u);
}

// A worker stuck past its deadline is left behind, counted, and its target refused at once; the
// next read (of another target) runs on another worker; once the stuck one returns, its target
// is read again.
TEST_F(TargetFsTest, AWorkerLeftBehindIsReplacedForTheNextRead) {
  const TargetWorkStats before = targetWorkStats();
  ASSERT_EQ(before.stuck, 0u);
  auto stuck_started = std::make_shared<std::promise<pid_t>>();
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  std::future<pid_t> stuck_thread = stuck_started->get_future();
  auto timed_out = withTargetTimeout<int>("pid 600", std::chrono::milliseconds(50),
                                          [stuck_started, released]() -> Result<int> {
                                            stuck_started->set_value(::gettid());
                                            released.wait();  // a FUSE server that does not answer
                                            return 1;
                                          });
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().errnum, ETIMEDOUT) << timed_out.error().describe();
  ASSERT_EQ(stuck_thread.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const pid_t stuck_tid = stuck_thread.get();
  EXPECT_EQ(targetWorkStats().stuck, 1u);
  EXPECT_EQ(targetWorkStats().abandoned_total - before.abandoned_total, 1u);

  // The same target: refused at once, even for work that would answer.
  auto refused = withTargetTimeout<int>("pid 600", std::chrono::seconds(30),
                                        []() -> Result<int> { return 2; });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum, EBUSY) << refused.error().describe();

  // Another target: read at once, on a worker that is not the stuck one.
  auto other = withTargetTimeout<pid_t>("pid 601", std::chrono::seconds(30),
                                        []() -> Result<pid_t> { return ::gettid(); });
  ASSERT_TRUE(other.ok()) << other.error().describe();
  EXPECT_NE(*other, stuck_tid);

  // The file system answers: the worker returns, gives its target back, and reads go on.
  release->set_value();
  ASSERT_TRUE(testing::eventually([] { return targetWorkStats().stuck == 0; }));
  auto again = withTargetTimeout<int>("pid 600", std::chrono::seconds(30),
                                      []() -> Result<int> { return 3; });
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(*again, 3);
  // Workers are waiting again (the returned one among them): more reads start no thread.
  const std::uint64_t started = targetWorkStats().started_total;
  for (int i = 0; i < 5; ++i) {
    auto more = withTargetTimeout<int>("pid 602", std::chrono::seconds(30),
                                       []() -> Result<int> { return 4; });
    EXPECT_TRUE(more.ok()) << more.error().describe();
  }
  EXPECT_EQ(targetWorkStats().started_total, started);
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
