// Expr::mayBeTrue and RuleEngine::mayFire: what lets the watchdog skip a quiet target's full read
// and its evaluation. A wrong "cannot be true" would silence a rule, so every case is checked
// against evaluate() on snapshots inside the bounds.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/snapshot.h"
#include "rules/engine.h"
#include "rules/expr.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;
using K = SignalBound::Kind;

class MapBounds final : public SignalBounds {
 public:
  std::map<SignalId, SignalBound> m;
  MapBounds& range(Sig s, double lo, double hi) {
    m[id(s)] = {K::kRange, lo, hi};
    return *this;
  }
  MapBounds& absent(Sig s) {
    m[id(s)] = {K::kAbsent};
    return *this;
  }
  SignalBound bound(SignalId sid) const override {
    auto it = m.find(sid);
    return it == m.end() ? SignalBound{} : it->second;
  }
};

Expr compile(const std::string& text) {
  auto parsed = Expr::parse(text);
  EXPECT_TRUE(std::holds_alternative<Expr>(parsed)) << text;
  return std::get<Expr>(std::move(parsed));
}

// evaluate() at both ends and the middle of every range: none may be true when mayBeTrue says no.
void expectSound(const Expr& e, const MapBounds& b) {
  if (e.mayBeTrue(b)) return;
  for (double f : {0.0, 0.5, 1.0}) {
    Snapshot s;
    for (const auto& [sid, bound] : b.m)
      if (bound.kind == K::kRange) s.set(sid, bound.lo + f * (bound.hi - bound.lo));
    EvalContext ctx{&s, nullptr, 0, {}};
    EXPECT_NE(e.evaluate(ctx), Truth::kTrue) << e.text() << " at fraction " << f;
  }
}

TEST(MayBeTrue, AThresholdAboveTheRangeCannotBeTrueAndOneInsideItCan) {
  Expr e = compile("working_set_ratio > 85%");
  MapBounds low;
  low.range(Sig::kWorkingSetRatio, 0, 0.60);
  EXPECT_FALSE(e.mayBeTrue(low));
  expectSound(e, low);
  MapBounds edge;
  edge.range(Sig::kWorkingSetRatio, 0, 0.85);
  EXPECT_FALSE(e.mayBeTrue(edge)) << "> 0.85 cannot hold at 0.85";
  EXPECT_TRUE(compile("working_set_ratio >= 85%").mayBeTrue(edge));
  MapBounds high;
  high.range(Sig::kWorkingSetRatio, 0, 0.90);
  EXPECT_TRUE(e.mayBeTrue(high));
  // Written the other way round, and through a negation.
  EXPECT_FALSE(compile("85% < working_set_ratio").mayBeTrue(low));
  EXPECT_FALSE(compile("not (working_set_ratio <= 85%)").mayBeTrue(low));
  EXPECT_TRUE(compile("not (working_set_ratio > 85%)").mayBeTrue(low));
}

TEST(MayBeTrue, AndNeedsBothSidesOrNeedsOne) {
  MapBounds b;
  b.range(Sig::kWorkingSetRatio, 0, 0.40);
  // time_to_oom is history: anything; the ratio alone rules the conjunction out.
  Expr imminent =
      compile("(time_to_oom < 10s and working_set_ratio > 70%) or working_set_ratio > 95%");
  EXPECT_FALSE(imminent.mayBeTrue(b));
  expectSound(imminent, b);
  EXPECT_TRUE(compile("time_to_oom < 10s or working_set_ratio > 70%").mayBeTrue(b));
  EXPECT_FALSE(compile("rate(pgscan[10s]) > 5000 and working_set_ratio > 80%").mayBeTrue(b));
  EXPECT_TRUE(compile("rate(pgscan[10s]) > 5000").mayBeTrue(b));
  // A signal the bounds know nothing about can be anything.
  EXPECT_TRUE(compile("anon_bytes > 1GiB").mayBeTrue(b));
}

TEST(MayBeTrue, AnAbsentSignalMakesItsComparisonUnknownNeverTrue) {
  MapBounds b;
  b.absent(Sig::kPsiFullAvg10).range(Sig::kWorkingSetRatio, 0, 0.2);
  EXPECT_FALSE(compile("psi_full_avg10 > 10").mayBeTrue(b));
  EXPECT_FALSE(compile("not (psi_full_avg10 > 10)").mayBeTrue(b)) << "not unknown is unknown";
  EXPECT_FALSE(compile("psi_full_avg10 > 10 or working_set_ratio > 50%").mayBeTrue(b));
  EXPECT_TRUE(compile("psi_full_avg10 > 10 or working_set_ratio > 10%").mayBeTrue(b));
  EXPECT_FALSE(compile("psi_full_avg10 + 1 > 10").mayBeTrue(b));
  // Exact PSI from the cheap read decides the rule either way.
  MapBounds psi;
  psi.range(Sig::kPsiFullAvg10, 3, 3);
  EXPECT_FALSE(compile("psi_full_avg10 > 10").mayBeTrue(psi));
  psi.range(Sig::kPsiFullAvg10, 12, 12);
  EXPECT_TRUE(compile("psi_full_avg10 > 10").mayBeTrue(psi));
}

TEST(MayBeTrue, ArithmeticEqualityAndOrderingFollowTheRanges) {
  MapBounds b;
  b.range(Sig::kUsageBytes, 100, 200).range(Sig::kLimitBytes, 1000, 1000);
  EXPECT_FALSE(compile("usage_bytes + 100 > 400").mayBeTrue(b));
  EXPECT_TRUE(compile("usage_bytes + 100 > 250").mayBeTrue(b));
  EXPECT_FALSE(compile("limit_bytes - usage_bytes < 700").mayBeTrue(b));
  EXPECT_TRUE(compile("limit_bytes - usage_bytes < 850").mayBeTrue(b));
  EXPECT_TRUE(compile("usage_bytes * 10 > 1500").mayBeTrue(b)) << "products are not bounded";
  EXPECT_FALSE(compile("usage_bytes == 300").mayBeTrue(b));
  EXPECT_TRUE(compile("usage_bytes == 150").mayBeTrue(b));
  EXPECT_FALSE(compile("limit_bytes != 1000").mayBeTrue(b));
  EXPECT_TRUE(compile("usage_bytes != 150").mayBeTrue(b));
  EXPECT_FALSE(compile("-usage_bytes > -50").mayBeTrue(b));
  EXPECT_FALSE(compile("usage_bytes < 100").mayBeTrue(b));
  EXPECT_TRUE(compile("usage_bytes <= 100").mayBeTrue(b));
  for (const char* text :
       {"usage_bytes + 100 > 400", "limit_bytes - usage_bytes < 700", "usage_bytes == 300",
        "limit_bytes != 1000", "-usage_bytes > -50", "usage_bytes < 100"})
    expectSound(compile(text), b);
}

TEST(MayFire, ARuleThatIsPendingOrFiringIsAlwaysEvaluated) {
  RuleEngine engine;
  RuleSpec r;
  r.name = "near";
  r.expr = "working_set_ratio > 85%";
  r.for_duration = 10s;
  r.actions = {ActionKind::kLog};
  ASSERT_TRUE(engine.setRules({r}).empty());
  auto t = engine.addTarget("app", 10s);
  MapBounds low;
  low.range(Sig::kWorkingSetRatio, 0, 0.5);
  EXPECT_FALSE(engine.mayFire(t, low));

  Snapshot s;
  s.steady = SteadyTime(100s);
  s.set(Sig::kWorkingSetRatio, 0.9);
  std::vector<Firing> out;
  std::vector<RuleNotice> notices;
  engine.evaluate(t, s, out, notices);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].to, RuleState::kPending);
  // Pending: a false evaluation must reset it, so the tick cannot be skipped.
  EXPECT_TRUE(engine.mayFire(t, low));
  s.steady = SteadyTime(101s);
  s.set(Sig::kWorkingSetRatio, 0.4);
  out.clear();
  engine.evaluate(t, s, out, notices);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, RuleState::kInactive);
  EXPECT_FALSE(engine.mayFire(t, low));

  // A rule limited to another target does not count for this one.
  r.name = "other";
  r.expr = "usage_bytes > 0";
  r.targets = {"db"};
  RuleSpec near = r;
  near.name = "near";
  near.expr = "working_set_ratio > 85%";
  near.targets = {};
  ASSERT_TRUE(engine.setRules({near, r}).empty());
  EXPECT_FALSE(engine.mayFire(t, low));
}

}  // namespace
}  // namespace oomsentinel
