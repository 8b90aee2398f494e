// https in the HTTP client: a TLS test server (OpenSSL's own API) on a loopback port, with
// certificates made at test time by a throwaway CA.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <optional>
#include <thread>

#include "core/http_client.h"
#include "tests/support/http_test_server.h"
#include "tests/support/tls_test_certs.h"

namespace oomsentinel {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::HttpTestServer;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::ServerStep;
using testing::ServerTls;
using testing::TestCa;
using testing::TlsFiles;
using namespace std::chrono_literals;

Url mustParseHttpOrHttps(const std::string& s) {
  auto u = Url::parse(s, UrlSchemes::kHttpOrHttps);
  EXPECT_TRUE(u.ok()) << s << ": " << (u.ok() ? "" : u.error().describe());
  return u.ok() ? *u : Url{};
}

TEST(HttpsUrlTest, ParsesHttpsWhereTheCallerAllowsIt) {
  Url u = mustParseHttpOrHttps("https://am.example:9093/api/v2/alerts");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_TRUE(u.https());
  EXPECT_EQ(u.host, "am.example");
  EXPECT_EQ(u.port, "9093");
  EXPECT_EQ(u.str(), "https://am.example:9093/api/v2/alerts");
  EXPECT_EQ(u.withTarget("/-/ready").str(), "https://am.example:9093/-/ready");

  Url bare = mustParseHttpOrHttps("HTTPS://am.example");
  EXPECT_EQ(bare.port, "443");
  EXPECT_EQ(bare.str(), "https://am.example/");
  EXPECT_EQ(mustParseHttpOrHttps("https://h:443/x").str(), "https://h/x");
  EXPECT_EQ(mustParseHttpOrHttps("https://h:80/x").str(), "https://h:80/x");
  EXPECT_EQ(mustParseHttpOrHttps("https://[::1]:8443/").str(), "https://[::1]:8443/");

  Url plain = mustParseHttpOrHttps("http://h/x");
  EXPECT_EQ(plain.scheme, "http");
  EXPECT_FALSE(plain.https());
  EXPECT_EQ(plain.port, "80");
  EXPECT_EQ(plain.str(), "http://h/x");
  EXPECT_EQ(mustParseHttpOrHttps("http://h:443/").str(), "http://h:443/");

  // The default stays plain http only, with the same words as before.
  auto refused = Url::parse("https://am.example/");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("https is not supported"));
  auto ftp = Url::parse("ftp://h/", UrlSchemes::kHttpOrHttps);
  ASSERT_FALSE(ftp.ok());
  EXPECT_THAT(ftp.error().message, HasSubstr("'ftp' is not http or https"));
}

// --- the prepared context: every file is checked when it is built --------------------------

class TlsContextTest : public ::testing::Test {
 protected:
  Error mustFail(const TlsOptions& o) {
    auto c = makeTlsClientContext(o);
    EXPECT_FALSE(c.ok()) << "built a context from bad options";
    return c.ok() ? Error{} : c.error();
  }
  TestCa ca_;
  TlsFiles client_ = ca_.issue("client", {}, TestCa::Use::kClient);
};

TEST_F(TlsContextTest, GoodFilesBuild) {
  TlsOptions o;
  o.ca_file = ca_.files().cert;
  o.cert_file = client_.cert;
  o.key_file = client_.key;
  auto c = makeTlsClientContext(o);
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_NE(*c, nullptr);
  auto system_store = makeTlsClientContext(TlsOptions{});
  ASSERT_TRUE(system_store.ok()) << system_store.error().describe();
}

TEST_F(TlsContextTest, AMissingFileIsNamedWithTheReason) {
  TlsOptions o;
  o.ca_file = ca_.dir() + "/nope.pem";
  Error e = mustFail(o);
  EXPECT_EQ(e.path, o.ca_file);
  EXPECT_THAT(e.message, HasSubstr("cannot read the TLS CA file"));
  EXPECT_EQ(e.errnum, ENOENT);

  TlsOptions k;
  k.cert_file = client_.cert;
  k.key_file = ca_.dir() + "/missing.key";
  Error ek = mustFail(k);
  EXPECT_EQ(ek.path, k.key_file);
  EXPECT_THAT(ek.message, HasSubstr("cannot read the TLS client key file"));
}

TEST_F(TlsContextTest, NotPemIsNamedWithTheFile) {
  testing::TempDir junk;
  junk.write("junk.pem", "this is not PEM\n");
  const std::string bad = junk.path() + "/junk.pem";

  TlsOptions o;
  o.ca_file = bad;
  Error e = mustFail(o);
  EXPECT_EQ(e.path, bad);
  EXPECT_THAT(e.message, HasSubstr("not a PEM CA certificate bundle"));

  TlsOptions c;
  c.cert_file = bad;
  c.key_file = client_.key;
  Error ec = mustFail(c);
  EXPECT_EQ(ec.path, bad);
  EXPECT_THAT(ec.message, HasSubstr("not a PEM client certificate"));

  TlsOptions k;
  k.cert_file = client_.cert;
  k.key_file = bad;
  Error ek = mustFail(k);
  EXPECT_EQ(ek.path, bad);
  EXPECT_THAT(ek.message, HasSubstr("not a PEM private key"));

  // A certificate where the key should be is not a key either.
  k.key_file = client_.cert;
  EXPECT_THAT(mustFail(k).message, HasSubstr("not a PEM private key"));
}

TEST_F(TlsContextTest, AKeyThatIsNotTheCertificatesIsRefused) {
  TlsFiles other = ca_.issue("other client", {}, TestCa::Use::kClient);
  TlsOptions o;
  o.cert_file = client_.cert;
  o.key_file = other.key;
  Error e = mustFail(o);
  EXPECT_EQ(e.path, other.key);
  EXPECT_THAT(e.message, HasSubstr("does not match the client certificate " + client_.cert));
}

TEST_F(TlsContextTest, ACertificateNeedsItsKeyAndTheKeyItsCertificate) {
  TlsOptions o;
  o.cert_file = client_.cert;
  Error e = mustFail(o);
  EXPECT_EQ(e.path, client_.cert);
  EXPECT_THAT(e.message, HasSubstr("needs its private key"));
  TlsOptions k;
  k.key_file = client_.key;
  Error ek = mustFail(k);
  EXPECT_EQ(ek.path, client_.key);
  EXPECT_THAT(ek.message, HasSubstr("needs its certificate"));
}

// --- exchanges over TLS --------------------------------------------------------------------

Result<HttpResponse> runOverTls(HttpRequest req) {
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

class HttpsTest : public ::testing::Test {
 protected:
  // The server's certificate: 127.0.0.1 and localhost, signed by ca_.
  ServerTls serverTls(const std::string& client_ca = "") const {
    return ServerTls{server_.cert, server_.key, client_ca};
  }
  static TlsOptions options(const std::string& ca_file, const std::string& server_name = "",
                            const TlsFiles& client = {}) {
    TlsOptions o;
    o.ca_file = ca_file;
    o.server_name = server_name;
    o.cert_file = client.cert;
    o.key_file = client.key;
    return o;
  }
  TlsContextPtr context(TlsOptions o) const {
    auto c = makeTlsClientContext(o);
    EXPECT_TRUE(c.ok()) << c.error().describe();
    return c.ok() ? *c : nullptr;
  }
  TlsContextPtr trusting() const { return context(options(ca_.files().cert)); }
  HttpRequest request(const std::string& url, TlsContextPtr tls, Duration timeout = 3s,
                      std::size_t max_body = 1 << 20) const {
    HttpRequest r;
    r.url = mustParseHttpOrHttps(url);
    r.tls = std::move(tls);
    r.timeout = timeout;
    r.max_body = max_body;
    return r;
  }

  TestCa ca_;
  TlsFiles server_ = ca_.issue("server", {"DNS:localhost", "IP:127.0.0.1"});
};

TEST_F(HttpsTest, GetsAndPostsWithTheCaGiven) {
  HttpTestServer server({ServerStep::reply(200, "{\"status\":\"success\"}", "application/json")},
                        serverTls());
  ASSERT_EQ(server.url("/x").substr(0, 8), "https://");
  TlsContextPtr tls = trusting();
  auto r = runOverTls(request(server.url("/api/v2/status"), tls));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "{\"status\":\"success\"}");
  EXPECT_EQ(r->content_type, "application/json");

  HttpRequest post = request(server.url("/api/v2/alerts"), tls);
  post.method = "POST";
  post.body = "[{\"labels\":{}}]";
  post.headers.emplace_back("Content-Type", "application/json");
  auto p = runOverTls(post);
  ASSERT_TRUE(p.ok()) << p.error().describe();

  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_THAT(server.requests()[0], HasSubstr("GET /api/v2/status HTTP/1.1\r\n"));
  EXPECT_THAT(server.requests()[0],
              HasSubstr("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"));
  const std::string sent = server.requests()[1];
  EXPECT_THAT(sent, HasSubstr("POST /api/v2/alerts HTTP/1.1\r\n"));
  EXPECT_THAT(sent, HasSubstr("Content-Length: 15\r\n"));
  EXPECT_THAT(sent, HasSubstr("\r\n\r\n[{\"labels\":{}}]"));
  // An IP address is never sent as SNI (RFC 6066).
  EXPECT_THAT(server.serverNames(), ElementsAre("", ""));
  EXPECT_THAT(server.handshakeErrors(), IsEmpty());
}

TEST_F(HttpsTest, AHostNameIsSentAsSniAndVerified) {
  HttpTestServer server({ServerStep::reply(200, "ok")}, serverTls());
  auto r =
      runOverTls(request("https://localhost:" + std::to_string(server.port()) + "/", trusting()));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->body, "ok");
  EXPECT_THAT(server.serverNames(), ElementsAre("localhost"));
  EXPECT_THAT(server.requests().at(0),
              HasSubstr("Host: localhost:" + std::to_string(server.port()) + "\r\n"));
}

TEST_F(HttpsTest, AnUnknownCaFailsTheHandshakeWithTheReason) {
  HttpTestServer server({ServerStep::reply(200, "secret")}, serverTls());
  TestCa stranger("another CA");
  // No context: the system's store, which does not know the test CA; then an explicit default
  // context; then a CA file that is not the server's.
  for (TlsContextPtr tls :
       {TlsContextPtr(), context({}), context(options(stranger.files().cert))}) {
    auto r = runOverTls(request(server.url("/"), tls));
    ASSERT_FALSE(r.ok()) << "read " << r->body;
    EXPECT_THAT(r.error().message,
                HasSubstr("TLS handshake: certificate verify failed (unable to get local issuer "
                          "certificate)"));
    EXPECT_EQ(r.error().path, "GET " + server.url("/"));
  }
  EXPECT_THAT(server.requests(), IsEmpty()) << "a request went to an unverified server";
}

TEST_F(HttpsTest, TheNameMustMatchAndServerNameOverridesIt) {
  HttpTestServer server({ServerStep::reply(200, "ok")}, serverTls());
  auto wrong = runOverTls(
      request(server.url("/"), context(options(ca_.files().cert, "alertmanager.internal"))));
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.error().message,
              HasSubstr("TLS handshake: certificate verify failed (hostname mismatch)"));

  // A certificate for a name only, reached by its address.
  TlsFiles named = ca_.issue("alertmanager.internal", {"DNS:alertmanager.internal"});
  HttpTestServer by_name({ServerStep::reply(200, "ok")}, ServerTls{named.cert, named.key, ""});
  auto by_ip = runOverTls(request(by_name.url("/"), trusting()));
  ASSERT_FALSE(by_ip.ok());
  EXPECT_THAT(by_ip.error().message,
              HasSubstr("TLS handshake: certificate verify failed (IP address mismatch)"));
  auto overridden = runOverTls(
      request(by_name.url("/"), context(options(ca_.files().cert, "alertmanager.internal"))));
  ASSERT_TRUE(overridden.ok()) << overridden.error().describe();
  EXPECT_THAT(by_name.serverNames(), ElementsAre("alertmanager.internal"));
  EXPECT_THAT(by_name.requests().at(0),
              HasSubstr("Host: 127.0.0.1:" + std::to_string(by_name.port()) + "\r\n"));
}

TEST_F(HttpsTest, InsecureSkipVerifyAcceptsAnUnknownCaAndName) {
  HttpTestServer server({ServerStep::reply(200, "ok")}, serverTls());
  TlsOptions insecure = options("", "not.the.name");
  insecure.insecure_skip_verify = true;
  auto r = runOverTls(request(server.url("/"), context(insecure)));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->body, "ok");
}

TEST_F(HttpsTest, MutualTlsNeedsTheClientCertificate) {
  HttpTestServer server({ServerStep::reply(200, "welcome")}, serverTls(ca_.files().cert));

  auto without = runOverTls(request(server.url("/"), trusting()));
  ASSERT_FALSE(without.ok()) << "read " << without->body;
  // TLS 1.3 finishes the client's handshake before the server checks; the refusal then
  // arrives as an alert on the first read.
  EXPECT_THAT(without.error().message,
              AnyOf(HasSubstr("certificate required"), HasSubstr("handshake failure")));

  TestCa stranger("another CA");
  TlsFiles foreign = stranger.issue("foreign client", {}, TestCa::Use::kClient);
  auto wrong =
      runOverTls(request(server.url("/"), context(options(ca_.files().cert, "", foreign))));
  ASSERT_FALSE(wrong.ok()) << "read " << wrong->body;
  EXPECT_THAT(wrong.error().message, HasSubstr("unknown ca"));
  // The server's side of both refusals (its handler may still be recording the second).
  for (int i = 0; i < 200 && server.handshakeErrors().size() < 2; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_THAT(server.handshakeErrors(), ElementsAre(HasSubstr("peer did not return a certificate"),
                                                    HasSubstr("certificate verify failed")));

  TlsFiles client = ca_.issue("client", {}, TestCa::Use::kClient);
  auto with = runOverTls(request(server.url("/"), context(options(ca_.files().cert, "", client))));
  ASSERT_TRUE(with.ok()) << with.error().describe();
  EXPECT_EQ(with->body, "welcome");
  EXPECT_EQ(server.requests().size(), 1u) << "only the authenticated client got to ask";
}

TEST_F(HttpsTest, AServerThatNeverShakesHandsTimesOutNamingTheHandshake) {
  // A plain socket that accepts and reads, and never answers the ClientHello.
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer silent({hang});
  std::string url = "https://127.0.0.1:" + std::to_string(silent.port()) + "/";
  SystemClock clock;
  SteadyTime t0 = clock.steadyNow();
  auto r = runOverTls(request(url, trusting(), 300ms));
  Duration took = clock.steadyNow() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("timed out after 300ms while doing the TLS handshake"));
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);
}

TEST_F(HttpsTest, TheDeadlineCoversReadsOverTls) {
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer server({hang}, serverTls());
  auto r = runOverTls(request(server.url("/"), trusting(), 300ms));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("timed out after 300ms while reading the response"));

  ServerStep trickle = ServerStep::reply(200, std::string(100, 'x'));
  trickle.kind = ServerStep::Kind::kTrickle;
  trickle.delay = 20ms;
  server.setScript({trickle});
  auto t = runOverTls(request(server.url("/"), trusting(), 300ms));
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.error().message, HasSubstr("timed out after 300ms"));
}

TEST_F(HttpsTest, ABodyOverTheCapIsAnErrorOverTlsToo) {
  HttpTestServer server({ServerStep::reply(200, std::string(5000, 'x'))}, serverTls());
  TlsContextPtr tls = trusting();
  auto r = runOverTls(request(server.url("/"), tls, 3s, 4096));
  ASSERT_FALSE(r.ok()) << "read " << r->body.size() << " bytes";
  EXPECT_THAT(r.error().message, HasSubstr("larger than the 4.00 KiB cap"));
  EXPECT_EQ(r.error().path, "GET " + server.url("/"));

  ServerStep chunked;
  chunked.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked.raw += "200\r\n" + std::string(512, 'y') + "\r\n";
  chunked.raw += "0\r\n\r\n";
  ServerStep to_eof;
  to_eof.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(5000, 'z');
  server.setScript({chunked, to_eof});
  for (int i = 0; i < 2; ++i) {
    auto r2 = runOverTls(request(server.url("/"), tls, 3s, 4096));
    ASSERT_FALSE(r2.ok()) << i << ": read " << r2->body.size() << " bytes";
    EXPECT_THAT(r2.error().message, HasSubstr("larger than the 4.00 KiB cap"));
  }
  server.setScript({ServerStep::reply(200, std::string(4096, 'x'))});
  auto at = runOverTls(request(server.url("/"), tls, 3s, 4096));
  ASSERT_TRUE(at.ok()) << at.error().describe();
  EXPECT_EQ(at->body.size(), 4096u);
}

TEST_F(HttpsTest, ABodyThatEndsAtCloseNeedsTlsCloseNotify) {
  ServerStep to_eof;
  to_eof.raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
  HttpTestServer server({to_eof}, serverTls());
  auto whole = runOverTls(request(server.url("/"), trusting()));
  ASSERT_TRUE(whole.ok()) << whole.error().describe();
  EXPECT_EQ(whole->body, "all of it");

  // Without close_notify the end may have been cut off by someone in between.
  to_eof.abrupt_close = true;
  server.setScript({to_eof});
  auto cut = runOverTls(request(server.url("/"), trusting()));
  ASSERT_FALSE(cut.ok()) << "read " << cut->body;
  EXPECT_THAT(cut.error().message,
              HasSubstr("the server closed the connection while reading the response"));
}

TEST_F(HttpsTest, OneContextServesManyConcurrentExchanges) {
  HttpTestServer server({ServerStep::reply(200, "ok")}, serverTls());
  TlsContextPtr tls = trusting();
  boost::asio::io_context io;
  int ok = 0;
  for (int i = 0; i < 5; ++i)
    startHttpRequest(io, request(server.url("/"), tls), [&](Result<HttpResponse> r) {
      EXPECT_TRUE(r.ok()) << r.error().describe();
      if (r.ok() && r->body == "ok") ++ok;
    });
  io.run();
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(server.serverNames().size(), 5u);
}

TEST_F(HttpsTest, APlainHttpUrlIgnoresTheTlsContext) {
  HttpTestServer plain({ServerStep::reply(200, "plain")});
  auto r = runOverTls(request(plain.url("/"), trusting()));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->body, "plain");
  EXPECT_THAT(plain.requests().at(0), Not(HasSubstr("\x16\x03")));
}

}  // namespace
}  // namespace oomsentinel
