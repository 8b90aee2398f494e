// daemon/: wiring and lifetime.
// What the metrics listener answers (/metrics, /healthz, /readyz, an index page) and what systemd's
// watchdog keep-alive goes by. The decisions are pure functions of a HealthState and the steady
// time, so they are tested without a socket; Health is the state shared between the loop's thread
// (which writes it after each tick) and the server's (which reads it for every request).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alerts/metrics_server.h"
#include "core/clock.h"

namespace oomsentinel {

struct HealthState {
  std::optional<SteadyTime> last_tick;  // none: not ticked yet
  Duration interval{0};                 // the interval the last tick chose
  std::vector<std::string> unresolved;  // targets the last tick could not resolve
};

// The loop is ticking: the last tick is younger than three intervals (and 2 s of slack), so a slow
// tick or two is not a stall but a broken timer chain or a hung tick is. Both /healthz and
// systemd's watchdog keep-alive go by this. `age`, if given, gets the last tick's age.
bool isTicking(const HealthState& s, SteadyTime now, Duration* age = nullptr);
// /healthz: 200 while ticking, 503 before the first tick or once stalled. Degraded (the daemon near
// its own memory limit) is still live: 200, and the body says so (a restart would not help: it
// would come back to the same targets under the same limit, with no history).
// `degraded`: the self guard's line (daemon/self_guard.h), added to the body of a 200.
HttpAnswer healthzAnswer(const HealthState& s, SteadyTime now, const std::string& degraded = {});
// /readyz: 200 once ticked with every target resolved, 503 naming the ones that are not. Degraded
// stays ready (the body says so): an unready pod drops out of a Service's endpoints, and with it
// the scrape that would show oomsentinel_degraded.
HttpAnswer readyzAnswer(const HealthState& s, const std::string& degraded = {});

class Health {
 public:
  // On the loop's thread, after each tick.
  void ticked(SteadyTime at, Duration interval, std::vector<std::string> unresolved);
  // The self guard's line (empty: not degraded), after each tick.
  void setDegraded(std::string line);
  HealthState state() const;
  std::string degraded() const;

 private:
  mutable std::mutex mu_;
  HealthState state_;
  std::string degraded_;
};

// Every GET the metrics listener serves, by path (without its query): /metrics gets
// `render_metrics()`, /healthz and /readyz the answers above, / an index, anything else a 404.
HttpAnswer answerRequest(const std::string& path, const Health& health, const Clock& clock,
                         const std::function<std::string()>& render_metrics);

}  // namespace oomsentinel
