#include "actions/sinks.h"

#include "core/units.h"

namespace oomsentinel {

namespace {

bool sameLimits(const StoreLimits& a, const StoreLimits& b) {
  return a.dir == b.dir && a.max_incidents == b.max_incidents && a.max_bytes == b.max_bytes &&
         a.max_age == b.max_age && a.min_free == b.min_free &&
         a.max_bundle_bytes == b.max_bundle_bytes;
}

}  // namespace

void RunnerHolder::makeStore(const StoreLimits& limits) {
  auto store = std::make_shared<IncidentStore>(limits);
  auto prepared = store->prepare(clock_.wallNow());
  if (!prepared)
    log_.write(ActionLog::Level::kError, "dump directory unusable; the dump action will fail",
               {{"dir", limits.dir}, {"error", prepared.error().describe()}});
  for (const auto& n : store->takeNotices())
    log_.write(ActionLog::Level::kWarning, "dump directory changed to be used",
               {{"dir", limits.dir}, {"change", n}});
  // Once each, here: the next start finds the record, not the `.partial-*` again.
  for (auto& l : store->takeLost()) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {"target", l.target}, {"rule", l.rule}, {"incident", l.name}, {"reason", kLostReason}};
    if (!l.path.empty())
      fields.emplace_back("record", l.path);
    else
      fields.emplace_back("error", "no record kept: " + l.error);
    log_.write(ActionLog::Level::kWarning, "incident lost: its dump never finished", fields);
    lost_.push_back(std::move(l));
  }
  store_ = std::move(store);
  // A runner still busy with the old store finishes its bundles before it goes.
  sink_.reset();
  runner_.reset();
}

void RunnerHolder::configure(const DumpSinkSpec& spec) {
  if (!store_ || !sameLimits(store_->limits(), spec.store)) makeStore(spec.store);
  if (!runner_) {
    runner_ = std::make_unique<DumpRunner>(store_, spec.storm, clock_);
    sink_ = std::make_unique<RunnerDumpSink>(*runner_);
  } else {
    runner_->setLimits(spec.storm);
  }
  std::shared_ptr<const ThrottleRecords> records;
  if (spec.throttle_records) {
    auto made = std::make_shared<ThrottleRecords>(*spec.throttle_records);
    if (auto st = made->prepare(); !st)
      log_.write(ActionLog::Level::kError,
                 "throttle records directory unusable; dumps will not throttle (memory.high is "
                 "never changed without a record to put it back from)",
                 {{"dir", made->dir()}, {"error", st.error().describe()}});
    records = std::move(made);
  }
  runner_->setThrottleRecords(std::move(records));
}

bool NotifierHolder::configure(const std::optional<AlertmanagerSpec>& spec) {
  sink_.reset();
  if (!spec) {
    notifier_.reset();
    return false;
  }
  bool made_anew = false;
  if (notifier_) {
    if (auto st = notifier_->reload(*spec); !st)
      log_.write(ActionLog::Level::kError, "alertmanager settings not changed",
                 {{"error", st.error().describe()}});
  } else {
    auto made = AlertmanagerNotifier::create(*spec, clock_);
    if (!made) {
      log_.write(ActionLog::Level::kError,
                 "cannot push alerts to Alertmanager; the alert action will not run",
                 {{"error", made.error().describe()}});
      return false;
    }
    notifier_ = std::move(*made);
    made_anew = true;
    std::string urls;
    for (const auto& u : spec->urls) urls += (urls.empty() ? "" : ",") + u;
    log_.write(ActionLog::Level::kInfo, "pushing alerts to Alertmanager",
               {{"urls", urls}, {"resend_interval", formatDuration(spec->resend_interval)}});
  }
  sink_ = std::make_unique<NotifierAlertSink>(*notifier_);
  return made_anew;
}

}  // namespace oomsentinel
