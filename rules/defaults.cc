#include "rules/rule_spec.h"

namespace oomsentinel {

// The reasoning behind each rule, and what it costs in false positives, is in
// docs/rules.md ("Built-in rules"); keep the two in step.
std::vector<RuleSpec> defaultRules() {
  using std::chrono::minutes;
  using std::chrono::seconds;
  std::vector<RuleSpec> r;
  r.push_back({"near-limit",
               "working_set_ratio > 85%",
               seconds(10),
               seconds(30),
               minutes(5),
               Severity::kWarning,
               {ActionKind::kLog, ActionKind::kAlert},
               {}});
  r.push_back({"fast-growth",
               "time_to_oom < 60s and working_set_ratio > 50%",
               seconds(2),
               seconds(10),
               minutes(5),
               Severity::kWarning,
               {ActionKind::kLog, ActionKind::kAlert},
               {}});
  r.push_back({"oom-imminent",
               "(time_to_oom < 10s and working_set_ratio > 70%) or working_set_ratio > 95% or "
               "(time_to_oom < 3 * capture_seconds and working_set_ratio > 50%)",
               seconds(0),
               seconds(10),
               minutes(5),
               Severity::kCritical,
               {ActionKind::kLog, ActionKind::kAlert, ActionKind::kDump},
               {}});
  r.push_back({"memory-stall",
               "psi_full_avg10 > 10",
               seconds(10),
               seconds(30),
               minutes(5),
               Severity::kWarning,
               {ActionKind::kLog, ActionKind::kAlert},
               {}});
  r.push_back({"reclaim-storm",
               "rate(pgscan[10s]) > 5000 and working_set_ratio > 80%",
               seconds(10),
               seconds(30),
               minutes(5),
               Severity::kWarning,
               {ActionKind::kLog, ActionKind::kAlert},
               {}});
  r.push_back({"gc-thrash",
               "rate(gc_cycles[30s]) > 1 and working_set_ratio > 85%",
               seconds(30),
               seconds(30),
               minutes(5),
               Severity::kWarning,
               {ActionKind::kLog, ActionKind::kAlert},
               {}});
  return r;
}

}  // namespace oomsentinel
