#include "daemon/health.h"

#include <utility>

#include "core/units.h"

namespace oomsentinel {

bool isTicking(const HealthState& s, SteadyTime now, Duration* age) {
  if (!s.last_tick) return false;
  Duration since = now - *s.last_tick;
  if (age) *age = since;
  return since <= 3 * s.interval + std::chrono::seconds(2);
}

HttpAnswer healthzAnswer(const HealthState& s, SteadyTime now, const std::string& degraded) {
  HttpAnswer a;
  Duration age{};
  if (isTicking(s, now, &age)) {
    a.body = "ok: last tick " + formatDuration(age) + " ago\n";
    if (!degraded.empty()) a.body += degraded + "\n";
    return a;
  }
  a.status = 503;
  a.body =
      !s.last_tick ? "not ticking yet\n" : "stalled: last tick " + formatDuration(age) + " ago\n";
  return a;
}

HttpAnswer readyzAnswer(const HealthState& s, const std::string& degraded) {
  HttpAnswer a;
  if (s.last_tick && s.unresolved.empty()) {
    a.body = "ready\n";
    if (!degraded.empty()) a.body += degraded + "\n";
    return a;
  }
  a.status = 503;
  if (!s.last_tick) {
    a.body = "not ticking yet\n";
    return a;
  }
  std::string names;
  for (const auto& n : s.unresolved) names += (names.empty() ? "" : ", ") + n;
  a.body = "targets not resolved: " + names + "\n";
  return a;
}

void Health::ticked(SteadyTime at, Duration interval, std::vector<std::string> unresolved) {
  std::lock_guard lock(mu_);
  state_.last_tick = at;
  state_.interval = interval;
  state_.unresolved = std::move(unresolved);
}

void Health::setDegraded(std::string line) {
  std::lock_guard lock(mu_);
  degraded_ = std::move(line);
}

std::string Health::degraded() const {
  std::lock_guard lock(mu_);
  return degraded_;
}

HealthState Health::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

HttpAnswer answerRequest(const std::string& path, const Health& health, const Clock& clock,
                         const std::function<std::string()>& render_metrics) {
  HttpAnswer a;
  if (path == "/metrics") {
    a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    a.body = render_metrics();
  } else if (path == "/healthz") {
    HealthState s = health.state();  // before the time, so the age is never negative
    a = healthzAnswer(s, clock.steadyNow(), health.degraded());
  } else if (path == "/readyz") {
    a = readyzAnswer(health.state(), health.degraded());
  } else if (path == "/") {
    a.content_type = "text/html; charset=utf-8";
    a.body =
        "<html><body><h1>oomsentinel</h1><a href=\"/metrics\">/metrics</a> "
        "<a href=\"/healthz\">/healthz</a> <a href=\"/readyz\">/readyz</a></body></html>\n";
  } else {
    a.status = 404;
    a.body = "not found: " + path + " (try /metrics, /healthz, /readyz)\n";
  }
  return a;
}

}  // namespace oomsentinel
