// The threshold armer (daemon/threshold_armer.h): cgroup v1 usage thresholds registered on its
// own thread, so that the loop never waits for the kernel's grace periods. A fake registration
// that waits for the test shows that submit() returns while one is in progress, that a newer job
// replaces a waiting one of its target, that cancel() forgets one, and that the armer's end drops
// what waits and waits only for the registration in progress. The real registration on a real
// cgroup is the daemon's (tests/integration/wakeups_v1_test.cc).
#include "daemon/threshold_armer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

// A registration that fails (no cgroup is needed for the fake) after the test lets it go, and
// records which directories it was asked for, in order.
class ArmGate {
 public:
  ThresholdArmer::ArmFn fn() {
    return [this](const std::string& dir, const std::vector<std::uint64_t>& thresholds) {
      std::unique_lock<std::mutex> lock(mu_);
      asked_.push_back(dir + ":" + std::to_string(thresholds.size()));
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_ > 0; });
      --open_;
      return Result<V1MemoryEvents>(makeError("fake registration", dir));
    };
  }
  void let(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ += n;
    cv_.notify_all();
  }
  std::vector<std::string> asked() {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_;
  }
  void waitAsked(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return asked_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int open_ = 0;
  std::vector<std::string> asked_;
};

ThresholdArmer::Job armJob(const std::string& target, std::uint64_t generation,
                           std::size_t levels = 2) {
  return {target, generation, "/cg/" + target, std::vector<std::uint64_t>(levels, 1)};
}

std::vector<ThresholdArmer::Done> takeArmed(ThresholdArmer& armer, std::size_t n) {
  std::vector<ThresholdArmer::Done> all;
  EXPECT_TRUE(testing::eventually([&] {
    for (auto& d : armer.takeDone()) all.push_back(std::move(d));
    return all.size() >= n;
  }));
  return all;
}

TEST(ThresholdArmer, SubmitReturnsWhileARegistrationIsInProgressAndItsAnswerComesLater) {
  ArmGate gate;
  ThresholdArmer armer(gate.fn());
  armer.submit(armJob("a", 7, 4));
  gate.waitAsked(1);  // in progress, held by the gate: the test's thread is free
  EXPECT_TRUE(armer.takeDone().empty());
  gate.let(1);
  auto done = takeArmed(armer, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].job.target, "a");
  EXPECT_EQ(done[0].job.generation, 7u);
  EXPECT_EQ(done[0].job.dir, "/cg/a");
  ASSERT_FALSE(done[0].events.ok());
  EXPECT_NE(done[0].events.error().describe().find("fake registration"), std::string::npos);
  EXPECT_EQ(gate.asked(), std::vector<std::string>{"/cg/a:4"});
}

TEST(ThresholdArmer, ANewerJobReplacesTheWaitingOneOfItsTargetAndCancelForgetsOne) {
  ArmGate gate;
  ThresholdArmer armer(gate.fn());
  armer.submit(armJob("a", 1));
  gate.waitAsked(1);
  armer.submit(armJob("a", 2, 3));
  armer.submit(armJob("b", 3));
  armer.submit(armJob("a", 4, 5));  // in place of a's job 2, still before b's
  armer.submit(armJob("c", 5));
  EXPECT_EQ(armer.waiting(), 3u);
  armer.cancel("c");
  EXPECT_EQ(armer.waiting(), 2u);
  gate.let(3);
  auto done = takeArmed(armer, 3);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].job.generation, 1u);
  EXPECT_EQ(done[1].job.generation, 4u);
  EXPECT_EQ(done[2].job.generation, 3u);
  EXPECT_EQ(gate.asked(), (std::vector<std::string>{"/cg/a:2", "/cg/a:5", "/cg/b:2"}));
  EXPECT_EQ(armer.waiting(), 0u);
}

TEST(ThresholdArmer, ItsEndDropsTheWaitingJobsAndWaitsOnlyForTheOneInProgress) {
  ArmGate gate;
  auto armer = std::make_unique<ThresholdArmer>(gate.fn());
  armer->submit(armJob("a", 1));
  gate.waitAsked(1);
  armer->submit(armJob("b", 2));
  armer->submit(armJob("c", 3));
  std::thread ending([&] { armer.reset(); });
  // The end has dropped b and c and waits for a well before this; were it later, b would be
  // asked for and the test fail, never pass wrongly.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  gate.let(3);
  ending.join();
  EXPECT_EQ(gate.asked(), std::vector<std::string>{"/cg/a:2"});
}

TEST(ThresholdArmer, NoThreadAndNothingDoneWithoutAJob) {
  ArmGate gate;
  ThresholdArmer armer(gate.fn());
  EXPECT_TRUE(armer.takeDone().empty());
  EXPECT_EQ(armer.waiting(), 0u);
  EXPECT_TRUE(gate.asked().empty());
}

}  // namespace
}  // namespace oomsentinel
