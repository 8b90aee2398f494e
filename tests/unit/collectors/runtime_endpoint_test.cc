#include "collectors/runtime_endpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using namespace std::chrono_literals;

// Waits for the fetcher's thread (real I/O), not for time in the rules: the clock is fake.
bool eventually(const std::function<bool()>& done) {
  SystemClock real;
  SteadyTime until = real.steadyNow() + 5s;
  while (real.steadyNow() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

RuntimeEndpointSpec spec(RuntimeFormat format, const std::string& url) {
  RuntimeEndpointSpec s;
  s.format = format;
  s.url = *Url::parse(url);
  s.interval = 1s;
  s.timeout = 300ms;
  s.stale_after = 5s;
  return s;
}

TEST(RuntimeEndpointTest, FetchesExpvarInTheBackgroundAndMergesIt) {
  std::string body = testing::readFixture("runtime-captured/go-expvar.json");
  HttpTestServer server({ServerStep::reply(200, body, "application/json")});
  FakeClock clock;
  RuntimeFetcher fetcher;
  RuntimeEndpoint e(spec(RuntimeFormat::kGoExpvar, server.url("/debug/vars")), clock);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return e.state().has_values; })) << e.state().last_error;
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0], HasSubstr("GET /debug/vars HTTP/1.1"));

  Snapshot s;
  clock.advance(300ms);
  auto age = e.merge(s);
  ASSERT_TRUE(age);
  EXPECT_EQ(*age, 300ms);
  // The values SOURCE.md records for this capture.
  EXPECT_EQ(s.get(*findSignal("heap_alloc_bytes")), 42135432.0);
  EXPECT_EQ(s.get(*findSignal("gc_cycles")), 4.0);
  EXPECT_EQ(s.get(*findSignal("alloc_bytes_total")), 42150464.0);
  EXPECT_EQ(e.state().signals, s.size());
  std::string err;
  EXPECT_FALSE(e.takeErrorChange(&err)) << "no error happened: " << err;
}

TEST(RuntimeEndpointTest, FetchesOnItsOwnPeriodAndOneAtATime) {
  HttpTestServer server({ServerStep::reply(200, "go_gc_duration_seconds_count 7\n")});
  FakeClock clock;
  RuntimeFetcher fetcher;
  RuntimeEndpoint e(spec(RuntimeFormat::kPromText, server.url("/metrics")), clock);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return e.state().has_values; }));
  e.poll(fetcher);  // not due yet
  clock.advance(999ms);
  e.poll(fetcher);  // still not due
  EXPECT_EQ(e.state().fetches, 1u);
  clock.advance(1ms);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return server.connections() == 2; }));
  EXPECT_EQ(e.state().fetches, 2u);
  EXPECT_THAT(server.requests()[0], HasSubstr("Accept: text/plain;version=0.0.4"));

  // A hung endpoint: the next polls neither block nor pile up exchanges.
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  server.setScript({hang});
  // The second exchange has ended (not merely started), so the next poll may start a third.
  ASSERT_TRUE(eventually([&] {
    auto st = e.state();
    return st.fetches == 2 && !st.in_flight && st.last_error.empty();
  }));
  clock.advance(1s);
  SystemClock real;
  SteadyTime t0 = real.steadyNow();
  e.poll(fetcher);
  for (int i = 0; i < 5; ++i) {
    clock.advance(1s);
    e.poll(fetcher);
  }
  EXPECT_LT(real.steadyNow() - t0, 50ms) << "poll waited for the network";
  ASSERT_TRUE(eventually([&] { return server.connections() == 3; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server.connections(), 3) << "a second exchange started while one was in flight";
  std::string err;
  ASSERT_TRUE(eventually([&] { return e.takeErrorChange(&err); }));
  EXPECT_THAT(err, HasSubstr("timed out after 300ms while reading the response"));
  EXPECT_THAT(err, HasSubstr("GET " + server.url("/metrics")));
}

TEST(RuntimeEndpointTest, KeepsTheLastValuesUntilTheyAreStale) {
  HttpTestServer server({ServerStep::reply(200, "go_memstats_heap_alloc_bytes 1e6\n"),
                         ServerStep::reply(500, "boom\nsecond line")});
  FakeClock clock;
  RuntimeFetcher fetcher;
  RuntimeEndpoint e(spec(RuntimeFormat::kPromText, server.url("/metrics")), clock);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return e.state().has_values; }));
  clock.advance(1s);
  e.poll(fetcher);  // answers 500
  std::string err;
  ASSERT_TRUE(eventually([&] { return e.takeErrorChange(&err); }));
  EXPECT_THAT(err, HasSubstr("HTTP 500 Whatever: boom second line"));
  SignalId heap = *findSignal("heap_alloc_bytes");

  clock.advance(4s);  // 5s after the good answer: still fresh
  Snapshot s;
  ASSERT_TRUE(e.merge(s));
  EXPECT_EQ(s.get(heap), 1e6);
  EXPECT_FALSE(e.state().stale);

  clock.advance(1ms);
  Snapshot t;
  EXPECT_FALSE(e.merge(t));
  EXPECT_FALSE(t.has(heap)) << "a stale value must be absent, not kept";
  EXPECT_TRUE(e.state().stale);
  EXPECT_EQ(e.state().errors, 1u);
}

TEST(RuntimeEndpointTest, TheKernelsAndEarlierReadingsWin) {
  HttpTestServer server({ServerStep::reply(200, "go_memstats_heap_alloc_bytes 5\n")});
  FakeClock clock;
  RuntimeFetcher fetcher;
  RuntimeEndpoint e(spec(RuntimeFormat::kPromText, server.url()), clock);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return e.state().has_values; }));
  Snapshot s;
  SignalId heap = *findSignal("heap_alloc_bytes");
  s.set(heap, 9);
  ASSERT_TRUE(e.merge(s));
  EXPECT_EQ(s.get(heap), 9.0);
}

TEST(RuntimeEndpointTest, UserMappingsComeFirst) {
  HttpTestServer server({ServerStep::reply(200,
                                           "# TYPE app_cache_bytes gauge\n"
                                           "app_cache_bytes{cache=\"users\"} 100\n"
                                           "app_cache_bytes{cache=\"orders\"} 20\n"
                                           "go_memstats_heap_alloc_bytes 7\n")});
  FakeClock clock;
  RuntimeFetcher fetcher;
  auto sp = spec(RuntimeFormat::kPromText, server.url());
  sp.mappings.push_back({"app_cache_bytes", *PromSelector::parse("app_cache_bytes")});
  sp.mappings.push_back(
      {"heap_alloc_bytes", *PromSelector::parse("app_cache_bytes{cache=\"users\"}")});
  RuntimeEndpoint e(sp, clock);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return e.state().has_values; })) << e.state().last_error;
  Snapshot s;
  ASSERT_TRUE(e.merge(s));
  EXPECT_EQ(s.get(*findSignal("app_cache_bytes")), 120.0);
  EXPECT_EQ(s.get(*findSignal("heap_alloc_bytes")), 100.0);
}

TEST(RuntimeEndpointTest, BadPayloadsAreErrorsThatSayWhy) {
  struct Case {
    RuntimeFormat format;
    std::string body, want;
  };
  std::vector<Case> cases = {
      {RuntimeFormat::kGoExpvar, "{\"memstats\": {\"HeapAlloc\": ", "JSON"},
      {RuntimeFormat::kGoExpvar, "{\"cmdline\": []}", "memstats"},
      {RuntimeFormat::kPromText, "some_other_metric 1\n", "none of the mapped metric families"},
      {RuntimeFormat::kPromText, "go_memstats_heap_alloc_bytes{ 1\n", "line 1"},
  };
  for (const auto& c : cases) {
    HttpTestServer server({ServerStep::reply(200, c.body)});
    FakeClock clock;
    RuntimeFetcher fetcher;
    RuntimeEndpoint e(spec(c.format, server.url()), clock);
    e.poll(fetcher);
    std::string err;
    ASSERT_TRUE(eventually([&] { return e.takeErrorChange(&err); })) << c.body;
    EXPECT_THAT(err, HasSubstr(c.want)) << c.body;
    EXPECT_FALSE(e.state().has_values);
    Snapshot s;
    EXPECT_FALSE(e.merge(s));
    EXPECT_EQ(s.size(), 0u);
  }
}

TEST(RuntimeEndpointTest, AnErrorIsReportedOnceAndItsRecoveryToo) {
  HttpTestServer server({ServerStep::reply(404, "404 page not found"),
                         ServerStep::reply(404, "404 page not found"),
                         ServerStep::reply(200, "go_memstats_heap_alloc_bytes 1\n")});
  FakeClock clock;
  RuntimeFetcher fetcher;
  RuntimeEndpoint e(spec(RuntimeFormat::kPromText, server.url("/metrics")), clock);
  std::vector<std::string> changes;
  for (int i = 0; i < 3; ++i) {
    e.poll(fetcher);
    ASSERT_TRUE(eventually([&] {
      return e.state().fetches == static_cast<unsigned>(i + 1) && server.connections() == i + 1;
    }));
    // Let the answer land.
    ASSERT_TRUE(eventually([&] {
      auto st = e.state();
      return st.errors + (st.has_values ? 1 : 0) == static_cast<unsigned>(i + 1);
    }));
    std::string err;
    if (e.takeErrorChange(&err)) changes.push_back(err);
    clock.advance(1s);
  }
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_THAT(changes[0], HasSubstr("HTTP 404"));
  EXPECT_EQ(changes[1], "") << "the recovery is a change to no error";
}

}  // namespace
}  // namespace oomsentinel
