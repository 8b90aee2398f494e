// actions/: what a rule's firing does (log, alert, dump); daemon/ only wires them.
// ActionDispatcher: a firing's route to its rule's actions. The route is looked up by name once
// per rule (after each reload), so a firing reaches its actions in one hop; an action the config
// cannot run is said once and skipped.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "actions/action.h"

namespace oomsentinel {

class ActionDispatcher {
 public:
  // The actions (not owned), one per kind(); each must outlive the dispatcher.
  ActionDispatcher(std::vector<Action*> actions, ActionLog& log)
      : actions_(std::move(actions)), log_(log) {}

  // A new config: which actions can run may have changed, and so may a rule's actions.
  void reset() { routes_.clear(); }
  // A rule's transition: a resolve goes to every action (each ignores what it never did), a
  // firing to each of the rule's actions (none within its cooldown: Firing::actions is empty).
  void dispatch(const Firing& f, const TargetContext& t);

 private:
  struct Route {
    ActionKind kind;
    Action* action;  // null: no action of that kind was made
  };
  const std::vector<Route>& routeOf(const Firing& f);
  void sayUnavailable(ActionKind kind, std::string_view why, const Firing& f);

  std::vector<Action*> actions_;
  ActionLog& log_;
  std::unordered_map<std::string, std::vector<Route>> routes_;  // by rule name
  std::vector<ActionKind> unavailable_logged_;
};

}  // namespace oomsentinel
