// core/: the shared vocabulary of oomsentinel.
// Firing: one rule's state change for one target, with the values that caused it. Rules produce
// them; the daemon dispatches them to actions (log, alert, dump), which act and decide nothing.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/kinds.h"

namespace oomsentinel {

enum class Severity { kInfo, kWarning, kCritical };
const char* severityName(Severity s);

enum class RuleState { kInactive, kPending, kFiring, kResolved };
const char* ruleStateName(RuleState s);

struct Firing {
  std::string rule;
  std::string target;
  std::string expr;
  Severity severity = Severity::kWarning;
  RuleState from = RuleState::kInactive;
  RuleState to = RuleState::kInactive;
  SteadyTime steady{};
  WallTime wall{};
  // Every signal and function of the expression with its value at the transition; an unknown
  // one (signal absent) is left out.
  std::vector<std::pair<std::string, double>> values;
  // The rule's actions; empty when the transition runs none (pending, or within the cooldown).
  std::vector<ActionKind> actions;
  bool suppressed_by_cooldown = false;
};

}  // namespace oomsentinel
