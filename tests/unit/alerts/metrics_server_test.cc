// MetricsServer against hostile clients (issue 18, "blind its probes"): idle sockets, a slowloris,
// one address opening many connections, slow readers of /metrics. Real sockets on loopback; the
// whole 127.0.0.0/8 is local on Linux, so binding the client to 127.0.0.N gives each "peer" an
// address of its own. The 1 s bounds are the kubelet's probe timeout (its default), a correctness
// bound: a probe not answered within it is a failed probe.
#include "alerts/metrics_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A TCP connection from `source` (a 127.0.0.N) to `to`:port, nothing sent; -1 on failure.
Fd connectFrom(const std::string& source, int port, const std::string& to = "127.0.0.1",
               int rcvbuf = 0) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fd;
  if (rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &a.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Fd();
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, to.c_str(), &a.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return Fd();
  return fd;
}

bool sendAll(int fd, const std::string& s) {
  return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// The whole answer to GET `path` from `source`, read until the server closes, or "" when it does
// not come within `within` (a probe's timeout).
std::string getWithin(int port, const std::string& path, const std::string& source = "127.0.0.1",
                      std::chrono::milliseconds within = 1000ms) {
  auto deadline = Clock::now() + within;
  Fd fd = connectFrom(source, port);
  if (fd.get() < 0 || !sendAll(fd.get(), "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")) return "";
  std::string got;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return "";
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) return "";
    if (n == 0) return got;
    got.append(buf, static_cast<std::size_t>(n));
  }
}

// The server has closed this connection (EOF or reset waiting), looking for up to `wait`.
bool closedByServer(int fd, std::chrono::milliseconds wait = 0ms) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

HttpAnswer answer(const std::string& path) {
  HttpAnswer a;
  a.body = path == "/healthz" ? "ok\n" : path == "/readyz" ? "ready\n" : "x 1\n";
  return a;
}

std::unique_ptr<MetricsServer> serve(MetricsServer::Handler h = answer,
                                     MetricsServer::Limits limits = {}) {
  auto s = MetricsServer::start("127.0.0.1:0", std::move(h), limits);
  EXPECT_TRUE(s.ok()) << s.error().describe();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<Fd> idle(int port, const std::string& source, int n) {
  std::vector<Fd> fds;
  for (int i = 0; i < n; ++i) {
    fds.push_back(connectFrom(source, port));
    EXPECT_GE(fds.back().get(), 0) << source << " connection " << i;
  }
  return fds;
}

TEST(MetricsServerUnderAttack, ProbesAreAnsweredWhileIdleConnectionsFromOneAddressPile) {
  for (int n : {32, 64}) {
    auto s = serve();
    ASSERT_TRUE(s);
    auto fds = idle(s->port(), "127.0.0.1", n);
    // The accepts run in order: these come after every idle one.
    EXPECT_THAT(getWithin(s->port(), "/healthz"), StartsWith("HTTP/1.1 200")) << n << " idle";
    EXPECT_THAT(getWithin(s->port(), "/readyz"), StartsWith("HTTP/1.1 200")) << n << " idle";
    EXPECT_LE(s->stats().pending, MetricsServer::Limits{}.max_per_peer);
  }
}

TEST(MetricsServerUnderAttack, ProbesAreAnsweredWhileIdleConnectionsFromManyAddressesFillAll) {
  auto s = serve();
  ASSERT_TRUE(s);
  MetricsServer::Limits l;
  std::vector<Fd> fds;
  // 16 addresses with 8 each: twice every pending slot there is, none over its own share.
  for (int peer = 10; peer < 26; ++peer)
    for (auto& fd : idle(s->port(), "127.0.0." + std::to_string(peer), l.max_per_peer))
      fds.push_back(std::move(fd));
  auto started = Clock::now();
  EXPECT_THAT(getWithin(s->port(), "/healthz"), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(getWithin(s->port(), "/readyz", "127.0.0.30"), StartsWith("HTTP/1.1 200"));
  EXPECT_LT(Clock::now() - started, 2s);
  auto st = s->stats();
  EXPECT_LE(st.pending, l.max_pending);
  EXPECT_EQ(st.accepted, 16u * l.max_per_peer + 2);
  // Every connection past max_pending made room by closing the oldest idle one.
  EXPECT_EQ(st.evicted, 16u * l.max_per_peer + 1 - l.max_pending)
      << "the first probe made room; the second found the first one's slot free";
  EXPECT_EQ(st.refused, 0u);
  // The oldest are the ones closed: the first address lost all of its connections.
  for (int i = 0; i < l.max_per_peer; ++i)
    EXPECT_TRUE(closedByServer(fds[i].get(), 1000ms)) << "connection " << i;
  EXPECT_FALSE(closedByServer(fds.back().get())) << "the newest idle connection is kept";
}

TEST(MetricsServerUnderAttack, ASlowlorisIsClosedAtTheHeaderDeadline) {
  auto s = serve();
  ASSERT_TRUE(s);
  Fd fd = connectFrom("127.0.0.1", s->port());
  ASSERT_GE(fd.get(), 0);
  // One byte every 500 ms of a request whose headers never end.
  const std::string trickle = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa";
  auto started = Clock::now();
  bool closed = false;
  for (char c : trickle) {
    if (!sendAll(fd.get(), std::string(1, c))) {
      closed = true;
      break;
    }
    if (closedByServer(fd.get(), 500ms)) {  // waits the 500 ms unless closed meanwhile
      closed = true;
      break;
    }
  }
  auto took = Clock::now() - started;
  ASSERT_TRUE(closed) << "still open after " << trickle.size() * 500 << " ms";
  EXPECT_GE(took, 1500ms);
  EXPECT_LE(took, 3000ms) << "the header deadline is 2 s";
  EXPECT_TRUE(testing::eventually([&] { return s->stats().timed_out == 1; }));
  EXPECT_EQ(s->stats().requests, 0u);
}

TEST(MetricsServerUnderAttack, OneAddressKeepsAtMostItsShareAndLosesItsOldestFirst) {
  auto s = serve();
  ASSERT_TRUE(s);
  const int cap = MetricsServer::Limits{}.max_per_peer;
  auto other = idle(s->port(), "127.0.0.3", 3);
  auto fds = idle(s->port(), "127.0.0.2", 20);
  // A probe from the same address still gets in: it evicts that address's oldest idle one.
  EXPECT_THAT(getWithin(s->port(), "/healthz", "127.0.0.2"), StartsWith("HTTP/1.1 200"));
  int evicted = 20 + 1 - cap;  // 13
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(closedByServer(fds[i].get(), i < evicted ? 1000ms : 0ms), i < evicted)
        << "connection " << i << " of 127.0.0.2";
  for (const auto& fd : other) EXPECT_FALSE(closedByServer(fd.get())) << "another address's";
  auto st = s->stats();
  EXPECT_EQ(st.evicted, static_cast<std::uint64_t>(evicted));
  EXPECT_TRUE(testing::eventually([&] { return s->stats().open == 3 + (20 - evicted); }))
      << s->stats().open;
}

TEST(MetricsServerUnderAttack, ANewcomerIsRefusedAtOnceWhenItsAddressHasNoIdleConnection) {
  // Every connection of the address is answering (slow readers of a large answer): nothing to
  // evict, so the newcomer is closed at once and counted.
  std::string big(16 << 20, 'x');
  MetricsServer::Limits l;
  l.max_per_peer = 2;
  auto s = serve(
      [&](const std::string& path) {
        HttpAnswer a = answer(path);
        if (path == "/metrics") a.body = big;
        return a;
      },
      l);
  ASSERT_TRUE(s);
  std::vector<Fd> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(connectFrom("127.0.0.4", s->port(), "127.0.0.1", 4096));
    ASSERT_TRUE(sendAll(slow.back().get(), "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  ASSERT_TRUE(testing::eventually([&] { return s->stats().requests == 2; }));
  Fd late = connectFrom("127.0.0.4", s->port());
  ASSERT_GE(late.get(), 0);
  EXPECT_TRUE(closedByServer(late.get(), 1000ms));
  EXPECT_EQ(s->stats().refused, 1u);
  EXPECT_THAT(getWithin(s->port(), "/healthz", "127.0.0.5"), StartsWith("HTTP/1.1 200"));
}

TEST(MetricsServerUnderAttack, SlowReadersOfLargeAnswersCannotKeepProbesOut) {
  std::string big(16 << 20, 'x');  // more than the kernel buffers between two sockets
  MetricsServer::Limits l;
  l.max_large_answers = 2;
  auto s = serve(
      [&](const std::string& path) {
        HttpAnswer a = answer(path);
        if (path == "/metrics") a.body = big;
        return a;
      },
      l);
  ASSERT_TRUE(s);
  std::vector<Fd> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(connectFrom("127.0.0.6", s->port(), "127.0.0.1", 4096));
    ASSERT_TRUE(sendAll(slow.back().get(), "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  ASSERT_TRUE(testing::eventually([&] { return s->stats().requests == 2; }));
  EXPECT_THAT(getWithin(s->port(), "/metrics", "127.0.0.7"), StartsWith("HTTP/1.1 503"));
  EXPECT_EQ(s->stats().busy, 1u);
  std::string probe = getWithin(s->port(), "/healthz", "127.0.0.7");
  EXPECT_THAT(probe, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(probe, HasSubstr("ok\n"));
}

TEST(MetricsServerUnderAttack, ANoHostListenIsLoopbackOnly) {
  // A local address that is not loopback, if this machine has one.
  std::string other;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i && other.empty(); i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
      char text[INET_ADDRSTRLEN];
      auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      if (std::string(text).rfind("127.", 0) != 0) other = text;
    }
    ::freeifaddrs(list);
  }
  if (other.empty()) GTEST_SKIP() << "no non-loopback IPv4 address here";
  auto s = MetricsServer::start(":0", answer);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_GE(connectFrom("127.0.0.1", (*s)->port()).get(), 0);
  EXPECT_LT(connectFrom(other, (*s)->port(), other).get(), 0) << "reachable on " << other;
  // The wildcard stays available, asked for by name.
  auto any = MetricsServer::start("0.0.0.0:0", answer);
  ASSERT_TRUE(any.ok()) << any.error().describe();
  EXPECT_GE(connectFrom(other, (*any)->port(), other).get(), 0);
}

}  // namespace
}  // namespace oomsentinel
