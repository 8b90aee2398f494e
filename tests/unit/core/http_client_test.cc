#include "core/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <vector>

#include "tests/support/http_test_server.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using namespace std::chrono_literals;

Url mustParse(const std::string& s) {
  auto u = Url::parse(s);
  EXPECT_TRUE(u.ok()) << s << ": " << (u.ok() ? "" : u.error().describe());
  return u.ok() ? *u : Url{};
}

TEST(UrlTest, ParsesHostPortAndTarget) {
  Url u = mustParse("http://127.0.0.1:6060/debug/vars");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "6060");
  EXPECT_EQ(u.target, "/debug/vars");
  EXPECT_EQ(u.str(), "http://127.0.0.1:6060/debug/vars");

  Url bare = mustParse("HTTP://localhost");
  EXPECT_EQ(bare.host, "localhost");
  EXPECT_EQ(bare.port, "80");
  EXPECT_EQ(bare.target, "/");

  Url q = mustParse("http://h:1?x=1#frag");
  EXPECT_EQ(q.target, "/?x=1");

  Url v6 = mustParse("http://[::1]:9090/metrics");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, "9090");
  EXPECT_EQ(v6.str(), "http://[::1]:9090/metrics");

  EXPECT_EQ(u.withTarget("/debug/pprof/heap").str(), "http://127.0.0.1:6060/debug/pprof/heap");
}

TEST(UrlTest, RejectsWhatItCannotFetchWithTheReason) {
  auto expectError = [](const std::string& text, const std::string& why) {
    auto u = Url::parse(text);
    ASSERT_FALSE(u.ok()) << text;
    EXPECT_THAT(u.error().message, HasSubstr(why)) << text;
    EXPECT_EQ(u.error().path, text);
  };
  expectError("https://127.0.0.1/", "https is not supported");
  expectError("127.0.0.1:6060", "no scheme");
  expectError("ftp://h/", "'ftp' is not http");
  expectError("http://:80/", "host is empty");
  expectError("http://h:/", "port is empty");
  expectError("http://h:99999/", "not in 1..65535");
  expectError("http://h:0/", "not in 1..65535");
  expectError("http://h:6o60/", "not a number");
  expectError("http://u:p@h/", "credentials");
  expectError("http://[::1/", "lacks its ']'");
  expectError("http://h /x", "space or a control character");
  // Found by fuzz_url: str() wrote "[\xd7\xd7[::1]]:8080", which read back as another URL.
  expectError("http://\xd7\xd7[::1]:8080/", "a character a host name cannot have");
  expectError("http://a[b]/", "a character a host name cannot have");
  // Found by fuzz_url: "[D7%4]" was taken and printed back unbracketed, which does not parse.
  expectError("http://[D7%4]:80/", "not an IPv6 address");
  expectError("http://[example.com]/", "not an IPv6 address");
  EXPECT_EQ(mustParse("http://[::ffff:10.0.0.1]:80/").str(), "http://[::ffff:10.0.0.1]/");
  EXPECT_TRUE(Url::parse("http://[fe80::1%25eth0]:80/").ok() ||
              Url::parse("http://[fe80::1%eth0]:80/").ok());
  EXPECT_TRUE(Url::parse("http://my-host_1.example:9093/").ok());
}

// Runs one request to completion on a fresh io_context and returns its result.
Result<HttpResponse> run(HttpRequest req) {
  boost::asio::io_context io;
  std::optional<Result<HttpResponse>> got;
  int calls = 0;
  startHttpRequest(io, std::move(req), [&](Result<HttpResponse> r) {
    ++calls;
    got.emplace(std::move(r));
  });
  io.run();
  EXPECT_EQ(calls, 1) << "the callback must run exactly once";
  if (!got) return makeError("no callback");
  return std::move(*got);
}

HttpRequest get(const std::string& url, Duration timeout = 2s, std::size_t max_body = 1 << 20) {
  HttpRequest r;
  r.url = mustParse(url);
  r.timeout = timeout;
  r.max_body = max_body;
  return r;
}

TEST(HttpClientTest, GetsABodyAndSendsHostAndPath) {
  HttpTestServer server({ServerStep::reply(200, "{\"memstats\":{}}", "application/json")});
  auto r = run(get(server.url("/debug/vars")));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "{\"memstats\":{}}");
  EXPECT_EQ(r->content_type, "application/json");
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string req = server.requests()[0];
  EXPECT_THAT(req, HasSubstr("GET /debug/vars HTTP/1.1\r\n"));
  EXPECT_THAT(req, HasSubstr("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"));
}

TEST(HttpClientTest, ReadsAChunkedBody) {
  ServerStep chunked;
  chunked.raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  HttpTestServer server({chunked});
  auto r = run(get(server.url()));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->body, "hello world");
}

TEST(HttpClientTest, ANon2xxStatusIsAResponseNotAnError) {
  HttpTestServer server({ServerStep::reply(404, "404 page not found")});
  auto r = run(get(server.url("/nope")));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 404u);
  EXPECT_EQ(r->body, "404 page not found");
}

TEST(HttpClientTest, ABodyOverTheCapIsAnError) {
  HttpTestServer server({ServerStep::reply(200, std::string(5000, 'x'))});
  auto r = run(get(server.url(), 2s, 4096));
  ASSERT_FALSE(r.ok()) << "read " << r->body.size() << " bytes";
  EXPECT_THAT(r.error().message, HasSubstr("larger than the 4.00 KiB cap"));
  EXPECT_EQ(r.error().path, "GET " + server.url());

  // Without a Content-Length the cap applies while reading: chunked, and to the end of stream.
  ServerStep chunked;
  chunked.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked.raw += "200\r\n" + std::string(512, 'y') + "\r\n";
  chunked.raw += "0\r\n\r\n";
  ServerStep to_eof;
  to_eof.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(5000, 'z');
  server.setScript({chunked, to_eof});
  for (int i = 0; i < 2; ++i) {
    auto r2 = run(get(server.url(), 2s, 4096));
    ASSERT_FALSE(r2.ok()) << i << ": read " << r2->body.size() << " bytes";
    EXPECT_THAT(r2.error().message, HasSubstr("larger than the 4.00 KiB cap"));
  }
  // At the cap exactly is fine.
  server.setScript({ServerStep::reply(200, std::string(4096, 'x'))});
  auto at = run(get(server.url(), 2s, 4096));
  ASSERT_TRUE(at.ok()) << at.error().describe();
  EXPECT_EQ(at->body.size(), 4096u);
}

TEST(HttpClientTest, AHungServerTimesOutAtTheDeadline) {
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer server({hang});
  SystemClock clock;
  SteadyTime t0 = clock.steadyNow();
  auto r = run(get(server.url(), 200ms));
  Duration took = clock.steadyNow() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("timed out after 200ms while reading the response"));
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
}

TEST(HttpClientTest, TheDeadlineCoversTheWholeExchangeNotEachRead) {
  // Every byte arrives well within the timeout, but the whole response does not.
  ServerStep trickle = ServerStep::reply(200, std::string(100, 'x'));
  trickle.kind = ServerStep::Kind::kTrickle;
  trickle.delay = 20ms;
  HttpTestServer server({trickle});
  auto r = run(get(server.url(), 300ms));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("timed out after 300ms"));
}

TEST(HttpClientTest, ARefusedConnectionSaysSo) {
  // A port that was just bound and released: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  auto r = run(get("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("connecting: Connection refused"));
}

TEST(HttpClientTest, AConnectionClosedEarlyIsAnError) {
  ServerStep close;
  close.kind = ServerStep::Kind::kClose;
  HttpTestServer server({close});
  auto r = run(get(server.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("closed the connection while reading the response"));

  ServerStep partial;
  partial.raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b";
  server.setScript({partial});
  auto r2 = run(get(server.url()));
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.error().message, HasSubstr("reading the response"));
}

TEST(HttpClientTest, GarbageInsteadOfHttpIsAnError) {
  ServerStep junk;
  junk.raw = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  HttpTestServer server({junk});
  auto r = run(get(server.url()));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("reading the response"));
}

TEST(HttpClientTest, PostsABody) {
  HttpTestServer server({ServerStep::reply(200, "")});
  HttpRequest req = get(server.url("/api/v2/alerts"));
  req.method = "POST";
  req.body = "[{\"labels\":{}}]";
  req.headers.emplace_back("Content-Type", "application/json");
  auto r = run(req);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(server.requests().size(), 1u);
  const std::string sent = server.requests()[0];
  EXPECT_THAT(sent, HasSubstr("POST /api/v2/alerts HTTP/1.1\r\n"));
  EXPECT_THAT(sent, HasSubstr("Content-Length: 15\r\n"));
  EXPECT_THAT(sent, HasSubstr("Content-Type: application/json\r\n"));
  EXPECT_THAT(sent, HasSubstr("\r\n\r\n[{\"labels\":{}}]"));
}

TEST(HttpClientTest, ManyExchangesRunConcurrentlyOnOneThread) {
  // One hung endpoint must not hold up the others on the same io_context.
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer slow({hang});
  HttpTestServer fast({ServerStep::reply(200, "ok")});
  boost::asio::io_context io;
  int ok = 0, timed_out = 0;
  SystemClock clock;
  SteadyTime t0 = clock.steadyNow();
  Duration fast_done{};
  startHttpRequest(io, get(slow.url(), 1s), [&](Result<HttpResponse> r) {
    if (!r.ok()) ++timed_out;
  });
  for (int i = 0; i < 5; ++i)
    startHttpRequest(io, get(fast.url(), 1s), [&](Result<HttpResponse> r) {
      if (r.ok() && r->body == "ok") ++ok;
      fast_done = clock.steadyNow() - t0;
    });
  io.run();
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(timed_out, 1);
  EXPECT_LT(fast_done, 900ms) << "the fast answers waited for the hung one";
}

// With a body sink: what the sink got, and the largest piece it was handed.
struct Sunk {
  std::string bytes;
  std::size_t largest = 0;
  int calls = 0;
};

HttpRequest streaming(const std::string& url, Sunk& sunk, std::size_t max_body,
                      Duration timeout = 2s) {
  HttpRequest r = get(url, timeout, max_body);
  r.body_sink = [&sunk](std::string_view piece) -> Status {
    sunk.bytes.append(piece);
    sunk.largest = std::max(sunk.largest, piece.size());
    ++sunk.calls;
    return Ok{};
  };
  return r;
}

// The three ways a body ends: Content-Length, chunked, end of stream.
std::vector<ServerStep> threeWays(const std::string& body) {
  ServerStep chunked;
  chunked.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 1000) {
    std::string piece = body.substr(at, 1000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    chunked.raw += std::string(size) + "\r\n" + piece + "\r\n";
  }
  chunked.raw += "0\r\n\r\n";
  ServerStep to_eof;
  to_eof.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body;
  return {ServerStep::reply(200, body), chunked, to_eof};
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST(HttpClientStreamTest, TheBodyGoesToTheSinkInBoundedPieces) {
  std::string body = pattern(1 << 20);
  HttpTestServer server(threeWays(body));
  for (int i = 0; i < 3; ++i) {
    Sunk sunk;
    auto r = run(streaming(server.url(), sunk, 4 << 20));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().describe();
    EXPECT_EQ(r->status, 200u);
    EXPECT_TRUE(r->body.empty()) << "a streamed body is not kept";
    EXPECT_EQ(r->body_bytes, body.size());
    EXPECT_FALSE(r->truncated);
    EXPECT_TRUE(sunk.bytes == body) << i << ": " << sunk.bytes.size() << " bytes";
    EXPECT_LE(sunk.largest, 64u << 10);
    EXPECT_GT(sunk.calls, 1);
  }
}

TEST(HttpClientStreamTest, ABodyOverTheCapIsCutThereNotFailed) {
  std::string body = pattern(5000);
  HttpTestServer server(threeWays(body));
  for (int i = 0; i < 3; ++i) {
    Sunk sunk;
    auto r = run(streaming(server.url(), sunk, 4096));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().describe();
    EXPECT_TRUE(r->truncated) << i;
    EXPECT_EQ(r->body_bytes, 4096u);
    EXPECT_EQ(sunk.bytes, body.substr(0, 4096)) << i;
  }
  // At the cap exactly it is whole.
  server.setScript(threeWays(body.substr(0, 4096)));
  for (int i = 0; i < 3; ++i) {
    Sunk sunk;
    auto r = run(streaming(server.url(), sunk, 4096));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().describe();
    EXPECT_FALSE(r->truncated) << i;
    EXPECT_EQ(sunk.bytes, body.substr(0, 4096)) << i;
  }
}

TEST(HttpClientStreamTest, AnotherStatusKeepsAnExcerptAndTheSinkGetsNothing) {
  HttpTestServer server({ServerStep::reply(500, std::string(200 << 10, 'e'))});
  Sunk sunk;
  auto r = run(streaming(server.url(), sunk, 1 << 20));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 500u);
  EXPECT_EQ(r->body.size(), kHttpStreamErrorBodyCap);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(sunk.calls, 0);
}

TEST(HttpClientStreamTest, ASinkErrorOrTheDeadlineEndsTheExchange) {
  HttpTestServer server({ServerStep::reply(200, std::string(300 << 10, 'x'))});
  HttpRequest req = get(server.url(), 2s, 1 << 20);
  int calls = 0;
  req.body_sink = [&](std::string_view) -> Status {
    if (++calls == 2) return makeError("cannot write", "/bundle/go-heap.pb.gz", ENOSPC);
    return Ok{};
  };
  auto r = run(req);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("streaming the body: "));
  EXPECT_THAT(r.error().message, HasSubstr("/bundle/go-heap.pb.gz"));
  EXPECT_EQ(calls, 2) << "nothing more is read after the sink's error";

  ServerStep trickle = ServerStep::reply(200, std::string(100, 'x'));
  trickle.kind = ServerStep::Kind::kTrickle;
  trickle.delay = 20ms;
  server.setScript({trickle});
  Sunk sunk;
  auto slow = run(streaming(server.url(), sunk, 1 << 20, 300ms));
  ASSERT_FALSE(slow.ok());
  EXPECT_THAT(slow.error().message, HasSubstr("timed out after 300ms"));
}

}  // namespace
}  // namespace oomsentinel
