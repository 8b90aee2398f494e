// alerts/: telling the world that a rule fired or resolved.
// Alertmanager push: the tick only enqueues; a thread of the notifier's own posts the alerts to
// every Alertmanager of an HA group, re-sends them while active, and retries with backoff.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/http_client.h"
#include "core/result.h"

namespace oomsentinel {

struct AlertmanagerSpec {
  // Base URLs (http://127.0.0.1:9093, or with a route prefix http://host/am); alerts go to
  // <url>/api/v2/alerts. A URL that already ends in /api/v2/alerts is used as it is. Several URLs
  // are an HA group: Alertmanager deduplicates, so every one of them gets every alert.
  std::vector<std::string> urls;
  // Alertmanager resolves an alert it has not heard of for its resolve_timeout (5m by default),
  // so an active alert is sent again well within that.
  Duration resend_interval = std::chrono::minutes(1);
  Duration timeout = std::chrono::seconds(2);  // one exchange, real time
  // Alerts held (active, and resolved but not yet accepted everywhere); more are dropped.
  std::size_t queue_max = 256;
  Duration retry_initial = std::chrono::milliseconds(500);
  Duration retry_max = std::chrono::seconds(30);
  // At most one of them: a file holding the token, or "user:password". Read at create() and at
  // reload(), so a rotated secret is picked up on SIGHUP without a restart.
  std::string bearer_token_file, basic_auth_file;
  // Added to every alert (cluster, region, ...); an alert's own labels win over these.
  std::vector<std::pair<std::string, std::string>> static_labels;
  // Each alert's generatorURL (e.g. oomsentinel's metrics page); "" leaves it out.
  std::string generator_url;
  // For https URLs: CA file (else the system store), client certificate, server name. The
  // files are read and checked at create() and reload(), like the auth files.
  TlsOptions tls;
};

struct AlertEvent {
  std::string rule, target, severity, expr;
  bool firing = true;  // false: resolved
  WallTime starts_at{};
  std::optional<WallTime> ends_at;                     // set when resolved
  std::vector<std::pair<std::string, double>> values;  // the firing's values, for the description
  // namespace/pod/container (and host) when known: they become labels.
  std::vector<std::pair<std::string, std::string>> labels;
  std::string incident;  // the bundle's path once a dump ran; "" until then
  // The bundle's heap report's first site in one line (DumpOutcome::top_site): the annotation
  // top_growth. "" until a published bundle's report names one.
  std::string top_growth;
};

// The JSON array Alertmanager's POST /api/v2/alerts takes. Label names are made valid
// ([a-zA-Z_][a-zA-Z0-9_]*), empty label values left out, invalid UTF-8 replaced; alertname,
// severity and target cannot be overridden by the event's labels or the static ones.
// A firing alert carries endsAt = sent_at + 4 resend intervals, as Prometheus does: re-sent
// while it fires, it never reaches that time; if oomsentinel stops or dies, Alertmanager resolves
// it then, whatever its resolve_timeout. A resolved alert carries its resolve time.
std::string alertmanagerPayload(const std::vector<AlertEvent>& events, const AlertmanagerSpec& spec,
                                const std::string& generator_url, WallTime sent_at);

// "working_set_bytes" 2.5e8 -> "238.4 MiB", "working_set_ratio" 0.736 -> "73.6%",
// "time_to_oom" 1.06 -> "1.06s", "rate(pgmajfault[10s])" 3 -> "3/s". For the description.
std::string formatAlertValue(std::string_view name, double value);

// The generatorURL for alerts.metrics.listen: "127.0.0.1:10087" ->
// "http://127.0.0.1:10087/metrics"; a wildcard or empty host (":10087", "0.0.0.0:10087",
// "[::]:10087") -> this host's name, which a person reading the alert can reach; "" (no metrics
// server) -> "".
std::string generatorUrlFor(std::string_view listen);

// Prometheus' label name syntax, and the nearest valid name ("pod-name" -> "pod_name").
bool isValidLabelName(std::string_view name);
std::string sanitizeLabelName(std::string_view name);

// Counters for the metrics: POSTs accepted (2xx), POSTs failed (no answer or not 2xx), of
// those the ones refused with a 4xx (not retried until something changes), POSTs that were
// retries after a failure, events dropped at the queue cap (in the total only).
struct AlertStats {
  std::uint64_t sent = 0, failed = 0, rejected = 0, dropped = 0, retries = 0;
  std::string last_error;  // of the last exchange; "" when it was accepted
};

struct AlertEndpointStatus {
  std::string url;  // the POST URL
  AlertStats stats;
  bool in_flight = false;
  bool failing = false;  // the last exchange failed: the next one waits for its backoff
};

struct AlertmanagerStatus {
  std::vector<AlertEndpointStatus> endpoints;
  AlertStats total;  // sums; last_error is the first endpoint's that has one
  std::size_t active = 0, resolving = 0;
};

class AlertmanagerNotifier {
 public:
  // Checks the spec (URLs, durations, label names) and reads the auth file; a missing or empty
  // file is an error naming it. The only way in: the notifier owns a thread, so it does not move.
  static Result<std::unique_ptr<AlertmanagerNotifier>> create(AlertmanagerSpec spec,
                                                              const Clock& clock);
  // What create() checks, without a notifier: check-config's view of the settings (the auth file
  // read, an https URL's TLS files loaded and checked).
  static Status check(AlertmanagerSpec spec);
  ~AlertmanagerNotifier();  // abandons exchanges in flight
  AlertmanagerNotifier(const AlertmanagerNotifier&) = delete;
  AlertmanagerNotifier& operator=(const AlertmanagerNotifier&) = delete;

  // From the tick thread; they only record the change, which the next poll() sends at once.
  // A firing of a rule and target already held replaces it.
  void fire(AlertEvent event);
  // Ignored for an alert not held (never fired, dropped, or already resolved).
  void resolve(const std::string& rule, const std::string& target, WallTime ends_at);
  // A published bundle of the alert's firing, and its report's top site ("" when none): the alert
  // is sent again carrying them (annotations incident and top_growth).
  void setIncident(const std::string& rule, const std::string& target, const std::string& path,
                   const std::string& top_growth = "");

  // Every tick: starts the sends that are due, at most one exchange per endpoint. Never waits
  // for the network.
  void poll();

  // A new spec (SIGHUP): checked and its auth file read first; on an error nothing changes.
  // Alerts held stay; an endpoint that stays keeps its schedule, a new one gets everything.
  Status reload(AlertmanagerSpec spec);

  // At shutdown: sends what is owed (resolves, new firings) to every endpoint, one attempt each
  // even if it is backing off, and waits for the answers for at most `max` of real time. True
  // when every endpoint accepted everything. Firing alerts are not resolved: the memory problem
  // does not end with oomsentinel, and their endsAt lets Alertmanager expire them.
  bool flush(Duration max);

  AlertmanagerStatus status() const;
  // Grows whenever status() may have changed (an exchange ended, an alert came or went, a
  // reload): the tick copies the status for the metrics only then, not every 50 ms.
  std::uint64_t changes() const { return changes_.load(std::memory_order_relaxed); }
  // (url, error) for each endpoint whose error changed since the last call; error "" is a
  // recovery. For logging a failure once instead of every retry.
  std::vector<std::pair<std::string, std::string>> takeErrorChanges();

 private:
  using Key = std::pair<std::string, std::string>;  // rule, target
  using Header = std::pair<std::string, std::string>;

  struct Alert {
    AlertEvent event;
    // Changes with every change of the event, so that an endpoint that accepted an older
    // version still owes the new one (a change during an exchange is not lost).
    std::uint64_t seq = 0;
    std::uint64_t resolved_order = 0;  // the oldest resolved alert is the first to go when full
  };

  struct Endpoint {
    Url url;  // the POST URL
    AlertStats stats;
    bool in_flight = false;
    Duration backoff{0};  // 0 while healthy; after a failure, the wait before the next attempt
    SteadyTime retry_at{};
    std::optional<SteadyTime> resend_at;    // after an accepted exchange
    std::map<Key, std::uint64_t> accepted;  // the version of each alert this endpoint has
    bool error_changed = false;
    bool rejected = false;  // the last answer was a 4xx refusal
  };

  struct Prepared {  // a spec checked, with what create() and reload() derive from it
    std::shared_ptr<const AlertmanagerSpec> spec;
    std::vector<Url> urls;
    std::optional<Header> auth;
    TlsContextPtr tls;  // null without an https URL
  };

  struct Batch;

  AlertmanagerNotifier(Prepared prepared, const Clock& clock);
  static Result<Prepared> prepare(AlertmanagerSpec spec);
  void apply(Prepared prepared);  // these four with mu_ held
  bool admit();                   // makes room for one more alert, or says there is none
  void forget(Key key);           // by value: callers pass keys that live in the node it erases
  void forgetDelivered();
  void finish(const Batch& batch, Result<HttpResponse> r);  // on the io thread

  const Clock& clock_;
  mutable std::mutex mu_;
  std::shared_ptr<const AlertmanagerSpec> spec_;  // shared with the exchanges under way
  std::optional<Header> auth_;
  TlsContextPtr tls_;
  std::map<Key, Alert> alerts_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t dropped_ = 0;
  std::atomic<std::uint64_t> changes_{0};
  // Last, in this order: the thread runs io_, and the destructor joins it before any member above
  // goes, so a completion never sees a half-destroyed notifier.
  // The Asio loop (io_context and its work guard) is defined in alertmanager.cc, so that the many
  // files that include this header do not parse Asio.
  struct Loop;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace oomsentinel
