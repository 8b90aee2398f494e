#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>

#include "core/clock.h"
#include "core/host_paths.h"
#include "core/result.h"
#include "core/signal.h"
#include "core/snapshot.h"
#include "core/units.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  auto s0 = clock.steadyNow();
  auto w0 = clock.wallNow();
  EXPECT_EQ(clock.steadyNow(), s0);
  clock.advance(1500ms);
  EXPECT_EQ(clock.steadyNow() - s0, 1500ms);
  EXPECT_EQ(clock.wallNow() - w0, 1500ms);
  clock.set(10s);
  EXPECT_EQ(clock.steadyNow().time_since_epoch(), 10s);
}

TEST(HostPaths, JoinsWithOneSlashAndTrimsRoots) {
  HostPaths p("/fix/cg/", "/fix/proc/");
  EXPECT_EQ(p.cgroupRoot(), "/fix/cg");
  EXPECT_EQ(p.proc(42, "status"), "/fix/proc/42/status");
  EXPECT_EQ(p.proc(0, "cgroup"), "/fix/proc/self/cgroup");
  EXPECT_EQ(p.memoryPressure(), "/fix/proc/pressure/memory");
  EXPECT_TRUE(p.cgroupRootGiven());
  EXPECT_FALSE(HostPaths().cgroupRootGiven());
  EXPECT_EQ(joinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(joinPath("/a", ""), "/a");
}

TEST(Error, DescribesPathMessageAndErrno) {
  Error e = makeError("cannot read", "/x/memory.stat", ENODEV);
  EXPECT_EQ(e.describe(), "/x/memory.stat: cannot read (No such device)");
  EXPECT_TRUE(e.isGone());
  EXPECT_FALSE(makeError("bad", "", EINVAL).isGone());
  Result<int> r = makeError("nope");
  EXPECT_FALSE(r.ok());
  Result<int> v = 3;
  EXPECT_EQ(*v, 3);
}

TEST(Signals, WellKnownNamesAreFixedAndOthersInterned) {
  EXPECT_EQ(signalName(id(Sig::kWorkingSetRatio)), "working_set_ratio");
  EXPECT_EQ(signalName(id(Sig::kEventsOomKill)), "events_oom_kill");
  EXPECT_EQ(signalName(id(Sig::kTimeToOomSeconds)), "time_to_oom_seconds");
  EXPECT_EQ(internSignal("events_oom_kill"), id(Sig::kEventsOomKill));
  SignalId a = internSignal("stat_test_only_key");
  EXPECT_GE(a, id(Sig::kCount));
  EXPECT_EQ(internSignal("stat_test_only_key"), a);
  EXPECT_EQ(*findSignal("stat_test_only_key"), a);
  EXPECT_FALSE(findSignal("never_seen_signal").has_value());
}

TEST(Snapshot, AbsentIsNotZero) {
  Snapshot s;
  EXPECT_FALSE(s.get(Sig::kUsageBytes).has_value());
  s.set(Sig::kUsageBytes, 0);
  ASSERT_TRUE(s.get(Sig::kUsageBytes).has_value());
  EXPECT_EQ(*s.get(Sig::kUsageBytes), 0);
  s.set(internSignal("stat_another_test_key"), 7);
  EXPECT_EQ(s.size(), 2u);
  s.clear();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.has(Sig::kUsageBytes));
}

TEST(Units, Durations) {
  EXPECT_EQ(*parseDuration("50ms"), 50ms);
  EXPECT_EQ(*parseDuration("1.5s"), 1500ms);
  EXPECT_EQ(*parseDuration("5m"), 300s);
  EXPECT_EQ(*parseDuration(" 2h "), 7200s);
  EXPECT_EQ(parseDuration("10").error().message, "duration '10' needs a unit (ms, s, m, h)");
  EXPECT_FALSE(parseDuration("1d").ok());
  EXPECT_FALSE(parseDuration("-1s").ok());
  EXPECT_FALSE(parseDuration("").ok());
  EXPECT_FALSE(parseDuration("s").ok());
}

TEST(Units, Sizes) {
  EXPECT_EQ(*parseBytes("64MiB"), 64u << 20);
  EXPECT_EQ(*parseBytes("2GiB"), 2ull << 30);
  EXPECT_EQ(*parseBytes("1.5 KiB"), 1536u);
  EXPECT_EQ(*parseBytes("1000"), 1000u);
  EXPECT_FALSE(parseBytes("12 parsecs").ok());
  EXPECT_FALSE(parseBytes("99999999TiB").ok());
  EXPECT_EQ(formatBytes(512), "512 B");
  EXPECT_EQ(formatBytes(64.0 * 1024 * 1024), "64.0 MiB");
  EXPECT_EQ(formatBytes(1.5 * 1024), "1.50 KiB");
}

}  // namespace
}  // namespace oomsentinel
