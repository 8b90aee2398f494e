#include "actions/dispatcher.h"

#include <algorithm>

namespace oomsentinel {

const std::vector<ActionDispatcher::Route>& ActionDispatcher::routeOf(const Firing& f) {
  auto it = routes_.find(f.rule);
  if (it != routes_.end()) return it->second;
  // A rule's actions are fixed until the next reset(): a rule whose actions change is another
  // rule to the engine, and reset() comes with the config that changed it.
  std::vector<Route> route;
  for (ActionKind kind : f.actions) {
    auto a = std::find_if(actions_.begin(), actions_.end(),
                          [&](const Action* x) { return x->kind() == kind; });
    route.push_back({kind, a == actions_.end() ? nullptr : *a});
  }
  return routes_.emplace(f.rule, std::move(route)).first->second;
}

void ActionDispatcher::dispatch(const Firing& f, const TargetContext& t) {
  if (f.from == RuleState::kFiring && f.to != RuleState::kFiring)
    for (Action* a : actions_) a->resolve(f);
  if (f.to != RuleState::kFiring || f.actions.empty()) return;
  for (const Route& r : routeOf(f)) {
    if (!r.action) {
      sayUnavailable(r.kind, "there is no such action", f);
    } else if (std::string_view why = r.action->unavailable(); !why.empty()) {
      sayUnavailable(r.kind, why, f);
    } else {
      r.action->fire(f, t);
    }
  }
}

void ActionDispatcher::sayUnavailable(ActionKind kind, std::string_view why, const Firing& f) {
  if (std::find(unavailable_logged_.begin(), unavailable_logged_.end(), kind) !=
      unavailable_logged_.end())
    return;
  unavailable_logged_.push_back(kind);
  log_.write(ActionLog::Level::kWarning,
             "action '" + std::string(name(kind)) + "' does not run: " + std::string(why),
             {{"rule", f.rule}});
}

}  // namespace oomsentinel
