// What the metrics listener answers on /healthz and /readyz (daemon/health.h), and the staleness
// rule systemd's watchdog keep-alive shares with /healthz: decided from the last tick's time,
// interval and unresolved targets against a FakeClock, without a socket (run_metrics_test.cc
// asks the running daemon over HTTP).
#include "daemon/health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

SteadyTime at(Duration d) { return SteadyTime(d); }

TEST(HealthTest, BeforeTheFirstTickNeitherHealthyNorReady) {
  HealthState s;
  EXPECT_FALSE(isTicking(s, at(0s)));
  HttpAnswer h = healthzAnswer(s, at(1h));
  EXPECT_EQ(h.status, 503u);
  EXPECT_EQ(h.body, "not ticking yet\n");
  HttpAnswer r = readyzAnswer(s);
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "not ticking yet\n");
}

// The steady clock's zero is a time like any other (a FakeClock starts there): a tick then counts.
TEST(HealthTest, ATickAtSteadyZeroCounts) {
  HealthState s{at(0s), 1s, {}};
  EXPECT_TRUE(isTicking(s, at(0s)));
  EXPECT_EQ(healthzAnswer(s, at(0s)).status, 200u);
  EXPECT_EQ(readyzAnswer(s).status, 200u);
}

// Three intervals and 2 s of slack: at 1 s, a tick 5 s old is still ticking and one older is
// stalled.
TEST(HealthTest, StalledOnlyPastThreeIntervalsAndTwoSeconds) {
  HealthState s{at(100s), 1s, {}};
  Duration age{};
  EXPECT_TRUE(isTicking(s, at(105s), &age));
  EXPECT_EQ(age, 5s);
  EXPECT_FALSE(isTicking(s, at(105s) + 1ns));
  HttpAnswer ok = healthzAnswer(s, at(102500ms));
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, "ok: last tick 2.5s ago\n");
  HttpAnswer stalled = healthzAnswer(s, at(106s));
  EXPECT_EQ(stalled.status, 503u);
  EXPECT_EQ(stalled.body, "stalled: last tick 6s ago\n");
}

// A slow poll is not a stall: the allowance grows with the interval the last tick chose.
TEST(HealthTest, TheAllowanceFollowsTheInterval) {
  HealthState s{at(0s), 10s, {}};
  EXPECT_TRUE(isTicking(s, at(32s)));
  EXPECT_FALSE(isTicking(s, at(33s)));
  s.interval = 100ms;
  EXPECT_FALSE(isTicking(s, at(3s)));
  EXPECT_TRUE(isTicking(s, at(2300ms)));
}

TEST(HealthTest, ReadyOnlyWithEveryTargetResolvedAndNamesTheOthers) {
  HealthState s{at(0s), 1s, {"api", "worker"}};
  HttpAnswer r = readyzAnswer(s);
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "targets not resolved: api, worker\n");
  s.unresolved.clear();
  r = readyzAnswer(s);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "ready\n");
}

// Health as the loop and the listener share it: each tick replaces what the last one said.
TEST(HealthTest, AnswersFollowTheTicksOnTheClock) {
  FakeClock clock;
  Health health;
  int rendered = 0;
  auto answer = [&](const std::string& path) {
    return answerRequest(path, health, clock, [&] {
      ++rendered;
      return std::string("oomsentinel_ticks_total 3\n");
    });
  };
  EXPECT_EQ(answer("/healthz").status, 503u);
  clock.advance(10s);
  health.ticked(clock.steadyNow(), 1s, {"api"});
  EXPECT_EQ(answer("/healthz").body, "ok: last tick 0ms ago\n");
  EXPECT_EQ(answer("/readyz").body, "targets not resolved: api\n");
  clock.advance(1s);
  health.ticked(clock.steadyNow(), 1s, {});
  EXPECT_EQ(answer("/readyz").status, 200u);
  clock.advance(6s);
  EXPECT_EQ(answer("/healthz").body, "stalled: last tick 6s ago\n");
  EXPECT_EQ(health.state().unresolved.size(), 0u);
  EXPECT_EQ(rendered, 0);

  HttpAnswer m = answer("/metrics");
  EXPECT_EQ(m.status, 200u);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(m.body, "oomsentinel_ticks_total 3\n");
  EXPECT_EQ(rendered, 1);
  HttpAnswer index = answer("/");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(index.body, HasSubstr("<a href=\"/readyz\">"));
  HttpAnswer other = answer("/nope");
  EXPECT_EQ(other.status, 404u);
  EXPECT_EQ(other.body, "not found: /nope (try /metrics, /healthz, /readyz)\n");
}

}  // namespace
}  // namespace oomsentinel
