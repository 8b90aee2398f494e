// Throttling during a dump on a plain-file cgroup v2 tree: memory.high set just above usage and
// recorded first, put back once (end, timeout or shutdown, whichever first), never over someone
// else's value, and recovered from the records after a crash. The real kernel's side is
// DumpThrottleV2Vm (tests/integration).
#include "dumpers/dump_throttle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "dumpers/dump_runner.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::slurp;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1 << 20;

// A cgroup directory as cgroup v2 shows it, with plain files.
std::string cgroup(const TempDir& t, const std::string& name, std::uint64_t current,
                   const std::string& max = "max", const std::string& high = "max") {
  t.write(name + "/memory.current", std::to_string(current) + "\n");
  t.write(name + "/memory.max", max + "\n");
  t.write(name + "/memory.high", high + "\n");
  return t.path() + "/" + name;
}

std::string high(const std::string& dir) {
  std::string s = slurp(dir + "/memory.high");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

TEST(ThrottleLevel, UsagePlusHeadroomPageAlignedBelowTheLimit) {
  std::string why;
  // Default headroom: 1% of memory.max, at least 4 MiB.
  EXPECT_EQ(throttleLevel(100 * kMiB, 1000 * kMiB, std::nullopt, 0, 4096, &why),
            100 * kMiB + 10 * kMiB);
  EXPECT_EQ(throttleLevel(100 * kMiB, 200 * kMiB, std::nullopt, 0, 4096, &why), 104 * kMiB);
  // No limit: 1% of usage, at least 4 MiB.
  EXPECT_EQ(throttleLevel(1000 * kMiB, std::nullopt, std::nullopt, 0, 4096, &why),
            1000 * kMiB + 4096 * ((10 * kMiB + 4095) / 4096));
  // Given headroom, rounded up to a page so the kernel reads back what was written.
  EXPECT_EQ(throttleLevel(100 * kMiB + 1, std::nullopt, std::nullopt, 1000, 4096, &why),
            100 * kMiB + 4096);
  // Too close to the limit for the headroom: half of what is left.
  EXPECT_EQ(throttleLevel(198 * kMiB, 200 * kMiB, std::nullopt, 16 * kMiB, 4096, &why), 199 * kMiB);
}

TEST(ThrottleLevel, NothingToDoIsSaidWhy) {
  std::string why;
  EXPECT_FALSE(throttleLevel(200 * kMiB, 200 * kMiB, std::nullopt, 0, 4096, &why));
  EXPECT_THAT(why, HasSubstr("already at memory.max"));
  EXPECT_FALSE(throttleLevel(200 * kMiB - 4096, 200 * kMiB, std::nullopt, 0, 4096, &why));
  EXPECT_THAT(why, HasSubstr("within a page"));
  // An operator's memory.high already lower than ours: throttling would loosen it.
  EXPECT_FALSE(throttleLevel(100 * kMiB, 1000 * kMiB, 105 * kMiB, 0, 4096, &why));
  EXPECT_THAT(why, HasSubstr("memory.high is already 105.0 MiB"));
}

// The spellings are the log's result field and the result label of
// oomsentinel_dump_throttle_total (docs/metrics.md): renaming one breaks dashboards and alerts.
TEST(DumpThrottle, ResultNamesAreTheDocumentedSpellings) {
  EXPECT_STREQ(throttleResultName(ThrottleResult::kThrottled), "throttled");
  EXPECT_STREQ(throttleResultName(ThrottleResult::kRestored), "restored");
  EXPECT_STREQ(throttleResultName(ThrottleResult::kExpired), "expired");
  EXPECT_STREQ(throttleResultName(ThrottleResult::kReleased), "released");
  EXPECT_STREQ(throttleResultName(ThrottleResult::kRecovered), "recovered");
  EXPECT_STREQ(throttleResultName(ThrottleResult::kSkipped), "skipped");
  EXPECT_STREQ(throttleResultName(ThrottleResult::kFailed), "failed");
  EXPECT_STREQ(throttleResultMessage(ThrottleResult::kExpired),
               "throttle ended: throttle_during_dump.max_duration");
}

TEST(DumpThrottle, SetsHighAboveUsageRecordsItFirstAndPutsItBackOnce) {
  TempDir t;
  std::string cg = cgroup(t, "app", 150 * kMiB, std::to_string(200 * kMiB));
  ThrottleRecords records(t.path() + "/records");
  FakeClock clock;
  ThrottleSpec spec;
  auto started = startThrottle("app", cg, spec, records, clock);
  ASSERT_TRUE(started.hold) << throttleResultName(started.event.result) << ": "
                            << started.event.detail;
  EXPECT_EQ(started.event.result, ThrottleResult::kThrottled);
  EXPECT_TRUE(started.event.held);
  EXPECT_THAT(started.event.detail, HasSubstr("memory.high max -> 154.0 MiB"));
  EXPECT_EQ(high(cg), std::to_string(154 * kMiB));
  // The record is on disk, mode 0600 in a 0700 directory, and says how to put it back.
  auto listed = records.list();
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_TRUE(listed[0].second.ok()) << listed[0].second.error().describe();
  EXPECT_EQ(listed[0].second->previous, "max");
  EXPECT_EQ(listed[0].second->set, 154 * kMiB);
  EXPECT_EQ(listed[0].second->cgroup_dir, cg);
  struct stat st {};
  ASSERT_EQ(::stat(listed[0].first.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(records.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  clock.advance(1200ms);
  auto ended = started.hold->release(ThrottleResult::kRestored, clock);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->result, ThrottleResult::kRestored);
  EXPECT_FALSE(ended->held);
  EXPECT_THAT(ended->detail, HasSubstr("154.0 MiB -> max after 1.2s"));
  EXPECT_EQ(high(cg), "max");
  EXPECT_TRUE(records.list().empty());
  // Timeout and shutdown after the end change nothing.
  t.write("app/memory.high", "12345\n");
  EXPECT_FALSE(started.hold->release(ThrottleResult::kExpired, clock));
  EXPECT_EQ(high(cg), "12345");
}

TEST(DumpThrottle, APreviousByteValueIsPutBackExactly) {
  TempDir t;
  std::string cg = cgroup(t, "app", 100 * kMiB, "max", std::to_string(900 * kMiB));
  ThrottleRecords records(t.path() + "/records");
  FakeClock clock;
  ThrottleSpec spec;
  spec.headroom = 8 * kMiB;
  auto started = startThrottle("app", cg, spec, records, clock);
  ASSERT_TRUE(started.hold) << started.event.detail;
  EXPECT_EQ(high(cg), std::to_string(108 * kMiB));
  auto ended = started.hold->release(ThrottleResult::kExpired, clock);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->result, ThrottleResult::kExpired);
  EXPECT_EQ(high(cg), std::to_string(900 * kMiB));
}

TEST(DumpThrottle, AValueSomeoneElseSetMeanwhileIsLeftAlone) {
  TempDir t;
  std::string cg = cgroup(t, "app", 100 * kMiB);
  ThrottleRecords records(t.path() + "/records");
  FakeClock clock;
  auto started = startThrottle("app", cg, ThrottleSpec{}, records, clock);
  ASSERT_TRUE(started.hold);
  t.write("app/memory.high", std::to_string(300 * kMiB) + "\n");  // systemctl set-property
  auto ended = started.hold->release(ThrottleResult::kRestored, clock);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->result, ThrottleResult::kSkipped);
  EXPECT_THAT(ended->detail, HasSubstr("by someone else"));
  EXPECT_EQ(high(cg), std::to_string(300 * kMiB));
  EXPECT_TRUE(records.list().empty());
}

TEST(DumpThrottle, WithoutMemoryHighOrARecordNothingIsChanged) {
  TempDir t;
  FakeClock clock;
  // cgroup v1: no memory.high.
  t.write("v1/memory.usage_in_bytes", "1000\n");
  auto v1 = startThrottle("app", t.path() + "/v1", ThrottleSpec{}, ThrottleRecords(t.path() + "/r"),
                          clock);
  EXPECT_FALSE(v1.hold);
  EXPECT_EQ(v1.event.result, ThrottleResult::kSkipped);
  EXPECT_THAT(v1.event.detail, HasSubstr("throttling needs cgroup v2"));
  // The records directory cannot be made (its parent is a file): memory.high stays as it was.
  std::string cg = cgroup(t, "app", 100 * kMiB);
  t.write("file", "x");
  auto norecord =
      startThrottle("app", cg, ThrottleSpec{}, ThrottleRecords(t.path() + "/file/records"), clock);
  EXPECT_FALSE(norecord.hold);
  EXPECT_EQ(norecord.event.result, ThrottleResult::kFailed);
  EXPECT_THAT(norecord.event.detail, HasSubstr("cannot record the change"));
  EXPECT_EQ(high(cg), "max");
  // Garbage in memory.current is an error that quotes it.
  t.write("app/memory.current", "lots\n");
  auto garbage = startThrottle("app", cg, ThrottleSpec{}, ThrottleRecords(t.path() + "/r"), clock);
  EXPECT_EQ(garbage.event.result, ThrottleResult::kFailed);
  EXPECT_THAT(garbage.event.detail, HasSubstr("lots"));
  EXPECT_EQ(high(cg), "max");
}

TEST(DumpThrottle, ACrashedRunsThrottleIsPutBackAtTheNextStartOnlyWhereItIsStillOurs) {
  TempDir t;
  FakeClock clock;
  ThrottleRecords records(t.path() + "/records");
  std::string ours = cgroup(t, "ours", 100 * kMiB);
  std::string changed = cgroup(t, "changed", 100 * kMiB);
  std::string gone = cgroup(t, "gone", 100 * kMiB);
  std::string remade = cgroup(t, "remade", 100 * kMiB);
  // The daemon died holding them: nothing calls release() (a hold puts nothing back by itself).
  std::vector<std::unique_ptr<ThrottleHold>> died;
  for (const auto& cg : {ours, changed, gone, remade}) {
    auto s = startThrottle("app", cg, ThrottleSpec{}, records, clock);
    ASSERT_TRUE(s.hold) << s.event.detail;
    died.push_back(std::move(s.hold));
  }
  EXPECT_EQ(records.list().size(), 4u);
  t.write("changed/memory.high", "max\n");
  ASSERT_EQ(std::system(("rm -r " + gone).c_str()), 0);
  std::string remade_value = high(remade);
  // Made again as a real cgroup would be: a new inode. The new directory is made before the old
  // one is removed, since a file system may hand a freed inode number straight back (cgroupfs
  // does not: its ids only grow), which made this fixture say "same cgroup" now and then.
  ASSERT_EQ(std::system(("mkdir " + remade + ".new && rm -r " + remade + " && mv " + remade +
                         ".new " + remade)
                            .c_str()),
            0);
  t.write("remade/memory.high", remade_value + "\n");  // same value, another cgroup
  t.write("records/bad.json", "{\"cgroup_dir\": 5}\n");

  auto events = recoverThrottles(records, clock);
  ASSERT_EQ(events.size(), 5u);
  std::map<std::string, ThrottleEvent> by;
  for (const auto& e : events) by[e.cgroup_dir] = e;
  EXPECT_EQ(by[ours].result, ThrottleResult::kRecovered);
  EXPECT_EQ(high(ours), "max");
  EXPECT_EQ(by[changed].result, ThrottleResult::kSkipped);
  EXPECT_THAT(by[changed].detail, HasSubstr("someone else"));
  EXPECT_EQ(by[gone].result, ThrottleResult::kSkipped);
  EXPECT_THAT(by[gone].detail, HasSubstr("gone"));
  EXPECT_EQ(by[remade].result, ThrottleResult::kSkipped);
  EXPECT_THAT(by[remade].detail, HasSubstr("made again"));
  EXPECT_EQ(high(remade), remade_value);
  EXPECT_EQ(by[""].result, ThrottleResult::kFailed);
  EXPECT_THAT(by[""].detail, HasSubstr("bad.json"));
  // Acted-on records are gone; the unreadable one stays for a human.
  auto left = records.list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_THAT(left[0].first, HasSubstr("bad.json"));
}

// --- the runner ---------------------------------------------------------------------------

// Records memory.high when it runs and when it ends, and sleeps in between.
class HighWatcher final : public Dumper {
 public:
  HighWatcher(std::string cg, Duration sleep) : cg_(std::move(cg)), sleep_(sleep) {}
  const char* name() const override { return "exec"; }
  DumpOutcome run(const DumpRequest&) override {
    at_start = high(cg_);
    std::this_thread::sleep_for(sleep_);
    at_end = high(cg_);
    DumpOutcome o;
    o.dumper = "exec";
    o.result = DumpResult::kOk;
    return o;
  }
  std::string at_start, at_end;

 private:
  std::string cg_;
  Duration sleep_;
};

struct RunnerFixture {
  TempDir t;
  SystemClock clock;
  std::string cg = cgroup(t, "app", 150 * kMiB, std::to_string(200 * kMiB));
  std::shared_ptr<IncidentStore> store = [&] {
    StoreLimits l;
    l.dir = t.path() + "/incidents";
    l.min_free = 0;
    auto s = std::make_shared<IncidentStore>(l);
    EXPECT_TRUE(s->prepare().ok());
    return s;
  }();
  DumpRunner runner{store, StormLimits{}, clock};
  RunnerFixture() {
    runner.setThrottleRecords(std::make_shared<ThrottleRecords>(t.path() + "/records"));
  }
  DumpJob job(std::shared_ptr<Dumper> d, Duration max) {
    DumpJob j;
    j.info.target = "app";
    j.info.rule = "oom-imminent";
    j.request.cgroup_dir = cg;
    j.dumpers = {std::move(d)};
    j.throttle = ThrottleSpec{max, 0};
    return j;
  }
  std::vector<ThrottleEvent> events(std::size_t n, Duration wait = 10s) {
    std::vector<ThrottleEvent> all;
    SteadyTime until = clock.steadyNow() + wait;
    while (all.size() < n && clock.steadyNow() < until) {
      for (auto& e : runner.takeThrottleEvents()) all.push_back(std::move(e));
      std::this_thread::sleep_for(2ms);
    }
    return all;
  }
};

TEST(DumpRunnerThrottle, HeldWhileTheDumpersRunAndPutBackWhenTheyEnd) {
  RunnerFixture f;
  auto d = std::make_shared<HighWatcher>(f.cg, 100ms);
  ASSERT_FALSE(f.runner.submit(f.job(d, 10s)));
  auto ev = f.events(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].result, ThrottleResult::kThrottled);
  EXPECT_EQ(ev[1].result, ThrottleResult::kRestored);
  ASSERT_TRUE(f.runner.drain(5s));
  EXPECT_EQ(d->at_start, std::to_string(154 * kMiB));
  EXPECT_EQ(d->at_end, std::to_string(154 * kMiB));
  EXPECT_EQ(high(f.cg), "max");
}

TEST(DumpRunnerThrottle, MaxDurationEndsTheThrottleWhileTheDumpGoesOn) {
  RunnerFixture f;
  auto d = std::make_shared<HighWatcher>(f.cg, 600ms);
  ASSERT_FALSE(f.runner.submit(f.job(d, 150ms)));
  auto ev = f.events(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].result, ThrottleResult::kExpired);
  ASSERT_TRUE(f.runner.drain(5s));
  EXPECT_EQ(d->at_start, std::to_string(154 * kMiB));
  EXPECT_EQ(d->at_end, "max");              // put back before the dumper finished
  EXPECT_TRUE(f.events(1, 200ms).empty());  // nothing more at the end of the dump
}

TEST(DumpRunnerThrottle, ShutdownPutsItBackAtOnce) {
  RunnerFixture f;
  auto d = std::make_shared<HighWatcher>(f.cg, 800ms);
  ASSERT_FALSE(f.runner.submit(f.job(d, 10s)));
  ASSERT_EQ(f.events(1).size(), 1u);
  EXPECT_EQ(high(f.cg), std::to_string(154 * kMiB));
  f.runner.releaseThrottles();
  EXPECT_EQ(high(f.cg), "max");
  auto ev = f.runner.takeThrottleEvents();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].result, ThrottleResult::kReleased);
  ASSERT_TRUE(f.runner.drain(5s));
  EXPECT_TRUE(f.runner.takeThrottleEvents().empty());
}

TEST(DumpRunnerThrottle, NoRecordsDirectoryMeansNoThrottle) {
  RunnerFixture f;
  f.runner.setThrottleRecords(nullptr);
  auto d = std::make_shared<HighWatcher>(f.cg, 10ms);
  ASSERT_FALSE(f.runner.submit(f.job(d, 10s)));
  ASSERT_TRUE(f.runner.drain(5s));
  EXPECT_EQ(d->at_start, "max");
  EXPECT_TRUE(f.runner.takeThrottleEvents().empty());
}

}  // namespace
}  // namespace oomsentinel
