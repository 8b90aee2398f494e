#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "config/config.h"
#include "config/values.h"
#include "core/firing.h"

namespace oomsentinel {

// Every value is written in the syntax the loader reads (durations in one exact unit, ratios as
// percents), so the output loads back to an equal Config; the config tests check that.
namespace {

std::string exactBytes(std::uint64_t n) {
  if (n != 0 && n % (std::uint64_t{1} << 30) == 0) return std::to_string(n >> 30) + "GiB";
  if (n != 0 && n % (1 << 20) == 0) return std::to_string(n >> 20) + "MiB";
  if (n != 0 && n % (1 << 10) == 0) return std::to_string(n >> 10) + "KiB";
  return std::to_string(n);
}

// Only what is configured: a target without runtime endpoints prints none of these keys.
void printRuntime(YAML::Emitter& out, const RuntimeSpec& rt, const TargetDumpSpec& d) {
  using config_values::formatDurationExact;
  if (!rt.go_pprof_url.empty() || !rt.go_expvar_url.empty()) {
    out << YAML::Key << "go" << YAML::Value << YAML::BeginMap;
    if (!rt.go_pprof_url.empty()) out << YAML::Key << "pprof_url" << YAML::Value << rt.go_pprof_url;
    out << YAML::Key << "expvar_url" << YAML::Value << rt.go_expvar_url;
    out << YAML::Key << "profiles" << YAML::Value << YAML::Flow << d.go_profiles;
    out << YAML::EndMap;
  }
  if (rt.jvm_perfdata || d.jvm_heap_dump || !d.jvm_class_histogram || d.jvm_class_histogram_all ||
      d.jvm_attach_jcmd ||
      std::find(d.dumpers.begin(), d.dumpers.end(), DumperKind::kJvm) != d.dumpers.end())
    out << YAML::Key << "jvm" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
        << "perfdata" << YAML::Value << rt.jvm_perfdata << YAML::Key << "class_histogram"
        << YAML::Value << d.jvm_class_histogram << YAML::Key << "class_histogram_all" << YAML::Value
        << d.jvm_class_histogram_all << YAML::Key << "heap_dump" << YAML::Value << d.jvm_heap_dump
        << YAML::Key << "attach" << YAML::Value << (d.jvm_attach_jcmd ? "jcmd" : "direct")
        << YAML::EndMap;
  if (!rt.metrics_url.empty()) out << YAML::Key << "metrics_url" << YAML::Value << rt.metrics_url;
  if (!rt.signals.empty()) {
    out << YAML::Key << "signals" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, selector] : rt.signals)
      out << YAML::Key << name << YAML::Value << YAML::SingleQuoted << selector;
    out << YAML::EndMap;
  }
  if (!rt.go_expvar_url.empty() || !rt.metrics_url.empty()) {
    out << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "interval" << YAML::Value << formatDurationExact(rt.interval);
    out << YAML::Key << "timeout" << YAML::Value << formatDurationExact(rt.timeout);
    out << YAML::Key << "stale_after" << YAML::Value << formatDurationExact(rt.stale_after);
    out << YAML::Key << "max_bytes" << YAML::Value << exactBytes(rt.max_bytes);
    out << YAML::EndMap;
  }
}

void printTargetDump(YAML::Emitter& out, const TargetDumpSpec& d) {
  using config_values::formatDurationExact;
  out << YAML::Key << "dumpers" << YAML::Value << YAML::Flow << names(d.dumpers);
  if (!d.gperftools_heap_prefix.empty()) {
    out << YAML::Key << "gperftools" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "heap_prefix" << YAML::Value << d.gperftools_heap_prefix;
    out << YAML::Key << "signal" << YAML::Value << d.gperftools_signal;
    out << YAML::EndMap;
  }
  if (!d.exec_argv.empty()) {
    out << YAML::Key << "exec" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "argv" << YAML::Value << YAML::Flow << d.exec_argv;
    out << YAML::Key << "timeout" << YAML::Value << formatDurationExact(d.exec_timeout);
    out << YAML::Key << "user" << YAML::Value << d.exec_user;
    out << YAML::Key << "memory_max" << YAML::Value << exactBytes(d.exec_memory_max);
    out << YAML::Key << "pids_max" << YAML::Value << d.exec_pids_max;
    out << YAML::EndMap;
  }
  if (d.proc_smaps)
    out << YAML::Key << "proc" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
        << "smaps" << YAML::Value << true << YAML::EndMap;
  if (d.throttle) {
    out << YAML::Key << "throttle_during_dump" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "max_duration" << YAML::Value
        << formatDurationExact(d.throttle_max_duration);
    if (d.throttle_headroom)
      out << YAML::Key << "headroom" << YAML::Value << exactBytes(d.throttle_headroom);
    out << YAML::EndMap;
  }
}

void printPoll(YAML::Emitter& out, const PollSpec& poll) {
  using config_values::formatDurationExact;
  out << YAML::Key << "poll" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "interval" << YAML::Value << formatDurationExact(poll.interval);
  out << YAML::Key << "fast_interval" << YAML::Value << formatDurationExact(poll.fast_interval);
  out << YAML::Key << "fast_above" << YAML::Value << config_values::formatRatio(poll.fast_above);
  out << YAML::Key << "fast_when_tto_below" << YAML::Value
      << formatDurationExact(poll.fast_when_tto_below);
  out << YAML::Key << "full_read_interval" << YAML::Value
      << formatDurationExact(poll.full_read_interval);
  out << YAML::Key << "events" << YAML::Value << poll.events;
  out << YAML::Key << "psi_stall" << YAML::Value << formatDurationExact(poll.psi_stall);
  out << YAML::Key << "psi_window" << YAML::Value << formatDurationExact(poll.psi_window);
  out << YAML::Key << "skim_rate" << YAML::Value << exactBytes(poll.skim_rate) + "/s";
  out << YAML::Key << "degrade_above" << YAML::Value
      << config_values::formatRatio(poll.degrade_above);
  out << YAML::EndMap;
}

void printDump(YAML::Emitter& out, const DumpSpec& d) {
  using config_values::formatDurationExact;
  out << YAML::Key << "dump" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "dir" << YAML::Value << d.dir;
  out << YAML::Key << "max_incidents" << YAML::Value << d.max_incidents;
  out << YAML::Key << "max_bytes" << YAML::Value << exactBytes(d.max_bytes);
  out << YAML::Key << "max_age" << YAML::Value << formatDurationExact(d.max_age);
  out << YAML::Key << "min_free" << YAML::Value << exactBytes(d.min_free);
  out << YAML::Key << "max_artifact_bytes" << YAML::Value << exactBytes(d.max_artifact_bytes);
  out << YAML::Key << "max_bundle_bytes" << YAML::Value << exactBytes(d.max_bundle_bytes);
  out << YAML::Key << "timeout" << YAML::Value << formatDurationExact(d.timeout);
  out << YAML::Key << "per_minute" << YAML::Value << d.per_minute;
  out << YAML::Key << "target_cooldown" << YAML::Value << formatDurationExact(d.target_cooldown);
  out << YAML::Key << "history" << YAML::Value << d.history;
  out << YAML::Key << "throttle_records" << YAML::Value << d.throttle_records;
  out << YAML::EndMap;
}

void printDiscovery(YAML::Emitter& out, const DiscoverySpec& discovery) {
  using config_values::formatDurationExact;
  out << YAML::Key << "discovery" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "interval" << YAML::Value << formatDurationExact(discovery.interval);
  out << YAML::Key << "containers_log_dir" << YAML::Value << discovery.containers_log_dir;
  out << YAML::EndMap;
}

void printTls(YAML::Emitter& out, const AlertsSpec::Tls& tls) {
  if (tls != AlertsSpec::Tls{}) {
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    auto put = [&](const char* key, const std::string& v) {
      if (!v.empty()) out << YAML::Key << key << YAML::Value << v;
    };
    put("ca_file", tls.ca_file);
    put("cert_file", tls.cert_file);
    put("key_file", tls.key_file);
    put("server_name", tls.server_name);
    if (tls.insecure_skip_verify) out << YAML::Key << "insecure_skip_verify" << YAML::Value << true;
    out << YAML::EndMap;
  }
}

void printAlerts(YAML::Emitter& out, const AlertsSpec& al) {
  using config_values::formatDurationExact;
  if (!al.metrics_listen.empty() || !al.alertmanager_urls.empty()) {
    out << YAML::Key << "alerts" << YAML::Value << YAML::BeginMap;
    if (!al.metrics_listen.empty())
      out << YAML::Key << "metrics" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
          << "listen" << YAML::Value << al.metrics_listen << YAML::EndMap;
    if (!al.alertmanager_urls.empty()) {
      out << YAML::Key << "alertmanager" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "urls" << YAML::Value << YAML::Flow << al.alertmanager_urls;
      out << YAML::Key << "resend_interval" << YAML::Value
          << formatDurationExact(al.resend_interval);
      out << YAML::Key << "timeout" << YAML::Value << formatDurationExact(al.alertmanager_timeout);
      if (!al.bearer_token_file.empty())
        out << YAML::Key << "bearer_token_file" << YAML::Value << al.bearer_token_file;
      if (!al.basic_auth_file.empty())
        out << YAML::Key << "basic_auth_file" << YAML::Value << al.basic_auth_file;
      printTls(out, al.tls);
      if (!al.static_labels.empty()) {
        out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
        for (const auto& [k, v] : al.static_labels) out << YAML::Key << k << YAML::Value << v;
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
}

void printTarget(YAML::Emitter& out, const TargetSpec& t) {
  using config_values::formatDurationExact;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << t.target.name;
  if (t.selector.any()) {
    // Quoted: a regex or glob may start with '*' or '[', which YAML reads otherwise.
    out << YAML::Key << selectorKindName(t.selector.kind) << YAML::Value << YAML::DoubleQuoted
        << t.selector.pattern;
  } else {
    switch (t.target.kind) {
      case TargetKind::kCgroup:
        out << YAML::Key << "cgroup" << YAML::Value << t.target.cgroup;
        break;
      case TargetKind::kPid:
        out << YAML::Key << "pid" << YAML::Value << static_cast<long>(t.target.pid);
        break;
      case TargetKind::kSelf:
        out << YAML::Key << "self" << YAML::Value << true;
        break;
      case TargetKind::kHost:
        out << YAML::Key << "host" << YAML::Value << true;
        break;
    }
  }
  if (!t.limit_env.empty()) out << YAML::Key << "limit_env" << YAML::Value << t.limit_env;
  out << YAML::Key << "predict_window" << YAML::Value << formatDurationExact(t.predict_window);
  printRuntime(out, t.runtime, t.dump);
  printTargetDump(out, t.dump);
  out << YAML::EndMap;
}

void printTargets(YAML::Emitter& out, const Config& config) {
  out << YAML::Key << "targets" << YAML::Value;
  if (config.targets.empty()) {
    out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
    out << YAML::Comment("none: the daemon picks a default target");
  } else {
    out << YAML::BeginSeq;
    for (const auto& t : config.targets) printTarget(out, t);
    out << YAML::EndSeq;
  }
}

void printRules(YAML::Emitter& out, const Config& config) {
  using config_values::formatDurationExact;
  out << YAML::Key << "rules" << YAML::Value;
  if (config.rules.empty()) {
    out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
  } else {
    if (config.rules_are_defaults)
      out << YAML::Comment("the built-in rules: the config has no 'rules' key");
    out << YAML::BeginSeq;
    for (const auto& r : config.rules) {
      out << YAML::BeginMap;
      out << YAML::Key << "name" << YAML::Value << r.name;
      out << YAML::Key << "expr" << YAML::Value << YAML::DoubleQuoted << r.expr;
      out << YAML::Key << "for" << YAML::Value << formatDurationExact(r.for_duration);
      out << YAML::Key << "keep_firing_for" << YAML::Value
          << formatDurationExact(r.keep_firing_for);
      out << YAML::Key << "cooldown" << YAML::Value << formatDurationExact(r.cooldown);
      out << YAML::Key << "severity" << YAML::Value << severityName(r.severity);
      out << YAML::Key << "actions" << YAML::Value << YAML::Flow << names(r.actions);
      out << YAML::Key << "targets" << YAML::Value << YAML::Flow << r.targets;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
}

}  // namespace

std::string printConfig(const Config& config) {
  YAML::Emitter out;
  out.SetIndent(2);
  std::string source = config.source;
  std::replace(source.begin(), source.end(), '\n', ' ');
  out << YAML::Comment("oomsentinel config from " + source + ", every default applied");
  out << YAML::BeginMap;
  printPoll(out, config.poll);
  printDump(out, config.dump);
  printDiscovery(out, config.discovery);
  printAlerts(out, config.alerts);
  printTargets(out, config);
  printRules(out, config);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace oomsentinel
