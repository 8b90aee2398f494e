// A target whose HEAPPROFILE directory is a FUSE file system that stops answering (issue 18): the
// gperftools dump must end by its deadline and give its dump slot back, while a dump of another
// target completes beside it. The stall is real (tests/support/stalling_fuse.h).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/target_fs.h"
#include "dumpers/artifact.h"
#include "dumpers/dump_runner.h"
#include "dumpers/gperftools_dumper.h"
#include "tests/support/stalling_fuse.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using test::StallingFuse;
using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

// /bin/sleep with the profiler's variables, HEAPPROFILESIGNAL=18 (SIGCONT: harmless to it).
class SleepTarget {
 public:
  explicit SleepTarget(const std::string& heap_prefix) {
    std::vector<std::string> argv = {"/bin/sleep", "60"};
    std::vector<std::string> env = {"HEAPPROFILE=" + heap_prefix, "HEAPPROFILESIGNAL=18"};
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, cargv[0], nullptr, nullptr, cargv.data(), cenv.data()), 0);
    // Until the exec is done, /proc/PID/environ reads empty.
    EXPECT_TRUE(testing::eventually(
        [&] { return !testing::slurp(HostPaths().proc(pid_, "environ")).empty(); }));
  }
  ~SleepTarget() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  bool alive() const { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

GperftoolsSpec fuseSpec(const std::string& prefix) {
  GperftoolsSpec s;
  s.heap_prefix = prefix;
  s.signal = SIGCONT;
  return s;
}

// Writes one file at once: a dump of a well-behaved target.
class QuickDumper final : public Dumper {
 public:
  const char* name() const override { return "quick"; }
  DumpOutcome run(const DumpRequest& req) override {
    DumpOutcome o;
    o.dumper = "quick";
    auto a = writeArtifact(req.dir, "quick.txt", "evidence of " + req.target, 0);
    if (a) o.artifacts.push_back(*a);
    o.result = a ? DumpResult::kOk : DumpResult::kFailed;
    return o;
  }
};

// A job for the runner: `dumpers` on `target` (process `pid`, 0: none), ended by `timeout`.
DumpJob dumpJob(const std::string& target, std::vector<std::shared_ptr<Dumper>> dumpers,
                Duration timeout, pid_t pid = 0) {
  DumpJob j;
  j.info.target = target;
  j.info.rule = "oom-imminent";
  j.dumpers = std::move(dumpers);
  j.request.pid = pid;
  j.timeout = timeout;
  return j;
}

class GperftoolsFuseTest : public ::testing::Test {
 public:
  // Ends the stall before anything that would wait for a stuck thread (a runner's destructor).
  void endStall() { fuse_.reset(); }
  // Ends the stall when it goes. Declared after a runner, it goes before it: a failed test ends
  // the stall rather than hanging in the runner's destructor, which joins its jobs.
  struct StallEnder {
    GperftoolsFuseTest* t;
    ~StallEnder() { t->endStall(); }
  };

 protected:
  void SetUp() override {
    if (!StallingFuse::unavailable().empty())
      GTEST_SKIP() << "no FUSE mount can be made here: " << StallingFuse::unavailable();
    ASSERT_EQ(::mkdir((tmp_.path() + "/fuse").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((tmp_.path() + "/bundle").c_str(), 0700), 0);
    std::string why;
    fuse_ = StallingFuse::mount(tmp_.path() + "/fuse", &why);
    ASSERT_TRUE(fuse_) << why;
  }
  void TearDown() override {
    fuse_.reset();
    EXPECT_TRUE(testing::eventually([] { return targetWorkStats().stuck == 0; }));
  }
  // An incident store under the test's directory, prepared; nullptr (and a failure) if not.
  std::shared_ptr<IncidentStore> preparedStore() {
    StoreLimits limits;
    limits.dir = tmp_.path() + "/incidents";
    auto store = std::make_shared<IncidentStore>(limits);
    auto ready = store->prepare();
    if (ready.ok()) return store;
    ADD_FAILURE() << ready.error().describe();
    return nullptr;
  }
  // Takes the runner's finished reports into `reports` until it holds `n`; false if 4 s pass
  // first.
  static bool waitForReports(DumpRunner& runner, std::size_t n, std::vector<DumpReport>& reports) {
    return testing::eventually(
        [&] {
          for (auto& r : runner.takeFinished()) reports.push_back(std::move(r));
          return reports.size() >= n;
        },
        400, 10);
  }
  // Runs a dump on a thread of its own, so that a dump that would wait for good (on the old code)
  // fails the test instead of hanging it.
  DumpOutcome runBounded(Dumper& d, const DumpRequest& req, Duration limit = 5s) {
    DumpOutcome out;
    std::atomic<bool> done{false};
    std::thread t([&] {
      out = d.run(req);
      done = true;
    });
    bool back =
        testing::eventually([&] { return done.load(); }, static_cast<int>(limit / 10ms), 10);
    if (!back) endStall();
    t.join();
    EXPECT_TRUE(back) << "the dump did not return within " << toSeconds(limit)
                      << " s: it waited on the stalled mount";
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<StallingFuse> fuse_;
};

TEST_F(GperftoolsFuseTest, AProfileDirectoryOnAStalledMountEndsTheDumpByItsDeadline) {
  SleepTarget target(tmp_.path() + "/fuse/cpp");
  GperftoolsDumper d(HostPaths(), fuseSpec(tmp_.path() + "/fuse/cpp"));
  DumpRequest req;
  req.target = "app";
  req.pid = target.pid();
  req.dir = tmp_.path() + "/bundle";
  req.max_bytes = 1 << 20;
  SystemClock real;
  req.deadline = real.steadyNow() + 800ms;
  auto o = runBounded(d, req);
  SteadyTime returned = real.steadyNow();
  EXPECT_EQ(o.result, DumpResult::kTimedOut) << o.error;
  EXPECT_THAT(o.error, HasSubstr("does not answer"));
  EXPECT_THAT(o.error, HasSubstr("not signalling"));
  EXPECT_LT(returned - req.deadline, 300ms);
  EXPECT_TRUE(o.artifacts.empty());
  EXPECT_TRUE(target.alive());
  // The next dump of the same target does not wait again: refused at once.
  req.deadline = real.steadyNow() + 10s;
  SteadyTime t0 = real.steadyNow();
  auto again = runBounded(d, req);
  EXPECT_EQ(again.result, DumpResult::kTimedOut);
  EXPECT_THAT(again.error, HasSubstr("still stuck"));
  EXPECT_LT(real.steadyNow() - t0, 1s);
}

TEST_F(GperftoolsFuseTest, AStalledDumpFreesItsSlotByItsTimeoutWhileAnotherTargetsCompletes) {
  auto store = preparedStore();
  ASSERT_TRUE(store);
  SystemClock real;
  SleepTarget stalled(tmp_.path() + "/fuse/cpp");
  {
    DumpRunner runner(store, StormLimits{}, real);  // two slots
    StallEnder end_stall{this};
    auto job = [](const std::string& target, std::shared_ptr<Dumper> d, pid_t pid) {
      return dumpJob(target, {std::move(d)}, 1s, pid);
    };
    SteadyTime t0 = real.steadyNow();
    auto fuse_dumper =
        std::make_shared<GperftoolsDumper>(HostPaths(), fuseSpec(tmp_.path() + "/fuse/cpp"));
    EXPECT_FALSE(runner.submit(job("stalled", fuse_dumper, stalled.pid())));
    EXPECT_FALSE(runner.submit(job("well-behaved", std::make_shared<QuickDumper>(), 0)));
    std::vector<DumpReport> reports;
    ASSERT_TRUE(waitForReports(runner, 2, reports))
        << "the dumps did not end within 4 s (a dump slot is held by the stalled mount)";
    Duration took = real.steadyNow() - t0;
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(runner.running(), 0u);
    for (const auto& r : reports) {
      ASSERT_TRUE(r.published) << r.target << ": " << r.error;
      ASSERT_EQ(r.outcomes.size(), 1u);
      if (r.target == "well-behaved") {
        EXPECT_EQ(r.outcomes[0].result, DumpResult::kOk);
      } else {
        EXPECT_EQ(r.outcomes[0].result, DumpResult::kTimedOut);
        EXPECT_THAT(r.outcomes[0].error, HasSubstr("does not answer"));
      }
    }
    // Both slots are free again: two more dumps start and end, the stuck target's at once.
    EXPECT_FALSE(runner.submit(job("stalled-again", fuse_dumper, stalled.pid())));
    EXPECT_FALSE(runner.submit(job("well-behaved-again", std::make_shared<QuickDumper>(), 0)));
    reports.clear();
    t0 = real.steadyNow();
    ASSERT_TRUE(waitForReports(runner, 2, reports));
    EXPECT_LT(real.steadyNow() - t0, 500ms);
  }
}

// A dumper that waits on the stalled mount with no deadline of its own (as any code that opens a
// target's file without core/target_fs.h's deadline would).
class StuckDumper final : public Dumper {
 public:
  explicit StuckDumper(std::string path) : path_(std::move(path)) {}
  const char* name() const override { return "stuck"; }
  DumpOutcome run(const DumpRequest&) override {
    int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
    DumpOutcome o;
    o.dumper = "stuck";
    o.result = DumpResult::kFailed;
    return o;
  }

 private:
  std::string path_;
};

TEST_F(GperftoolsFuseTest, ADumperStuckPastItsDeadlineIsLeftBehindAndItsSlotFreed) {
  auto store = preparedStore();
  ASSERT_TRUE(store);
  SystemClock real;
  DumpRunner runner(store, StormLimits{}, real);
  StallEnder end_stall{this};
  SteadyTime t0 = real.steadyNow();
  EXPECT_FALSE(runner.submit(dumpJob(
      "app",
      {std::make_shared<StuckDumper>(tmp_.path() + "/fuse/heap"), std::make_shared<QuickDumper>()},
      300ms)));
  std::vector<DumpReport> reports;
  ASSERT_TRUE(waitForReports(runner, 1, reports))
      << "the dump did not end within 4 s: its slot is held by a dumper stuck on the mount";
  EXPECT_LT(real.steadyNow() - t0, 300ms + DumpRunner::kDumperGrace + 500ms);
  EXPECT_EQ(runner.running(), 0u);
  ASSERT_TRUE(reports[0].published) << reports[0].error;
  ASSERT_EQ(reports[0].outcomes.size(), 2u);
  EXPECT_EQ(reports[0].outcomes[0].dumper, "stuck");
  EXPECT_EQ(reports[0].outcomes[0].result, DumpResult::kTimedOut);
  EXPECT_THAT(reports[0].outcomes[0].error, HasSubstr("left behind"));
  EXPECT_EQ(reports[0].outcomes[1].result, DumpResult::kOk) << "the other dumper's work is kept";
}

TEST_F(GperftoolsFuseTest, DumpersLeftBehindAreCappedAndCountedBackWhenTheyReturn) {
  auto store = preparedStore();
  ASSERT_TRUE(store);
  SystemClock real;
  StormLimits storm;
  storm.per_minute = 100;
  storm.target_cooldown = Duration::zero();
  storm.max_running = 8;
  DumpRunner runner(store, storm, real);
  StallEnder end_stall{this};
  auto stuckJob = [&](int i) {
    return dumpJob("app" + std::to_string(i),
                   {std::make_shared<StuckDumper>(tmp_.path() + "/fuse/heap")}, 100ms);
  };
  for (std::size_t i = 0; i < DumpRunner::kMaxStuckDumpers; ++i)
    ASSERT_FALSE(runner.submit(stuckJob(static_cast<int>(i))));
  std::vector<DumpReport> reports;
  ASSERT_TRUE(waitForReports(runner, DumpRunner::kMaxStuckDumpers, reports));
  // Four threads are left stuck: no new dump starts, and the refusal says why.
  auto refused = runner.submit(stuckJob(100));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->kind, DumpRefused::kStuck);
  EXPECT_THAT(refused->why, HasSubstr("busy: 4 dumpers of earlier dumps are stuck"));
  // The mount answers: the threads return, and dumps start again.
  endStall();
  EXPECT_TRUE(testing::eventually([&] { return !runner.submit(stuckJob(101)); }));
}

}  // namespace
}  // namespace oomsentinel
