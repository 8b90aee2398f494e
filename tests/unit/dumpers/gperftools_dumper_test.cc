// The gperftools dumper against real processes: cpp-leak on tcmalloc's heap profiler, and
// /bin/sleep as a target that must never be hurt.
#include "dumpers/gperftools_dumper.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "dumpers/artifact.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;

using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr const char* kSleep = "/bin/sleep";

bool executable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

std::string findInPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (executable(dir + "/" + program)) return dir + "/" + program;
  return "";
}

// The first table row of a pprof text report: the biggest flat entry.
std::string firstRow(const std::string& report) {
  std::stringstream lines(report);
  for (std::string line; std::getline(lines, line);) {
    std::size_t at = line.find_first_not_of(' ');
    if (at != std::string::npos && std::isdigit(static_cast<unsigned char>(line[at])) &&
        line.find('%') != std::string::npos)
      return line;
  }
  return "";
}

std::string cppLeak() { return OOMSENTINEL_CPP_LEAK; }

// A target process started with exactly the given environment, its output in files. Killed and
// reaped when the test ends.
class Target {
 public:
  // `cwd`: the target's working directory (empty: the test's).
  Target(const TempDir& dir, std::vector<std::string> argv, std::vector<std::string> env,
         const std::string& cwd = "")
      : out_(dir.path() + "/target.out"), err_(dir.path() + "/target.err") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    int rc = posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
    if (rc != 0) {
      pid_ = -1;
      return;
    }
    // posix_spawn returns once the exec has begun, before the kernel has laid out the new
    // program's environment: until then /proc/PID/environ reads empty. Every target here has an
    // environment, so seeing it means the exec is done.
    SystemClock clock;
    SteadyTime until = clock.steadyNow() + 5s;
    while (slurp(HostPaths().proc(pid_, "environ")).empty() && clock.steadyNow() < until)
      std::this_thread::sleep_for(1ms);
  }
  ~Target() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }
  // Still running: not exited, not killed (we are its parent, so a dead one stays a zombie
  // until reaped here).
  bool alive() {
    if (reaped_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      exit_status_ = status;
      return false;
    }
    return true;
  }
  int exitStatus() const { return exit_status_; }
  // Waits (bounded) for `text` in its stdout.
  bool waitForOutput(const std::string& text, Duration limit = 10s) {
    SystemClock clock;
    SteadyTime until = clock.steadyNow() + limit;
    while (clock.steadyNow() < until) {
      if (out().find(text) != std::string::npos) return true;
      if (!alive()) return false;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_status_ = 0;
};

std::uint64_t startTimeOf(pid_t pid) {
  auto t = parseStatStartTime(slurp(HostPaths().proc(pid, "stat")));
  EXPECT_TRUE(t.ok()) << t.error().describe();
  return t ? *t : 0;
}

std::set<std::string> heapFiles(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.substr(name.size() - 5) == ".heap") out.insert(name);
    }
    ::closedir(d);
  }
  return out;
}

DumpRequest request(const TempDir& dir, pid_t pid, Duration budget) {
  DumpRequest r;
  r.target = "app";
  r.rule = "oom-imminent";
  r.pid = pid;
  r.pid_starttime = startTimeOf(pid);
  r.dir = dir.path() + "/bundle";
  ::mkdir(r.dir.c_str(), 0700);
  r.deadline = SystemClock().steadyNow() + budget;
  r.max_bytes = 64 << 20;
  return r;
}

std::vector<std::string> files(const DumpOutcome& o) {
  std::vector<std::string> out;
  for (const auto& a : o.artifacts) out.push_back(a.file);
  return out;
}

GperftoolsSpec spec(const TempDir& dir, int sig = SIGUSR2) {
  GperftoolsSpec s;
  s.heap_prefix = dir.path() + "/cpp";
  s.signal = sig;
  return s;
}

std::vector<std::string> profilerEnv(const TempDir& dir, int sig = SIGUSR2) {
  return {"HEAPPROFILE=" + dir.path() + "/cpp", "HEAPPROFILESIGNAL=" + std::to_string(sig)};
}

// Why the C++ example cannot run here; empty when it can.
std::string cppLeakMissing() {
  if (executable(cppLeak())) return "";
  return "examples/cpp-leak is not built (OOMSENTINEL_CPP_LEAK='" + cppLeak() +
         "'): install libgoogle-perftools-dev and build the oomsentinel_cpp_leak target";
}

TEST(GperftoolsParse, StartTimeIsField22CountedAfterTheLastParenthesis) {
  std::string stat =
      "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 123 45 "
      "18446744073709551615\n";
  auto t = parseStatStartTime(stat);
  ASSERT_TRUE(t.ok()) << t.error().describe();
  EXPECT_EQ(*t, 987654u);
  EXPECT_FALSE(parseStatStartTime("4242 (short) S 1 2 3").ok());
  EXPECT_FALSE(parseStatStartTime("no parenthesis").ok());
}

TEST(GperftoolsParse, HeapProfileSequence) {
  EXPECT_EQ(heapProfileSequence("cpp.0001.heap", "cpp"), 1);
  EXPECT_EQ(heapProfileSequence("cpp.12345.heap", "cpp"), 12345);
  EXPECT_EQ(heapProfileSequence("cpp_77.0003.heap", "cpp_77"), 3);
  EXPECT_EQ(heapProfileSequence("cpp_77.0003.heap", "cpp"), -1);
  EXPECT_EQ(heapProfileSequence("cpp.0001.heap.tmp", "cpp"), -1);
  EXPECT_EQ(heapProfileSequence("cpp..heap", "cpp"), -1);
  EXPECT_EQ(heapProfileSequence("cpp.00x1.heap", "cpp"), -1);
  EXPECT_EQ(heapProfileSequence("other.0001.heap", "cpp"), -1);
}

// A process holding `count` descriptors on /dev/null and then one on `file` (the highest number),
// until told to close it ('c') and to exit (EOF). Only system calls after fork().
struct ManyFds {
  pid_t pid = -1;
  int tell = -1, hear = -1;

  ManyFds(const std::string& file, int count) {
    int down[2], up[2];
    if (::pipe2(down, O_CLOEXEC) != 0 || ::pipe2(up, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::close(down[1]);  // else its own copy keeps the EOF that tells it to exit from coming
      ::close(up[0]);
      int null_fd = ::open("/dev/null", O_RDONLY);
      for (int i = 0; i < count; ++i)
        if (::dup(null_fd) < 0) ::_exit(2);
      int held = ::open(file.c_str(), O_RDONLY);
      if (held < 0) ::_exit(3);
      char c = 'r';
      if (::write(up[1], &c, 1) != 1) ::_exit(4);
      while (::read(down[0], &c, 1) == 1) {
        if (c == 'c') ::close(held);
        if (::write(up[1], &c, 1) != 1) ::_exit(5);
      }
      ::_exit(0);
    }
    ::close(down[0]);
    ::close(up[1]);
    tell = down[1];
    hear = up[0];
  }
  bool ready() {
    char c = 0;
    return pid > 0 && ::read(hear, &c, 1) == 1 && c == 'r';
  }
  bool closeIt() {
    char c = 'c';
    return ::write(tell, &c, 1) == 1 && ::read(hear, &c, 1) == 1 && c == 'c';
  }
  ~ManyFds() {
    if (tell >= 0) ::close(tell);
    if (hear >= 0) ::close(hear);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
};

// Steps until an answer; each step's count of looked-at descriptors goes into `examined`.
HeldOpenScan::Answer stepUntilAnswer(HeldOpenScan& scan, const struct stat& want, int& steps,
                                     std::size_t& most_examined) {
  steps = 0;
  most_examined = 0;
  HeldOpenScan::Answer a = HeldOpenScan::Answer::kNotYet;
  while (a == HeldOpenScan::Answer::kNotYet && steps < 1000) {
    a = scan.step(want);
    ++steps;
    most_examined = std::max(most_examined, scan.lastExamined());
  }
  return a;
}

TEST(GperftoolsHeldOpen, ATargetWithManyDescriptorsIsLookedAtABoundedNumberPerStep) {
  // A hostile target can hold RLIMIT_NOFILE descriptors; the settle step that asks whether the
  // profiler still writes its file looks at a bounded number of them, and still finds the one
  // past all the others, and says "not held" only after a whole pass.
  constexpr int kCount = 6000;
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max < kCount + 64) GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is too low";
  rlimit raised = lim;
  raised.rlim_cur = std::max<rlim_t>(lim.rlim_cur, kCount + 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
  TempDir dir;
  dir.write("app.0001.heap", "heap profile");
  const std::string file = dir.path() + "/app.0001.heap";
  ManyFds target(file, kCount);
  ::setrlimit(RLIMIT_NOFILE, &lim);
  ASSERT_TRUE(target.ready());
  struct stat want;
  ASSERT_EQ(::stat(file.c_str(), &want), 0);

  HeldOpenScan scan(HostPaths{}, target.pid, 1000);
  int steps = 0;
  std::size_t most = 0;
  EXPECT_EQ(stepUntilAnswer(scan, want, steps, most), HeldOpenScan::Answer::kHeld);
  EXPECT_LE(most, 1000u);
  EXPECT_GE(steps, kCount / 1000) << "found before the descriptors in front of it were seen";

  ASSERT_TRUE(target.closeIt());
  scan.restart();
  EXPECT_EQ(stepUntilAnswer(scan, want, steps, most), HeldOpenScan::Answer::kNotHeld);
  EXPECT_LE(most, 1000u);
  EXPECT_GE(steps, kCount / 1000) << "said not held before a whole pass";

  // The default bound: kPerStep descriptors a step.
  HeldOpenScan whole(HostPaths{}, target.pid);
  EXPECT_EQ(whole.step(want), HeldOpenScan::Answer::kNotYet);
  EXPECT_EQ(whole.lastExamined(), HeldOpenScan::kPerStep);
  // A process that cannot be looked at: the settle time alone decides.
  HeldOpenScan gone(HostPaths{"/nonexistent", "/nonexistent"}, target.pid);
  EXPECT_EQ(gone.step(want), HeldOpenScan::Answer::kNotHeld);
}

TEST(GperftoolsDumper, SkipsWithoutAPid) {
  TempDir t;
  GperftoolsDumper d(HostPaths(), spec(t));
  DumpRequest req;
  req.dir = t.path();
  req.deadline = SystemClock().steadyNow() + 1s;
  auto o = d.run(req);
  EXPECT_EQ(o.result, DumpResult::kSkipped);
  EXPECT_EQ(o.dumper, "gperftools");
  EXPECT_TRUE(o.artifacts.empty());
}

TEST(GperftoolsDumper, CapturesANewProfileThatPprofBlamesOnLeakOneChunk) {
  if (auto why = cppLeakMissing(); !why.empty()) GTEST_SKIP() << why;
  std::string pprof = findInPath("google-pprof");
  if (pprof.empty())
    GTEST_SKIP() << "google-pprof is not on PATH (Debian package google-perftools)";
  TempDir t;
  // About 200 MiB in use: over the profiler's own 100 MiB in-use interval, so it has already
  // written profiles of its own that the dumper must not mistake for the one it asked for.
  Target target(t, {cppLeak(), "--rate", "2GiB/s", "--max", "200MiB", "--hold"}, profilerEnv(t));
  ASSERT_TRUE(target.waitForOutput(" done ")) << target.out() << target.err();
  auto before = heapFiles(t.path());

  GperftoolsDumper d(HostPaths(), spec(t));
  auto req = request(t, target.pid(), 10s);
  auto o = d.run(req);
  ASSERT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_EQ(o.error, "");
  EXPECT_THAT(files(o),
              ::testing::UnorderedElementsAre("heap.prof", "maps.txt", "exe_path.txt", "exe"));
  EXPECT_LT(o.took, 2s);
  std::printf("signal -> settled profile copied in %.1f ms (settle 100 ms)\n",
              toSeconds(o.took) * 1000);

  // A new file, numbered after every one that was there, and the bundle holds exactly it.
  auto after = heapFiles(t.path());
  std::vector<std::string> fresh;
  for (const auto& f : after)
    if (!before.count(f)) fresh.push_back(f);
  ASSERT_EQ(fresh.size(), 1u) << "before " << before.size() << ", after " << after.size();
  for (const auto& old : before) EXPECT_LT(old, fresh[0]);
  EXPECT_EQ(slurp(req.dir + "/heap.prof"), slurp(t.path() + "/" + fresh[0]));
  EXPECT_THAT(target.err(),
              HasSubstr("Dumping heap profile to " + t.path() + "/" + fresh[0] + " (signal)"));
  EXPECT_THAT(slurp(req.dir + "/heap.prof"), ::testing::StartsWith("heap profile:"));
  EXPECT_THAT(slurp(req.dir + "/maps.txt"), HasSubstr("cpp-leak"));
  char real[PATH_MAX];
  ASSERT_NE(::realpath(cppLeak().c_str(), real), nullptr);
  EXPECT_EQ(slurp(req.dir + "/exe_path.txt"), std::string(real) + "\n");
  EXPECT_EQ(slurp(req.dir + "/exe"), slurp(cppLeak()));
  EXPECT_TRUE(target.alive());

  // google-pprof 2.10 finds a PIE's text mapping only under the path the profile's maps name
  // (it compares them literally), so it is given the binary at exe_path.txt; the bundle's `exe`
  // copy is for a binary that has since moved or changed, and for the newer pprof (below).
  auto r = testing::runCommand({pprof, "--text", real, req.dir + "/heap.prof"}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(firstRow(r.out), HasSubstr("leakOneChunk")) << r.out;

  // Go's pprof matches the main mapping to the binary it is given: the bundle alone suffices.
  std::string go = findInPath("go");
  if (go.empty()) return;
  TempDir home;
  r = testing::runCommand({"/usr/bin/env", "HOME=" + home.path(),
                           "GOCACHE=" + home.path() + "/cache", "GOFLAGS=", "GOTOOLCHAIN=local", go,
                           "tool", "pprof", "-text", req.dir + "/exe", req.dir + "/heap.prof"},
                          120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(firstRow(r.out), HasSubstr("leakOneChunk")) << r.out;
}

TEST(GperftoolsDumper, FindsTheProfileOfAChildThatInheritedAMarkedPrefix) {
  if (auto why = cppLeakMissing(); !why.empty()) GTEST_SKIP() << why;
  TempDir t;
  // What a parent's profiler leaves in the environment it passes on: the first byte of the value
  // with its high bit set. Such a child writes <prefix>_<pid>.NNNN.heap.
  std::string marked = t.path() + "/cpp";
  marked[0] = static_cast<char>(marked[0] | 0x80);
  Target target(t, {cppLeak(), "--max", "4MiB", "--hold"},
                {"HEAPPROFILE=" + marked, "HEAPPROFILESIGNAL=12"});
  ASSERT_TRUE(target.waitForOutput(" done ")) << target.out() << target.err();
  GperftoolsDumper d(HostPaths(), spec(t));
  auto o = d.run(request(t, target.pid(), 10s));
  ASSERT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_EQ(heapFiles(t.path()),
            std::set<std::string>{"cpp_" + std::to_string(target.pid()) + ".0001.heap"});
}

TEST(GperftoolsDumper, RefusesARecycledPidAndSendsNothing) {
  if (auto why = cppLeakMissing(); !why.empty()) GTEST_SKIP() << why;
  TempDir t;
  Target target(t, {cppLeak(), "--max", "8MiB", "--hold"}, profilerEnv(t));
  ASSERT_TRUE(target.waitForOutput(" done ")) << target.out() << target.err();
  auto before = heapFiles(t.path());

  GperftoolsDumper d(HostPaths(), spec(t));
  auto req = request(t, target.pid(), 5s);
  const std::uint64_t real_start = req.pid_starttime;
  req.pid_starttime = real_start + 1;  // as if the pid had been chosen for an earlier process
  auto o = d.run(req);
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_EQ(o.error, "pid " + std::to_string(target.pid()) + " was recycled (start time " +
                         std::to_string(real_start) + ", expected " +
                         std::to_string(real_start + 1) + "): not signalling");
  EXPECT_TRUE(o.artifacts.empty());

  // Had a signal gone out, the profiler would have written a file within a millisecond or so.
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(target.alive());
  EXPECT_EQ(heapFiles(t.path()), before);
  EXPECT_THAT(target.err(), ::testing::Not(HasSubstr("(signal)")));
}

TEST(GperftoolsDumper, DoesNotSignalATargetWithoutHeapProfileSignal) {
  TempDir t;
  Target target(t, {kSleep, "30"}, {"HEAPPROFILE=" + t.path() + "/cpp"});
  GperftoolsDumper d(HostPaths(), spec(t));
  auto o = d.run(request(t, target.pid(), 5s));
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_THAT(o.error, HasSubstr("HEAPPROFILE='" + t.path() + "/cpp', HEAPPROFILESIGNAL=(unset)"));
  EXPECT_THAT(o.error, HasSubstr("not signalling"));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(target.alive()) << "SIGUSR2 was sent: its default action killed /bin/sleep";
}

TEST(GperftoolsDumper, DoesNotSignalATargetWhosePrefixDiffers) {
  if (auto why = cppLeakMissing(); !why.empty()) GTEST_SKIP() << why;
  TempDir t;
  Target target(t, {cppLeak(), "--max", "4MiB", "--hold"},
                {"HEAPPROFILE=" + t.path() + "/other", "HEAPPROFILESIGNAL=12"});
  ASSERT_TRUE(target.waitForOutput(" done ")) << target.out() << target.err();
  GperftoolsDumper d(HostPaths(), spec(t));
  auto o = d.run(request(t, target.pid(), 5s));
  EXPECT_EQ(o.result, DumpResult::kFailed);
  // The profiler's mark on the first byte is taken off before the value is compared and shown.
  EXPECT_THAT(o.error, HasSubstr("HEAPPROFILE='" + t.path() + "/other', HEAPPROFILESIGNAL='12'"));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(heapFiles(t.path()).empty());
  EXPECT_TRUE(target.alive());
}

TEST(GperftoolsDumper, DoesNotSignalATargetThatDoesNotCatchTheSignal) {
  // The variables are there (a wrapper passing them on, or tcmalloc not loaded), but nothing in
  // the process handles SIGUSR2: sending it would kill the target.
  TempDir t;
  Target target(t, {kSleep, "30"}, profilerEnv(t));
  GperftoolsDumper d(HostPaths(), spec(t));
  auto o = d.run(request(t, target.pid(), 5s));
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_THAT(o.error, HasSubstr("does not catch signal 12 (SIGUSR2)"));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(target.alive());
}

// The next two need a target that accepts the signal unharmed but never writes a profile:
// /bin/sleep with the variables naming SIGCONT. SIGCONT's default action only resumes a stopped
// process, so sleep carries on as if nothing happened, and no file ever appears.

TEST(GperftoolsDumper, ReportsATargetThatExitsBeforeItsProfileIsWritten) {
  TempDir t;
  Target target(t, {kSleep, "30"}, profilerEnv(t, SIGCONT));
  const pid_t pid = target.pid();
  GperftoolsDumper d(HostPaths(), spec(t, SIGCONT));
  auto req = request(t, pid, 10s);
  std::thread killer([pid] {
    std::this_thread::sleep_for(300ms);
    ::kill(pid, SIGKILL);
  });
  auto o = d.run(req);
  killer.join();
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_EQ(o.error, "the target exited before its profile was written");
  // Noticed through the pidfd at once, not at the deadline.
  EXPECT_LT(o.took, 2s);
  EXPECT_GE(o.took, 250ms);
}

TEST(GperftoolsDumper, KeepsAProfileThatAppearedJustBeforeTheTargetExited) {
  // The OOM killer can strike between the file's creation and its last byte: what was written is
  // kept, and the outcome says it may be cut short. The file is written by the test here, as
  // the SIGCONT target never writes one.
  TempDir t;
  Target target(t, {kSleep, "30"}, profilerEnv(t, SIGCONT));
  const pid_t pid = target.pid();
  GperftoolsSpec s = spec(t, SIGCONT);
  s.settle = 5s;  // so that only the exit can end the wait
  GperftoolsDumper d(HostPaths(), s);
  auto req = request(t, pid, 10s);
  const std::string partial = "heap profile:    1:  4096 [    1:  4096] @ heapprofile\n";
  std::thread writer([&] {
    std::this_thread::sleep_for(200ms);
    t.write("cpp.0001.heap", partial);
    std::this_thread::sleep_for(100ms);
    ::kill(pid, SIGKILL);
  });
  auto o = d.run(req);
  writer.join();
  EXPECT_EQ(o.result, DumpResult::kPartial);
  EXPECT_EQ(o.error, "the target exited during the dump: cpp.0001.heap may be incomplete");
  EXPECT_THAT(files(o), ::testing::ElementsAre("heap.prof", "exe_path.txt"));
  EXPECT_EQ(slurp(req.dir + "/heap.prof"), partial);
  char real[PATH_MAX];
  ASSERT_NE(::realpath(kSleep, real), nullptr);
  EXPECT_EQ(slurp(req.dir + "/exe_path.txt"), std::string(real) + "\n");
  EXPECT_LT(o.took, 2s);
}

TEST(GperftoolsDumper, TimesOutWhenNoProfileAppears) {
  TempDir t;
  Target target(t, {kSleep, "30"}, profilerEnv(t, SIGCONT));
  GperftoolsDumper d(HostPaths(), spec(t, SIGCONT));
  auto req = request(t, target.pid(), 800ms);
  auto o = d.run(req);
  SteadyTime returned = SystemClock().steadyNow();
  EXPECT_EQ(o.result, DumpResult::kTimedOut);
  EXPECT_THAT(o.error, HasSubstr("no new " + t.path() + "/cpp.NNNN.heap within"));
  EXPECT_THAT(o.error, HasSubstr("does not catch signal 18 (SIGCONT)"));
  EXPECT_GE(returned, req.deadline);
  EXPECT_LT(returned - req.deadline, 200ms);
  EXPECT_TRUE(o.artifacts.empty());
  EXPECT_TRUE(target.alive());
}

// ---- a hostile target (issue 18): it owns the directory the profile is written to ----
// The target is /bin/sleep taking SIGCONT (it never writes a profile); the test puts in place what
// a hostile one would, after the signal, as the profile's name.

constexpr const char* kHostSecret = "HOST SECRET: root's own file, never the target's";

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Runs a dump while `plant` puts something at the profile's place 200 ms after it starts.
DumpOutcome dumpWith(const TempDir& t, DumpRequest& req, const std::function<void()>& plant,
                     Duration budget = 10s) {
  Target target(t, {kSleep, "30"}, profilerEnv(t, SIGCONT));
  GperftoolsDumper d(HostPaths(), spec(t, SIGCONT));
  req = request(t, target.pid(), budget);
  std::thread planter([&] {
    std::this_thread::sleep_for(200ms);
    plant();
  });
  auto o = d.run(req);
  planter.join();
  return o;
}

TEST(GperftoolsHostile, ASymlinkAsTheProfileIsRefusedAndNoHostByteIsCopied) {
  // Absolute, relative, and through the magic /proc/1/root: each would have handed root's copy
  // of the host file to the bundle as heap.prof.
  for (const char* kind : {"absolute", "relative", "proc-1-root"}) {
    SCOPED_TRACE(kind);
    TempDir t;
    t.write("host-secret", kHostSecret);
    std::string link = std::string(kind) == "absolute" ? t.path() + "/host-secret"
                       : std::string(kind) == "relative"
                           ? "host-secret"
                           : "/proc/1/root" + t.path() + "/host-secret";
    DumpRequest req;
    auto o = dumpWith(t, req, [&] {
      ASSERT_EQ(::symlink(link.c_str(), (t.path() + "/cpp.0001.heap").c_str()), 0);
    });
    EXPECT_EQ(o.result, DumpResult::kFailed);
    EXPECT_THAT(o.error, HasSubstr("refused the profile cpp.0001.heap"));
    EXPECT_THAT(o.error, HasSubstr("it is a symlink, not a regular file"));
    EXPECT_TRUE(o.artifacts.empty());
    EXPECT_FALSE(exists(req.dir + "/heap.prof"));
    EXPECT_LT(o.took, 2s) << "refused when seen, not at the deadline";
  }
}

TEST(GperftoolsHostile, ASymlinkedProfileDirectoryResolvesInsideTheTarget) {
  // HEAPPROFILE=prof/cpp relative to the target's cwd, where prof -> an absolute host directory:
  // as the door resolves it (inside the cwd), that directory does not exist.
  TempDir t;
  ASSERT_EQ(::mkdir((t.path() + "/cwd").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((t.path() + "/host").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((t.path() + "/host").c_str(), (t.path() + "/cwd/prof").c_str()), 0);
  Target target(t, {kSleep, "30"}, {"HEAPPROFILE=prof/cpp", "HEAPPROFILESIGNAL=18"},
                t.path() + "/cwd");
  GperftoolsSpec s = spec(t, SIGCONT);
  s.heap_prefix = "prof/cpp";
  GperftoolsDumper d(HostPaths(), s);
  auto req = request(t, target.pid(), 3s);
  std::thread planter([&] {
    std::this_thread::sleep_for(200ms);
    t.write("host/cpp.0001.heap", kHostSecret);
  });
  auto o = d.run(req);
  planter.join();
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_THAT(o.error, HasSubstr("cannot open the target's profile directory"));
  EXPECT_THAT(o.error, HasSubstr("not signalling"));
  EXPECT_FALSE(exists(req.dir + "/heap.prof"));
  EXPECT_TRUE(target.alive());
}

TEST(GperftoolsHostile, AFifoAsTheProfileIsRefusedAtOnce) {
  TempDir t;
  DumpRequest req;
  auto o = dumpWith(t, req,
                    [&] { ASSERT_EQ(::mkfifo((t.path() + "/cpp.0001.heap").c_str(), 0600), 0); });
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_THAT(o.error, HasSubstr("it is a FIFO, not a regular file"));
  EXPECT_FALSE(exists(req.dir + "/heap.prof"));
  EXPECT_LT(o.took, 2s);
}

TEST(GperftoolsHostile, AProfileUnderALeaseFailsAtOnceNotAfterTheLeaseBreakTime) {
  TempDir t;
  const std::string file = t.path() + "/cpp.0001.heap";
  pid_t holder = -1;
  char ok = 0;
  DumpRequest req;
  auto o = dumpWith(t, req, [&] {
    t.write("cpp.0001.heap", "heap profile:    1:  4096 [    1:  4096] @ heapprofile\n");
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    holder = ::fork();
    if (holder == 0) {
      // The target's accomplice: a write lease, and a deaf ear to the kernel's request to give
      // it up (SIGIO ignored), so an opener would wait /proc/sys/fs/lease-break-time (45 s).
      struct sigaction sa {};
      sa.sa_handler = SIG_IGN;
      ::sigaction(SIGIO, &sa, nullptr);
      int fd = ::open(file.c_str(), O_RDONLY);
      char c = (fd >= 0 && ::fcntl(fd, F_SETLEASE, F_WRLCK) == 0) ? 'y' : 'n';
      (void)!::write(ready[1], &c, 1);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    (void)!::read(ready[0], &ok, 1);
    ::close(ready[0]);
  });
  if (holder > 0) {
    ::kill(holder, SIGKILL);
    ::waitpid(holder, nullptr, 0);
  }
  if (ok != 'y') GTEST_SKIP() << "F_SETLEASE refused here (needs the file's owner or CAP_LEASE)";
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_THAT(o.error, HasSubstr("cannot copy the profile cpp.0001.heap"));
  EXPECT_THAT(o.error, HasSubstr("lease"));
  EXPECT_LT(o.took, 3s) << o.error;
}

TEST(GperftoolsHostile, ASparseProfileIsCopiedSparse) {
  // 48 MiB long, two short lines of data: the bundle must not pay 48 MiB of zeros.
  TempDir t;
  constexpr off_t kLength = off_t{48} << 20;
  const std::string head = "heap profile: sparse\n", tail = "end\n";
  DumpRequest req;
  auto o = dumpWith(t, req, [&] {
    int fd = ::open((t.path() + "/cpp.0001.heap").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), kLength - static_cast<off_t>(tail.size())),
              static_cast<ssize_t>(tail.size()));
    ::close(fd);
  });
  ASSERT_EQ(o.result, DumpResult::kOk) << o.error;
  struct stat st;
  ASSERT_EQ(::stat((req.dir + "/heap.prof").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kLength);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "copied dense";
  std::string logical = slurp(t.path() + "/cpp.0001.heap");
  ASSERT_EQ(logical.size(), static_cast<std::size_t>(kLength));
  EXPECT_EQ(slurp(req.dir + "/heap.prof"), logical);
  ASSERT_FALSE(o.artifacts.empty());
  EXPECT_EQ(o.artifacts[0].file, "heap.prof");
  EXPECT_EQ(o.artifacts[0].bytes, static_cast<std::uint64_t>(kLength));
  EXPECT_EQ(o.artifacts[0].sha256, sha256Hex(logical));
}

}  // namespace
}  // namespace oomsentinel
