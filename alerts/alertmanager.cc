#include "alerts/alertmanager.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "alerts/alertmanager_internal.h"
#include "core/safe_text.h"
#include "core/units.h"

namespace oomsentinel {

namespace {

constexpr std::string_view kApiPath = "/api/v2/alerts";
// Alertmanager answers a POST with a few bytes; anything larger is not an Alertmanager.
constexpr std::size_t kMaxResponse = 64 * 1024;
// An auth file holds one secret, not a document.
constexpr std::size_t kMaxSecret = 16 * 1024;

Error specError(const std::string& message, const std::string& path = {}) {
  return makeError("alertmanager: " + message, path);
}

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && space(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

Result<std::string> readSecret(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(std::string("alertmanager: cannot read the ") + what, path, errno);
  std::string text(kMaxSecret + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxSecret)
    return makeError(std::string("alertmanager: the ") + what + " is larger than 16KiB", path);
  text = trim(std::move(text));
  if (text.empty()) return makeError(std::string("alertmanager: the ") + what + " is empty", path);
  // A line break inside would end the header early and smuggle in another one.
  for (char c : text)
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f)
      return makeError(
          std::string("alertmanager: the ") + what + " holds a control character or a line break",
          path);
  return text;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16 |
                 static_cast<unsigned char>(in[i + 1]) << 8 | static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// "POST <url>: HTTP 400 Bad Request: <first line of the body>": Alertmanager's reason is its body
// ("start time must be before end time", "invalid label set: ...").
std::string statusError(const std::string& url, const HttpResponse& r) {
  std::string first = r.body.substr(0, r.body.find_first_of("\r\n"));
  if (first.size() > 200) first.resize(200);
  std::string out = "POST " + url + ": HTTP " + std::to_string(r.status);
  if (!r.reason.empty()) out += " " + r.reason;
  if (!first.empty()) out += ": " + first;
  return out;
}

}  // namespace

using alertmanager_detail::endsWith;
using alertmanager_detail::isReservedLabel;

struct AlertmanagerNotifier::Batch {
  std::shared_ptr<Endpoint> endpoint;
  std::vector<std::pair<Key, std::uint64_t>> versions;  // what the POST carries
  std::vector<AlertEvent> events;
  std::shared_ptr<const AlertmanagerSpec> spec;
  std::optional<Header> auth;
  TlsContextPtr tls;
  Url url;
};

Result<AlertmanagerNotifier::Prepared> AlertmanagerNotifier::prepare(AlertmanagerSpec spec) {
  Prepared p;
  if (spec.urls.empty()) return specError("no URL given");
  for (const auto& text : spec.urls) {
    auto url = Url::parse(text, UrlSchemes::kHttpOrHttps);
    if (!url.ok()) return specError(url.error().message, text);
    if (url->target.find('?') != std::string::npos)
      return specError("a base URL takes no query", text);
    std::string path = url->target;
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (!endsWith(path, kApiPath)) path += kApiPath;
    Url post = url->withTarget(path);
    for (const auto& u : p.urls)
      if (u.str() == post.str()) return specError("the URL is given twice", text);
    p.urls.push_back(std::move(post));
  }
  auto positive = [](Duration d) { return d > Duration::zero(); };
  if (!positive(spec.resend_interval)) return specError("resend_interval must be positive");
  if (!positive(spec.timeout)) return specError("timeout must be positive");
  if (!positive(spec.retry_initial)) return specError("retry_initial must be positive");
  if (spec.retry_max < spec.retry_initial)
    return specError("retry_max must not be shorter than retry_initial");
  if (spec.queue_max == 0) return specError("queue_max must be at least 1");
  std::set<std::string> names;
  for (const auto& [name, value] : spec.static_labels) {
    if (!isValidLabelName(name))
      return specError("the label name '" + name + "' is not valid (use [a-zA-Z_][a-zA-Z0-9_]*)");
    if (name.rfind("__", 0) == 0)
      return specError("label names starting with __ are reserved: '" + name + "'");
    if (isReservedLabel(name))
      return specError("the label '" + name + "' is set by oomsentinel itself");
    if (!names.insert(name).second) return specError("the label '" + name + "' is given twice");
  }
  if (!spec.bearer_token_file.empty() && !spec.basic_auth_file.empty())
    return specError("give bearer_token_file or basic_auth_file, not both");
  if (!spec.bearer_token_file.empty()) {
    auto token = readSecret(spec.bearer_token_file, "bearer token file");
    if (!token.ok()) return token.error();
    p.auth = Header{"Authorization", "Bearer " + *token};
  } else if (!spec.basic_auth_file.empty()) {
    auto pair = readSecret(spec.basic_auth_file, "basic auth file");
    if (!pair.ok()) return pair.error();
    if (pair->find(':') == std::string::npos)
      return specError("the basic auth file must hold user:password", spec.basic_auth_file);
    p.auth = Header{"Authorization", "Basic " + base64(*pair)};
  }
  bool https = std::any_of(p.urls.begin(), p.urls.end(), [](const Url& u) { return u.https(); });
  if (https) {
    auto tls = makeTlsClientContext(spec.tls);
    if (!tls.ok()) return tls.error();
    p.tls = *tls;
  }
  p.spec = std::make_shared<const AlertmanagerSpec>(std::move(spec));
  return p;
}

Status AlertmanagerNotifier::check(AlertmanagerSpec spec) {
  auto prepared = prepare(std::move(spec));
  if (!prepared.ok()) return prepared.error();
  return Ok{};
}

Result<std::unique_ptr<AlertmanagerNotifier>> AlertmanagerNotifier::create(AlertmanagerSpec spec,
                                                                           const Clock& clock) {
  auto prepared = prepare(std::move(spec));
  if (!prepared.ok()) return prepared.error();
  return std::unique_ptr<AlertmanagerNotifier>(
      new AlertmanagerNotifier(std::move(prepared).value(), clock));
}

struct AlertmanagerNotifier::Loop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
};

AlertmanagerNotifier::AlertmanagerNotifier(Prepared prepared, const Clock& clock)
    : clock_(clock), loop_(std::make_unique<Loop>()), thread_([this] { loop_->io.run(); }) {
  std::lock_guard lock(mu_);
  apply(std::move(prepared));
}

AlertmanagerNotifier::~AlertmanagerNotifier() {
  loop_->work.reset();
  loop_->io.stop();
  thread_.join();
}

void AlertmanagerNotifier::apply(Prepared prepared) {
  bool relabel = spec_ && (spec_->static_labels != prepared.spec->static_labels ||
                           spec_->generator_url != prepared.spec->generator_url);
  std::vector<std::shared_ptr<Endpoint>> endpoints;
  for (auto& url : prepared.urls) {
    auto same = std::find_if(endpoints_.begin(), endpoints_.end(),
                             [&](const auto& ep) { return ep->url.str() == url.str(); });
    if (same != endpoints_.end()) {
      endpoints.push_back(*same);
    } else {
      endpoints.push_back(std::make_shared<Endpoint>());
      endpoints.back()->url = std::move(url);
    }
  }
  endpoints_ = std::move(endpoints);
  spec_ = std::move(prepared.spec);
  // New credentials may be what a refusing endpoint waited for: it gets everything again.
  if (auth_ != prepared.auth)
    for (auto& ep : endpoints_)
      if (ep->rejected) {
        ep->accepted.clear();
        ep->rejected = false;
      }
  auth_ = std::move(prepared.auth);
  tls_ = std::move(prepared.tls);
  // Other labels are other alerts to Alertmanager: every endpoint hears of them at once.
  if (relabel)
    for (auto& [key, alert] : alerts_) alert.seq = next_seq_++;
}

Status AlertmanagerNotifier::reload(AlertmanagerSpec spec) {
  ++changes_;
  auto prepared = prepare(std::move(spec));
  if (!prepared.ok()) return prepared.error();
  std::lock_guard lock(mu_);
  apply(std::move(prepared).value());
  forgetDelivered();  // an endpoint that went away no longer holds a resolve back
  return Ok{};
}

bool AlertmanagerNotifier::admit() {
  if (alerts_.size() < spec_->queue_max) return true;
  // Full: a resolve still owed somewhere is worth less than a new firing (Alertmanager resolves
  // an alert it stops hearing of by itself), so the oldest of them goes first.
  auto oldest = alerts_.end();
  for (auto it = alerts_.begin(); it != alerts_.end(); ++it)
    if (!it->second.event.firing &&
        (oldest == alerts_.end() || it->second.resolved_order < oldest->second.resolved_order))
      oldest = it;
  if (oldest == alerts_.end()) return false;
  forget(oldest->first);
  ++dropped_;
  return true;
}

void AlertmanagerNotifier::forget(Key key) {
  alerts_.erase(key);
  for (auto& ep : endpoints_) ep->accepted.erase(key);
}

void AlertmanagerNotifier::forgetDelivered() {
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    const auto& [key, alert] = *it;
    bool everywhere = !alert.event.firing;
    for (const auto& ep : endpoints_) {
      auto a = ep->accepted.find(key);
      everywhere = everywhere && a != ep->accepted.end() && a->second == alert.seq;
    }
    ++it;
    if (everywhere) forget(key);  // a copy is taken before the node `key` lives in goes
  }
}

void AlertmanagerNotifier::fire(AlertEvent event) {
  ++changes_;
  std::lock_guard lock(mu_);
  Key key{event.rule, event.target};
  auto it = alerts_.find(key);
  if (it == alerts_.end()) {
    if (!admit()) {
      ++dropped_;
      return;
    }
    it = alerts_.emplace(std::move(key), Alert{}).first;
  }
  event.firing = true;
  event.ends_at.reset();
  it->second.event = std::move(event);
  it->second.seq = next_seq_++;
}

void AlertmanagerNotifier::resolve(const std::string& rule, const std::string& target,
                                   WallTime ends_at) {
  ++changes_;
  std::lock_guard lock(mu_);
  auto it = alerts_.find(Key{rule, target});
  if (it == alerts_.end() || !it->second.event.firing) return;
  it->second.event.firing = false;
  it->second.event.ends_at = ends_at;
  it->second.seq = next_seq_++;
  it->second.resolved_order = it->second.seq;
}

void AlertmanagerNotifier::setIncident(const std::string& rule, const std::string& target,
                                       const std::string& path, const std::string& top_growth) {
  std::lock_guard lock(mu_);
  auto it = alerts_.find(Key{rule, target});
  if (it == alerts_.end()) return;
  AlertEvent& e = it->second.event;
  if (e.incident == path && e.top_growth == top_growth) return;
  e.incident = path;
  e.top_growth = top_growth;
  it->second.seq = next_seq_++;
}

void AlertmanagerNotifier::poll() {
  SteadyTime now = clock_.steadyNow();
  std::vector<std::shared_ptr<Batch>> due;
  {
    std::lock_guard lock(mu_);
    for (const auto& ep : endpoints_) {
      if (ep->in_flight) continue;
      if (ep->backoff > Duration::zero() && now < ep->retry_at) continue;
      bool resend = ep->resend_at && now >= *ep->resend_at;
      bool owed = false, active = false;
      for (const auto& [key, alert] : alerts_) {
        auto a = ep->accepted.find(key);
        owed = owed || a == ep->accepted.end() || a->second != alert.seq;
        active = active || alert.event.firing;
      }
      if (!owed && !(resend && active)) continue;
      // One POST with everything the endpoint should hold: the active alerts, and the resolves
      // it has not accepted yet (a resolve is sent until accepted, then never again).
      auto b = std::make_shared<Batch>();
      for (const auto& [key, alert] : alerts_) {
        auto a = ep->accepted.find(key);
        bool accepted = a != ep->accepted.end() && a->second == alert.seq;
        if (!alert.event.firing && accepted) continue;
        b->versions.emplace_back(key, alert.seq);
        b->events.push_back(alert.event);
      }
      b->endpoint = ep;
      b->spec = spec_;
      b->auth = auth_;
      b->tls = tls_;
      b->url = ep->url;
      ep->in_flight = true;
      if (ep->backoff > Duration::zero()) ++ep->stats.retries;
      due.push_back(std::move(b));
    }
  }
  // The JSON is written on the notifier's thread too: the tick only hands the batch over.
  for (auto& b : due)
    boost::asio::post(loop_->io, [this, b] {
      HttpRequest req;
      req.method = "POST";
      req.url = b->url;
      req.timeout = b->spec->timeout;
      req.max_body = kMaxResponse;
      req.tls = b->tls;
      req.headers.emplace_back("Content-Type", "application/json");
      if (b->auth) req.headers.push_back(*b->auth);
      req.body = alertmanagerPayload(b->events, *b->spec, b->spec->generator_url, clock_.wallNow());
      // `this` outlives every completion: the destructor stops and joins this thread first.
      startHttpRequest(loop_->io, std::move(req),
                       [this, b](Result<HttpResponse> r) { finish(*b, std::move(r)); });
    });
}

void AlertmanagerNotifier::finish(const Batch& b, Result<HttpResponse> r) {
  std::string error;
  bool rejected = false;
  if (!r.ok()) {
    error = r.error().describe();
  } else if (r->status < 200 || r->status > 299) {
    error = statusError(b.url.str(), *r);
    // A 4xx other than a timeout or a rate limit refuses this payload or our credentials:
    // sending it again at once would be refused again. It waits for a change of the alert, a
    // reload (new credentials) or the resend interval, instead of a backoff loop.
    rejected = r->status >= 400 && r->status <= 499 && r->status != 408 && r->status != 429;
  }
  SteadyTime now = clock_.steadyNow();
  {
    std::lock_guard lock(mu_);
    Endpoint& ep = *b.endpoint;
    ep.in_flight = false;
    if (rejected || error.empty()) {
      ++(rejected ? ep.stats.failed : ep.stats.sent);
      if (rejected) ++ep.stats.rejected;
      ep.rejected = rejected;
      ep.backoff = Duration::zero();
      ep.resend_at = now + spec_->resend_interval;
      // Only alerts still held: a version recorded for a forgotten one would never be erased.
      for (const auto& [key, seq] : b.versions)
        if (alerts_.count(key)) ep.accepted[key] = seq;
      forgetDelivered();
    } else {
      ++ep.stats.failed;
      ep.backoff = ep.backoff == Duration::zero() ? spec_->retry_initial
                                                  : std::min(ep.backoff * 2, spec_->retry_max);
      ep.retry_at = now + ep.backoff;
    }
    if (error != ep.stats.last_error) {
      ep.stats.last_error = std::move(error);
      ep.error_changed = true;
    }
    ++changes_;
  }
  // What changed while this exchange was under way (a new firing, an incident path) goes now,
  // not at the next tick: up to a whole poll interval later.
  poll();
}

bool AlertmanagerNotifier::flush(Duration max) {
  // The bound is real time whatever clock_ is: it waits for real exchanges, and a test's fake
  // clock that never moves must not make it wait forever.
  SystemClock real;
  SteadyTime until = real.steadyNow() + max;
  std::map<const Endpoint*, std::uint64_t> failed_before;
  {
    std::lock_guard lock(mu_);
    for (const auto& ep : endpoints_) {
      failed_before[ep.get()] = ep->stats.failed;
      ep->retry_at = clock_.steadyNow();  // one attempt now, backoff or not
    }
  }
  for (;;) {
    poll();
    bool waiting = false, delivered = true;
    {
      std::lock_guard lock(mu_);
      for (const auto& ep : endpoints_) {
        if (ep->in_flight) {
          waiting = true;
          continue;
        }
        bool owed = false;
        for (const auto& [key, alert] : alerts_) {
          auto a = ep->accepted.find(key);
          owed = owed || a == ep->accepted.end() || a->second != alert.seq;
        }
        if (!owed) continue;
        delivered = false;
        // Owed and not failed during the flush: its attempt has not started yet.
        if (ep->stats.failed == failed_before[ep.get()]) waiting = true;
      }
      if (!waiting) return delivered;
    }
    if (real.steadyNow() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

AlertmanagerStatus AlertmanagerNotifier::status() const {
  std::lock_guard lock(mu_);
  AlertmanagerStatus s;
  for (const auto& ep : endpoints_) {
    s.endpoints.push_back(
        {ep->url.str(), ep->stats, ep->in_flight, ep->backoff > Duration::zero()});
    s.total.sent += ep->stats.sent;
    s.total.failed += ep->stats.failed;
    s.total.retries += ep->stats.retries;
    s.total.rejected += ep->stats.rejected;
    if (s.total.last_error.empty()) s.total.last_error = ep->stats.last_error;
  }
  s.total.dropped = dropped_;
  for (const auto& [key, alert] : alerts_) ++(alert.event.firing ? s.active : s.resolving);
  return s;
}

std::vector<std::pair<std::string, std::string>> AlertmanagerNotifier::takeErrorChanges() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& ep : endpoints_)
    if (ep->error_changed) {
      ep->error_changed = false;
      out.emplace_back(ep->url.str(), ep->stats.last_error);
    }
  return out;
}

}  // namespace oomsentinel
