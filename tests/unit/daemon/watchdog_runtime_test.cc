// The watchdog with runtime endpoints: fetched in the background, merged into the target's
// snapshot, seen by the rules, absent once stale, and never holding up a tick.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <thread>

#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using testing::TempDir;
using namespace std::chrono_literals;

using Captured = testing::CapturedOutput;

// A host target on a fixture /proc, with a metrics endpoint and a rule over the GC rate.
struct Fixture {
  TempDir dir;
  FakeClock clock;
  Captured out;
  Logger log{clock, Logger::Format::kHuman, out.file()};
  Config config;

  explicit Fixture(const std::string& metrics_url) {
    dir.write("proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 500000 kB\n");
    dir.write("proc/vmstat", "pgfault 100\npgmajfault 1\n");
    config.source = "test";
    TargetSpec t;
    t.target = Target::host();
    t.target.name = "svc";
    t.runtime.metrics_url = metrics_url;
    t.runtime.signals = {{"queue_bytes", "app_queue_bytes{queue=\"in\"}"}};
    t.runtime.timeout = 300ms;
    config.targets.push_back(t);
    RuleSpec r;
    r.name = "gc-storm";
    r.expr = "rate(gc_cycles[2s]) > 5";
    r.actions = {ActionKind::kLog};
    config.rules = {r};
    config.rules_are_defaults = false;
  }
  HostPaths paths() const { return HostPaths(dir.path() + "/cg", dir.path() + "/proc"); }
};

std::string metrics(int gc_cycles) {
  return "# TYPE go_gc_duration_seconds summary\n"
         "go_gc_duration_seconds_sum 0.5\n"
         "go_gc_duration_seconds_count " +
         std::to_string(gc_cycles) +
         "\n"
         "go_memstats_heap_alloc_bytes 2.5e+07\n"
         "app_queue_bytes{queue=\"in\"} 4096\n"
         "app_queue_bytes{queue=\"out\"} 1\n";
}

TEST(WatchdogRuntime, MergesRuntimeSignalsAndRulesSeeThem) {
  HttpTestServer server({ServerStep::reply(200, metrics(0))});
  Fixture s(server.url("/metrics"));
  Watchdog dog(s.paths(), s.clock, s.log);
  ASSERT_TRUE(dog.apply(s.config));
  EXPECT_THAT(s.out.text(), HasSubstr("reading runtime endpoint"));
  // The first tick starts the fetch and does not wait for it.
  dog.tick();
  ASSERT_TRUE(dog.waitForRuntime(5s));
  // Then the GC count climbs by 10 a second.
  for (int i = 1; i <= 4; ++i) {
    server.setScript({ServerStep::reply(200, metrics(10 * i))});
    s.clock.advance(1s);
    dog.tick();
    ASSERT_TRUE(dog.waitForRuntime(5s));
  }
  s.clock.advance(1s);
  server.setScript({ServerStep::reply(200, metrics(50))});
  dog.tick();
  const Snapshot* snap = dog.lastSnapshot("svc");
  ASSERT_NE(snap, nullptr) << s.out.text();
  EXPECT_EQ(snap->get(*findSignal("heap_alloc_bytes")), 2.5e7);
  EXPECT_EQ(snap->get(*findSignal("queue_bytes")), 4096.0);
  EXPECT_TRUE(snap->has(*findSignal("gc_cycles")));
  EXPECT_TRUE(snap->has(Sig::kLimitBytes)) << "the kernel's signals are still there";
  ASSERT_TRUE(snap->get(*findSignal("runtime_age_seconds")));
  EXPECT_LE(*snap->get(*findSignal("runtime_age_seconds")), 1.0);
  EXPECT_THAT(s.out.text(), HasSubstr("rule gc-storm on svc: inactive -> firing")) << s.out.text();

  auto views = dog.runtimeEndpoints("svc");
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].format, RuntimeFormat::kPromText);
  EXPECT_EQ(views[0].url, server.url("/metrics"));
  EXPECT_TRUE(views[0].state.has_values);
  EXPECT_GE(views[0].state.fetches, 5u);
}

TEST(WatchdogRuntime, AHungEndpointNeverDelaysTheTickAndGoesStale) {
  HttpTestServer server({ServerStep::reply(200, metrics(3))});
  Fixture s(server.url("/metrics"));
  Watchdog dog(s.paths(), s.clock, s.log);
  ASSERT_TRUE(dog.apply(s.config));
  dog.tick();
  ASSERT_TRUE(dog.waitForRuntime(5s));
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  server.setScript({hang});
  SignalId gc = *findSignal("gc_cycles");
  SystemClock real;
  for (int i = 1; i <= 7; ++i) {
    s.clock.advance(1s);
    SteadyTime t0 = real.steadyNow();
    dog.tick();
    EXPECT_LT(real.steadyNow() - t0, 200ms) << "tick " << i << " waited for the endpoint";
    const Snapshot* snap = dog.lastSnapshot("svc");
    ASSERT_NE(snap, nullptr) << s.out.text();
    // Fetched at t=0 (fake); fresh up to stale_after (5s), absent after.
    EXPECT_EQ(snap->has(gc), i <= 5) << "tick " << i;
    if (i == 1) {
      // Let the first hung exchange time out so its error is logged.
      std::this_thread::sleep_for(400ms);
    }
  }
  EXPECT_THAT(s.out.text(),
              HasSubstr("runtime endpoint failed; its last values are kept until stale_after"));
  EXPECT_THAT(s.out.text(), HasSubstr("timed out after 300ms"));
}

TEST(WatchdogRuntime, AReloadThatChangesTheEndpointStartsAFreshOne) {
  HttpTestServer a({ServerStep::reply(200, metrics(1))});
  HttpTestServer b({ServerStep::reply(200, metrics(2))});
  Fixture s(a.url("/metrics"));
  Watchdog dog(s.paths(), s.clock, s.log);
  ASSERT_TRUE(dog.apply(s.config));
  dog.tick();
  ASSERT_TRUE(dog.waitForRuntime(5s));
  Config next = s.config;
  next.targets[0].runtime.metrics_url = b.url("/metrics");
  ASSERT_TRUE(dog.apply(next));
  s.clock.advance(1s);
  dog.tick();
  ASSERT_TRUE(dog.waitForRuntime(5s));
  s.clock.advance(1s);
  dog.tick();
  ASSERT_TRUE(dog.waitForRuntime(5s));
  EXPECT_EQ(b.connections(), 2);
  EXPECT_EQ(dog.lastSnapshot("svc")->get(*findSignal("gc_cycles")), 2.0);
  ASSERT_EQ(dog.runtimeEndpoints("svc").size(), 1u);
  EXPECT_EQ(dog.runtimeEndpoints("svc")[0].url, b.url("/metrics"));
}

}  // namespace
}  // namespace oomsentinel
