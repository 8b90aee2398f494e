// The engine's steady state allocates nothing: a watchdog that allocates every tick fragments the
// heap of a process that is supposed to survive its neighbours running out of memory.
//
// This file replaces the global operator new/delete for the whole test binary with a version that
// counts allocations while `g_counting` is set.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "core/snapshot.h"
#include "rules/engine.h"
#include "rules/rule_spec.h"
#include "tests/support/test_support.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* countedAlloc(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}

void* countedAlignedAlloc(std::size_t n, std::align_val_t al) {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  auto a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  std::size_t size = (n + a - 1) / a * a;
  return std::aligned_alloc(a, size == 0 ? a : size);
}

// Out of line, so that the compiler does not see free() meet a new-expression's pointer.
[[gnu::noinline]] void release(void* p) noexcept { std::free(p); }
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = countedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = countedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return countedAlloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return countedAlloc(n); }
void* operator new(std::size_t n, std::align_val_t al) {
  if (void* p = countedAlignedAlloc(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) {
  if (void* p = countedAlignedAlloc(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return countedAlignedAlloc(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return countedAlignedAlloc(n, al);
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;

using testing::kGiB;
using testing::kMiB;

// Counts the allocations made while it is alive.
class CountAllocations {
 public:
  CountAllocations() : start_(g_allocations.load()) { g_counting = true; }
  ~CountAllocations() { g_counting = false; }
  long count() const { return g_allocations.load() - start_; }

 private:
  long start_;
};

TEST(AllocationCounter, SeesAllocations) {
  long n;
  {
    CountAllocations c;
    void* p = ::operator new(64);
    ::operator delete(p);
    std::string s(100, 'x');  // past the small-string buffer
    n = c.count();
  }
  EXPECT_EQ(n, 2);
}

// 50 rules over every kind of leaf: levels, arithmetic, every window function, time_to_oom, and
// signals one target or both lack. Some are firing, some false, some unknown, all steadily.
std::vector<RuleSpec> fiftyRules() {
  std::vector<RuleSpec> r;
  auto add = [&](std::string expr, Duration for_d = 0s, Duration keep = 0s) {
    RuleSpec s;
    s.name = "r" + std::to_string(r.size());
    s.expr = std::move(expr);
    s.for_duration = for_d;
    s.keep_firing_for = keep;
    s.cooldown = 5min;
    s.severity = r.size() % 7 == 0 ? Severity::kCritical : Severity::kWarning;
    s.actions = {ActionKind::kLog, ActionKind::kAlert, ActionKind::kDump};
    if (r.size() % 10 == 3) s.targets = {"a"};
    r.push_back(std::move(s));
  };
  for (int pct = 50; pct <= 95; pct += 5)  // true below 90%, false from 90%
    add("working_set_ratio > " + std::to_string(pct) + "%", 1s, 5s);
  for (int w : {1, 5, 10, 20, 30}) add("rate(pgscan[" + std::to_string(w) + "s]) > 500");
  for (int w : {2, 5, 10, 20, 30})
    add("deriv(working_set_bytes[" + std::to_string(w) + "s]) > 512 or usage_ratio > 99%");
  for (int n : {10, 100, 1000, 10000, 100000})
    add("delta(pgfault[10s]) > " + std::to_string(n), 2s);
  add("avg_over(psi_some_avg10[10s]) > 5");
  add("max_over(psi_some_avg10[10s]) > 8");
  add("min_over(psi_some_avg10[30s]) < 6");
  add("avg_over(psi_some_avg10[1s]) > 5 and max_over(psi_some_avg10[5s]) < 100");
  add("not min_over(psi_some_avg10[10s]) > 100");
  add("time_to_oom < 10s or working_set_ratio > 95%");
  add("(time_to_oom < 10s and working_set_ratio > 70%) or working_set_ratio > 95%");
  add("time_to_oom > 1h");
  add("time_to_oom < 60s and working_set_ratio > 50%", 2s, 10s);
  add("time_to_oom_seconds > 10m");
  for (int n : {1, 5, 10, 20, 50}) add("psi_full_avg10 > " + std::to_string(n), 10s, 30s);
  add("usage_bytes / limit_bytes > 50%");
  add("(usage_bytes - working_set_bytes) * 2 > 1MiB and not swap_bytes > 0");
  add("-working_set_bytes + limit_bytes < 64MiB");
  add("usage_bytes / swap_bytes > 1");  // x / 0: unknown
  add("working_set_bytes >= 1GiB and working_set_bytes <= 2GiB and working_set_bytes != 0");
  add("heap_alloc_bytes > 1GiB");
  add("rate(gc_cycles[30s]) > 1 and working_set_ratio > 85%");
  add("gc_pause_seconds_total > 1 or psi_full_avg10 > 50");
  add("rate(pgmajfault[10s]) > 100 and not (usage_bytes < 64MiB)");
  add("heap_alloc_bytes / limit_bytes > 50% or events_oom_kill > 0");
  return r;
}

class SteadyState : public ::testing::Test {
 protected:
  void SetUp() override {
    specs = fiftyRules();
    ASSERT_EQ(specs.size(), 50u);
    auto errors = engine.setRules(specs);
    for (const auto& e : errors) ADD_FAILURE() << e.format();
    a = engine.addTarget("a", 30s);
    b = engine.addTarget("b", 30s);
  }

  // The collector's part: a reused snapshot, cleared and refilled. `a` has PSI and swap.
  void fill(Snapshot& s, int k, bool full) {
    s.clear();
    const Duration at = k * 100ms;
    const double t = toSeconds(at);
    s.steady = SteadyTime(at);
    double ws = kGiB + 1024 * t;
    s.set(Sig::kWorkingSetBytes, ws);
    s.set(Sig::kLimitBytes, 2 * kGiB);
    s.set(Sig::kUsageBytes, ws + 100 * kMiB);
    s.set(Sig::kUsageRatio, (ws + 100 * kMiB) / (2 * kGiB));
    s.set(Sig::kWorkingSetRatio, 0.9);
    s.set(Sig::kPgscan, 1000 * t);
    s.set(Sig::kPgfault, 50 * t);
    s.set(Sig::kPsiSomeAvg10, 7);
    if (full) {
      s.set(Sig::kPsiFullAvg10, 3);
      s.set(Sig::kSwapBytes, 0);
    }
  }

  // Ticks [from, to) for both targets; returns the allocations counted during evaluate().
  long run(int from, int to, bool count) {
    long allocations = 0;
    for (int k = from; k < to; ++k) {
      fill(snap_a, k, true);
      fill(snap_b, k, b_flips && k % 2 == 0);
      if (count) {
        CountAllocations c;
        engine.evaluate(a, snap_a, out, notices);
        engine.evaluate(b, snap_b, out, notices);
        allocations += c.count();
      } else {
        engine.evaluate(a, snap_a, out, notices);
        engine.evaluate(b, snap_b, out, notices);
      }
    }
    return allocations;
  }

  std::vector<RuleSpec> specs;
  RuleEngine engine{50ms};
  RuleEngine::TargetHandle a = nullptr, b = nullptr;
  Snapshot snap_a, snap_b;
  std::vector<Firing> out;
  std::vector<RuleNotice> notices;
  bool b_flips = false;  // b lacks PSI and swap always, or every other tick
};

TEST_F(SteadyState, FiftyRulesAllocateNothing) {
  run(0, 1500, false);  // 150s: every ring has wrapped, every prediction is known
  ASSERT_FALSE(out.empty()) << "the warm-up should have fired some rules";
  ASSERT_FALSE(notices.empty()) << "the warm-up should have noticed unknown rules";
  out.clear();
  notices.clear();
  out.reserve(256);
  notices.reserve(256);

  long allocations = run(1500, 3000, true);  // 150 more seconds, 300 evaluations of 50 rules
  EXPECT_EQ(allocations, 0);
  EXPECT_TRUE(out.empty()) << out.size() << " transitions in the steady state, e.g. "
                           << out.front().rule << " " << ruleStateName(out.front().from) << "->"
                           << ruleStateName(out.front().to);
  EXPECT_TRUE(notices.empty());

  // The steady state holds each kind of rule.
  int firing = 0, quiet = 0, unknown = 0;
  for (const auto& s : engine.status()) {
    firing += s.state == RuleState::kFiring;
    quiet += s.state == RuleState::kInactive && s.last == Truth::kFalse;
    unknown += s.last == Truth::kUnknown;
  }
  EXPECT_GT(firing, 10);
  EXPECT_GT(quiet, 10);
  EXPECT_GT(unknown, 5);
}

TEST_F(SteadyState, SignalsComingAndGoingAllocateNothing) {
  // Target b's PSI and swap are there every other tick (a runtime endpoint that times out half
  // the time): its rules go unknown and back without changing state.
  b_flips = true;
  run(0, 1500, false);
  out.clear();
  notices.clear();
  out.reserve(256);
  notices.reserve(256);
  long allocations = run(1500, 3000, true);
  EXPECT_EQ(allocations, 0);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(notices.empty()) << "noticed once, during the warm-up";
}

}  // namespace
}  // namespace oomsentinel
