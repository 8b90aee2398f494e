// defaultRules(): the built-in rules parse, are named uniquely, and the critical one dumps.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/firing.h"
#include "core/snapshot.h"
#include "rules/engine.h"
#include "rules/expr.h"
#include "rules/rule_spec.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;

bool has(const std::vector<ActionKind>& v, ActionKind s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(DefaultRules, EveryExpressionParses) {
  auto rules = defaultRules();
  ASSERT_FALSE(rules.empty());
  for (const auto& r : rules) {
    auto parsed = Expr::parse(r.expr);
    if (auto* err = std::get_if<ExprError>(&parsed))
      ADD_FAILURE() << "rule '" << r.name << "':\n" << err->render(r.expr);
  }
  RuleEngine engine;
  auto errors = engine.setRules(rules);
  for (const auto& e : errors) ADD_FAILURE() << e.format();
  EXPECT_EQ(engine.ruleCount(), rules.size());
}

TEST(DefaultRules, NamesAreUniqueAndNonEmpty) {
  std::set<std::string> names;
  for (const auto& r : defaultRules()) {
    EXPECT_FALSE(r.name.empty());
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate rule name " << r.name;
  }
}

TEST(DefaultRules, ActionsAreKnownAndRulesApplyToEveryTarget) {
  for (const auto& r : defaultRules()) {
    EXPECT_FALSE(r.actions.empty()) << r.name;
    EXPECT_TRUE(r.targets.empty()) << r.name;
  }
}

TEST(DefaultRules, TheCriticalRuleDumps) {
  int critical = 0;
  for (const auto& r : defaultRules()) {
    if (r.severity != Severity::kCritical) continue;
    ++critical;
    EXPECT_TRUE(has(r.actions, ActionKind::kDump)) << r.name;
    EXPECT_TRUE(has(r.actions, ActionKind::kAlert)) << r.name;
    EXPECT_EQ(r.for_duration, 0s) << r.name << ": a dump must not wait";
    EXPECT_GT(r.cooldown, 0s) << r.name << ": one dump per incident, not one per tick";
  }
  EXPECT_GE(critical, 1);
  auto rules = defaultRules();
  auto it = std::find_if(rules.begin(), rules.end(),
                         [](const RuleSpec& r) { return r.name == "oom-imminent"; });
  ASSERT_NE(it, rules.end());
  EXPECT_EQ(it->severity, Severity::kCritical);
  EXPECT_TRUE(Expr::parse(it->expr).index() == 0 &&
              std::get<Expr>(Expr::parse(it->expr)).usesTimeToOom());
}

TEST(DefaultRules, NearLimitAndOomImminentFireOnAFillingTarget) {
  RuleEngine engine(50ms);
  ASSERT_TRUE(engine.setRules(defaultRules()).empty());
  auto target = engine.addTarget("app", 60s);
  std::vector<Firing> out;
  std::vector<RuleNotice> notices;
  auto tick = [&](int t, double ratio) {
    Snapshot s;
    s.steady = SteadyTime(std::chrono::seconds(t));
    s.set(Sig::kLimitBytes, 1e9);
    s.set(Sig::kWorkingSetBytes, ratio * 1e9);
    s.set(Sig::kWorkingSetRatio, ratio);
    out.clear();
    engine.evaluate(target, s, out, notices);
    std::vector<std::string> moved;
    for (const auto& f : out)
      moved.push_back(f.rule + ":" + ruleStateName(f.from) + "->" + ruleStateName(f.to));
    return moved;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(tick(0, 0.9), V{"near-limit:inactive->pending"});
  for (int t = 1; t < 10; ++t) EXPECT_EQ(tick(t, 0.9), V{}) << t;
  EXPECT_EQ(tick(10, 0.9), V{"near-limit:pending->firing"});
  EXPECT_EQ(tick(11, 0.96), V{"oom-imminent:inactive->firing"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(has(out[0].actions, ActionKind::kDump));
  EXPECT_EQ(out[0].severity, Severity::kCritical);
}

}  // namespace
}  // namespace oomsentinel
