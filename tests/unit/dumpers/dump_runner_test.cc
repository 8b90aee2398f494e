// The dump action's runner: storm control decided at once, the proc snapshot first, the other
// dumpers side by side within the deadline, and a published bundle (or the reason there is none).
#include "dumpers/dump_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "dumpers/artifact.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

// Writes one file, after sleeping `delay` (or until the deadline, whichever is first).
class FakeDumper final : public Dumper {
 public:
  FakeDumper(std::string name, Duration delay, std::atomic<int>* order = nullptr)
      : name_(std::move(name)), delay_(delay), order_(order) {}
  const char* name() const override { return name_.c_str(); }
  DumpOutcome run(const DumpRequest& req) override {
    if (order_) seq_ = (*order_)++;
    DumpOutcome o;
    o.dumper = name_;
    SystemClock real;
    SteadyTime until = std::min(real.steadyNow() + delay_, req.deadline);
    while (real.steadyNow() < until) std::this_thread::sleep_for(1ms);
    if (real.steadyNow() >= req.deadline && delay_ > Duration::zero()) {
      o.result = DumpResult::kTimedOut;
      o.error = "deadline";
      return o;
    }
    auto a = writeArtifact(req.dir, name_ + ".txt", "evidence of " + req.target, 0);
    if (a) o.artifacts.push_back(*a);
    o.result = a ? DumpResult::kOk : DumpResult::kFailed;
    return o;
  }
  int seq_ = -1;

 private:
  std::string name_;
  Duration delay_;
  std::atomic<int>* order_;
};

DumpJob job(const std::string& target, std::vector<std::shared_ptr<Dumper>> dumpers,
            Duration timeout = 5s) {
  DumpJob j;
  j.info.target = target;
  j.info.rule = "oom-imminent";
  j.info.severity = "critical";
  j.info.expr = "working_set_ratio > 95%";
  j.info.values = {{"working_set_ratio", 0.97}};
  j.dumpers = std::move(dumpers);
  j.timeout = timeout;
  return j;
}

std::shared_ptr<IncidentStore> store(const TempDir& dir, std::uint64_t min_free = 0) {
  StoreLimits l;
  l.dir = dir.path() + "/incidents";
  l.min_free = min_free;
  auto s = std::make_shared<IncidentStore>(l);
  EXPECT_TRUE(s->prepare().ok());
  return s;
}

std::vector<DumpReport> waitFor(DumpRunner& r, std::size_t n) {
  std::vector<DumpReport> all;
  SystemClock real;
  SteadyTime until = real.steadyNow() + 10s;
  while (all.size() < n && real.steadyNow() < until) {
    for (auto& x : r.takeFinished()) all.push_back(std::move(x));
    std::this_thread::sleep_for(2ms);
  }
  return all;
}

TEST(DumpRunner, ProcFirstThenTheOthersSideBySideThenPublished) {
  TempDir dir;
  FakeClock clock;
  DumpRunner runner(store(dir), StormLimits{}, clock);
  std::atomic<int> order{0};
  auto proc = std::make_shared<FakeDumper>("proc", 0ms, &order);
  auto a = std::make_shared<FakeDumper>("slow_a", 300ms, &order);
  auto b = std::make_shared<FakeDumper>("slow_b", 300ms, &order);
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  // The slow ones are listed first: proc still runs before them.
  EXPECT_FALSE(runner.submit(job("app", {a, b, proc})));
  EXPECT_LT(real.steadyNow() - t0, 50ms) << "submit waited for the dump";
  auto reports = waitFor(runner, 1);
  ASSERT_EQ(reports.size(), 1u);
  const DumpReport& r = reports[0];
  ASSERT_TRUE(r.published) << r.error;
  EXPECT_EQ(proc->seq_, 0);
  EXPECT_LT(r.took, 550ms) << "the two 300ms dumpers did not run side by side";
  ASSERT_EQ(r.outcomes.size(), 3u);
  EXPECT_EQ(r.outcomes[0].dumper, "proc");
  auto listed = IncidentStore::list(dir.path() + "/incidents");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].path, r.path);
  EXPECT_EQ((*listed)[0].artifacts, 3u);
}

TEST(DumpRunner, TheDeadlineBoundsEveryDumper) {
  TempDir dir;
  FakeClock clock;
  DumpRunner runner(store(dir), StormLimits{}, clock);
  EXPECT_FALSE(runner.submit(job("app", {std::make_shared<FakeDumper>("hangs", 60s)}, 200ms)));
  auto reports = waitFor(runner, 1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].published) << "a bundle with the failure recorded is still published";
  EXPECT_LT(reports[0].took, 2s);
  EXPECT_EQ(reports[0].outcomes[0].result, DumpResult::kTimedOut);
}

TEST(DumpRunner, StormControlRefusesAtOnceAndSaysWhy) {
  TempDir dir;
  FakeClock clock;
  StormLimits limits;
  limits.per_minute = 3;
  limits.target_cooldown = 10s;
  limits.max_running = 10;
  DumpRunner runner(store(dir), limits, clock);
  auto quick = [] {
    return std::vector<std::shared_ptr<Dumper>>{std::make_shared<FakeDumper>("proc", 0ms)};
  };
  EXPECT_FALSE(runner.submit(job("a", quick())));
  auto again = runner.submit(job("a", quick()));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kind, DumpRefused::kCooldown);
  EXPECT_THAT(again->why,
              HasSubstr("cooldown: the last bundle of a began 0ms ago (dump.target_cooldown 10s)"));
  EXPECT_FALSE(runner.submit(job("b", quick())));
  EXPECT_FALSE(runner.submit(job("c", quick())));
  auto storm = runner.submit(job("d", quick()));
  ASSERT_TRUE(storm);
  EXPECT_EQ(storm->kind, DumpRefused::kStormLimit);
  EXPECT_THAT(storm->why, HasSubstr("storm limit: 3 bundles began in the last minute"));
  clock.advance(60s);
  EXPECT_FALSE(runner.submit(job("d", quick())));
  EXPECT_FALSE(runner.submit(job("a", quick()))) << "a's cooldown is over";
  EXPECT_EQ(waitFor(runner, 5).size(), 5u);

  StormLimits one;
  one.max_running = 1;
  one.target_cooldown = 0s;
  DumpRunner busy(store(dir), one, clock);
  EXPECT_FALSE(busy.submit(job("x", {std::make_shared<FakeDumper>("slow", 300ms)})));
  auto refused = busy.submit(job("y", quick()));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->kind, DumpRefused::kBusy);
  EXPECT_THAT(refused->why, HasSubstr("busy: 1 dumps are still running"));
  EXPECT_TRUE(busy.drain(5s));
  EXPECT_FALSE(busy.submit(job("y", quick())));
  EXPECT_TRUE(busy.drain(5s));
}

TEST(DumpRunner, NoFreeSpaceMeansSkippedWithTheReason) {
  TempDir dir;
  FakeClock clock;
  DumpRunner runner(store(dir, /*min_free=*/std::uint64_t{1} << 62), StormLimits{}, clock);
  EXPECT_FALSE(runner.submit(job("app", {std::make_shared<FakeDumper>("proc", 0ms)})));
  auto reports = waitFor(runner, 1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].published);
  EXPECT_THAT(reports[0].error, HasSubstr("skipped: "));
  auto listed = IncidentStore::list(dir.path() + "/incidents");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

// Writes three artifacts of 600 KiB each into a bundle capped at 1 MiB.
class BigDumper final : public Dumper {
 public:
  const char* name() const override { return "big"; }
  DumpOutcome run(const DumpRequest& req) override {
    DumpOutcome o;
    o.dumper = "big";
    o.result = DumpResult::kOk;
    for (const char* f : {"one.bin", "two.bin", "three.bin"}) {
      auto a = writeArtifact(req.dir, f, std::string(600 << 10, 'x'), 0);
      if (a) {
        o.artifacts.push_back(*a);
      } else {
        o.result = DumpResult::kPartial;
        o.error += (o.error.empty() ? "" : "; ") + std::string(f) + ": " + a.error().message;
      }
    }
    return o;
  }
};

TEST(DumpRunner, TheBundleCapCutsTheArtifactThatReachesItAndTheManifestSaysWhy) {
  TempDir dir;
  FakeClock clock;
  StoreLimits l;
  l.dir = dir.path() + "/incidents";
  l.min_free = 0;
  l.max_bundle_bytes = 1 << 20;
  auto s = std::make_shared<IncidentStore>(l);
  ASSERT_TRUE(s->prepare().ok());
  DumpRunner runner(s, StormLimits{}, clock);
  EXPECT_FALSE(runner.submit(job("app", {std::make_shared<BigDumper>()})));
  auto reports = waitFor(runner, 1);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_TRUE(reports[0].published) << reports[0].error;
  auto m = nlohmann::json::parse(testing::slurp(reports[0].path + "/manifest.json"));
  ASSERT_EQ(m["artifacts"].size(), 2u) << m.dump(2);
  EXPECT_EQ(m["artifacts"][0]["bytes"], 600 << 10);
  EXPECT_EQ(m["artifacts"][0]["truncated"], false);
  EXPECT_FALSE(m["artifacts"][0].contains("truncated_by"));
  EXPECT_EQ(m["artifacts"][1]["bytes"], (1 << 20) - (600 << 10));
  EXPECT_EQ(m["artifacts"][1]["truncated"], true);
  EXPECT_EQ(m["artifacts"][1]["truncated_by"], "dump.max_bundle_bytes");
  EXPECT_EQ(m["dumps"][0]["result"], "partial");
  EXPECT_THAT(m["dumps"][0]["error"].get<std::string>(),
              HasSubstr("three.bin: not written: the bundle already holds 1.00 MiB, its cap "
                        "(dump.max_bundle_bytes 1.00 MiB)"));
}

}  // namespace
}  // namespace oomsentinel
