// config/: one YAML file -> typed, validated configuration. Every error carries
// file:line:column and the key path, and all of them are reported, not just the first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/kinds.h"
#include "core/target.h"
#include "rules/rule_spec.h"

namespace oomsentinel {

struct PollSpec {
  Duration interval = std::chrono::seconds(1);
  Duration fast_interval = std::chrono::milliseconds(50);
  double fast_above = 0.70;  // working_set_ratio
  Duration fast_when_tto_below = std::chrono::seconds(30);
  // A target no rule can fire on (docs/design/quiet-targets.md) is read in full this often; on the
  // ticks between, only its usage, OOM events and pressure. 0: every tick reads everything.
  Duration full_read_interval = std::chrono::seconds(10);
  // Kernel notifications start a tick at once (docs/design/wakeups.md): cgroup v1 usage
  // thresholds derived from the rules and the OOM notifier, and a PSI trigger on the host's
  // memory pressure (`psi_stall` of "some" stall within `psi_window`); and the usage watch
  // (daemon/usage_watch.h) between ticks.
  bool events = true;
  Duration psi_stall = std::chrono::milliseconds(100);
  Duration psi_window = std::chrono::seconds(1);
  // The skim of cgroup v2 targets between ticks (docs/design/wakeups.md) is sized to
  // catch a leak this fast, in bytes per second; 0 turns it off.
  std::uint64_t skim_rate = std::uint64_t{1} << 30;
  // The self guard (daemon/self_guard.h): oomsentinel's own working set at this ratio of its own
  // cgroup's limit degrades it (skims only, no dumps, no runtime fetches) until it falls 10 points
  // below. 0: off. No limit: off.
  double degrade_above = 0.90;
  bool operator==(const PollSpec&) const = default;
};

// What a target's runtime says about its memory: Go expvar, a Prometheus /metrics page, the
// JVM's perf-data file. Empty URLs mean "not configured".
struct RuntimeSpec {
  std::string go_pprof_url;   // go.pprof_url: the pprof dumper's address (and expvar's default)
  std::string go_expvar_url;  // go.expvar_url, or pprof_url's host and port + /debug/vars
  std::string metrics_url;    // metrics_url
  // signals: {name: 'family{label="x"}'}, read from metrics_url before the well-known families.
  std::vector<std::pair<std::string, std::string>> signals;
  bool jvm_perfdata = false;  // jvm.perfdata (true when a `jvm:` section is given)
  // runtime: how the HTTP endpoints are fetched.
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::milliseconds(500);
  Duration stale_after = std::chrono::seconds(5);
  std::uint64_t max_bytes = 4 << 20;

  bool any() const { return !go_expvar_url.empty() || !metrics_url.empty() || jvm_perfdata; }
  bool operator==(const RuntimeSpec&) const = default;
};

// How the `dump` action captures evidence for one target: which dumpers, and their settings.
struct TargetDumpSpec {
  // dumpers: [...] as given, or when absent: proc, plus each dumper whose section is configured
  // (gperftools, go.pprof_url -> go_pprof, jvm, exec).
  std::vector<DumperKind> dumpers = {DumperKind::kProc};
  std::string gperftools_heap_prefix;  // gperftools.heap_prefix: HEAPPROFILE as the target sees it
  int gperftools_signal = 12;          // gperftools.signal: HEAPPROFILESIGNAL (SIGUSR2)
  std::vector<std::string> go_profiles = {"heap", "goroutine?debug=2"};  // go.profiles
  bool jvm_class_histogram = true;                                       // jvm.class_histogram
  bool jvm_heap_dump = false;            // jvm.heap_dump: an .hprof, opt-in (expensive)
  bool jvm_class_histogram_all = false;  // jvm.class_histogram_all: -all, no full GC first
  // jvm.attach: direct (the default: the attach protocol spoken from the dump thread, no child;
  // docs/security.md, rule 4, "The direct attach") or jcmd (the JDK's, for a listener of another
  // protocol).
  bool jvm_attach_jcmd = false;
  std::vector<std::string> exec_argv;                // exec.argv: run as is, never through a shell
  Duration exec_timeout = std::chrono::seconds(10);  // exec.timeout
  std::string exec_user = "nobody";                  // exec.user: a name or uid; runs as it
  // exec.memory_max, exec.pids_max: its cgroup's memory.max (with memory.oom.group=1 and
  // memory.swap.max=0) and pids.max, where cgroup v2 offers the controllers (under the unit's
  // Delegate=yes). A hook is the user's code run on every dump: without a cap of its own it would
  // share the service's MemoryHigh (throttling the daemon) and TasksMax. Its cgroup is inside the
  // service's, so the cap must leave the daemon room under the unit's MemoryHigh=192M: 8 MiB for
  // the daemon, plus a 64 MiB jcmd and a 64 MiB hook is 136 MiB. 64 MiB holds a shell script with
  // a few tools; 512 tasks stop a fork bomb, not a busy collector. More: raise the unit's too.
  std::uint64_t exec_memory_max = 64ull << 20;
  std::uint64_t exec_pids_max = 512;
  bool proc_smaps = false;  // proc.smaps: also the full smaps
  // throttle_during_dump: true | {max_duration, headroom}: memory.high held just above usage
  // while the dump runs (cgroup v2; docs/design/throttle.md).
  bool throttle = false;
  Duration throttle_max_duration = std::chrono::seconds(5);
  std::uint64_t throttle_headroom = 0;  // 0: 1% of memory.max, at least 4 MiB
  bool operator==(const TargetDumpSpec&) const = default;
};

struct TargetSpec {
  // name + kind + cgroup/pid. For a selector target, kind is what discovery makes of it
  // (selectorTargetKind: kPid or kCgroup) with an empty cgroup and pid 0: it must be discovered
  // (collectors/discovery.h) before it can be watched.
  Target target;
  TargetSelector selector;  // kNone for a concrete target
  // limit_env: an environment variable that holds the target's memory limit in bytes (as the
  // Kubernetes Downward API's resourceFieldRef limits.memory gives it); empty when not set.
  std::string limit_env;
  Duration predict_window = std::chrono::seconds(10);  // time_to_oom's least-squares window
  RuntimeSpec runtime;
  TargetDumpSpec dump;
  bool operator==(const TargetSpec& o) const {
    return target.name == o.target.name && target.kind == o.target.kind &&
           target.cgroup == o.target.cgroup && target.pid == o.target.pid &&
           selector == o.selector && limit_env == o.limit_env &&
           predict_window == o.predict_window && runtime == o.runtime && dump == o.dump;
  }
};

// dump: where incident bundles go, how many are kept, and how often dumps may start.
struct DumpSpec {
  std::string dir = "/var/lib/oomsentinel/incidents";
  std::size_t max_incidents = 20;
  std::uint64_t max_bytes = std::uint64_t{2} << 30;  // all bundles together
  Duration max_age = std::chrono::hours(24 * 7);
  std::uint64_t min_free = std::uint64_t{1} << 30;  // a dump does not start below this
  std::uint64_t max_artifact_bytes = std::uint64_t{512} << 20;
  // All artifacts of one bundle together: retention never removes the newest bundle.
  std::uint64_t max_bundle_bytes = std::uint64_t{1} << 30;
  Duration timeout = std::chrono::seconds(30);         // a bundle's deadline, every dumper included
  std::size_t per_minute = 6;                          // bundles started per minute, all targets
  Duration target_cooldown = std::chrono::minutes(5);  // between two bundles of one target
  std::size_t history = 60;  // the target's last samples kept in the manifest
  // What throttle_during_dump changed, recorded before the change: a crashed daemon's next start
  // puts memory.high back from here.
  std::string throttle_records = "/var/lib/oomsentinel/throttle";
  bool operator==(const DumpSpec&) const = default;
};

// alerts: how oomsentinel tells the world.
struct AlertsSpec {
  // alerts.metrics.listen: where /metrics, /healthz and /readyz are served ("HOST:PORT");
  // empty: no HTTP server.
  std::string metrics_listen;
  // alerts.alertmanager: the direct push, one tick after a firing.
  std::vector<std::string> alertmanager_urls;
  Duration resend_interval = std::chrono::minutes(1);
  Duration alertmanager_timeout = std::chrono::seconds(2);
  std::string bearer_token_file, basic_auth_file;
  std::vector<std::pair<std::string, std::string>> static_labels;  // alerts.alertmanager.labels
  // alerts.alertmanager.tls, for https URLs: absolute paths; ca_file empty = the system store.
  struct Tls {
    std::string ca_file, cert_file, key_file, server_name;
    bool insecure_skip_verify = false;
    bool operator==(const Tls&) const = default;
  } tls;
  bool operator==(const AlertsSpec&) const = default;
};

// discovery: how selector targets (process, pid_file, cgroup_glob, systemd_unit) are found.
struct DiscoverySpec {
  Duration interval = std::chrono::seconds(5);  // how often selectors are evaluated again
  // The kubelet's per-container log symlinks (<pod>_<namespace>_<container>-<id>.log), which
  // name a container's pod, namespace and container.
  std::string containers_log_dir = "/var/log/containers";
  bool operator==(const DiscoverySpec&) const = default;
};

// The port oomsentinel suggests for alerts.metrics.listen (docs/metrics.md).
inline constexpr int kDefaultMetricsPort = 10087;

struct Config {
  std::string source;  // file path, or "(built-in)"
  PollSpec poll;
  std::vector<TargetSpec> targets;  // empty: the daemon picks a default target
  std::vector<RuleSpec> rules;      // the built-in defaults when the file gives none
  bool rules_are_defaults = true;   // the file has no `rules:` key (`rules: []` means none)
  DumpSpec dump;
  AlertsSpec alerts;
  DiscoverySpec discovery;

  // Same behaviour: poll, targets and rules. Where the config came from (source,
  // rules_are_defaults) is left out, so a reload that changes nothing compares equal, and so
  // does printConfig's output read back.
  bool operator==(const Config& o) const {
    return poll == o.poll && targets == o.targets && rules == o.rules && dump == o.dump &&
           alerts == o.alerts && discovery == o.discovery;
  }
};

// One finding: "file:line:column: key.path: message". The key path is empty for what belongs to
// no key (YAML syntax, an unreadable file), and line and column are 0 when unknown; format()
// leaves out the parts that are missing.
struct ConfigError {
  std::string file;
  int line = 0;          // 1-based; 0 when unknown
  int column = 0;        // 1-based; 0 when unknown
  std::string key_path;  // e.g. "rules[2].expr" (indexes from 0), "poll.fast_interval"
  std::string message;
  std::string format() const;
  bool operator==(const ConfigError&) const = default;
};

struct ConfigLoad {
  std::optional<Config> config;     // set only when there are no errors
  std::vector<ConfigError> errors;  // every finding, in file order
};

// Reads at most kMaxConfigBytes; a larger file is an error, not a config.
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;
ConfigLoad loadConfigFile(const std::string& path);
// `source_name` is what errors and Config::source call the text.
ConfigLoad loadConfigText(const std::string& text, const std::string& source_name);

// The config after defaults are applied, as YAML (check-config --print).
std::string printConfig(const Config& config);

}  // namespace oomsentinel
