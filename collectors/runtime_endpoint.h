// collectors/: turning kernel and runtime text into Snapshots.
// Runtime endpoints of a target (Go expvar, a Prometheus /metrics page), fetched in the
// background on their own period: the tick never waits for one. The tick merges the last
// values while they are fresher than the staleness limit; after that the signals are absent.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "collectors/prom_text.h"
#include "core/clock.h"
#include "core/http_client.h"
#include "core/snapshot.h"

namespace oomsentinel {

enum class RuntimeFormat { kGoExpvar, kPromText };
const char* runtimeFormatName(RuntimeFormat f);  // "go_expvar", "metrics"

struct RuntimeEndpointSpec {
  RuntimeFormat format = RuntimeFormat::kGoExpvar;
  Url url;
  std::vector<PromMapping> mappings;  // kPromText: the user's, tried before the well-known ones
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::milliseconds(500);
  Duration stale_after = std::chrono::seconds(5);
  std::size_t max_bytes = 4 << 20;
};

// The bytes of runtime bodies that a fetcher's exchanges hold at once. A body takes its share as it
// arrives (HttpRequest::body_sink), so a target that drips or stalls holds next to nothing, and a
// dozen targets answering 4 MiB at the same moment cannot make the daemon hold 4 MiB each: past
// the limit, the body that would grow fails, and its endpoint is fetched again at its next
// interval. A body alone in the budget may always grow to its own cap (max_bytes may be set above
// the limit). The last eighth of the limit is kept for bodies of at most kSmall bytes, so that
// targets answering large bodies cannot crowd out the small answers of the well-behaved ones.
// Thread-safe.
class RuntimeBodyBudget {
 public:
  static constexpr std::size_t kSmall = 64 << 10;
  explicit RuntimeBodyBudget(std::size_t limit) : limit_(limit) {}
  // Moves a body's share from `held` to `want` bytes and returns true; false, with nothing
  // changed, when growing would take the total past the limit (past seven eighths of it when
  // `want` is over kSmall) while other bodies hold a share.
  bool resize(std::size_t& held, std::size_t want);
  std::size_t limit() const { return limit_; }
  std::size_t used() const;
  std::size_t peak() const;  // the most `used` has been

 private:
  mutable std::mutex mu_;
  std::size_t limit_;
  std::size_t used_ = 0, peak_ = 0;
};

// What all runtime bodies in flight may hold together: four pages at the default 4 MiB cap, well
// inside the daemon's 64 MiB bound (bench/hostile_rss.cc).
inline constexpr std::size_t kRuntimeBodyBudget = 16 << 20;

// The thread that runs every endpoint's HTTP exchanges.
class RuntimeFetcher {
 public:
  explicit RuntimeFetcher(std::size_t body_budget = kRuntimeBodyBudget);
  ~RuntimeFetcher();  // abandons exchanges in flight; their results are dropped
  RuntimeFetcher(const RuntimeFetcher&) = delete;
  RuntimeFetcher& operator=(const RuntimeFetcher&) = delete;
  boost::asio::io_context& io();
  RuntimeBodyBudget& bodyBudget() { return *budget_; }
  const std::shared_ptr<RuntimeBodyBudget>& sharedBodyBudget() const { return budget_; }

 private:
  // Shared with the bodies in flight, which may outlive the fetcher's io_context by a moment.
  std::shared_ptr<RuntimeBodyBudget> budget_;
  // The io_context and the guard that keeps it running without work, defined in the .cc so that
  // this header, which the watchdog and the report include, stays free of Asio's headers.
  struct Loop;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

// What the tick can show about an endpoint.
struct RuntimeEndpointState {
  bool has_values = false;
  std::size_t signals = 0;                // in the last good payload
  std::optional<Duration> age;            // since the last good payload
  std::optional<Duration> last_took;      // of the last exchange that answered
  std::string last_error;                 // of the last exchange; empty when it succeeded
  std::uint64_t errors = 0, fetches = 0;  // exchanges that failed, that were started
  bool stale = false;                     // values older than stale_after
  bool in_flight = false;                 // an exchange is under way
};

class RuntimeEndpoint {
 public:
  RuntimeEndpoint(RuntimeEndpointSpec spec, const Clock& clock);
  const RuntimeEndpointSpec& spec() const { return spec_; }

  // Starts a fetch on `fetcher` if one is due and none is in flight. Cheap; never blocks.
  void poll(RuntimeFetcher& fetcher);
  // Sets the last values in `out` unless they are stale or `out` already has the signal (the
  // kernel's and the earlier endpoints' readings win). Returns the age of what was merged.
  std::optional<Duration> merge(Snapshot& out) const;
  RuntimeEndpointState state() const;
  // True once per change of the error (a new failure, or the recovery from one), for the log.
  bool takeErrorChange(std::string* error);

 private:
  struct Shared;  // outlives the endpoint while an exchange is in flight
  void finish(Result<HttpResponse> r);

  RuntimeEndpointSpec spec_;
  const Clock& clock_;
  std::shared_ptr<Shared> shared_;
};

// Maps one payload: the body of a 2xx answer in `format`. Exposed for tests and `status`.
Result<std::size_t> mapRuntimePayload(const RuntimeEndpointSpec& spec, std::string_view body,
                                      Snapshot& out);

}  // namespace oomsentinel
