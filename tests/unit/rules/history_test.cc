// History: the per-signal rings, the window functions over them, and time-to-OOM.
#include "rules/history.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "core/clock.h"
#include "core/signal.h"
#include "core/snapshot.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;

using testing::kGiB;
using testing::kInf;
using testing::kMiB;

void push(History& h, Sig s, double t, double v) {
  Snapshot snap;
  snap.set(s, v);
  h.append(snap, t);
}

// Steady seconds as the engine computes them from a time point: through nanoseconds.
double at(Duration d) { return toSeconds(d); }

void expectKnown(Num n, double want, double tol = 0) {
  EXPECT_TRUE(n.known);
  if (tol == 0)
    EXPECT_EQ(n.value, want);
  else
    EXPECT_NEAR(n.value, want, tol);
}

// ---------------------------------------------------------------------------------------------
// rate

TEST(HistoryRate, CounterPerSecond) {
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  for (int t = 0; t <= 10; ++t) push(h, Sig::kPgscan, t, 5000 + 100.0 * t);
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 10, 10), 100);
  // Only the last 4 seconds: (6000 - 5600) / 4.
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 4, 10), 100);
}

TEST(HistoryRate, IrregularSpacing) {
  History h(100ms);
  h.require(id(Sig::kPgmajfault), 10s);
  const double times[] = {0, 0.5, 3, 7, 10};
  for (double t : times) push(h, Sig::kPgmajfault, t, 40 * t);
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgmajfault), 10, 10), 40, 1e-12);
}

TEST(HistoryRate, CounterResetCountsThePostResetValue) {
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  const double values[] = {1000, 1100, 1200, 50, 150};  // reset between t=2 and t=3
  for (int t = 0; t < 5; ++t) push(h, Sig::kPgscan, t, values[t]);
  // 100 + 100 + 50 (counted since the reset) + 100 over 4 seconds.
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 10, 4), 350.0 / 4);
  // delta is not reset-aware: it is the plain difference of a gauge.
  expectKnown(h.apply(WindowFn::kDelta, id(Sig::kPgscan), 10, 4), 150 - 1000);
}

TEST(HistoryRate, ResetToZero) {
  History h(1s);
  h.require(id(Sig::kGcCycles), 10s);
  const double values[] = {1000, 1100, 0, 100};
  for (int t = 0; t < 4; ++t) push(h, Sig::kGcCycles, t, values[t]);
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kGcCycles), 10, 3), 200.0 / 3);
}

TEST(HistoryRate, GapInSamples) {
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  // The collector missed t=4..7; the counter kept counting 100/s meanwhile.
  for (int t : {0, 1, 2, 3, 8}) push(h, Sig::kPgscan, t, 100.0 * t);
  // A 1s window right after the gap holds one sample: unknown.
  EXPECT_FALSE(h.apply(WindowFn::kRate, id(Sig::kPgscan), 1, 8).known);
  // A longer one reaches across the gap: 500 over 5s.
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 5, 8), 100);
  for (int t : {9, 10}) push(h, Sig::kPgscan, t, 100.0 * t);
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 10, 10), 100);
  // A 5s window holds t=8,9,10 only; the rate is over their 2s span.
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 5, 10), 100);
}

TEST(HistoryRate, FewerThanTwoSamplesIsUnknown) {
  History h(1s);
  SignalId sig = id(Sig::kPgscan);
  h.require(sig, 10s);
  for (WindowFn fn : {WindowFn::kRate, WindowFn::kDeriv, WindowFn::kDelta, WindowFn::kAvgOver,
                      WindowFn::kMaxOver, WindowFn::kMinOver})
    EXPECT_FALSE(h.apply(fn, sig, 10, 0).known) << windowFnName(fn) << " with no samples";
  push(h, Sig::kPgscan, 5, 123);
  for (WindowFn fn : {WindowFn::kRate, WindowFn::kDeriv, WindowFn::kDelta})
    EXPECT_FALSE(h.apply(fn, sig, 10, 5).known) << windowFnName(fn) << " with one sample";
  // A level over one sample is that sample.
  for (WindowFn fn : {WindowFn::kAvgOver, WindowFn::kMaxOver, WindowFn::kMinOver})
    expectKnown(h.apply(fn, sig, 10, 5), 123);
  // Every sample older than the window: unknown again.
  for (WindowFn fn : {WindowFn::kRate, WindowFn::kAvgOver, WindowFn::kMaxOver})
    EXPECT_FALSE(h.apply(fn, sig, 10, 30).known) << windowFnName(fn) << " with stale samples";
}

TEST(HistoryRate, UnrequiredSignalIsUnknownAndNotRecorded) {
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  for (int t = 0; t < 5; ++t) {
    Snapshot s;
    s.set(Sig::kPgscan, t);
    s.set(Sig::kPgfault, t);
    h.append(s, t);
  }
  EXPECT_EQ(h.series(id(Sig::kPgfault)), nullptr);
  EXPECT_FALSE(h.apply(WindowFn::kRate, id(Sig::kPgfault), 10, 4).known);
  ASSERT_NE(h.series(id(Sig::kPgscan)), nullptr);
  EXPECT_EQ(h.series(id(Sig::kPgscan))->size(), 5u);
}

TEST(HistoryRate, AbsentSampleIsNotRecordedAsZero) {
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  push(h, Sig::kPgscan, 0, 100);
  h.append(Snapshot(), 1);  // pgscan absent at t=1
  push(h, Sig::kPgscan, 2, 300);
  ASSERT_EQ(h.series(id(Sig::kPgscan))->size(), 2u);
  expectKnown(h.apply(WindowFn::kMinOver, id(Sig::kPgscan), 10, 2), 100);
  expectKnown(h.apply(WindowFn::kRate, id(Sig::kPgscan), 10, 2), 100);
}

// ---------------------------------------------------------------------------------------------
// deriv, delta, avg/max/min

TEST(HistoryDeriv, ExactSlopeOfALine) {
  History h(100ms);
  h.require(id(Sig::kUsageBytes), 60s);
  // Eleven days of uptime in the steady clock: the fit must not lose the slope to the offset.
  const Duration t0 = 950'000s;
  double now = 0;
  for (int k = 0; k <= 600; ++k) {
    now = at(t0 + k * 100ms);
    push(h, Sig::kUsageBytes, now, 3 * kGiB + 3.5 * kMiB * (k * 0.1));
  }
  expectKnown(h.apply(WindowFn::kDeriv, id(Sig::kUsageBytes), 60, now), 3.5 * kMiB, 1e-6 * kMiB);
  expectKnown(h.apply(WindowFn::kDeriv, id(Sig::kUsageBytes), 10, now), 3.5 * kMiB, 1e-6 * kMiB);

  Fit f = h.fit(id(Sig::kUsageBytes), 10, now);
  EXPECT_EQ(f.points, 101u);
  EXPECT_NEAR(f.span, 10, 1e-6);
  EXPECT_DOUBLE_EQ(f.last, 3 * kGiB + 3.5 * kMiB * 60);
}

TEST(HistoryDeriv, ShrinkingLine) {
  History h(1s);
  h.require(id(Sig::kUsageBytes), 30s);
  for (int t = 0; t <= 30; ++t) push(h, Sig::kUsageBytes, t, 1e9 - 2500.0 * t);
  expectKnown(h.apply(WindowFn::kDeriv, id(Sig::kUsageBytes), 30, 30), -2500, 1e-6);
}

// Least squares, computed independently: mean-centred, in long double.
double referenceSlope(const std::vector<double>& t, const std::vector<double>& v) {
  long double mt = 0, mv = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    mt += t[i];
    mv += v[i];
  }
  mt /= t.size();
  mv /= t.size();
  long double num = 0, den = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    num += (t[i] - mt) * (v[i] - mv);
    den += (t[i] - mt) * (t[i] - mt);
  }
  return static_cast<double>(num / den);
}

TEST(HistoryDeriv, NoisyDataIsTheLeastSquaresSlope) {
  History h(100ms);
  h.require(id(Sig::kRssBytes), 30s);
  std::vector<double> ts, vs;
  std::uint32_t x = 12345;  // a fixed LCG: the same noise on every platform
  for (int k = 0; k <= 200; ++k) {
    x = x * 1664525u + 1013904223u;
    double noise = (static_cast<double>(x >> 8) / static_cast<double>(1u << 24) - 0.5) * 2000;
    double t = 100 + k * 0.1;
    double v = 5e8 + 1000 * (t - 100) + noise;
    ts.push_back(t);
    vs.push_back(v);
    push(h, Sig::kRssBytes, t, v);
  }
  Num d = h.apply(WindowFn::kDeriv, id(Sig::kRssBytes), 30, ts.back());
  ASSERT_TRUE(d.known);
  EXPECT_NEAR(d.value, referenceSlope(ts, vs), 1e-6);
  // Close to the true slope, and not the endpoints' difference quotient.
  EXPECT_NEAR(d.value, 1000, 50);
  double endpoints = (vs.back() - vs.front()) / (ts.back() - ts.front());
  EXPECT_GT(std::fabs(d.value - endpoints), 1e-3);
}

TEST(HistoryDelta, LastMinusFirstInTheWindow) {
  History h(1s);
  h.require(id(Sig::kWorkingSetBytes), 10s);
  const double values[] = {500, 100, 70, 40};
  for (int t = 0; t < 4; ++t) push(h, Sig::kWorkingSetBytes, t, values[t]);
  expectKnown(h.apply(WindowFn::kDelta, id(Sig::kWorkingSetBytes), 10, 3), -460);
  expectKnown(h.apply(WindowFn::kDelta, id(Sig::kWorkingSetBytes), 2, 3), -60);
}

TEST(HistoryLevels, AvgMaxMin) {
  History h(1s);
  h.require(id(Sig::kPsiSomeAvg10), 10s);
  const double values[] = {5, 1, 9, 3};
  for (int t = 0; t < 4; ++t) push(h, Sig::kPsiSomeAvg10, t, values[t]);
  SignalId sig = id(Sig::kPsiSomeAvg10);
  expectKnown(h.apply(WindowFn::kAvgOver, sig, 10, 3), 4.5);
  expectKnown(h.apply(WindowFn::kMaxOver, sig, 10, 3), 9);
  expectKnown(h.apply(WindowFn::kMinOver, sig, 10, 3), 1);
  // The last second holds t=2 and t=3.
  expectKnown(h.apply(WindowFn::kAvgOver, sig, 1, 3), 6);
  expectKnown(h.apply(WindowFn::kMaxOver, sig, 1, 3), 9);
  expectKnown(h.apply(WindowFn::kMinOver, sig, 1, 3), 3);
}

TEST(HistoryWindow, SampleExactlyAtTheEdgeIsIncluded) {
  History h(1ms);
  SignalId sig = id(Sig::kWorkingSetBytes);
  h.require(sig, 10s);
  // Times as the engine derives them from steady time points. 12.3 - 10 is a hair above 2.3
  // in binary floating point, so a strict comparison would drop the sample at the edge.
  push(h, Sig::kWorkingSetBytes, at(2295ms), 1000);  // before the window
  push(h, Sig::kWorkingSetBytes, at(2300ms), 0);     // exactly at now - window
  push(h, Sig::kWorkingSetBytes, at(7300ms), 50);
  push(h, Sig::kWorkingSetBytes, at(12300ms), 200);
  double now = at(12300ms);
  expectKnown(h.apply(WindowFn::kDelta, sig, 10, now), 200);
  expectKnown(h.apply(WindowFn::kMinOver, sig, 10, now), 0);
  expectKnown(h.apply(WindowFn::kMaxOver, sig, 10, now), 200);
  expectKnown(h.apply(WindowFn::kAvgOver, sig, 10, now), 250.0 / 3);
  expectKnown(h.apply(WindowFn::kRate, sig, 10, now), 20, 1e-9);
  // A window reaching 5ms further back takes in the sample before.
  expectKnown(h.apply(WindowFn::kMaxOver, sig, 10.005, now), 1000);
}

// ---------------------------------------------------------------------------------------------
// Ring capacity

// Pushes a counter growing `per_second` every `step` from `from` to `to` (inclusive).
double feed(History& h, Sig s, Duration from, Duration to, Duration step, double per_second) {
  double now = 0;
  for (Duration d = from; d <= to; d += step) {
    now = at(d);
    push(h, s, now, per_second * now);
  }
  return now;
}

void expectSpansWindow(const History& h, SignalId sig, double window, double now) {
  const Series* s = h.series(sig);
  ASSERT_NE(s, nullptr);
  ASSERT_GE(s->size(), 2u);
  EXPECT_LE(s->size(), s->capacity());
  EXPECT_EQ(s->time(s->size() - 1), now) << "the newest sample is kept";
  EXPECT_LE(s->time(0), now - window)
      << "the oldest sample is " << now - s->time(0) << "s old; the window is " << window << "s";
  for (std::size_t i = 1; i < s->size(); ++i)
    ASSERT_GT(s->time(i), s->time(i - 1)) << "times increase at " << i;
}

TEST(HistoryRing, FarFasterThanTheIntervalStillSpansTheWindow) {
  History h(50ms);
  SignalId sig = id(Sig::kPgscan);
  h.require(sig, 10s);
  double now = feed(h, Sig::kPgscan, 0ms, 30s, 1ms, 1000);
  ASSERT_NO_FATAL_FAILURE(expectSpansWindow(h, sig, 10, now));
  EXPECT_EQ(h.series(sig)->size(), h.series(sig)->capacity()) << "the ring is full";
  expectKnown(h.apply(WindowFn::kRate, sig, 10, now), 1000, 1e-6);
  expectKnown(h.apply(WindowFn::kDeriv, sig, 10, now), 1000, 1e-6);
  Num delta = h.apply(WindowFn::kDelta, sig, 10, now);
  ASSERT_TRUE(delta.known);
  EXPECT_LE(delta.value, 10000 + 1e-6);
  EXPECT_GE(delta.value, 9900);
}

TEST(HistoryRing, SomewhatFasterThanTheIntervalStillSpansTheWindow) {
  for (Duration step : {Duration(30ms), Duration(49ms), Duration(26ms)}) {
    SCOPED_TRACE(::testing::Message() << "step " << step.count() << "ns");
    History h(50ms);
    SignalId sig = id(Sig::kPgscan);
    h.require(sig, 10s);
    double now = feed(h, Sig::kPgscan, 1000s, 1030s, step, 7);
    ASSERT_NO_FATAL_FAILURE(expectSpansWindow(h, sig, 10, now));
    expectKnown(h.apply(WindowFn::kRate, sig, 10, now), 7, 1e-6);
  }
}

TEST(HistoryRing, AtTheIntervalEverySampleIsKept) {
  History h(50ms);
  SignalId sig = id(Sig::kPgscan);
  h.require(sig, 10s);
  // Ticks exactly at the interval, late in the steady clock where rounding bites.
  double now = feed(h, Sig::kPgscan, 1'000'000s, 1'000'000s + 30s, 50ms, 1);
  const Series* s = h.series(sig);
  ASSERT_NO_FATAL_FAILURE(expectSpansWindow(h, sig, 10, now));
  for (std::size_t i = 1; i < s->size(); ++i)
    ASSERT_NEAR(s->time(i) - s->time(i - 1), 0.05, 1e-6) << "a sample was dropped at " << i;
  std::size_t from = s->firstAtOrAfter(now - 10 - 1e-9);
  EXPECT_EQ(s->size() - from, 201u) << "10s at 50ms: 201 samples in the window";
}

TEST(HistoryRing, HourWindowAt50msIsCappedAndSpans) {
  History h(50ms);
  SignalId sig = id(Sig::kWorkingSetBytes);
  h.require(sig, 1h);
  const Series* s = h.series(sig);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->capacity(), 4096u);
  std::size_t bytes = h.memoryBytes();
  EXPECT_EQ(bytes, 4096u * 2 * sizeof(double));
  double now = feed(h, Sig::kWorkingSetBytes, 0s, 2h, 50ms, 1000);
  ASSERT_NO_FATAL_FAILURE(expectSpansWindow(h, sig, 3600, now));
  EXPECT_EQ(h.memoryBytes(), bytes) << "samples never grow the history";
  expectKnown(h.apply(WindowFn::kRate, sig, 3600, now), 1000, 1e-6);
}

TEST(HistoryRing, HourWindowWithTicksJustUnderTheSpacingSpans) {
  // 4096 slots for an hour leave ~0.88s between kept samples; ticks every 0.6s must still be
  // thinned, not kept until the ring covers only 40 minutes.
  History h(50ms);
  SignalId sig = id(Sig::kWorkingSetBytes);
  h.require(sig, 1h);
  double now = feed(h, Sig::kWorkingSetBytes, 0s, 2h, 600ms, 10);
  ASSERT_NO_FATAL_FAILURE(expectSpansWindow(h, sig, 3600, now));
  expectKnown(h.apply(WindowFn::kDeriv, sig, 3600, now), 10, 1e-6);
}

TEST(HistoryRing, MemoryIsBounded) {
  History h(1ms);  // even an absurdly fast interval cannot make a ring larger than the cap
  const Sig sigs[] = {Sig::kPgscan, Sig::kPgfault, Sig::kUsageBytes, Sig::kRssBytes};
  for (Sig s : sigs) h.require(id(s), 1h);
  std::size_t cap_bytes = 4 * 4096 * 2 * sizeof(double);
  EXPECT_LE(h.memoryBytes(), cap_bytes);
  std::size_t before = h.memoryBytes();
  for (int k = 0; k < 20000; ++k) {
    Snapshot snap;
    for (Sig s : sigs) snap.set(s, k);
    h.append(snap, k * 0.5);
  }
  EXPECT_EQ(h.memoryBytes(), before);
  for (Sig s : sigs) EXPECT_LE(h.series(id(s))->size(), 4096u);
}

TEST(HistoryRing, RequireKeepsTheLongestWindow) {
  History h(50ms);
  SignalId sig = id(Sig::kPgscan);
  h.require(sig, 10s);
  ASSERT_NE(h.series(sig), nullptr);
  std::size_t cap10 = h.series(sig)->capacity();
  feed(h, Sig::kPgscan, 0s, 5s, 50ms, 1);
  std::size_t size = h.series(sig)->size();
  h.require(sig, 5s);  // shorter: nothing changes, the samples stay
  EXPECT_EQ(h.series(sig)->capacity(), cap10);
  EXPECT_EQ(h.series(sig)->size(), size);
  h.require(sig, 10s);  // same: nothing changes
  EXPECT_EQ(h.series(sig)->size(), size);
  h.require(sig, 60s);  // longer: a bigger ring
  EXPECT_GT(h.series(sig)->capacity(), cap10);
  double now = feed(h, Sig::kPgscan, 6s, 100s, 50ms, 1);
  ASSERT_NO_FATAL_FAILURE(expectSpansWindow(h, sig, 60, now));
  h.reset();
  EXPECT_EQ(h.series(sig), nullptr);
  EXPECT_EQ(h.memoryBytes(), 0u);
}

TEST(HistoryRing, SeriesOverwritesTheNewestNotTheOldest) {
  Series s(4, 1.0);
  s.push(0, 0);
  s.push(1, 1);
  s.push(2, 2);
  s.push(3, 3);
  ASSERT_EQ(s.size(), 4u);
  s.push(3.2, 32);  // 3 - 2 >= 1: ring full, the oldest goes
  EXPECT_EQ(s.time(0), 1);
  EXPECT_EQ(s.time(3), 3.2);
  s.push(3.5, 35);  // 3.2 is too close to 3: it is replaced, the oldest stays
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.time(0), 1);
  EXPECT_EQ(s.time(2), 3);
  EXPECT_EQ(s.time(3), 3.5);
  EXPECT_EQ(s.value(3), 35);
  EXPECT_EQ(s.firstAtOrAfter(2), 1u);
  EXPECT_EQ(s.firstAtOrAfter(2.5), 2u);
  EXPECT_EQ(s.firstAtOrAfter(10), 4u);
  EXPECT_EQ(s.firstAtOrAfter(-1), 0u);
}

// ---------------------------------------------------------------------------------------------
// timeToOom

class TimeToOom : public ::testing::Test {
 protected:
  TimeToOom() : h(1s) { h.require(id(Sig::kWorkingSetBytes), 60s); }
  // Records working_set = f(t) for t = first..last (whole seconds); returns the last snapshot.
  template <typename F>
  Snapshot grow(int first, int last, F f, std::optional<double> limit) {
    Snapshot snap;
    for (int t = first; t <= last; ++t) {
      snap = Snapshot();
      snap.set(Sig::kWorkingSetBytes, f(t));
      if (limit) snap.set(Sig::kLimitBytes, *limit);
      h.append(snap, t);
    }
    return snap;
  }
  History h;
};

TEST_F(TimeToOom, LinearGrowthIsExact) {
  Snapshot snap = grow(
      0, 60, [](int t) { return kGiB + kMiB * t; }, 2 * kGiB);
  // (2GiB - (1GiB + 60MiB)) / (1MiB/s) = 964s
  expectKnown(timeToOom(h, snap, 60, 60), 964, 1e-6);
  // A shorter window sees the same trend.
  expectKnown(timeToOom(h, snap, 20, 60), 964, 1e-6);
}

TEST_F(TimeToOom, LinearGrowthLateInTheSteadyClock) {
  History late(100ms);
  late.require(id(Sig::kWorkingSetBytes), 30s);
  Snapshot snap;
  double now = 0;
  for (int k = 0; k <= 300; ++k) {
    now = at(2'000'000s + k * 100ms);
    snap = Snapshot();
    snap.set(Sig::kWorkingSetBytes, 6 * kGiB + 25 * kMiB * (k * 0.1));
    snap.set(Sig::kLimitBytes, 8 * kGiB);
    late.append(snap, now);
  }
  // ws = 6144MiB + 750MiB; (8192 - 6894) / 25 = 51.92s
  expectKnown(timeToOom(late, snap, 30, now), 51.92, 1e-6);
}

TEST_F(TimeToOom, FlatIsInfinite) {
  Snapshot snap = grow(
      0, 60, [](int) { return kGiB; }, 2 * kGiB);
  expectKnown(timeToOom(h, snap, 60, 60), kInf);
}

TEST_F(TimeToOom, ShrinkingIsInfinite) {
  Snapshot snap = grow(
      0, 60, [](int t) { return kGiB - kMiB * t; }, 2 * kGiB);
  expectKnown(timeToOom(h, snap, 60, 60), kInf);
}

TEST_F(TimeToOom, ShrinkingByHalfAByteASecondIsInfiniteToo) {
  // Any negative slope: a "negative time to OOM" would satisfy every `time_to_oom < X` rule.
  Snapshot snap = grow(
      0, 60, [](int t) { return kGiB - 0.5 * t; }, 2 * kGiB);
  expectKnown(timeToOom(h, snap, 60, 60), kInf);
}

TEST_F(TimeToOom, NoLimitIsInfinite) {
  Snapshot snap = grow(
      0, 60, [](int t) { return kGiB + kMiB * t; }, std::nullopt);
  expectKnown(timeToOom(h, snap, 60, 60), kInf);
  // Even before there is any trend.
  History empty(1s);
  expectKnown(timeToOom(empty, snap, 60, 60), kInf);
}

TEST_F(TimeToOom, AtOrAboveTheLimitIsZero) {
  Snapshot snap = grow(
      0, 60, [](int t) { return kGiB + kMiB * t; }, 2 * kGiB);
  snap.set(Sig::kWorkingSetBytes, 2 * kGiB);
  expectKnown(timeToOom(h, snap, 60, 60), 0);
  snap.set(Sig::kWorkingSetBytes, 3 * kGiB);
  expectKnown(timeToOom(h, snap, 60, 60), 0);
  History empty(1s);
  expectKnown(timeToOom(empty, snap, 60, 60), 0);
  snap.set(Sig::kWorkingSetBytes, 2 * kGiB);  // exactly at the limit, with no trend at all
  expectKnown(timeToOom(empty, snap, 60, 60), 0);
}

TEST_F(TimeToOom, FewerThanThreeSamplesIsUnknown) {
  auto line = [](int t) { return kGiB + kMiB * t; };
  // Two samples spanning the whole window: a slope, but not yet a trend.
  Snapshot snap = grow(0, 0, line, 2 * kGiB);
  snap = grow(60, 60, line, 2 * kGiB);
  EXPECT_FALSE(timeToOom(h, snap, 60, 60).known);
  // The third one makes it known.
  snap = grow(61, 61, line, 2 * kGiB);
  expectKnown(timeToOom(h, snap, 61, 61), 1024 - 61, 1e-6);
}

TEST_F(TimeToOom, SpanUnderAFifthOfTheWindowIsUnknown) {
  // 12 samples over 11s: more than enough points, too short for a 60s trend.
  Snapshot snap = grow(
      0, 11, [](int t) { return kGiB + kMiB * t; }, 2 * kGiB);
  EXPECT_FALSE(timeToOom(h, snap, 60, 11).known);
  snap = grow(
      12, 12, [](int t) { return kGiB + kMiB * t; }, 2 * kGiB);
  expectKnown(timeToOom(h, snap, 60, 12), 1024 - 12, 1e-6);
}

TEST_F(TimeToOom, AbsentWorkingSetIsUnknown) {
  grow(
      0, 60, [](int t) { return kGiB + kMiB * t; }, 2 * kGiB);
  Snapshot snap;
  snap.set(Sig::kLimitBytes, 2 * kGiB);
  snap.set(Sig::kUsageBytes, 1.5 * kGiB);
  EXPECT_FALSE(timeToOom(h, snap, 60, 61).known);
  // Without the limit either: still unknown, not "unlimited".
  EXPECT_FALSE(timeToOom(h, Snapshot(), 60, 61).known);
}

}  // namespace
}  // namespace oomsentinel
