// RuleEngine: the inactive -> pending -> firing -> resolved state machine of every (rule, target),
// driven by snapshots whose steady time comes from a FakeClock.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/firing.h"
#include "core/snapshot.h"
#include "rules/rule_spec.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;
using Signals = std::initializer_list<std::pair<Sig, double>>;
using Values = std::vector<std::pair<std::string, double>>;

using testing::kGiB;
using testing::kMiB;

RuleSpec rule(std::string name, std::string expr, Duration for_duration = 0s,
              Duration keep_firing_for = 0s, Duration cooldown = 0s) {
  RuleSpec r;
  r.name = std::move(name);
  r.expr = std::move(expr);
  r.for_duration = for_duration;
  r.keep_firing_for = keep_firing_for;
  r.cooldown = cooldown;
  r.actions = {ActionKind::kLog, ActionKind::kAlert};
  return r;
}

class Engine : public ::testing::Test {
 protected:
  using Handle = RuleEngine::TargetHandle;

  void install(const std::vector<RuleSpec>& specs) {
    auto errors = engine.setRules(specs);
    for (const auto& e : errors) ADD_FAILURE() << e.format();
  }

  // One tick for `target` at steady time `at` (since the fake clock's start): the transitions.
  std::vector<Firing> tick(Handle target, Duration at, Signals signals) {
    clock.set(at);
    Snapshot snap;
    snap.steady = clock.steadyNow();
    snap.wall = clock.wallNow();
    for (auto [s, v] : signals) snap.set(s, v);
    std::vector<Firing> out;
    engine.evaluate(target, snap, out, notices);
    last = snap;
    return out;
  }
  std::vector<Firing> ratio(Handle target, Duration at, double r) {
    return tick(target, at, {{Sig::kWorkingSetRatio, r}});
  }

  // The single transition of a tick, checked to be from -> to.
  static void expectOne(const std::vector<Firing>& out, RuleState from, RuleState to,
                        const char* where) {
    ASSERT_EQ(out.size(), 1u) << where;
    EXPECT_EQ(out[0].from, from) << where << ": from " << ruleStateName(out[0].from);
    EXPECT_EQ(out[0].to, to) << where << ": to " << ruleStateName(out[0].to);
  }

  RuleStatus statusOf(const std::string& rule_name, const std::string& target) const {
    for (auto& s : engine.status())
      if (s.rule == rule_name && s.target == target) return s;
    ADD_FAILURE() << "no status for rule " << rule_name << " on " << target;
    return {};
  }
  bool hasStatus(const std::string& rule_name, const std::string& target) const {
    auto all = engine.status();
    return std::any_of(all.begin(), all.end(), [&](const RuleStatus& s) {
      return s.rule == rule_name && s.target == target;
    });
  }

  FakeClock clock;
  RuleEngine engine{50ms};
  std::vector<RuleNotice> notices;
  Snapshot last;  // the snapshot of the last tick, as evaluate() left it
};

// ---------------------------------------------------------------------------------------------
// for / pending

TEST_F(Engine, PendingThenFiringOnlyAfterFor) {
  install({rule("near-limit", "working_set_ratio > 85%", 5s)});
  Handle a = engine.addTarget("app", 60s);

  auto out = ratio(a, 0s, 0.9);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kInactive, RuleState::kPending, "t=0"));
  EXPECT_EQ(out[0].rule, "near-limit");
  EXPECT_EQ(out[0].target, "app");
  EXPECT_EQ(out[0].expr, "working_set_ratio > 85%");
  EXPECT_EQ(out[0].severity, Severity::kWarning);
  EXPECT_EQ(out[0].steady, SteadyTime(0s));
  EXPECT_EQ(out[0].wall, clock.wallNow());
  EXPECT_TRUE(out[0].actions.empty()) << "pending runs no action";
  EXPECT_FALSE(out[0].suppressed_by_cooldown);

  for (Duration t : {Duration(1s), Duration(2s), Duration(4s), Duration(4999ms)})
    EXPECT_TRUE(ratio(a, t, 0.9).empty()) << "still pending at " << t.count() << "ns";
  EXPECT_EQ(statusOf("near-limit", "app").state, RuleState::kPending);
  EXPECT_EQ(statusOf("near-limit", "app").since, SteadyTime(0s));

  out = ratio(a, 5s, 0.9);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kPending, RuleState::kFiring, "t=5"));
  EXPECT_EQ(out[0].actions, (std::vector<ActionKind>{ActionKind::kLog, ActionKind::kAlert}));
  EXPECT_EQ(out[0].steady, SteadyTime(5s));
  EXPECT_FALSE(out[0].suppressed_by_cooldown);

  for (Duration t : {Duration(6s), Duration(60s)}) EXPECT_TRUE(ratio(a, t, 0.9).empty());
  RuleStatus st = statusOf("near-limit", "app");
  EXPECT_EQ(st.state, RuleState::kFiring);
  EXPECT_EQ(st.since, SteadyTime(5s));
  EXPECT_EQ(st.last, Truth::kTrue);
}

TEST_F(Engine, ZeroForFiresAtOnce) {
  install({rule("r", "working_set_ratio > 85%")});
  Handle a = engine.addTarget("app", 60s);
  EXPECT_TRUE(ratio(a, 0s, 0.5).empty());
  auto out = ratio(a, 1s, 0.9);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kInactive, RuleState::kFiring, "t=1"));
  EXPECT_EQ(out[0].actions, (std::vector<ActionKind>{ActionKind::kLog, ActionKind::kAlert}));
}

TEST_F(Engine, PendingFallsBackToInactiveWhenFalse) {
  install({rule("r", "working_set_ratio > 85%", 5s)});
  Handle a = engine.addTarget("app", 60s);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 0s, 0.9), RuleState::kInactive, RuleState::kPending, "t=0"));
  auto out = ratio(a, 1s, 0.8);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kPending, RuleState::kInactive, "t=1"));
  EXPECT_TRUE(out[0].actions.empty());
  EXPECT_EQ(statusOf("r", "app").state, RuleState::kInactive);
  // for counts again from the new start, not from t=0.
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 2s, 0.9), RuleState::kInactive, RuleState::kPending, "t=2"));
  EXPECT_TRUE(ratio(a, 6s, 0.9).empty()) << "only 4s since the new start";
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 7s, 0.9), RuleState::kPending, RuleState::kFiring, "t=7"));
}

// ---------------------------------------------------------------------------------------------
// keep_firing_for, resolution, cooldown

TEST_F(Engine, KeepFiringForRidesOutAShortDip) {
  install({rule("r", "working_set_ratio > 85%", 0s, 10s)});
  Handle a = engine.addTarget("app", 60s);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "t=0"));
  EXPECT_TRUE(ratio(a, 1s, 0.5).empty()) << "dip starts";
  EXPECT_TRUE(ratio(a, 5s, 0.5).empty());
  EXPECT_TRUE(ratio(a, 6s, 0.9).empty()) << "back above before keep_firing_for ran out";
  EXPECT_TRUE(ratio(a, 7s, 0.5).empty()) << "a new dip: the clock restarts";
  EXPECT_TRUE(ratio(a, 12s, 0.5).empty()) << "11s since the first dip, 5s since this one";
  EXPECT_TRUE(ratio(a, 16900ms, 0.5).empty());
  EXPECT_EQ(statusOf("r", "app").state, RuleState::kFiring);
  auto out = ratio(a, 17s, 0.5);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kFiring, RuleState::kResolved, "t=17"));
  EXPECT_EQ(out[0].actions, (std::vector<ActionKind>{ActionKind::kLog, ActionKind::kAlert}))
      << "a resolution carries the actions so that an alert can be resolved";
  EXPECT_EQ(out[0].values, (Values{{"working_set_ratio", 0.5}}));
  EXPECT_TRUE(ratio(a, 30s, 0.5).empty());
  EXPECT_EQ(statusOf("r", "app").state, RuleState::kResolved);
}

TEST_F(Engine, ZeroKeepFiringForResolvesAtTheFirstFalse) {
  install({rule("r", "working_set_ratio > 85%")});
  Handle a = engine.addTarget("app", 60s);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "t=0"));
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 50ms, 0.8), RuleState::kFiring, RuleState::kResolved, "t=0.05"));
}

TEST_F(Engine, ResolvedGoesThroughPendingAndFiringAgain) {
  install({rule("r", "working_set_ratio > 85%", 2s)});
  Handle a = engine.addTarget("app", 60s);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 0s, 0.9), RuleState::kInactive, RuleState::kPending, "t=0"));
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 2s, 0.9), RuleState::kPending, RuleState::kFiring, "t=2"));
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 3s, 0.5), RuleState::kFiring, RuleState::kResolved, "t=3"));
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 4s, 0.9), RuleState::kResolved, RuleState::kPending, "t=4"));
  EXPECT_TRUE(ratio(a, 5s, 0.9).empty());
  auto out = ratio(a, 6s, 0.9);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kPending, RuleState::kFiring, "t=6"));
  EXPECT_FALSE(out[0].actions.empty());
}

TEST_F(Engine, CooldownSuppressesActionsOfAnotherFiring) {
  RuleSpec r = rule("oom", "working_set_ratio > 95%", 0s, 0s, 60s);
  r.severity = Severity::kCritical;
  r.actions = {ActionKind::kLog, ActionKind::kDump};
  install({r});
  Handle a = engine.addTarget("app", 60s);
  const std::vector<ActionKind> actions = {ActionKind::kLog, ActionKind::kDump};

  auto out = ratio(a, 0s, 0.99);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kInactive, RuleState::kFiring, "t=0"));
  EXPECT_EQ(out[0].actions, actions);
  EXPECT_FALSE(out[0].suppressed_by_cooldown);
  EXPECT_EQ(out[0].severity, Severity::kCritical);
  out = ratio(a, 1s, 0.5);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kFiring, RuleState::kResolved, "t=1"));
  EXPECT_EQ(out[0].actions, actions) << "the alert that was sent is resolved";

  out = ratio(a, 10s, 0.99);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kResolved, RuleState::kFiring, "t=10"));
  EXPECT_TRUE(out[0].suppressed_by_cooldown);
  EXPECT_TRUE(out[0].actions.empty()) << "no second dump within the cooldown";
  out = ratio(a, 11s, 0.5);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kFiring, RuleState::kResolved, "t=11"));
  EXPECT_TRUE(out[0].actions.empty()) << "a firing that sent nothing resolves nothing";

  // A suppressed firing does not restart the cooldown: it still counts from t=0.
  out = ratio(a, 59900ms, 0.99);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kResolved, RuleState::kFiring, "t=59.9"));
  EXPECT_TRUE(out[0].suppressed_by_cooldown);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 59950ms, 0.5), RuleState::kFiring, RuleState::kResolved, "t=59.95"));

  out = ratio(a, 60s, 0.99);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kResolved, RuleState::kFiring, "t=60"));
  EXPECT_FALSE(out[0].suppressed_by_cooldown);
  EXPECT_EQ(out[0].actions, actions);

  // The cooldown now counts from t=60.
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 61s, 0.5), RuleState::kFiring, RuleState::kResolved, "t=61"));
  out = ratio(a, 100s, 0.99);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kResolved, RuleState::kFiring, "t=100"));
  EXPECT_TRUE(out[0].suppressed_by_cooldown);
  EXPECT_TRUE(out[0].actions.empty());
}

TEST_F(Engine, PendingTransitionsNeverCarryActions) {
  RuleSpec r = rule("r", "working_set_ratio > 85%", 1s, 0s, 1h);
  install({r});
  Handle a = engine.addTarget("app", 60s);
  auto out = ratio(a, 0s, 0.9);
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kInactive, RuleState::kPending, "t=0"));
  EXPECT_TRUE(out[0].actions.empty());
  EXPECT_FALSE(out[0].suppressed_by_cooldown);
}

// ---------------------------------------------------------------------------------------------
// Unknown: absent signals hold the state and are noticed once

TEST_F(Engine, UnknownHoldsTheStateAndIsNoticedOnce) {
  install({rule("stall", "psi_full_avg10 > 10", 5s, 5s)});
  Handle a = engine.addTarget("app", 60s);
  const Signals absent = {{Sig::kWorkingSetRatio, 0.5}};
  const Signals stalled = {{Sig::kPsiFullAvg10, 20}};
  const Signals calm = {{Sig::kPsiFullAvg10, 0}};

  // Inactive stays inactive.
  EXPECT_TRUE(tick(a, 0s, absent).empty());
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].rule, "stall");
  EXPECT_EQ(notices[0].target, "app");
  EXPECT_EQ(notices[0].message,
            "cannot be decided for this target: psi_full_avg10 is not offered (the rule neither "
            "fires nor resolves while it is unknown)");
  RuleStatus st = statusOf("stall", "app");
  EXPECT_EQ(st.state, RuleState::kInactive);
  EXPECT_EQ(st.last, Truth::kUnknown);
  EXPECT_EQ(st.unknown_signals, std::vector<std::string>{"psi_full_avg10"});

  // Pending stays pending through unknown, well past `for`.
  ASSERT_NO_FATAL_FAILURE(
      expectOne(tick(a, 1s, stalled), RuleState::kInactive, RuleState::kPending, "t=1"));
  EXPECT_TRUE(statusOf("stall", "app").unknown_signals.empty()) << "known again";
  for (int t = 2; t <= 10; ++t)
    EXPECT_TRUE(tick(a, std::chrono::seconds(t), absent).empty()) << "t=" << t;
  EXPECT_EQ(statusOf("stall", "app").state, RuleState::kPending);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(tick(a, 11s, stalled), RuleState::kPending, RuleState::kFiring, "t=11"));

  // Firing stays firing through unknown, well past keep_firing_for.
  for (int t = 12; t <= 30; ++t)
    EXPECT_TRUE(tick(a, std::chrono::seconds(t), absent).empty()) << "t=" << t;
  EXPECT_EQ(statusOf("stall", "app").state, RuleState::kFiring);
  EXPECT_EQ(statusOf("stall", "app").last, Truth::kUnknown);

  // Known and false resolves as usual.
  EXPECT_TRUE(tick(a, 31s, calm).empty());
  ASSERT_NO_FATAL_FAILURE(
      expectOne(tick(a, 36s, calm), RuleState::kFiring, RuleState::kResolved, "t=36"));

  // Many unknown <-> known flips, one notice in all.
  EXPECT_EQ(notices.size(), 1u);
}

TEST_F(Engine, NoticeOncePerRuleAndTargetStatusPerTarget) {
  install({rule("stall", "psi_full_avg10 > 10 or working_set_ratio > 99%"),
           rule("swap", "swap_bytes > 1GiB")});
  Handle with = engine.addTarget("with-psi", 60s);
  Handle without = engine.addTarget("without-psi", 60s);

  for (int t = 0; t < 10; ++t) {
    // The target without the signal is evaluated first, so the shared expression's last leaf
    // values are the other target's when status() is read.
    tick(without, std::chrono::seconds(t), {{Sig::kWorkingSetRatio, 0.5}});
    tick(with, std::chrono::seconds(t),
         {{Sig::kWorkingSetRatio, 0.5}, {Sig::kPsiFullAvg10, 5}, {Sig::kSwapBytes, 0}});
  }
  // One notice per (rule, target) that could not be decided: stall and swap on without-psi.
  ASSERT_EQ(notices.size(), 2u);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& n : notices) got.emplace_back(n.rule, n.target);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"stall", "without-psi"},
                                                                   {"swap", "without-psi"}}));

  RuleStatus w = statusOf("stall", "with-psi");
  EXPECT_EQ(w.last, Truth::kFalse);
  EXPECT_TRUE(w.unknown_signals.empty());
  RuleStatus wo = statusOf("stall", "without-psi");
  EXPECT_EQ(wo.last, Truth::kUnknown);
  EXPECT_EQ(wo.unknown_signals, std::vector<std::string>{"psi_full_avg10"});
  EXPECT_EQ(statusOf("swap", "without-psi").unknown_signals,
            std::vector<std::string>{"swap_bytes"});

  // unknown or true: the target without PSI still fires on the ratio, and the unknown leaf is
  // left out of the values.
  auto out = tick(without, 10s, {{Sig::kWorkingSetRatio, 0.995}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "stall");
  EXPECT_EQ(out[0].target, "without-psi");
  EXPECT_EQ(out[0].to, RuleState::kFiring);
  EXPECT_EQ(out[0].values, (Values{{"working_set_ratio", 0.995}}));
  EXPECT_EQ(notices.size(), 2u);
}

TEST_F(Engine, UnknownSignalsFollowWhatIsMissingNow) {
  install({rule("both", "psi_full_avg10 > 10 and swap_bytes > 1GiB")});
  Handle a = engine.addTarget("app", 60s);
  tick(a, 0s, {});
  EXPECT_EQ(statusOf("both", "app").unknown_signals,
            (std::vector<std::string>{"psi_full_avg10", "swap_bytes"}));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].message,
            "cannot be decided for this target: psi_full_avg10, swap_bytes are not offered (the "
            "rule neither fires nor resolves while it is unknown)");
  // Still unknown, for another reason: status says which signal is missing now.
  tick(a, 1s, {{Sig::kPsiFullAvg10, 20}});
  EXPECT_EQ(statusOf("both", "app").unknown_signals, std::vector<std::string>{"swap_bytes"});
  tick(a, 2s, {{Sig::kSwapBytes, 0}});
  EXPECT_EQ(statusOf("both", "app").last, Truth::kFalse) << "unknown and false is false";
  EXPECT_TRUE(statusOf("both", "app").unknown_signals.empty());
  EXPECT_EQ(notices.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Targets

TEST_F(Engine, RuleTargetsFilter) {
  RuleSpec only_db = rule("db-only", "working_set_ratio > 85%");
  only_db.targets = {"db"};
  install({only_db, rule("everyone", "working_set_ratio > 90%")});
  Handle db = engine.addTarget("db", 60s);
  Handle web = engine.addTarget("web", 60s);
  EXPECT_TRUE(hasStatus("db-only", "db"));
  EXPECT_TRUE(hasStatus("everyone", "db"));
  EXPECT_FALSE(hasStatus("db-only", "web"));
  EXPECT_TRUE(hasStatus("everyone", "web"));
  EXPECT_EQ(engine.status().size(), 3u);

  auto out = ratio(web, 0s, 0.95);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "everyone");
  out = ratio(db, 0s, 0.95);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].rule, "db-only");
  EXPECT_EQ(out[1].rule, "everyone");
}

TEST_F(Engine, AddTargetTwiceIsTheSameTarget) {
  install({rule("r", "working_set_ratio > 85%")});
  Handle a = engine.addTarget("app", 60s);
  EXPECT_EQ(engine.addTarget("app", 30s), a);
  EXPECT_EQ(engine.findTarget("app"), a);
  EXPECT_EQ(engine.findTarget("nope"), nullptr);
  EXPECT_EQ(engine.status().size(), 1u);
}

TEST_F(Engine, RemoveTargetForgetsItsState) {
  install({rule("r", "working_set_ratio > 85%")});
  Handle a = engine.addTarget("app", 60s);
  Handle b = engine.addTarget("other", 60s);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "app t=0"));
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(b, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "other t=0"));

  engine.removeTarget("app");
  EXPECT_EQ(engine.findTarget("app"), nullptr);
  EXPECT_EQ(engine.findTarget("other"), b);
  EXPECT_FALSE(hasStatus("r", "app"));
  EXPECT_EQ(statusOf("r", "other").state, RuleState::kFiring);
  engine.removeTarget("never-added");  // harmless
  EXPECT_EQ(engine.status().size(), 1u);

  // Added again, it starts afresh: inactive, and it fires again.
  Handle again = engine.addTarget("app", 60s);
  EXPECT_EQ(statusOf("r", "app").state, RuleState::kInactive);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(again, 1s, 0.9), RuleState::kInactive, RuleState::kFiring, "app again"));
  EXPECT_TRUE(ratio(b, 1s, 0.9).empty()) << "the other target kept its state";
}

TEST_F(Engine, TargetAddedAfterRulesAndRulesAfterTarget) {
  Handle early = engine.addTarget("early", 60s);
  EXPECT_TRUE(engine.status().empty());
  install({rule("r", "working_set_ratio > 85%")});
  Handle late = engine.addTarget("late", 60s);
  EXPECT_EQ(engine.ruleCount(), 1u);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(early, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "early"));
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(late, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "late"));
}

// ---------------------------------------------------------------------------------------------
// Values, window functions and time_to_oom through the engine

TEST_F(Engine, FiringValuesHoldTheLeafValues) {
  install({rule("big", "working_set_ratio > 85% and usage_bytes > 1GiB or missing_sig > 1")});
  Handle a = engine.addTarget("app", 60s);
  auto out = tick(a, 0s, {{Sig::kWorkingSetRatio, 0.9}, {Sig::kUsageBytes, 2 * kGiB}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].values, (Values{{"working_set_ratio", 0.9}, {"usage_bytes", 2 * kGiB}}));
}

TEST_F(Engine, WindowFunctionRuleFiresOnTheRate) {
  install({rule("scan", "rate(pgscan[10s]) > 100")});
  Handle a = engine.addTarget("app", 60s);
  // 200 pages/s: one sample is not a rate yet, the second one is.
  EXPECT_TRUE(tick(a, 0s, {{Sig::kPgscan, 1000}}).empty());
  EXPECT_EQ(notices.size(), 1u) << "the first tick cannot know a rate";
  auto out = tick(a, 1s, {{Sig::kPgscan, 1200}});
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kInactive, RuleState::kFiring, "t=1"));
  EXPECT_EQ(out[0].values, (Values{{"rate(pgscan[10s])", 200}}));
  EXPECT_TRUE(tick(a, 2s, {{Sig::kPgscan, 1400}}).empty());
  // The scanning stops: the rate over the window falls as flat samples come in.
  EXPECT_TRUE(tick(a, 3s, {{Sig::kPgscan, 1400}}).empty()) << "400 / 3s";
  out = tick(a, 4s, {{Sig::kPgscan, 1400}});  // 400 / 4s = 100/s, not above 100
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kFiring, RuleState::kResolved, "t=4"));
  EXPECT_EQ(out[0].values, (Values{{"rate(pgscan[10s])", 100}}));
}

TEST_F(Engine, TimeToOomIsPredictedAndWrittenIntoTheSnapshot) {
  install({rule("oom-soon", "time_to_oom < 1000s")});
  Handle a = engine.addTarget("app", 60s);
  auto grow = [&](int t) {
    return tick(a, std::chrono::seconds(t),
                {{Sig::kWorkingSetBytes, kGiB + kMiB * t}, {Sig::kLimitBytes, 2 * kGiB}});
  };
  // Until the samples span a fifth of the 60s window, the prediction is unknown: absent.
  for (int t = 0; t <= 11; ++t) {
    EXPECT_TRUE(grow(t).empty());
    EXPECT_FALSE(last.has(Sig::kTimeToOomSeconds)) << "t=" << t;
  }
  for (int t = 12; t <= 24; ++t) {
    EXPECT_TRUE(grow(t).empty()) << "t=" << t;
    ASSERT_TRUE(last.has(Sig::kTimeToOomSeconds)) << "t=" << t;
    EXPECT_NEAR(*last.get(Sig::kTimeToOomSeconds), 1024 - t, 1e-6) << "t=" << t;
  }
  auto out = grow(25);  // 999s left
  ASSERT_NO_FATAL_FAILURE(expectOne(out, RuleState::kInactive, RuleState::kFiring, "t=25"));
  ASSERT_EQ(out[0].values.size(), 1u);
  EXPECT_EQ(out[0].values[0].first, "time_to_oom");
  EXPECT_NEAR(out[0].values[0].second, 999, 1e-6);
}

TEST_F(Engine, TimeToOomWithoutLimitIsInfiniteAndAStaleOneIsRemoved) {
  Handle a = engine.addTarget("app", 60s);
  tick(a, 0s, {{Sig::kWorkingSetBytes, kGiB}});
  ASSERT_TRUE(last.has(Sig::kTimeToOomSeconds));
  EXPECT_EQ(*last.get(Sig::kTimeToOomSeconds), std::numeric_limits<double>::infinity());

  // A snapshot that arrives with a time_to_oom_seconds (replayed, or reused without clear())
  // leaves with the engine's own prediction: here unknown, so absent.
  Snapshot snap;
  snap.steady = SteadyTime(1s);
  snap.set(Sig::kTimeToOomSeconds, 5);
  std::vector<Firing> out;
  engine.evaluate(a, snap, out, notices);
  EXPECT_FALSE(snap.has(Sig::kTimeToOomSeconds));
}

// ---------------------------------------------------------------------------------------------
// setRules

TEST_F(Engine, SetRulesKeepsUnchangedRulesAndResetsChangedOnes) {
  install({rule("stay", "working_set_ratio > 85%", 0s, 0s, 10min),
           rule("change-expr", "working_set_ratio > 85%", 5s),
           rule("change-for", "working_set_ratio > 85%", 0s)});
  Handle a = engine.addTarget("app", 60s);
  auto out = ratio(a, 0s, 0.9);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(statusOf("stay", "app").state, RuleState::kFiring);
  EXPECT_EQ(statusOf("change-expr", "app").state, RuleState::kPending);
  EXPECT_EQ(statusOf("change-for", "app").state, RuleState::kFiring);

  install({rule("stay", "working_set_ratio > 85%", 0s, 0s, 10min),
           rule("change-expr", "working_set_ratio > 86%", 5s),
           rule("change-for", "working_set_ratio > 85%", 1s), rule("new", "usage_bytes > 0")});
  EXPECT_EQ(engine.ruleCount(), 4u);
  RuleStatus stay = statusOf("stay", "app");
  EXPECT_EQ(stay.state, RuleState::kFiring) << "a reload must not re-page anyone";
  EXPECT_EQ(stay.since, SteadyTime(0s));
  EXPECT_EQ(statusOf("change-expr", "app").state, RuleState::kInactive);
  EXPECT_EQ(statusOf("change-for", "app").state, RuleState::kInactive);
  EXPECT_EQ(statusOf("new", "app").state, RuleState::kInactive);

  out = ratio(a, 1s, 0.9);
  ASSERT_EQ(out.size(), 2u) << "only the reset rules move";
  EXPECT_EQ(out[0].rule, "change-expr");
  EXPECT_EQ(out[0].to, RuleState::kPending);
  EXPECT_EQ(out[1].rule, "change-for");
  EXPECT_EQ(out[1].to, RuleState::kPending);

  // The unchanged rule kept its cooldown, too.
  ratio(a, 2s, 0.5);
  out = ratio(a, 3s, 0.9);
  auto it = std::find_if(out.begin(), out.end(), [](const Firing& f) { return f.rule == "stay"; });
  ASSERT_NE(it, out.end());
  EXPECT_EQ(it->to, RuleState::kFiring);
  EXPECT_TRUE(it->suppressed_by_cooldown);
}

TEST_F(Engine, SetRulesWithBadExpressionsReturnsEveryErrorAndKeepsTheOldRules) {
  install({rule("good", "working_set_ratio > 85%")});
  Handle a = engine.addTarget("app", 60s);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 0s, 0.9), RuleState::kInactive, RuleState::kFiring, "t=0"));

  auto errors =
      engine.setRules({rule("fine", "usage_bytes > 1GiB"), rule("bad1", "working_set_ratio >"),
                       rule("bad2", "foo(usage_bytes) > 1"), rule("bad3", "42")});
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].rule, "bad1");
  EXPECT_EQ(errors[0].expr, "working_set_ratio >");
  EXPECT_EQ(errors[0].error.column, 20u);
  EXPECT_EQ(errors[0].format(),
            "rule 'bad1': column 20: expression ends too early\n"
            "    working_set_ratio >\n"
            "                       ^ expression ends too early");
  EXPECT_EQ(errors[1].rule, "bad2");
  EXPECT_EQ(errors[1].error.column, 1u);
  EXPECT_EQ(errors[2].rule, "bad3");

  // Nothing changed: the old rule still runs, with its state.
  EXPECT_EQ(engine.ruleCount(), 1u);
  EXPECT_FALSE(hasStatus("fine", "app"));
  EXPECT_EQ(statusOf("good", "app").state, RuleState::kFiring);
  ASSERT_NO_FATAL_FAILURE(
      expectOne(ratio(a, 1s, 0.5), RuleState::kFiring, RuleState::kResolved, "t=1"));
}

TEST_F(Engine, SetRulesWithALongerWindowGrowsTheHistory) {
  install({rule("scan", "rate(pgscan[2s]) > 100")});
  Handle a = engine.addTarget("app", 60s);
  // 9000 pages scanned between t=10s and t=11s, none before or after.
  auto counter = [](double t) { return t < 10 ? 0.0 : t < 11 ? 9000 * (t - 10) : 9000.0; };
  std::vector<std::pair<int, RuleState>> transitions;  // (ms, to)
  auto run = [&](int from_ms, int to_ms) {
    for (int ms = from_ms; ms <= to_ms; ms += 50)
      for (const auto& f :
           tick(a, std::chrono::milliseconds(ms), {{Sig::kPgscan, counter(ms / 1000.0)}}))
        transitions.emplace_back(ms, f.to);
  };
  run(0, 5000);
  install({rule("scan", "rate(pgscan[30s]) > 100")});
  run(5050, 45000);
  ASSERT_EQ(transitions.size(), 2u);
  EXPECT_EQ(transitions[0].second, RuleState::kFiring);
  EXPECT_GE(transitions[0].first, 10000);
  EXPECT_LE(transitions[0].first, 11000);
  // The burst stays in the 30s window until less than 3000 of it is left in it: at 10.7s + 30s
  // the window holds 9000 - 6300 = 2700. A ring still sized for 2s would have resolved at ~13s.
  EXPECT_EQ(transitions[1].second, RuleState::kResolved);
  EXPECT_EQ(transitions[1].first, 40700);
}

}  // namespace
}  // namespace oomsentinel
