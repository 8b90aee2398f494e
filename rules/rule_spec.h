// rules/: the rule language (parse + evaluate), per-series windows, time-to-OOM prediction and
// the pending/firing/resolved state of every rule for every target.
// RuleSpec: a rule as written by the user (config) or built in, before compilation.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/firing.h"

namespace oomsentinel {

struct RuleSpec {
  std::string name;
  std::string expr;
  Duration for_duration{0};     // how long expr must hold before firing
  Duration keep_firing_for{0};  // how long expr must be false before resolving
  Duration cooldown{0};         // minimum time between two rounds of actions
  Severity severity = Severity::kWarning;
  std::vector<ActionKind> actions;
  // Target names; empty = every target. A selector target's name covers what it discovered
  // ("pods" covers "pods/<match>").
  std::vector<std::string> targets;

  bool operator==(const RuleSpec&) const = default;
};

// The built-in rules that apply when the config gives none (docs/rules.md, "Built-in rules").
std::vector<RuleSpec> defaultRules();

}  // namespace oomsentinel
