#include "core/firing.h"

namespace oomsentinel {

const char* severityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "unknown";
}

const char* ruleStateName(RuleState s) {
  switch (s) {
    case RuleState::kInactive:
      return "inactive";
    case RuleState::kPending:
      return "pending";
    case RuleState::kFiring:
      return "firing";
    case RuleState::kResolved:
      return "resolved";
  }
  return "unknown";
}

}  // namespace oomsentinel
