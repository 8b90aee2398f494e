// rules/: the rule language (parse + evaluate), per-series windows, time-to-OOM prediction and
// the pending/firing/resolved state of every rule for every target.
// RuleEngine: compiled rules, each target's history, and the state machine of every
// (rule, target) pair: inactive -> pending -> firing -> resolved.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/firing.h"
#include "core/snapshot.h"
#include "rules/expr.h"
#include "rules/history.h"
#include "rules/rule_spec.h"

namespace oomsentinel {

struct RuleCompileError {
  std::string rule;
  ExprError error;
  std::string expr;
  std::string format() const;  // "rule 'x': column 7: message\n  expr\n        ^"
};

// Said once per rule and target: the expression could not be decided because a signal is absent.
struct RuleNotice {
  std::string rule;
  std::string target;
  std::string message;
};

struct RuleStatus {
  std::string rule;
  std::string target;
  Severity severity = Severity::kWarning;
  RuleState state = RuleState::kInactive;
  SteadyTime since{};
  Truth last = Truth::kUnknown;
  std::vector<std::string> unknown_signals;  // when last is unknown
};

class RuleEngine {
 public:
  class TargetState;
  using TargetHandle = TargetState*;

  // `min_interval`: the fastest tick, for sizing history rings.
  explicit RuleEngine(Duration min_interval = std::chrono::milliseconds(50));
  ~RuleEngine();

  // Compiles every rule; on any error changes nothing and returns all errors. A rule whose spec
  // is unchanged keeps its state for every target (SIGHUP must not re-page anyone).
  std::vector<RuleCompileError> setRules(const std::vector<RuleSpec>& specs);

  // Adds (or finds) a target. `predict_window`: time_to_oom's least-squares window.
  TargetHandle addTarget(const std::string& name, Duration predict_window);
  void removeTarget(const std::string& name);
  TargetHandle findTarget(const std::string& name) const;

  // One tick for one target: records `snap` in the history, sets time_to_oom_seconds in it,
  // evaluates the rules that apply, and appends the transitions to `out` and first-time
  // "unknown" notices to `notices`. No allocation unless something is appended.
  void evaluate(TargetHandle target, Snapshot& snap, std::vector<Firing>& out,
                std::vector<RuleNotice>& notices);

  // False only when no rule that applies to `target` is pending or firing and `bounds` prove
  // that none of their expressions can be true: then skipping this tick's evaluation changes
  // nothing (inactive and resolved rules stay as they are on a false or unknown tick).
  bool mayFire(TargetHandle target, const SignalBounds& bounds) const;
  // Expr::levels of every rule that applies to `target`.
  std::vector<std::pair<SignalId, double>> levels(TargetHandle target) const;
  // True when a rule that applies to `target` reads `signal` (Expr::uses).
  bool uses(TargetHandle target, SignalId signal) const;
  std::vector<RuleStatus> status() const;
  std::size_t ruleCount() const { return rules_.size(); }

 private:
  struct CompiledRule {
    RuleSpec spec;
    Expr expr;
  };
  void attach(TargetState& t);

  Duration min_interval_;
  std::vector<std::shared_ptr<CompiledRule>> rules_;
  std::vector<std::unique_ptr<TargetState>> targets_;
};

}  // namespace oomsentinel
