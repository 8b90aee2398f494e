// actions/: what a rule's firing does (log, alert, dump); daemon/ only wires them.
// LogAction (`log`): one line with every signal the target offered at the moment of firing.
#pragma once

#include "actions/action.h"

namespace oomsentinel {

class LogAction final : public Action {
 public:
  explicit LogAction(ActionLog& log) : log_(log) {}
  ActionKind kind() const override { return ActionKind::kLog; }
  void fire(const Firing& f, const TargetContext& t) override;

 private:
  ActionLog& log_;
};

}  // namespace oomsentinel
