// The actions' side of the Watchdog: the config translated into their sinks' specs (the dump
// runner and its incident store, the Alertmanager notifier: actions/sinks.h makes them), a firing
// handed to its rule's actions (actions/dispatcher.h), and what the sinks report back at the end of
// a tick.
#include <algorithm>

#include "core/units.h"
#include "daemon/report.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

void Watchdog::LoggerActionLog::write(Level level, const std::string& msg,
                                      const LogFields& fields) {
  log_.log(level == Level::kError     ? LogLevel::kError
           : level == Level::kWarning ? LogLevel::kWarning
                                      : LogLevel::kInfo,
           msg, fields);
}

DumpPlan dumpPlanFor(const TargetSpec& t) {
  const TargetDumpSpec& d = t.dump;
  DumpPlan p;
  p.dumpers = d.dumpers;
  p.proc_smaps = d.proc_smaps;
  p.gperftools.heap_prefix = d.gperftools_heap_prefix;
  p.gperftools.signal = d.gperftools_signal;
  if (auto url = Url::parse(t.runtime.go_pprof_url)) p.go_pprof_url = *url;
  p.go_profiles = d.go_profiles;
  p.jvm.class_histogram = d.jvm_class_histogram;
  p.jvm.heap_dump = d.jvm_heap_dump;
  p.jvm.class_histogram_all = d.jvm_class_histogram_all;
  p.jvm.attach = d.jvm_attach_jcmd ? JvmAttach::kJcmd : JvmAttach::kDirect;
  p.exec_argv = d.exec_argv;
  p.exec_timeout = d.exec_timeout;
  p.exec_user = d.exec_user;
  p.exec_limits = {d.exec_memory_max, d.exec_pids_max};
  if (d.throttle) {
    ThrottleSpec throttle;
    throttle.max_duration = d.throttle_max_duration;
    throttle.headroom = d.throttle_headroom;
    p.throttle = throttle;
  }
  return p;
}

namespace {

// The dump runner's settings from the config's dump section.
DumpSinkSpec dumpSinkSpecFor(const Config& config) {
  DumpSinkSpec spec;
  spec.store.dir = config.dump.dir;
  spec.store.max_incidents = config.dump.max_incidents;
  spec.store.max_bytes = config.dump.max_bytes;
  spec.store.max_age = config.dump.max_age;
  spec.store.min_free = config.dump.min_free;
  spec.store.max_bundle_bytes = config.dump.max_bundle_bytes;
  spec.storm.per_minute = config.dump.per_minute;
  spec.storm.target_cooldown = config.dump.target_cooldown;
  if (std::any_of(config.targets.begin(), config.targets.end(),
                  [](const TargetSpec& t) { return t.dump.throttle; }))
    spec.throttle_records = config.dump.throttle_records;
  return spec;
}

}  // namespace

// The dump action's runner and incident store, when a rule dumps (kept across reloads:
// actions/sinks.h); an injected sink stands for both.
void Watchdog::configureDumps(const Config& config) {
  dump_action_.setLimits(config.dump.timeout, config.dump.max_artifact_bytes);
  if (injected_.dumps) return;
  bool dumps = std::any_of(config.rules.begin(), config.rules.end(), [](const RuleSpec& r) {
    return std::find(r.actions.begin(), r.actions.end(), ActionKind::kDump) != r.actions.end();
  });
  if (dumps) runners_.configure(dumpSinkSpecFor(config));
  setDumpSink(dumpSink());
}

AlertmanagerSpec alertmanagerSpecFor(const AlertsSpec& a) {
  AlertmanagerSpec spec;
  spec.urls = a.alertmanager_urls;
  spec.resend_interval = a.resend_interval;
  spec.timeout = a.alertmanager_timeout;
  spec.bearer_token_file = a.bearer_token_file;
  spec.basic_auth_file = a.basic_auth_file;
  spec.static_labels = a.static_labels;
  spec.tls.ca_file = a.tls.ca_file;
  spec.tls.cert_file = a.tls.cert_file;
  spec.tls.key_file = a.tls.key_file;
  spec.tls.server_name = a.tls.server_name;
  spec.tls.insecure_skip_verify = a.tls.insecure_skip_verify;
  spec.generator_url = generatorUrlFor(a.metrics_listen);
  return spec;
}

void Watchdog::configureAlerts(const Config& config) {
  if (injected_.alerts) return;
  bool configured = !config.alerts.alertmanager_urls.empty();
  if (notifiers_.configure(configured ? std::optional(alertmanagerSpecFor(config.alerts))
                                      : std::nullopt))
    notifier_changes_seen_ = ~std::uint64_t{0};  // a new notifier: its counters start over
  if (!configured) metrics_->alertmanager({});   // its series go with it
  alert_action_.setSink(alertSink());
}

void Watchdog::dispatch(const Firing& f, Watched& w) {
  log_.transition(f);
  metrics_->transition(f);
  if (f.to == RuleState::kFiring && f.severity == Severity::kCritical)
    w.last_critical = clock_.steadyNow();
  const JvmPerfCollector* jvm = w.collector ? w.collector->jvm() : nullptr;
  TargetContext t{w.spec.target,
                  w.snapshot,
                  w.labels,
                  w.history,
                  w.history_next,
                  w.collector ? w.collector->cgroupDir() : std::string(),
                  jvm ? jvm->jvmPid() : std::nullopt,
                  &w.dump_plan};
  dispatcher_.dispatch(f, t);
}

void Watchdog::pollAlerts() {
  AlertmanagerNotifier* am = notifier();
  if (!am) return;
  am->poll();
  if (am->changes() != notifier_changes_seen_) {
    notifier_changes_seen_ = am->changes();
    metrics_->alertmanager(am->status());
  }
  for (const auto& [url, error] : am->takeErrorChanges()) {
    if (error.empty())
      log_.log(LogLevel::kInfo, "Alertmanager accepts alerts again", {{"url", url}});
    else
      log_.log(LogLevel::kWarning, "Alertmanager push failed; retrying with backoff",
               {{"url", url}, {"error", error}});
  }
}

void Watchdog::logThrottle(const ThrottleEvent& e) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (!e.target.empty()) fields.emplace_back("target", e.target);
  if (!e.cgroup_dir.empty()) fields.emplace_back("cgroup", e.cgroup_dir);
  const char* result = throttleResultName(e.result);
  fields.emplace_back("result", result);
  fields.emplace_back("detail", e.detail);
  fields.emplace_back("at", formatWallTime(e.at));
  log_.log(e.result == ThrottleResult::kFailed ? LogLevel::kError : LogLevel::kWarning,
           throttleResultMessage(e.result), fields);
  if (!e.target.empty()) metrics_->throttle(e.target, result, e.held);
}

// A dump's durations teach its target how long a capture takes (daemon/capture_times.h): those
// that captured something or ran to their deadline; a failure (a target gone, an endpoint that
// refused) or a skip says nothing of it.
void Watchdog::learnCaptureTimes(const DumpReport& r) {
  Watched* w = targets_.find(r.target);
  if (!w) return;
  for (const auto& o : r.outcomes) {
    auto kind = parseDumperKind(o.dumper);
    if (kind && (o.result == DumpResult::kOk || o.result == DumpResult::kPartial ||
                 o.result == DumpResult::kTimedOut))
      w->capture.record(*kind, o.took);
  }
}

void Watchdog::collectDumpReports() {
  // Logged by the store's holder when it found them; counted here, where the metrics are.
  for (const auto& l : runners_.takeLost()) metrics_->incident(l.target, "lost");
  DumpRunner* dump_runner = runner();
  if (!dump_runner) return;
  for (const auto& e : dump_runner->takeThrottleEvents()) logThrottle(e);
  for (const auto& r : dump_runner->takeFinished()) {
    learnCaptureTimes(r);
    std::vector<std::pair<std::string, std::string>> fields = {
        {"rule", r.rule}, {"target", r.target}, {"took", formatDuration(r.took)}};
    std::string results;
    for (const auto& o : r.outcomes) {
      results += (results.empty() ? "" : " ") + o.dumper + "=" + dumpResultName(o.result);
      if (!o.error.empty()) fields.emplace_back(o.dumper + "_error", o.error);
    }
    fields.emplace_back("results", results);
    for (const auto& o : r.outcomes) {
      double bytes = 0;
      for (const auto& a : o.artifacts) bytes += static_cast<double>(a.bytes);
      metrics_->dump(r.target, o.dumper, dumpResultName(o.result),
                     std::chrono::duration<double>(o.took).count(), bytes);
    }
    metrics_->incident(r.target, r.published                          ? "published"
                                 : r.error.rfind("skipped: ", 0) == 0 ? "skipped"
                                                                      : "failed");
    if (r.published) {
      // The first dumper whose report names a site (the runtime's heap dumpers run after proc).
      std::string top;
      for (const auto& o : r.outcomes)
        if (top.empty()) top = o.top_site;
      if (AlertSink* alerts = alertSink()) alerts->setIncident(r.rule, r.target, r.path, top);
      fields.emplace_back("bundle", r.path);
      if (!top.empty()) fields.emplace_back("top_growth", top);
      log_.log(LogLevel::kWarning, "incident bundle published", fields);
    } else {
      fields.emplace_back("error", r.error);
      log_.log(LogLevel::kError, "no incident bundle", fields);
    }
  }
}

void Watchdog::shutdown() {
  DumpRunner* dump_runner = runner();
  AlertmanagerNotifier* am = notifier();
  if (dump_runner) {
    // The workload must not stay throttled while oomsentinel stops.
    dump_runner->releaseThrottles();
    for (const auto& e : dump_runner->takeThrottleEvents()) logThrottle(e);
  }
  if (am && !am->flush(config_.alerts.alertmanager_timeout)) {
    auto st = am->status();
    log_.log(LogLevel::kWarning, "stopping with alerts not delivered to every Alertmanager",
             {{"waited", formatDuration(config_.alerts.alertmanager_timeout)},
              {"active", std::to_string(st.active)},
              {"resolving", std::to_string(st.resolving)},
              {"error", st.total.last_error}});
  }
  if (dump_runner && dump_runner->running() > 0) {
    // A bundle in progress is worth finishing (each ends by its deadline), and its outcome is
    // worth a log line: the runner's destructor would wait for it anyway, but silently.
    log_.log(LogLevel::kInfo, "waiting for the dumps in progress",
             {{"running", std::to_string(dump_runner->running())}});
    dump_runner->drain(config_.dump.timeout + std::chrono::seconds(1));
  }
  // Always: a dump that ended after the last tick's collection has a report nobody logged yet.
  collectDumpReports();
}

}  // namespace oomsentinel
