// bench/: benchmarks and their recorded results.
// bench_alerts: what telling the world costs. (1) Firing -> visible in a real Alertmanager
// (Debian's prometheus-alertmanager on a loopback port): AlertmanagerNotifier::fire() until the
// alert is in GET /api/v2/alerts, split at the POST's 2xx, with poll() on a 50 ms tick and right
// after fire(), against a bare GET /api/v2/status and a bare POST of the same body in the same
// run. (2) A /metrics scrape with 1, 100 and 1000 targets: DaemonMetrics::render() in process and
// a GET through MetricsServer, against one tick's metrics work (updateTarget of every target and
// tick()) and a GET of a 3-byte page through the same server.
// README.md has the figures.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alerts/alertmanager.h"
#include "alerts/metrics.h"
#include "alerts/metrics_server.h"
#include "bench/alertmanager_process.h"
#include "core/clock.h"
#include "core/firing.h"
#include "core/host_paths.h"
#include "core/http_client.h"
#include "core/signal.h"
#include "core/snapshot.h"

namespace oomsentinel::bench {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: bench_alerts [--firings N] [--probe-ms MS] [--tick-ms MS] [--scrapes N]\n"
    "                    [--alertmanager PATH] [--alerts-only | --metrics-only]\n"
    "  --firings N       firings per mode (poll on the tick, poll at once); default 100\n"
    "  --probe-ms MS     how often GET /api/v2/alerts looks for the alert; default 2\n"
    "  --tick-ms MS      the notifier's poll tick (the daemon's fast interval); default 50\n"
    "  --scrapes N       scrapes of 1 and 100 targets (1000 targets: N/4); default 200\n"
    "  --alertmanager P  the binary; default /usr/bin/prometheus-alertmanager\n"
    "Exit 0 when measured, 1 when a measurement failed (Alertmanager did not start, an alert\n"
    "never appeared within 10 s), 2 on a usage error or a missing Alertmanager.\n";

constexpr Duration kGiveUp = 10s;  // for readiness, an alert to appear, a resolve to be accepted

// ---- figures ----

struct Dist {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t n = 0;
};

// Nearest rank: p99 of 100 samples is the 99th, of 50 it is the largest.
Dist dist(std::vector<double> v) {
  Dist d;
  d.n = v.size();
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    auto r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::max<std::size_t>(r, 1) - 1];
  };
  d.p50 = rank(0.50);
  d.p99 = rank(0.99);
  d.max = v.back();
  return d;
}

double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double us(Duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// ---- (1) firing -> visible in Alertmanager ----

// The POST body the notifier writes for `events`, with alertmanagerPayload's signature with or
// without its sent_at argument (a template, so that only the branch that matches is compiled).
template <typename Events>
std::string payload(const Events& events, const AlertmanagerSpec& spec, WallTime now) {
  if constexpr (requires { alertmanagerPayload(events, spec, spec.generator_url, now); })
    return alertmanagerPayload(events, spec, spec.generator_url, now);
  else
    return alertmanagerPayload(events, spec, spec.generator_url);
}

struct FiringSample {
  Duration to_post, to_2xx, to_visible;  // from fire()
  // The first probe that started after the 2xx saw the alert: the gap 2xx -> visible is then
  // only the probe's sampling, not Alertmanager making it visible later.
  std::optional<bool> first_probe_after_2xx_saw_it;
};

struct AlertsOptions {
  int firings = 100;
  Duration probe = 2ms;
  Duration tick = 50ms;
};

class AlertsBench {
 public:
  AlertsBench(const Alertmanager& am, const AlertsOptions& opt) : am_(am), opt_(opt) {}

  int run() {
    AlertmanagerSpec spec;
    spec.urls = {am_.url()};
    spec.generator_url = "http://127.0.0.1:9464/metrics";
    spec.static_labels = {{"cluster", "bench"}};
    auto made = AlertmanagerNotifier::create(spec, clock_);
    if (!made) return fail("cannot make the notifier: " + made.error().describe());
    notifier_ = std::move(*made);
    // The daemon's loop: poll() on every tick, fast interval, on a thread of its own here.
    std::thread ticker([this] {
      SteadyTime next = clock_.steadyNow() + opt_.tick;
      while (!stop_.load()) {
        std::this_thread::sleep_until(next);
        auto before = notifier_->status();
        SteadyTime at = clock_.steadyNow();
        notifier_->poll();
        auto after = notifier_->status();
        // This poll started a POST (seen in flight, or already answered).
        bool started = !before.endpoints[0].in_flight &&
                       (after.endpoints[0].in_flight || after.total.sent > before.total.sent ||
                        after.total.failed > before.total.failed);
        {
          std::lock_guard lock(ticks_mu_);
          ticks_.push_back({at, started});
        }
        next += opt_.tick;
      }
    });
    int rc = measure();
    stop_ = true;
    ticker.join();
    notifier_.reset();
    return rc;
  }

 private:
  int fail(const std::string& why) {
    std::fprintf(stderr, "bench_alerts: %s\n", why.c_str());
    return 1;
  }

  AlertEvent event(int i) {
    AlertEvent e;
    e.rule = "bench-rule-" + std::to_string(i);
    e.target = "bench-target-" + std::to_string(i);
    e.severity = "critical";
    e.expr = "working_set_ratio > 90%";
    e.starts_at = clock_.wallNow();
    e.values = {{"working_set_ratio", 0.93}, {"working_set_bytes", 9.5e8}};
    e.labels = {{"namespace", "default"}, {"pod", "bench-" + std::to_string(i)}};
    return e;
  }

  // Until the notifier holds only the background alerts, all accepted, and nothing in flight.
  Status waitIdle(const std::string& what) {
    for (SteadyTime until = clock_.steadyNow() + kGiveUp;;) {
      notifier_->poll();
      auto st = notifier_->status();
      if (st.active == background_ && st.resolving == 0 && !st.endpoints[0].in_flight &&
          !st.endpoints[0].failing) {
        // Accepted: the exchange is over and owes nothing (poll() would have started one).
        return Ok{};
      }
      if (clock_.steadyNow() > until)
        return makeError(what + " was not accepted within 10 s: " + st.total.last_error);
      std::this_thread::sleep_for(1ms);
    }
  }

  // The notifier's POST without the notifier: the same body for one new alert, sent by this
  // thread through the same client. Its resolve follows, untimed, so that Alertmanager holds no
  // more active alerts than in the notifier's case.
  Result<Duration> barePost(int i) {
    static const Url url = *Url::parse(am_.url() + "/api/v2/alerts");
    AlertmanagerSpec spec;
    spec.static_labels = {{"cluster", "bench"}};
    spec.generator_url = "http://127.0.0.1:9464/metrics";
    AlertEvent e = event(i);
    e.rule = "bench-bare-" + std::to_string(i);
    auto post = [&](std::string body) -> Result<HttpResponse> {
      HttpRequest req;
      req.method = "POST";
      req.url = url;
      req.timeout = 2s;
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = std::move(body);
      std::optional<Result<HttpResponse>> out;
      io_.restart();
      startHttpRequest(io_, std::move(req),
                       [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
      io_.run();
      if (out->ok() && ((*out)->status < 200 || (*out)->status > 299))
        return makeError("HTTP " + std::to_string((*out)->status) + ": " + (*out)->body, url.str());
      return std::move(*out);
    };
    std::string body = payload(std::vector<AlertEvent>{e}, spec, clock_.wallNow());
    SteadyTime t0 = clock_.steadyNow();
    auto r = post(std::move(body));
    SteadyTime t1 = clock_.steadyNow();
    if (!r) return r.error();
    e.firing = false;
    e.ends_at = clock_.wallNow();
    if (auto resolved = post(payload(std::vector<AlertEvent>{e}, spec, clock_.wallNow()));
        !resolved)
      return resolved.error();
    return t1 - t0;
  }

  // GET /api/v2/status: Alertmanager's cheapest JSON answer through the same client.
  Result<Duration> statusRoundTrip() {
    static const Url url = *Url::parse(am_.url() + "/api/v2/status");
    SteadyTime t0 = clock_.steadyNow();
    auto r = httpGet(io_, url);
    SteadyTime t1 = clock_.steadyNow();
    if (!r) return r.error();
    if (r->status != 200) return makeError("HTTP " + std::to_string(r->status), url.str());
    if (version_.empty()) {
      auto at = r->body.find("\"version\":\"");
      if (at != std::string::npos) {
        at += 11;
        version_ = r->body.substr(at, r->body.find('"', at) - at);
      }
    }
    return t1 - t0;
  }

  // fire(), then GET /api/v2/alerts?filter=alertname="<rule>" every probe period until the alert
  // is there; the notifier's counters give the POST's start and its 2xx.
  Result<FiringSample> fireOnce(int i, bool poll_at_once) {
    AlertEvent e = event(i);
    std::string rule = e.rule;
    Url probe = *Url::parse(am_.url() + "/api/v2/alerts?filter=alertname%3D%22" + rule + "%22");
    auto before = notifier_->status();
    FiringSample s;
    std::optional<SteadyTime> posted, accepted, seen;
    bool probing = false;
    std::string probe_error;

    std::size_t ticks_before;
    {
      std::lock_guard lock(ticks_mu_);
      ticks_before = ticks_.size();
    }
    SteadyTime t0 = clock_.steadyNow();
    notifier_->fire(std::move(e));
    if (poll_at_once) {
      posted = clock_.steadyNow();  // like a tick's time: read just before its poll()
      notifier_->poll();            // what the daemon's tick does after its dispatch
    }
    SteadyTime next_probe = t0 + opt_.probe;
    auto work = boost::asio::make_work_guard(probe_io_);
    while (!seen) {
      SteadyTime now = clock_.steadyNow();
      if (now - t0 > kGiveUp)
        return makeError("alert " + rule + " not in GET " + probe.str() + " within 10 s (" +
                         std::to_string(notifier_->status().total.sent - before.total.sent) +
                         " POSTs accepted since fire()" +
                         (probe_error.empty() ? "" : "; last probe: " + probe_error) + ")");
      if (!posted || !accepted) {
        auto st = notifier_->status();
        bool in_flight = !st.endpoints.empty() && st.endpoints[0].in_flight;
        if (st.total.failed > before.total.failed)
          return makeError("the notifier's POST failed: " + st.total.last_error);
        bool done = st.total.sent > before.total.sent;
        if (!posted && (in_flight || done)) posted = now;  // replaced by the tick's own time below
        if (!accepted && done) accepted = now;
      }
      if (!probing && now >= next_probe) {
        probing = true;
        bool after_2xx = accepted.has_value();
        next_probe = now + opt_.probe;
        HttpRequest req;
        req.url = probe;
        req.timeout = 2s;
        startHttpRequest(probe_io_, std::move(req), [&, after_2xx](Result<HttpResponse> r) {
          probing = false;
          bool there =
              r.ok() && r->status == 200 && r->body.find('"' + rule + '"') != std::string::npos;
          if (!r.ok()) probe_error = r.error().describe();
          if (after_2xx && !s.first_probe_after_2xx_saw_it) s.first_probe_after_2xx_saw_it = there;
          if (there) seen = clock_.steadyNow();
        });
      }
      // Runs a probe's completion the moment it is ready; otherwise returns after 100 us to look
      // at the notifier's counters again.
      probe_io_.run_for(100us);
    }
    work.reset();
    probe_io_.run();  // nothing is left in flight; returns at once
    probe_io_.restart();
    if (!accepted) accepted = *seen;  // the 2xx came between two looks: bound it by the sighting
    if (!poll_at_once) {
      // The tick that started the POST, by its own clock: the first one that began after fire()
      // was called which found nothing in flight and started an exchange. Its time may precede
      // t0 by the few microseconds between its reading of the clock and its poll().
      std::lock_guard lock(ticks_mu_);
      for (std::size_t k = ticks_before; k < ticks_.size(); ++k)
        if (ticks_[k].started) {
          posted = std::max(ticks_[k].at, t0);
          break;
        }
    }
    if (!posted) posted = *accepted;
    s.to_post = *posted - t0;
    s.to_2xx = *accepted - t0;
    s.to_visible = *seen - t0;

    // Resolved and accepted before the next firing, so each firing is a POST of one new alert
    // (and of the background ones, when there are).
    notifier_->resolve(rule, "bench-target-" + std::to_string(i), clock_.wallNow());
    if (auto st = waitIdle("the resolve of " + rule); !st) return st.error();
    return s;
  }

  struct Mode {
    std::string name;
    bool at_once = false;
    std::vector<double> post, ok, visible;
    int first_probe_saw = 0, first_probe_total = 0;
  };

  Status sample(Mode& m, int index) {
    auto r = fireOnce(index, m.at_once);
    if (!r) return r.error();
    m.post.push_back(ms(r->to_post));
    m.ok.push_back(ms(r->to_2xx));
    m.visible.push_back(ms(r->to_visible));
    if (r->first_probe_after_2xx_saw_it) {
      ++m.first_probe_total;
      m.first_probe_saw += *r->first_probe_after_2xx_saw_it ? 1 : 0;
    }
    return Ok{};
  }

  // `count` alerts fired, and accepted by Alertmanager, that stay active: every later POST
  // carries them too.
  Status fireBackground(int count) {
    for (int i = 0; i < count; ++i) {
      AlertEvent e = event(100000 + i);
      e.rule = "bench-background";
      notifier_->fire(std::move(e));
    }
    background_ = static_cast<std::size_t>(count);
    return waitIdle("the background alerts");
  }

  Status resolveBackground(int count) {
    for (int i = 0; i < count; ++i)
      notifier_->resolve("bench-background", "bench-target-" + std::to_string(100000 + i),
                         clock_.wallNow());
    background_ = 0;
    return waitIdle("the background resolves");
  }

  int measure() {
    std::mt19937 rng(6);
    std::uniform_int_distribution<int> phase_us(0, static_cast<int>(us(opt_.tick)));
    std::vector<double> status_ms, warm_ms, bare_ms;
    Mode modes[3];
    modes[0].name = "poll on the tick";
    modes[1].name = "poll right after fire()";
    modes[1].at_once = true;
    modes[2].name = "poll right after fire(), 50 other alerts active";
    modes[2].at_once = true;
    auto failed = [&](const Error& e) {
      return fail(e.describe() + "\nAlertmanager's log:\n" + am_.log());
    };
    // Warm-up: the first exchanges (connections, Alertmanager's first allocations) are not
    // counted.
    for (int w = 0; w < 3; ++w) {
      Mode warm;
      warm.at_once = true;
      if (auto st = sample(warm, -1 - w); !st) return failed(st.error());
      (void)statusRoundTrip();
    }
    int index = 0;
    for (int i = 0; i < opt_.firings; ++i) {
      for (int m = 0; m < 2; ++m) {  // interleaved: drift hits both modes alike
        // A random phase against the tick, as an event that is not synchronised with it.
        std::this_thread::sleep_for(std::chrono::microseconds(phase_us(rng)));
        if (auto st = sample(modes[m], index++); !st) return failed(st.error());
        // The baselines start like a fire(): after an idle pause of the same random length (a
        // request right after another finds the CPUs and Alertmanager awake, and is faster).
        std::this_thread::sleep_for(std::chrono::microseconds(phase_us(rng)));
        for (auto* into : {&status_ms, &warm_ms}) {
          auto rt = statusRoundTrip();
          if (!rt) return fail("GET /api/v2/status: " + rt.error().describe());
          into->push_back(ms(*rt));
        }
        std::this_thread::sleep_for(std::chrono::microseconds(phase_us(rng)));
        auto bare = barePost(index);
        if (!bare) return fail("a bare POST /api/v2/alerts: " + bare.error().describe());
        bare_ms.push_back(ms(*bare));
      }
    }
    // After the interleaved modes, since the 50 would be in their POSTs too.
    if (auto st = fireBackground(50); !st) return failed(st.error());
    for (int i = 0; i < opt_.firings; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(phase_us(rng)));
      if (auto st = sample(modes[2], index++); !st) return failed(st.error());
    }
    if (auto st = resolveBackground(50); !st) return failed(st.error());

    Dist base = dist(status_ms), warm = dist(warm_ms), bare = dist(bare_ms);
    std::vector<AlertEvent> one = {event(0)}, many;
    for (int i = 0; i < 51; ++i) many.push_back(event(i));
    AlertmanagerSpec spec;
    spec.static_labels = {{"cluster", "bench"}};
    spec.generator_url = "http://127.0.0.1:9464/metrics";
    std::size_t bytes1 = payload(one, spec, clock_.wallNow()).size();
    std::size_t bytes51 = payload(many, spec, clock_.wallNow()).size();

    std::printf(
        "\n== firing -> visible in Alertmanager %s (%s), loopback\n"
        "%d firings per mode, each a new alert, resolved before the next; the first two modes\n"
        "interleaved, the third after them; tick %.0f ms (poll() on a thread of its own), each\n"
        "fire() after an idle pause of random length, so at a random phase of the tick; the\n"
        "alert is looked for with GET /api/v2/alerts?filter=alertname=\"...\" every %.0f ms (its\n"
        "answer is the sighting), the notifier's counters every 0.1 ms; the baselines follow the\n"
        "same pauses; POST body %zu bytes for 1 alert, %zu for 51\n\n",
        version_.c_str(), am_.url().c_str(), opt_.firings, ms(opt_.tick), ms(opt_.probe), bytes1,
        bytes51);
    std::printf("%-48s %8s %8s %8s  %s\n", "ms", "p50", "p99", "max", "p50 / baseline");
    std::printf("%-48s %8.2f %8.2f %8.2f  %s\n", "baseline: GET /api/v2/status after a pause",
                base.p50, base.p99, base.max, "1.0x");
    std::printf("%-48s %8.2f %8.2f %8.2f  %.1fx\n", "  the same right after another (warm)",
                warm.p50, warm.p99, warm.max, warm.p50 / base.p50);
    std::printf("%-48s %8.2f %8.2f %8.2f  %.1fx\n", "  POST of the same 1-alert body, bare",
                bare.p50, bare.p99, bare.max, bare.p50 / base.p50);
    auto row = [&](const char* name, const std::vector<double>& v) {
      Dist d = dist(v);
      std::printf("  %-46s %8.2f %8.2f %8.2f  %.1fx\n", name, d.p50, d.p99, d.max,
                  d.p50 / base.p50);
    };
    for (auto& m : modes) {
      std::printf("%s:\n", m.name.c_str());
      std::vector<double> exchange, observe;
      for (std::size_t k = 0; k < m.ok.size(); ++k) {
        exchange.push_back(m.ok[k] - m.post[k]);
        observe.push_back(m.visible[k] - m.ok[k]);
      }
      row("fire() -> poll() that starts the POST", m.post);
      row("fire() -> POST answered 2xx", m.ok);
      row("fire() -> visible in GET /api/v2/alerts", m.visible);
      row("  that poll() -> 2xx", exchange);
      row("  2xx -> seen by the probe", observe);
      std::printf("  the first probe started after the 2xx saw the alert: %d of %d\n",
                  m.first_probe_saw, m.first_probe_total);
    }
    double tick_vis = dist(modes[0].visible).p50, once_vis = dist(modes[1].visible).p50;
    std::vector<double> once_exchange;
    for (std::size_t k = 0; k < modes[1].ok.size(); ++k)
      once_exchange.push_back(modes[1].ok[k] - modes[1].post[k]);
    std::printf(
        "the notifier's poll() -> 2xx over a bare POST of the same body (p50): %.2fx\n"
        "the tick's share of fire() -> visible (p50): %.2f of %.2f ms (%.0f%%)\n"
        "50 other active alerts in every POST: fire() -> 2xx p50 %.2fx, -> visible p50 %.2fx "
        "of the same with none\n",
        dist(once_exchange).p50 / bare.p50, tick_vis - once_vis, tick_vis,
        100 * (tick_vis - once_vis) / tick_vis, dist(modes[2].ok).p50 / dist(modes[1].ok).p50,
        dist(modes[2].visible).p50 / once_vis);
    return 0;
  }

  const Alertmanager& am_;
  AlertsOptions opt_;
  SystemClock clock_;
  boost::asio::io_context io_, probe_io_;
  std::unique_ptr<AlertmanagerNotifier> notifier_;
  std::atomic<bool> stop_{false};
  std::string version_;
  std::size_t background_ = 0;  // alerts that stay active while others are measured
  struct Tick {
    SteadyTime at;  // just before its poll()
    bool started;   // that poll() started a POST
  };
  std::mutex ticks_mu_;
  std::vector<Tick> ticks_;  // every tick of the run (20 a second: a few thousand at most)
};

// ---- (2) /metrics with 1, 100 and 1000 targets ----

// A target as the daemon sees it in one tick: a cgroup v2 container with a Go runtime endpoint
// (every signal updateTarget reads), its counters advancing with the tick.
void fillSnapshot(Snapshot& s, int target, int tick, const Clock& clock) {
  static const SignalId kHeapLimit = internSignal("heap_limit_bytes");
  static const SignalId kAllocated = internSignal("alloc_bytes_total");
  s.clear();
  s.steady = clock.steadyNow();
  s.wall = clock.wallNow();
  const double limit = 1024 * 1048576.0;
  const double usage = (600 + 50 * std::sin(tick * 0.05 + target)) * 1048576.0;
  const double inactive_file = 80 * 1048576.0, file = 120 * 1048576.0;
  const double t = tick + target;
  s.set(Sig::kUsageBytes, usage);
  s.set(Sig::kLimitBytes, limit);
  s.set(Sig::kUsageRatio, usage / limit);
  s.set(Sig::kWorkingSetBytes, usage - inactive_file);
  s.set(Sig::kWorkingSetRatio, (usage - inactive_file) / limit);
  s.set(Sig::kAnonBytes, usage - file);
  s.set(Sig::kFileBytes, file);
  s.set(Sig::kShmemBytes, 1048576.0);
  s.set(Sig::kInactiveFileBytes, inactive_file);
  s.set(Sig::kSwapBytes, 0);
  s.set(Sig::kPeakBytes, 700 * 1048576.0);
  s.set(Sig::kPsiSomeAvg10, 1.5 + std::sin(t));
  s.set(Sig::kPsiSomeAvg60, 1.2);
  s.set(Sig::kPsiSomeAvg300, 0.9);
  s.set(Sig::kPsiSomeTotalSeconds, 0.01 * t);
  s.set(Sig::kPsiFullAvg10, 0.4);
  s.set(Sig::kPsiFullAvg60, 0.3);
  s.set(Sig::kPsiFullAvg300, 0.2);
  s.set(Sig::kPsiFullTotalSeconds, 0.004 * t);
  s.set(Sig::kPgfault, 120000 + 900 * t);
  s.set(Sig::kPgmajfault, 40 + t / 10);
  s.set(Sig::kPgscan, 5000 + 30 * t);
  s.set(Sig::kPgsteal, 4000 + 25 * t);
  s.set(Sig::kWorkingsetRefault, 100 + 2 * t);
  s.set(Sig::kEventsLow, 0);
  s.set(Sig::kEventsHigh, 3);
  s.set(Sig::kEventsMax, 1);
  s.set(Sig::kEventsOom, 0);
  s.set(Sig::kEventsOomKill, 0);
  s.set(Sig::kRssBytes, usage - file);
  s.set(Sig::kProcessCount, 3);
  s.set(Sig::kHeapAllocBytes, 300 * 1048576.0 + 1e5 * t);
  s.set(kHeapLimit, 900 * 1048576.0);
  s.set(Sig::kGcCycles, 50 + t / 20);
  s.set(Sig::kGcPauseSecondsTotal, 0.0005 * t);
  s.set(kAllocated, 4e9 + 2e6 * t);
  s.set(Sig::kTimeToOomSeconds, 3600 - std::fmod(t, 100));
}

Firing firing(const std::string& rule, const std::string& target, RuleState from, RuleState to,
              Severity severity) {
  Firing f;
  f.rule = rule;
  f.target = target;
  f.expr = "working_set_ratio > 90%";
  f.severity = severity;
  f.from = from;
  f.to = to;
  return f;
}

// Besides the signals: three rules' series (one fired, one pending, one fired and resolved), two
// dumpers' counters and an incident per target, as after a day with one incident everywhere.
void addRuleAndDumpSeries(DaemonMetrics& m, const std::string& target) {
  using S = RuleState;
  m.transition(firing("oom-imminent", target, S::kInactive, S::kPending, Severity::kCritical));
  m.transition(firing("oom-imminent", target, S::kPending, S::kFiring, Severity::kCritical));
  m.transition(firing("working-set-high", target, S::kInactive, S::kPending, Severity::kWarning));
  m.transition(firing("fast-growth", target, S::kInactive, S::kFiring, Severity::kWarning));
  m.transition(firing("fast-growth", target, S::kFiring, S::kResolved, Severity::kWarning));
  m.dump(target, "proc", "ok", 0.04, 2e5);
  m.dump(target, "go-pprof", "ok", 0.8, 3e6);
  m.incident(target, "published");
}

std::size_t seriesIn(const std::string& text) {
  std::size_t n = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (end > at && text[at] != '#') ++n;
    at = end + 1;
  }
  return n;
}

struct ScrapeRow {
  int targets = 0;
  std::size_t series = 0, bytes = 0, scrapes = 0;
  Dist tick, tick_call, render, scrape, floor;
};

Result<ScrapeRow> scrapeBench(int targets, int scrapes) {
  SystemClock clock;
  DaemonMetrics metrics{HostPaths()};
  std::vector<std::string> names;
  std::vector<Snapshot> snaps(static_cast<std::size_t>(targets));
  for (int i = 0; i < targets; ++i)
    names.push_back("ns-" + std::to_string(i % 20) + "/pod-" + std::to_string(i) + "/app");
  // One tick's metrics work, as the watchdog does it: updateTarget for every target, then tick().
  Duration tick_call{};
  auto tick = [&](int n) {
    for (int i = 0; i < targets; ++i) fillSnapshot(snaps[static_cast<std::size_t>(i)], i, n, clock);
    SteadyTime t0 = clock.steadyNow();
    for (int i = 0; i < targets; ++i)
      metrics.updateTarget(names[static_cast<std::size_t>(i)], snaps[static_cast<std::size_t>(i)]);
    SteadyTime t1 = clock.steadyNow();
    metrics.tick(clock.wallNow(), 3ms, 50ms, static_cast<std::size_t>(targets), 0);
    SteadyTime t2 = clock.steadyNow();
    tick_call = t2 - t1;
    return t2 - t0;
  };
  (void)tick(0);  // the first sight of each target makes its series
  for (const auto& n : names) addRuleAndDumpSeries(metrics, n);
  metrics.reload(true);

  auto server = MetricsServer::start("127.0.0.1:0", [&](const std::string& path) {
    HttpAnswer a;
    if (path == "/metrics") {
      a.content_type = "text/plain; version=0.0.4; charset=utf-8";
      a.body = metrics.render();
    } else {
      a.body = "ok\n";  // the floor: the same server and client, no exposition
    }
    return a;
  });
  if (!server) return server.error();
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  Url metrics_url = *Url::parse(base + "/metrics"), floor_url = *Url::parse(base + "/healthz");
  boost::asio::io_context io;

  ScrapeRow row;
  row.targets = targets;
  row.scrapes = static_cast<std::size_t>(scrapes);
  {
    std::string text = metrics.render();
    row.series = seriesIn(text);
  }
  std::vector<double> tick_us, tick_call_us, render_us, scrape_us, floor_us;
  for (int r = 0; r < scrapes + 3; ++r) {  // interleaved; the first 3 rounds are a warm-up
    Duration tk = tick(r + 1);
    SteadyTime t0 = clock.steadyNow();
    std::string text = metrics.render();
    Duration rd = clock.steadyNow() - t0;
    t0 = clock.steadyNow();
    auto got = httpGet(io, metrics_url, std::size_t{256} << 20);
    Duration sc = clock.steadyNow() - t0;
    if (!got) return got.error();
    if (got->status != 200)
      return makeError("HTTP " + std::to_string(got->status), metrics_url.str());
    t0 = clock.steadyNow();
    auto fl = httpGet(io, floor_url);
    Duration fd = clock.steadyNow() - t0;
    if (!fl) return fl.error();
    if (r < 3) continue;
    row.bytes = got->body.size();
    tick_us.push_back(us(tk));
    tick_call_us.push_back(us(tick_call));
    render_us.push_back(us(rd));
    scrape_us.push_back(us(sc));
    floor_us.push_back(us(fd));
  }
  row.tick = dist(tick_us);
  row.tick_call = dist(tick_call_us);
  row.render = dist(render_us);
  row.scrape = dist(scrape_us);
  row.floor = dist(floor_us);
  return row;
}

int metricsPart(int scrapes) {
  std::vector<ScrapeRow> rows;
  for (int targets : {1, 100, 1000}) {
    auto row = scrapeBench(targets, targets >= 1000 ? std::max(scrapes / 4, 10) : scrapes);
    if (!row) {
      std::fprintf(stderr, "bench_alerts: scrape of %d targets: %s\n", targets,
                   row.error().describe().c_str());
      return 1;
    }
    rows.push_back(*row);
  }
  std::printf(
      "\n== /metrics with 1, 100 and 1000 targets\n"
      "each target: every signal updateTarget reads (cgroup v2 + Go runtime), 3 rules' series,\n"
      "2 dumpers' and 1 incident's counters; rounds interleave one tick (updateTarget of every\n"
      "target + tick()), render() in process, GET /metrics and GET of a 3-byte page (the floor)\n"
      "through MetricsServer with the project's HTTP client; microseconds\n\n");
  std::printf("%-34s", "targets");
  for (const auto& r : rows) std::printf(" %22d", r.targets);
  std::printf("\n%-34s", "scrapes");
  for (const auto& r : rows) std::printf(" %22zu", r.scrapes);
  std::printf("\n%-34s", "series (sample lines)");
  for (const auto& r : rows) std::printf(" %22zu", r.series);
  std::printf("\n%-34s", "response bytes");
  for (const auto& r : rows) std::printf(" %22zu", r.bytes);
  auto line = [&](const char* name, Dist ScrapeRow::*d) {
    std::printf("\n%-34s", name);
    for (const auto& r : rows) {
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.1f / %.1f", (r.*d).p50, (r.*d).p99);
      std::printf(" %22s", cell);
    }
  };
  std::printf("\n%-34s", "p50 / p99, us:");
  line("  baseline: one tick's metrics", &ScrapeRow::tick);
  line("    of which tick()", &ScrapeRow::tick_call);
  line("  floor: GET of a 3-byte page", &ScrapeRow::floor);
  line("  render() in process", &ScrapeRow::render);
  line("  GET /metrics via MetricsServer", &ScrapeRow::scrape);
  auto ratio = [&](const char* name, std::function<double(const ScrapeRow&)> f) {
    std::printf("\n%-34s", name);
    for (const auto& r : rows) std::printf(" %21.2fx", f(r));
  };
  std::printf("\n%-34s", "ratios of p50:");
  ratio("  render / tick", [](const ScrapeRow& r) { return r.render.p50 / r.tick.p50; });
  ratio("  GET /metrics / tick", [](const ScrapeRow& r) { return r.scrape.p50 / r.tick.p50; });
  ratio("  GET /metrics / floor", [](const ScrapeRow& r) { return r.scrape.p50 / r.floor.p50; });
  const ScrapeRow& one = rows.front();
  ratio("  render / render(1 target)",
        [&](const ScrapeRow& r) { return r.render.p50 / one.render.p50; });
  ratio("  GET /metrics / GET(1 target)",
        [&](const ScrapeRow& r) { return r.scrape.p50 / one.scrape.p50; });
  ratio("  tick / tick(1 target)", [&](const ScrapeRow& r) { return r.tick.p50 / one.tick.p50; });
  std::printf("\n%-34s", "per target, p50, us:");
  auto per = [&](const char* name, std::function<double(const ScrapeRow&)> f) {
    std::printf("\n%-34s", name);
    for (const auto& r : rows) {
      if (r.targets == 1)
        std::printf(" %22s", "-");
      else
        std::printf(" %22.2f", f(r));
    }
  };
  per("  render, added per target",
      [&](const ScrapeRow& r) { return (r.render.p50 - one.render.p50) / (r.targets - 1); });
  per("  GET /metrics, added per target",
      [&](const ScrapeRow& r) { return (r.scrape.p50 - one.scrape.p50) / (r.targets - 1); });
  per("  render per series, ns",
      [&](const ScrapeRow& r) { return 1000 * r.render.p50 / static_cast<double>(r.series); });
  per("  tick: updateTarget per target",
      [&](const ScrapeRow& r) { return (r.tick.p50 - r.tick_call.p50) / r.targets; });
  std::printf("\n");
  return 0;
}

bool parseInt(const char* text, int& out) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0 || v > 1000000) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace
}  // namespace oomsentinel::bench

int main(int argc, char** argv) {
  using namespace oomsentinel;
  using namespace oomsentinel::bench;
  AlertsOptions opt;
  int scrapes = 200, probe_ms = 2, tick_ms = 50;
  bool alerts = true, metrics = true;
  std::string binary = "/usr/bin/prometheus-alertmanager";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--alerts-only") {
      metrics = false;
    } else if (a == "--metrics-only") {
      alerts = false;
    } else if (a == "--alertmanager" && has_value) {
      binary = argv[++i];
    } else if (a == "--firings" && has_value && parseInt(argv[i + 1], opt.firings)) {
      ++i;
    } else if (a == "--probe-ms" && has_value && parseInt(argv[i + 1], probe_ms)) {
      ++i;
    } else if (a == "--tick-ms" && has_value && parseInt(argv[i + 1], tick_ms)) {
      ++i;
    } else if (a == "--scrapes" && has_value && parseInt(argv[i + 1], scrapes)) {
      ++i;
    } else {
      std::fprintf(stderr, "bench_alerts: bad argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (!alerts && !metrics) {
    std::fprintf(stderr, "bench_alerts: --alerts-only and --metrics-only exclude each other\n");
    return 2;
  }
  opt.probe = std::chrono::milliseconds(probe_ms);
  opt.tick = std::chrono::milliseconds(tick_ms);
  if (alerts && ::access(binary.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "bench_alerts: %s is missing or not executable (%s): install the Debian package "
                 "prometheus-alertmanager, or give --alertmanager PATH, or run --metrics-only\n",
                 binary.c_str(), std::strerror(errno));
    return 2;
  }
  std::printf("bench_alerts: p50/p99 by nearest rank; ratios against baselines of the same run\n");
  if (alerts) {
    auto am = Alertmanager::start(binary);
    if (!am) {
      std::fprintf(stderr, "bench_alerts: cannot start Alertmanager: %s\n",
                   am.error().describe().c_str());
      return 1;
    }
    if (int rc = AlertsBench(**am, opt).run(); rc != 0) return rc;
  }
  if (metrics)
    if (int rc = metricsPart(scrapes); rc != 0) return rc;
  return 0;
}
