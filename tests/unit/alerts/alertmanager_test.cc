#include "alerts/alertmanager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"
#include "tests/support/tls_test_certs.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::HttpTestServer;
using ::testing::Not;
using testing::ServerStep;
using Json = nlohmann::json;
using namespace std::chrono_literals;

const WallTime kT0 = WallTime(1'700'000'000s);

// Waits for the notifier's thread (real I/O), never for time in the schedule: the clock is fake.
bool eventually(const std::function<bool()>& done) {
  SystemClock real;
  SteadyTime until = real.steadyNow() + 5s;
  while (real.steadyNow() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

std::string bodyOf(const std::string& raw) {
  std::size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? "" : raw.substr(end + 4);
}

// The JSON bodies the server received, in order.
std::vector<Json> posts(const HttpTestServer& server) {
  std::vector<Json> out;
  for (const auto& raw : server.requests()) out.push_back(Json::parse(bodyOf(raw)));
  return out;
}

AlertEvent event(const std::string& rule, const std::string& target) {
  AlertEvent e;
  e.rule = rule;
  e.target = target;
  e.severity = "critical";
  e.expr = "working_set_ratio > 95%";
  e.starts_at = kT0;
  e.values = {{"working_set_ratio", 0.97}};
  return e;
}

AlertmanagerSpec spec(std::vector<std::string> urls) {
  AlertmanagerSpec s;
  s.urls = std::move(urls);
  s.resend_interval = 60s;
  s.timeout = 300ms;
  s.retry_initial = 500ms;
  s.retry_max = 2s;
  return s;
}

std::unique_ptr<AlertmanagerNotifier> make(AlertmanagerSpec s, const Clock& clock) {
  auto n = AlertmanagerNotifier::create(std::move(s), clock);
  EXPECT_TRUE(n.ok()) << n.error().describe();
  return n.ok() ? std::move(n).value() : nullptr;
}

// A prefix and a number, without GCC 12's false -Wrestrict on the concatenation (bug 105651).
std::string numbered(std::string prefix, int i) { return prefix.append(std::to_string(i)); }

std::string deadUrl() { return "http://127.0.0.1:" + std::to_string(testing::freeLoopbackPort()); }

// ---- the payload ----

TEST(AlertmanagerPayloadTest, MatchesTheGoldenFile) {
  AlertmanagerSpec s;
  s.static_labels = {{"cluster", "prod-eu"}, {"region", "eu-west-1"}};
  AlertEvent firing;
  firing.rule = "oom-imminent";
  firing.target = "api";
  firing.severity = "critical";
  firing.expr = "time_to_oom < 10s or working_set_ratio > 95%";
  firing.starts_at = kT0 + 123ms;
  firing.values = {{"time_to_oom", 8.25},
                   {"working_set_ratio", 0.9612},
                   {"working_set_bytes", 257698037},
                   {"rate(pgmajfault[10s])", 12}};
  firing.labels = {{"namespace", "shop"}, {"pod", "api-7d9f"}, {"container", "api"}};
  firing.incident = "/var/lib/oomsentinel/incidents/20231114T221320.123Z-api-oom-imminent";
  AlertEvent resolved;
  resolved.rule = "near-limit";
  resolved.target = "worker";
  resolved.severity = "warning";
  resolved.expr = "working_set_ratio > 85%";
  resolved.firing = false;
  resolved.starts_at = kT0 - 90s;
  resolved.ends_at = kT0 + 500ms;
  resolved.values = {{"working_set_ratio", 0.871}, {"rate(working_set_bytes[30s])", 1048576}};

  Json got = Json::parse(
      alertmanagerPayload({firing, resolved}, s, "http://node-1:9187/metrics", kT0 + 1s));
  Json want = Json::parse(testing::readFixture("alerts/payload.json"));
  EXPECT_EQ(got, want) << "got:\n" << got.dump(2) << "\nwant:\n" << want.dump(2);
}

TEST(AlertmanagerPayloadTest, LabelsAreValidAndOursCannotBeOverridden) {
  AlertmanagerSpec s;
  // Straight into the payload, past create()'s checks: the payload defends itself too.
  s.static_labels = {{"target", "not-this"}, {"zone", "a"}};
  AlertEvent e = event("near-limit", "api");
  e.labels = {{"pod-name", "p"},     {"9lives", "cat"}, {"severity", "info"},
              {"empty", ""},         {"zone", "b"},     {"quote", "say \"hi\"\\\n\tbye"},
              {"bad_utf8", "ab\xff"}};
  std::string text = alertmanagerPayload({e}, s, "", kT0);
  Json got = Json::parse(text);
  ASSERT_EQ(got.size(), 1u);
  const Json& labels = got[0]["labels"];
  for (const auto& [name, value] : labels.items()) {
    EXPECT_TRUE(isValidLabelName(name)) << name;
    EXPECT_TRUE(value.is_string());
  }
  EXPECT_EQ(labels["alertname"], "near-limit");
  EXPECT_EQ(labels["severity"], "critical");
  EXPECT_EQ(labels["target"], "api");
  EXPECT_EQ(labels["pod_name"], "p");
  EXPECT_EQ(labels["_9lives"], "cat");
  EXPECT_FALSE(labels.contains("empty"));
  EXPECT_EQ(labels["zone"], "b") << "the event's labels win over the static ones";
  // Quotes and backslashes are kept (JSON escapes them); controls are made visible (safeText).
  EXPECT_EQ(labels["quote"], "say \"hi\"\\\\x0a\\x09bye");
  EXPECT_EQ(labels["bad_utf8"], "ab\xEF\xBF\xBD") << "invalid UTF-8 becomes U+FFFD";
  EXPECT_FALSE(got[0].contains("generatorURL")) << "an empty generator URL is left out";

  EXPECT_EQ(sanitizeLabelName("a.b-c"), "a_b_c");
  EXPECT_EQ(sanitizeLabelName(""), "_");
  EXPECT_TRUE(isValidLabelName("_x9"));
  EXPECT_FALSE(isValidLabelName("9x"));
  EXPECT_FALSE(isValidLabelName("a-b"));
}

TEST(AlertmanagerPayloadTest, ATargetMadeNameIsSafeInLabelsAndAnnotations) {
  AlertmanagerSpec s;
  // A discovered target named after what the target made: a cgroup with a newline and a byte
  // that is no UTF-8.
  AlertEvent e = event("near-limit", "pods/x\xff\n[FIRING] all good");
  Json got = Json::parse(alertmanagerPayload({e}, s, "", kT0));
  const std::string want = "pods/x\xEF\xBF\xBD\\x0a[FIRING] all good";
  EXPECT_EQ(got[0]["labels"]["target"], want);
  const std::string summary = got[0]["annotations"]["summary"];
  const std::string description = got[0]["annotations"]["description"];
  EXPECT_THAT(summary, HasSubstr(want));
  EXPECT_THAT(description, HasSubstr(want));
  EXPECT_EQ(summary.find('\n'), std::string::npos);
  EXPECT_EQ(description.find('\n'), std::string::npos);
}

TEST(AlertmanagerPayloadTest, EndsAtIsTheResolveOrFourResendIntervalsAfterTheSend) {
  AlertEvent firing = event("r", "t");
  AlertEvent resolved = event("r", "t");
  resolved.firing = false;
  resolved.ends_at = kT0 + 61s + 5ms;
  AlertEvent backwards = resolved;  // ends before it starts: Alertmanager would refuse the batch
  backwards.ends_at = kT0 - 1s;
  AlertmanagerSpec s;
  s.resend_interval = 30s;
  Json got =
      Json::parse(alertmanagerPayload({firing, resolved, backwards}, s, "http://x/", kT0 + 10s));
  // A firing alert expires two minutes after this send unless it is sent again: if oomsentinel
  // dies, Alertmanager resolves it then.
  EXPECT_EQ(got[0]["endsAt"], "2023-11-14T22:15:30.000Z");
  EXPECT_EQ(got[0]["startsAt"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(got[1]["endsAt"], "2023-11-14T22:14:21.005Z");
  EXPECT_EQ(got[2]["endsAt"], got[2]["startsAt"]);
  EXPECT_THAT(got[1]["annotations"]["summary"].get<std::string>(), HasSubstr("resolved"));
}

TEST(AlertmanagerPayloadTest, FormatsValuesByTheirUnit) {
  EXPECT_EQ(formatAlertValue("working_set_bytes", 2.5 * 1024 * 1024 * 1024), "2.50 GiB");
  EXPECT_EQ(formatAlertValue("usage_ratio", 0.7357), "73.6%");
  EXPECT_EQ(formatAlertValue("time_to_oom", 1.5), "1.5s");
  EXPECT_EQ(formatAlertValue("time_to_oom", 150), "2m30s");
  EXPECT_EQ(formatAlertValue("gc_pause_seconds_total", 0.25), "250ms");
  EXPECT_EQ(formatAlertValue("rate(working_set_bytes[10s])", 2048), "2.00 KiB/s");
  EXPECT_EQ(formatAlertValue("rate(gc_pause_seconds_total[1m])", 0.1), "0.1s/s");
  EXPECT_EQ(formatAlertValue("max_over(usage_ratio[1m])", 0.5), "50.0%");
  EXPECT_EQ(formatAlertValue("pgmajfault", 12), "12");
  EXPECT_EQ(formatAlertValue("time_to_oom", std::numeric_limits<double>::infinity()), "+Inf");
}

// ---- the spec ----

TEST(AlertmanagerNotifierTest, RefusesABadSpecWithAClearError) {
  FakeClock clock;
  auto check = [&](AlertmanagerSpec s, const std::string& says) {
    auto n = AlertmanagerNotifier::create(std::move(s), clock);
    ASSERT_FALSE(n.ok()) << says;
    EXPECT_THAT(n.error().describe(), HasSubstr(says));
  };
  check(spec({}), "no URL");
  check(spec({"ftp://am:9093"}), "ftp");
  AlertmanagerSpec no_ca = spec({"https://am:9093"});
  no_ca.tls.ca_file = "/nonexistent/ca.pem";
  check(no_ca, "/nonexistent/ca.pem");
  check(spec({"http://am:9093", "http://am:9093/"}), "given twice");
  AlertmanagerSpec s = spec({"http://am:9093"});
  s.static_labels = {{"bad-name", "x"}};
  check(s, "'bad-name' is not valid");
  s.static_labels = {{"severity", "x"}};
  check(s, "set by oomsentinel itself");
  s.static_labels = {{"__meta", "x"}};
  check(s, "reserved");
  s.static_labels = {};
  s.retry_max = 100ms;
  check(s, "retry_max");
}

TEST(AlertmanagerNotifierTest, PostsToTheApiPathUnderEachBaseUrl) {
  FakeClock clock;
  auto n = make(spec({"http://127.0.0.1:9093", "http://127.0.0.2:9093/am/",
                      "http://127.0.0.3:9093/x/api/v2/alerts"}),
                clock);
  ASSERT_TRUE(n);
  auto st = n->status();
  ASSERT_EQ(st.endpoints.size(), 3u);
  EXPECT_EQ(st.endpoints[0].url, "http://127.0.0.1:9093/api/v2/alerts");
  EXPECT_EQ(st.endpoints[1].url, "http://127.0.0.2:9093/am/api/v2/alerts");
  EXPECT_EQ(st.endpoints[2].url, "http://127.0.0.3:9093/x/api/v2/alerts");
}

// ---- sending ----

TEST(AlertmanagerNotifierTest, AFiringIsPostedAtOnceToEveryUrl) {
  HttpTestServer a({ServerStep::reply(200, "")}), b({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({a.url("/"), b.url("/")}), clock);
  ASSERT_TRUE(n);
  n->poll();  // nothing held: nothing sent
  n->fire(event("oom-imminent", "api"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }))
      << n->status().total.last_error;
  for (const HttpTestServer* s : {&a, &b}) {
    ASSERT_EQ(s->requests().size(), 1u);
    const std::string raw = s->requests()[0];
    EXPECT_THAT(raw, HasSubstr("POST /api/v2/alerts HTTP/1.1\r\n"));
    EXPECT_THAT(raw, HasSubstr("Content-Type: application/json\r\n"));
    Json body = Json::parse(bodyOf(raw));
    ASSERT_EQ(body.size(), 1u);
    EXPECT_EQ(body[0]["labels"]["alertname"], "oom-imminent");
    EXPECT_EQ(body[0]["labels"]["target"], "api");
    EXPECT_EQ(testing::parseIsoTime(body[0]["endsAt"]) -
                  std::chrono::duration<double>(clock.wallNow().time_since_epoch()).count(),
              240)
        << "four resend intervals after the send";
  }
  auto st = n->status();
  EXPECT_EQ(st.active, 1u);
  EXPECT_EQ(st.total.failed, 0u);
  EXPECT_EQ(st.total.last_error, "");
}

TEST(AlertmanagerNotifierTest, ActiveAlertsAreResentEveryResendInterval) {
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("near-limit", "api"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  n->poll();
  clock.advance(59'999ms);
  n->poll();
  EXPECT_FALSE(n->status().endpoints[0].in_flight) << "not due before the resend interval";
  clock.advance(1ms);
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  EXPECT_EQ(server.connections(), 2);
  auto bodies = posts(server);
  EXPECT_EQ(bodies[1][0]["endsAt"], "2023-11-14T22:18:20.000Z") << "its expiry moves on";
  bodies[1][0].erase("endsAt");
  bodies[0][0].erase("endsAt");
  EXPECT_EQ(bodies[1], bodies[0]) << "otherwise the same alert, again";
  clock.advance(30s);
  n->poll();
  EXPECT_FALSE(n->status().endpoints[0].in_flight) << "the interval counts from the last send";
}

TEST(AlertmanagerNotifierTest, AResolveIsSentOnceWithEndsAtThenForgotten) {
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("near-limit", "api"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  clock.advance(5s);
  n->resolve("near-limit", "api", clock.wallNow());
  n->resolve("near-limit", "api", clock.wallNow() + 1s);  // already resolved: ignored
  n->resolve("other", "api", clock.wallNow());            // never fired: ignored
  EXPECT_EQ(n->status().resolving, 1u);
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  Json body = posts(server)[1];
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["endsAt"], "2023-11-14T22:13:25.000Z");
  auto st = n->status();
  EXPECT_EQ(st.active, 0u);
  EXPECT_EQ(st.resolving, 0u);
  clock.advance(10min);
  n->poll();
  EXPECT_FALSE(n->status().endpoints[0].in_flight);
  EXPECT_EQ(server.connections(), 2);
}

TEST(AlertmanagerNotifierTest, AResolveIsRetriedUntilEveryEndpointAcceptedIt) {
  HttpTestServer a({ServerStep::reply(200, "")});
  HttpTestServer b(
      {ServerStep::reply(200, ""), ServerStep::reply(503, "busy"), ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({a.url(), b.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  n->resolve("r", "t", clock.wallNow());
  n->poll();
  ASSERT_TRUE(eventually([&] {
    auto st = n->status();
    return st.total.sent == 3 && st.total.failed == 1;
  }));
  EXPECT_EQ(n->status().resolving, 1u) << "b has not accepted it yet";
  clock.advance(500ms);
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 4; }));
  EXPECT_EQ(n->status().resolving, 0u);
  EXPECT_EQ(a.connections(), 2) << "a accepted the resolve: it does not get it twice";
  Json retried = posts(b)[2];
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_TRUE(retried[0].contains("endsAt"));
}

TEST(AlertmanagerNotifierTest, ARefusedEndpointBacksOffWhileTheOtherGetsItsPosts) {
  HttpTestServer good({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({deadUrl(), good.url()}), clock);
  ASSERT_TRUE(n);
  auto dead = [&] { return n->status().endpoints[0]; };
  n->fire(event("r", "t1"));
  n->poll();
  ASSERT_TRUE(eventually(
      [&] { return dead().stats.failed == 1 && n->status().endpoints[1].stats.sent == 1; }));
  EXPECT_THAT(dead().stats.last_error, HasSubstr("connect"));
  EXPECT_TRUE(dead().failing);

  // 500ms, then doubling up to retry_max (2s). retries is counted when poll() starts one.
  int n_retries = 0;
  for (Duration wait : {Duration(500ms), Duration(1s), Duration(2s), Duration(2s)}) {
    clock.advance(wait - 1ms);
    n->poll();
    EXPECT_EQ(dead().stats.retries, static_cast<unsigned>(n_retries)) << "too early";
    clock.advance(1ms);
    n->poll();
    EXPECT_EQ(dead().stats.retries, static_cast<unsigned>(++n_retries)) << "due";
    ASSERT_TRUE(eventually([&] { return dead().stats.failed == 1u + n_retries; }));
  }
  // Meanwhile the good endpoint takes a new firing at once.
  n->fire(event("r", "t2"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().endpoints[1].stats.sent == 2; }));
  EXPECT_EQ(posts(good)[1].size(), 2u);
  EXPECT_EQ(n->status().endpoints[1].stats.last_error, "");
  EXPECT_EQ(n->status().endpoints[1].stats.failed, 0u);
}

TEST(AlertmanagerNotifierTest, AHungEndpointHoldsOneExchangeUntilItsTimeout) {
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer hung({hang}), good({ServerStep::reply(200, "")});
  FakeClock clock;
  AlertmanagerSpec s = spec({hung.url(), good.url()});
  s.timeout = 1s;  // long enough to still be in flight after the good endpoint's exchange
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().endpoints[1].stats.sent == 1; }));
  EXPECT_TRUE(n->status().endpoints[0].in_flight);
  n->fire(event("r", "t2"));
  n->poll();  // the hung one is busy; the good one takes the change
  ASSERT_TRUE(eventually([&] { return n->status().endpoints[1].stats.sent == 2; }));
  EXPECT_EQ(hung.connections(), 1) << "one exchange in flight per endpoint";
  ASSERT_TRUE(eventually([&] { return n->status().endpoints[0].stats.failed == 1; }));
  EXPECT_THAT(n->status().endpoints[0].stats.last_error, HasSubstr("timed out after 1s"));
  n->poll();
  EXPECT_EQ(hung.connections(), 1) << "backing off";
  clock.advance(500ms);
  n->poll();
  // The server counts a connection at once, and records its request once read.
  ASSERT_TRUE(eventually([&] { return hung.requests().size() == 2; }));
  Json retried = posts(hung)[1];
  EXPECT_EQ(retried.size(), 2u) << "the retry carries everything held";
}

TEST(AlertmanagerNotifierTest, ANon2xxAnswerFailsWithTheStatusAndTheBodysFirstLine) {
  HttpTestServer server(
      {ServerStep::reply(503, "\"start time must be before end time\"\nmore detail")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.failed == 1; }));
  std::string err = n->status().total.last_error;
  EXPECT_THAT(err, HasSubstr("HTTP 503"));
  EXPECT_THAT(err, HasSubstr("HTTP 503 Whatever: \"start time must be before end time\""));
  EXPECT_THAT(err, Not(HasSubstr("more detail")));
  EXPECT_THAT(err, HasSubstr(server.url("/api/v2/alerts")));
  auto changes = n->takeErrorChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].second, err);
  EXPECT_TRUE(n->takeErrorChanges().empty()) << "once per change";

  server.setScript({ServerStep::reply(200, "")});
  clock.advance(500ms);
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  EXPECT_EQ(n->status().total.last_error, "");
  EXPECT_EQ(n->status().total.retries, 1u);
  changes = n->takeErrorChanges();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].second, "") << "the recovery";
}

TEST(AlertmanagerNotifierTest, A4xxRefusalIsNotRetriedUntilTheAlertChangesOrTheResendInterval) {
  HttpTestServer server({ServerStep::reply(400, "bad alert")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.failed == 1; }));
  EXPECT_EQ(n->status().total.rejected, 1u);
  EXPECT_THAT(n->status().total.last_error, HasSubstr("HTTP 400"));
  EXPECT_FALSE(n->status().endpoints[0].failing) << "no backoff loop for a refusal";
  for (int i = 0; i < 10; ++i) {  // 10 s of ticks: the same payload would be refused again
    clock.advance(1s);
    n->poll();
  }
  // poll() marks an exchange in flight when it starts one, and its end counts it (under one lock):
  // neither happened, so none of the ten polls sent the payload again.
  auto st = n->status();
  EXPECT_FALSE(st.endpoints[0].in_flight);
  EXPECT_EQ(st.total.failed, 1u);
  EXPECT_EQ(st.total.sent, 0u);
  EXPECT_EQ(server.connections(), 1);
  n->setIncident("r", "t", "/incident");  // a change: another payload, sent at once
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.failed == 2; }));
  EXPECT_EQ(server.connections(), 2);
  server.setScript({ServerStep::reply(200, "")});
  clock.advance(60s);  // the resend interval
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  EXPECT_EQ(n->status().total.last_error, "");
  // 408 and 429 are worth a retry: they back off like a 5xx.
  for (int code : {408, 429}) {
    HttpTestServer busy({ServerStep::reply(code, "slow down")});
    auto m = make(spec({busy.url()}), clock);
    ASSERT_TRUE(m);
    m->fire(event("r", "t"));
    m->poll();
    ASSERT_TRUE(eventually([&] { return m->status().total.failed == 1; })) << code;
    EXPECT_EQ(m->status().total.rejected, 0u) << code;
    EXPECT_TRUE(m->status().endpoints[0].failing) << code;
  }
}

TEST(AlertmanagerNotifierTest, ARefusalForCredentialsIsSentAgainWhenAReloadBringsNewOnes) {
  testing::TempDir dir;
  dir.write("token", "old");
  dir.write("token2", "new");
  HttpTestServer server({ServerStep::reply(401, "unauthorized")});
  FakeClock clock;
  AlertmanagerSpec s = spec({server.url()});
  s.bearer_token_file = dir.path() + "/token";
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.rejected == 1; }));
  server.setScript({ServerStep::reply(200, "")});
  ASSERT_TRUE(n->reload(s).ok());  // the same credentials: nothing new to try
  n->poll();
  // Nothing started (poll() marks a started exchange in flight) or ended since the refusal.
  auto st = n->status();
  EXPECT_FALSE(st.endpoints[0].in_flight);
  EXPECT_EQ(st.total.failed, 1u);
  EXPECT_EQ(st.total.sent, 0u);
  EXPECT_EQ(server.connections(), 1);
  s.bearer_token_file = dir.path() + "/token2";
  ASSERT_TRUE(n->reload(s).ok());
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  EXPECT_THAT(server.requests()[1], HasSubstr("Authorization: Bearer new\r\n"));
}

TEST(AlertmanagerNotifierTest, FlushSendsTheOwedResolvesAndWaitsForTheAnswers) {
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  n->resolve("r", "t", kT0 + 5s);  // no poll after it: only the flush sends it
  EXPECT_TRUE(n->flush(2s));
  EXPECT_EQ(n->status().total.sent, 2u);
  auto bodies = posts(server);
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[1][0]["endsAt"], "2023-11-14T22:13:25.000Z");
  EXPECT_EQ(n->status().resolving, 0u);
  EXPECT_TRUE(n->flush(2s)) << "nothing owed: at once";
  EXPECT_EQ(server.connections(), 2);
}

TEST(AlertmanagerNotifierTest, FlushTriesABackingOffEndpointOnceAndGivesUpWithinItsBound) {
  HttpTestServer dead({ServerStep{ServerStep::Kind::kClose, "", {}}});
  HttpTestServer hung({ServerStep{ServerStep::Kind::kHang, "", {}}});
  FakeClock clock;
  auto n = make(spec({dead.url(), hung.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().endpoints[0].failing; }));
  ASSERT_EQ(dead.connections(), 1);
  // The dead endpoint backs off (500 ms of a clock that does not move); the flush tries it
  // once more anyway. The hung one holds its exchange until its 300 ms timeout.
  SystemClock real;
  SteadyTime started = real.steadyNow();
  EXPECT_FALSE(n->flush(3s));
  Duration took = real.steadyNow() - started;
  EXPECT_EQ(dead.connections(), 2);
  EXPECT_LT(took, 2s) << "both answered (failed) well before the bound";
}

TEST(AlertmanagerNotifierTest, TheQueueIsBoundedAndDropsAreCounted) {
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  AlertmanagerSpec s = spec({server.url()});
  s.queue_max = 3;
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  for (int i = 0; i < 5; ++i) n->fire(event("r", numbered("t", i)));
  auto st = n->status();
  EXPECT_EQ(st.active, 3u);
  EXPECT_EQ(st.total.dropped, 2u);
  n->fire(event("r", "t0"));  // held already: replaced, not dropped
  EXPECT_EQ(n->status().total.dropped, 2u);
  n->resolve("r", "t4", clock.wallNow());  // was dropped: nothing to resolve
  n->resolve("r", "t1", clock.wallNow());
  EXPECT_EQ(n->status().resolving, 1u);
  // Full: a new firing pushes out the resolve still waiting, not another firing.
  n->fire(event("r", "t9"));
  st = n->status();
  EXPECT_EQ(st.active, 3u);
  EXPECT_EQ(st.resolving, 0u);
  EXPECT_EQ(st.total.dropped, 3u);
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  Json body = posts(server)[0];
  ASSERT_EQ(body.size(), 3u);
  std::vector<std::string> targets;
  for (const auto& a : body) targets.push_back(a["labels"]["target"]);
  EXPECT_THAT(targets, ::testing::UnorderedElementsAre("t0", "t2", "t9"));
}

TEST(AlertmanagerNotifierTest, TheReportsTopSiteIsSentWithTheIncidentAndMadeSafe) {
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("oom-imminent", "api"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  n->setIncident("oom-imminent", "api", "/incidents/x", "main.grow holds 20.8 MiB");
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  EXPECT_EQ(posts(server)[1][0]["annotations"]["top_growth"], "main.grow holds 20.8 MiB");
  EXPECT_FALSE(posts(server)[0][0]["annotations"].contains("top_growth"));
  // The same bundle with nothing new is not a change; a new line is (a later report).
  n->setIncident("oom-imminent", "api", "/incidents/x", "main.grow holds 20.8 MiB");
  n->poll();
  std::string hostile = "evil\xff\n\x1b[31mfunc" + std::string(2000, 'a');
  n->setIncident("oom-imminent", "api", "/incidents/x", hostile);
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 3; }));
  std::string top = posts(server)[2][0]["annotations"]["top_growth"];
  EXPECT_EQ(top.find('\n'), std::string::npos);
  EXPECT_EQ(top.find('\x1b'), std::string::npos);
  EXPECT_LE(top.size(), 520u) << "bounded";
  EXPECT_EQ(top.rfind("evil", 0), 0u);
}

TEST(AlertmanagerNotifierTest, AnIncidentPathIsSentAtOnce) {
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  auto n = make(spec({server.url()}), clock);
  ASSERT_TRUE(n);
  n->fire(event("oom-imminent", "api"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  n->setIncident("oom-imminent", "api", "/var/lib/oomsentinel/incidents/x");
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  Json body = posts(server)[1];
  EXPECT_EQ(body[0]["annotations"]["incident"], "/var/lib/oomsentinel/incidents/x");
  EXPECT_FALSE(posts(server)[0][0]["annotations"].contains("incident"));
}

TEST(AlertmanagerNotifierTest, AChangeDuringAnExchangeIsSentAsSoonAsItEnds) {
  ServerStep slow;
  slow.kind = ServerStep::Kind::kTrickle;
  slow.raw = ServerStep::reply(200, "").raw;
  slow.delay = 2ms;
  HttpTestServer server({slow});
  FakeClock clock;
  AlertmanagerSpec s = spec({server.url()});
  s.timeout = 5s;
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return server.connections() == 1; }));
  n->setIncident("r", "t", "/incidents/1");  // while the first answer trickles in
  n->poll();
  // No poll() after this: the end of the first exchange starts the second, not the next tick.
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  EXPECT_EQ(posts(server)[1][0]["annotations"]["incident"], "/incidents/1");
}

// ---- auth ----

TEST(AlertmanagerNotifierTest, PostsOverMutualTlsWithTheConfiguredCaAndClientCertificate) {
  testing::TestCa ca;
  testing::TlsFiles server_cert = ca.issue("am", {"IP:127.0.0.1", "DNS:localhost"});
  testing::TlsFiles client = ca.issue("oomsentinel", {}, testing::TestCa::Use::kClient);
  HttpTestServer server({ServerStep::reply(200, "")},
                        testing::ServerTls{server_cert.cert, server_cert.key, ca.files().cert});
  ASSERT_EQ(server.url().rfind("https://", 0), 0u);
  FakeClock clock;
  AlertmanagerSpec s = spec({server.url()});
  s.tls.ca_file = ca.files().cert;
  s.tls.cert_file = client.cert;
  s.tls.key_file = client.key;
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }))
      << n->status().total.last_error;
  EXPECT_EQ(posts(server)[0][0]["labels"]["alertname"], "r");

  // Without the client certificate the server refuses the handshake: a failure, retried.
  HttpTestServer strict({ServerStep::reply(200, "")},
                        testing::ServerTls{server_cert.cert, server_cert.key, ca.files().cert});
  AlertmanagerSpec anonymous = spec({strict.url()});
  anonymous.tls.ca_file = ca.files().cert;
  auto m = make(anonymous, clock);
  ASSERT_TRUE(m);
  m->fire(event("r", "t"));
  m->poll();
  ASSERT_TRUE(eventually([&] { return m->status().total.failed == 1; }));
  EXPECT_THAT(m->status().total.last_error, HasSubstr("certificate required"));
  EXPECT_TRUE(m->status().endpoints[0].failing);
  EXPECT_TRUE(strict.requests().empty());
}

TEST(AlertmanagerNotifierTest, SendsTheBearerTokenFromItsFileAndRereadsItOnReload) {
  testing::TempDir dir;
  dir.write("token", "s3cr3t\n");
  dir.write("token2", "r0tated");
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  AlertmanagerSpec s = spec({server.url()});
  s.bearer_token_file = dir.path() + "/token";
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  EXPECT_THAT(server.requests()[0], HasSubstr("\r\nAuthorization: Bearer s3cr3t\r\n"));

  AlertmanagerSpec missing = s;
  missing.bearer_token_file = dir.path() + "/nope";
  Status bad = n->reload(missing);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().describe(), HasSubstr(dir.path() + "/nope"));

  s.bearer_token_file = dir.path() + "/token2";
  ASSERT_TRUE(n->reload(s).ok());
  n->setIncident("r", "t", "/x");
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 2; }));
  EXPECT_THAT(server.requests()[1], HasSubstr("\r\nAuthorization: Bearer r0tated\r\n"));
}

TEST(AlertmanagerNotifierTest, SendsBasicAuthAsBase64OfUserColonPassword) {
  testing::TempDir dir;
  dir.write("basic", "alice:pa:ss\n");
  HttpTestServer server({ServerStep::reply(200, "")});
  FakeClock clock;
  AlertmanagerSpec s = spec({server.url()});
  s.basic_auth_file = dir.path() + "/basic";
  auto n = make(s, clock);
  ASSERT_TRUE(n);
  n->fire(event("r", "t"));
  n->poll();
  ASSERT_TRUE(eventually([&] { return n->status().total.sent == 1; }));
  EXPECT_THAT(server.requests()[0], HasSubstr("\r\nAuthorization: Basic YWxpY2U6cGE6c3M=\r\n"));
}

TEST(AlertmanagerNotifierTest, AMissingOrUnusableAuthFileIsAnError) {
  testing::TempDir dir;
  dir.write("empty", "\n");
  dir.write("nocolon", "alice\n");
  dir.write("token", "x");
  dir.write("twolines", "a\nb\n");
  FakeClock clock;
  auto check = [&](AlertmanagerSpec s, const std::string& path, const std::string& says) {
    auto n = AlertmanagerNotifier::create(std::move(s), clock);
    ASSERT_FALSE(n.ok()) << says;
    EXPECT_THAT(n.error().describe(), HasSubstr(says));
    EXPECT_THAT(n.error().describe(), HasSubstr(path));
  };
  AlertmanagerSpec s = spec({"http://127.0.0.1:9093"});
  s.bearer_token_file = dir.path() + "/missing";
  check(s, dir.path() + "/missing", "cannot read the bearer token file");
  s.bearer_token_file = dir.path() + "/empty";
  check(s, dir.path() + "/empty", "is empty");
  s.bearer_token_file = dir.path() + "/twolines";
  check(s, dir.path() + "/twolines", "line break");
  s.bearer_token_file = "";
  s.basic_auth_file = dir.path() + "/nocolon";
  check(s, dir.path() + "/nocolon", "user:password");
  s.bearer_token_file = dir.path() + "/token";
  s.basic_auth_file = dir.path() + "/token";
  check(s, "", "not both");
}

// ---- the tick is never held up ----

TEST(AlertmanagerNotifierTest, PollNeverWaitsForTheNetwork) {
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer hung1({hang}), hung2({hang});
  FakeClock clock;
  AlertmanagerSpec s = spec({hung1.url(), hung2.url(), deadUrl()});
  s.timeout = 5s;
  SystemClock real;
  Duration worst{0};
  {
    auto n = make(s, clock);
    ASSERT_TRUE(n);
    for (int i = 0; i < 256; ++i) {
      AlertEvent e = event("rule", numbered("target-", i));
      e.labels = {{"namespace", "ns"}, {"pod", numbered("pod-", i)}};
      SteadyTime t = real.steadyNow();
      n->fire(std::move(e));
      worst = std::max(worst, real.steadyNow() - t);
    }
    for (int i = 0; i < 50; ++i) {
      SteadyTime t = real.steadyNow();
      n->poll();
      worst = std::max(worst, real.steadyNow() - t);
      clock.advance(1s);
    }
    ASSERT_TRUE(eventually([&] { return hung1.connections() == 1 && hung2.connections() == 1; }));
    EXPECT_TRUE(n->status().endpoints[0].in_flight);
    SteadyTime t = real.steadyNow();
    n.reset();  // exchanges still in flight are abandoned, not waited for
    worst = std::max(worst, real.steadyNow() - t);
  }
  // Generous, for a loaded machine: the exchanges hang for 5s, and a poll that waited for one
  // would take that long.
  EXPECT_LT(worst, 1s) << "a call took " << toSeconds(worst) << "s";
}

}  // namespace
}  // namespace oomsentinel
