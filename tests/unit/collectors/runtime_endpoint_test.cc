#include "collectors/runtime_endpoint.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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
  // poll() counts an exchange when it starts one: the five polls behind the hung one started none.
  EXPECT_EQ(e.state().fetches, 3u) << "a second exchange started while one was in flight";
  ASSERT_TRUE(eventually([&] { return server.connections() == 3; }));
  std::string err;
  ASSERT_TRUE(eventually([&] { return e.takeErrorChange(&err); }));
  EXPECT_EQ(server.connections(), 3);
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

TEST(RuntimeBodyBudgetTest, GrowsUpToTheLimitAndALoneBodyMayPassIt) {
  constexpr std::size_t kMiB = 1 << 20;
  RuntimeBodyBudget budget(8 * kMiB);
  std::size_t a = 0, b = 0;
  EXPECT_TRUE(budget.resize(a, 4 * kMiB));
  EXPECT_FALSE(budget.resize(b, 4 * kMiB)) << "4 + 4 MiB is past seven eighths of 8 MiB";
  EXPECT_EQ(b, 0u) << "a refused growth changes nothing";
  EXPECT_TRUE(budget.resize(b, 3 * kMiB));
  EXPECT_EQ(budget.used(), 7 * kMiB);
  EXPECT_TRUE(budget.resize(b, 1 * kMiB)) << "shrinking is always allowed";
  EXPECT_TRUE(budget.resize(a, 0));
  EXPECT_TRUE(budget.resize(b, 20 * kMiB)) << "alone in the budget, a body grows to its own cap";
  EXPECT_EQ(budget.peak(), 20 * kMiB);
  EXPECT_TRUE(budget.resize(b, 0));
  EXPECT_EQ(budget.used(), 0u);
}

TEST(RuntimeBodyBudgetTest, TheLastEighthIsKeptForSmallBodies) {
  constexpr std::size_t kMiB = 1 << 20;
  RuntimeBodyBudget budget(8 * kMiB);
  std::size_t large = 0, larger = 0;
  EXPECT_TRUE(budget.resize(large, 6 * kMiB));
  EXPECT_FALSE(budget.resize(larger, 2 * kMiB)) << "large bodies stop at seven eighths";
  std::vector<std::size_t> small(32, 0);
  for (auto& s : small) EXPECT_TRUE(budget.resize(s, RuntimeBodyBudget::kSmall));
  EXPECT_EQ(budget.used(), 8 * kMiB) << "32 small bodies of 64 KiB fill the rest";
  std::size_t one_more = 0;
  EXPECT_FALSE(budget.resize(one_more, RuntimeBodyBudget::kSmall)) << "the limit still holds";
}

// A server whose every connection gets a header announcing `declared` bytes, then `sent` bytes of
// body, and then nothing until the client hangs up: bodies that stay in flight together.
class StallingServer {
 public:
  StallingServer(std::size_t declared, std::size_t sent) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("listen failed");
    port_ = ntohs(a.sin_port);
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(declared) + "\r\n\r\n";
    reply_ = head + std::string(sent, '#');
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;  // the listening socket was shut down
        handlers_.emplace_back([this, c] {
          char buf[4096];
          ::recv(c, buf, sizeof buf, 0);
          (void)!::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
          while (::recv(c, buf, sizeof buf, 0) > 0) {
          }
          ::close(c);
        });
      }
    });
  }
  ~StallingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    for (auto& t : handlers_) t.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::string reply_;
  std::vector<std::thread> handlers_;
  std::thread thread_;
};

TEST(RuntimeEndpointTest, BodiesInFlightTogetherStayWithinTheFetchersBudget) {
  // Four targets each send 400 KiB of a 2 MiB body (their cap is 512 KiB) and stall: without a
  // budget the daemon would hold all four bodies at once; with a 1 MiB one, the bodies that would
  // pass it are dropped.
  StallingServer server(2 << 20, 400 << 10);
  FakeClock clock;
  RuntimeFetcher fetcher(1 << 20);
  std::vector<std::unique_ptr<RuntimeEndpoint>> endpoints;
  for (int i = 0; i < 4; ++i) {
    auto sp = spec(RuntimeFormat::kPromText, server.url());
    sp.max_bytes = 512 << 10;
    sp.timeout = 30s;  // they stall until the fetcher goes
    endpoints.push_back(std::make_unique<RuntimeEndpoint>(sp, clock));
    endpoints.back()->poll(fetcher);
  }
  auto dropped = [&] {
    int n = 0;
    for (auto& e : endpoints)
      n += e->state().last_error.find("fetched again at its next interval") != std::string::npos;
    return n;
  };
  // 4 x 400 KiB (in buffers of 512 KiB) cannot fit in 1 MiB whatever the order the pieces come
  // in: at least two go.
  ASSERT_TRUE(eventually([&] { return dropped() >= 2; })) << endpoints[0]->state().last_error;
  EXPECT_LE(fetcher.bodyBudget().peak(), std::size_t{1} << 20);
  std::string err = endpoints[0]->state().last_error;
  for (auto& e : endpoints)
    if (!e->state().last_error.empty()) err = e->state().last_error;
  EXPECT_THAT(err, HasSubstr("the bodies of other runtime endpoints already hold"));
  EXPECT_THAT(err, HasSubstr("of 1.00 MiB"));
}

TEST(RuntimeEndpointTest, ABodyAloneMayPassTheBudgetUpToItsOwnCap) {
  // max_bytes may be set above the shared budget: a lone body still gets through.
  std::string page = "go_memstats_heap_alloc_bytes 3\n";
  while (page.size() < (3 << 20) / 2) page += "# padding padding padding padding padding\n";
  HttpTestServer server({ServerStep::reply(200, page)});
  FakeClock clock;
  RuntimeFetcher fetcher(1 << 20);
  auto sp = spec(RuntimeFormat::kPromText, server.url("/metrics"));
  sp.max_bytes = 2 << 20;
  RuntimeEndpoint e(sp, clock);
  e.poll(fetcher);
  ASSERT_TRUE(eventually([&] { return e.state().has_values; })) << e.state().last_error;
  EXPECT_GT(fetcher.bodyBudget().peak(), std::size_t{1} << 20);
  ASSERT_TRUE(eventually([&] { return fetcher.bodyBudget().used() == 0; }))
      << "the body's share is returned once it is parsed";
}

TEST(RuntimeEndpointTest, ABodyPastTheCapIsAnErrorThatSaysSo) {
  HttpTestServer server({ServerStep::reply(200, std::string(100 << 10, '#'))});
  FakeClock clock;
  RuntimeFetcher fetcher;
  auto sp = spec(RuntimeFormat::kPromText, server.url("/metrics"));
  sp.max_bytes = 64 << 10;
  RuntimeEndpoint e(sp, clock);
  e.poll(fetcher);
  std::string err;
  ASSERT_TRUE(eventually([&] { return e.takeErrorChange(&err); }));
  EXPECT_THAT(err, HasSubstr("larger than the 64.0 KiB cap"));
  EXPECT_FALSE(e.state().has_values);
  EXPECT_EQ(fetcher.bodyBudget().used(), 0u);
}

}  // namespace
}  // namespace oomsentinel
