// actions/: what a rule's firing does (log, alert, dump); daemon/ only wires them.
// The sinks the alert and dump actions drive, made from their specs and kept across reloads: the
// dump runner with its incident store, and the Alertmanager notifier. daemon/ translates the
// config into the specs and reads back what the runner and the notifier report.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actions/action.h"
#include "actions/alert_action.h"
#include "actions/dump_action.h"
#include "alerts/alertmanager.h"
#include "core/clock.h"
#include "dumpers/dump_runner.h"
#include "dumpers/incident_store.h"

namespace oomsentinel {

struct DumpSinkSpec {
  StoreLimits store;
  StormLimits storm;
  // Where a throttled target's memory.high is recorded (dump.throttle_records); nullopt: no
  // target throttles, and none is needed.
  std::optional<std::string> throttle_records;
};

// The dump runner and its incident store. A store whose limits did not change is kept, and so is
// the runner (its storm state): a reload does not forget the cooldowns. The runner's destructor
// waits for the bundles in progress (each ends by its deadline).
class RunnerHolder {
 public:
  RunnerHolder(const Clock& clock, ActionLog& log) : clock_(clock), log_(log) {}
  // Makes or keeps the store and the runner; an unusable directory is logged (the dump action
  // will fail, and say so), never fatal.
  void configure(const DumpSinkSpec& spec);
  DumpRunner* runner() const { return runner_.get(); }
  DumpSink* sink() const { return sink_.get(); }  // null until configured
  // The incidents a stopped run left unfinished, found when the store was made (logged then),
  // for the caller's metrics; once.
  std::vector<LostIncident> takeLost() { return std::exchange(lost_, {}); }

 private:
  void makeStore(const StoreLimits& limits);
  const Clock& clock_;
  ActionLog& log_;
  std::shared_ptr<IncidentStore> store_;
  std::unique_ptr<DumpRunner> runner_;
  std::unique_ptr<RunnerDumpSink> sink_;
  std::vector<LostIncident> lost_;
};

// The Alertmanager notifier: made at the first spec, reloaded with the next ones (its alerts and
// counters kept), gone with none.
class NotifierHolder {
 public:
  NotifierHolder(const Clock& clock, ActionLog& log) : clock_(clock), log_(log) {}
  // nullopt: the config has no alerts.alertmanager. Returns true when a notifier was made anew
  // (its counters start over). A spec the notifier refuses is logged: a new one is not made (the
  // alert action will say it does not run), a reload keeps the settings it had.
  bool configure(const std::optional<AlertmanagerSpec>& spec);
  AlertmanagerNotifier* notifier() const { return notifier_.get(); }
  AlertSink* sink() const { return sink_.get(); }  // null without a notifier

 private:
  const Clock& clock_;
  ActionLog& log_;
  std::unique_ptr<AlertmanagerNotifier> notifier_;
  std::unique_ptr<NotifierAlertSink> sink_;
};

}  // namespace oomsentinel
