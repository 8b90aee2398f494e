#include "actions/log_action.h"

#include "core/signal.h"
#include "core/units.h"

namespace oomsentinel {

void LogAction::fire(const Firing& f, const TargetContext& t) {
  // The evidence: every signal the target offered at the moment the rule fired (not the raw
  // memory.stat keys and local event counters, which would bury it).
  LogFields fields = {{"rule", f.rule}, {"target", f.target}};
  t.snapshot.forEach([&](SignalId sid, double v) {
    std::string name = signalName(sid);
    if (name.rfind("stat_", 0) == 0 || name.rfind("events_local_", 0) == 0) return;
    fields.emplace_back(std::move(name), formatValue(v));
  });
  log_.write(ActionLog::Level::kWarning, "firing: signals at the moment of firing", fields);
}

}  // namespace oomsentinel
