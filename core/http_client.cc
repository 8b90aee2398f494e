#include "core/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
#include <type_traits>

#include "core/http_tls.h"
#include "core/units.h"

namespace oomsentinel {

namespace {
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

Error urlError(std::string_view text, const std::string& why) {
  return makeError("not a usable URL: " + why, std::string(text));
}

}  // namespace

Result<Url> Url::parse(std::string_view text, UrlSchemes schemes) {
  for (char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return urlError(text, "it contains a space or a control character");
  std::size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    return urlError(text, "it has no scheme; write http://host:port/path");
  std::string_view scheme = text.substr(0, sep);
  Url url;
  if (equalsNoCase(scheme, "https")) {
    if (schemes != UrlSchemes::kHttpOrHttps)
      return urlError(text,
                      "https is not supported for this endpoint; use plain http (a target's "
                      "endpoints are on loopback or the pod network)");
    url.scheme = "https";
    url.port = "443";
  } else if (!equalsNoCase(scheme, "http")) {
    return urlError(text, "the scheme '" + std::string(scheme) + "' is not http" +
                              (schemes == UrlSchemes::kHttpOrHttps ? " or https" : ""));
  }
  std::string_view rest = text.substr(sep + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (std::size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos)
    return urlError(text, "credentials in the URL are not supported");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return urlError(text, "an IPv6 address lacks its ']'");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return urlError(text, "junk after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return urlError(text, "the port is empty");
    }
  } else {
    std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return urlError(text, "the port is empty");
    }
  }
  if (url.host.empty()) return urlError(text, "the host is empty");
  if (!port.empty()) {
    unsigned long n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || port.size() > 5)
        return urlError(text, "the port '" + std::string(port) + "' is not a number");
      n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    if (n == 0 || n > 65535)
      return urlError(text, "the port " + std::to_string(n) + " is not in 1..65535");
    url.port = std::to_string(n);
  }
  if (path.empty())
    url.target = "/";
  else if (path.front() == '?')
    url.target = "/" + std::string(path);
  else
    url.target = std::string(path);
  return url;
}

Url Url::withTarget(std::string target) const {
  Url u = *this;
  u.target = std::move(target);
  return u;
}

namespace {

// host[:port], the port left out when it is the scheme's default.
std::string authorityOf(const Url& url) {
  bool v6 = url.host.find(':') != std::string::npos;
  std::string out = v6 ? "[" + url.host + "]" : url.host;
  if (url.port != (url.https() ? "443" : "80")) out += ":" + url.port;
  return out;
}

}  // namespace

std::string Url::str() const { return scheme + "://" + authorityOf(*this) + target; }

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One request from lookup to response, on a plain or a TLS stream. Every step runs under the one
// deadline; whichever ends first (the exchange or the deadline) reports, and closes the socket.
template <class Stream>
class Exchange : public std::enable_shared_from_this<Exchange<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Exchange(boost::asio::io_context& io, HttpRequest spec, HttpCallback done, TlsContextPtr tls)
      : tls_(std::move(tls)),
        resolver_(io),
        stream_(makeStream(io, tls_.get())),
        deadline_(io),
        spec_(std::move(spec)),
        done_(std::move(done)) {
    parser_.body_limit(spec_.max_body);
    parser_.header_limit(64 * 1024);
  }

  void start() {
    started_ = clock_.steadyNow();
    req_.method_string(spec_.method);
    req_.target(spec_.url.target);
    req_.version(11);
    req_.set(http::field::host, authorityOf(spec_.url));
    req_.set(http::field::user_agent, "oomsentinel");
    req_.set(http::field::connection, "close");
    for (const auto& [k, v] : spec_.headers) req_.set(k, v);
    if (!spec_.body.empty() || spec_.method == "POST" || spec_.method == "PUT") {
      req_.body() = spec_.body;
      req_.prepare_payload();
    }
    auto self = this->shared_from_this();
    deadline_.expires_after(spec_.timeout);
    deadline_.async_wait([self](beast::error_code ec) {
      if (ec) return;  // cancelled: the exchange ended first
      self->fail(makeError("timed out after " + formatDuration(self->spec_.timeout) + " while " +
                           self->step_));
    });
    step_ = "looking up the host";
    resolver_.async_resolve(spec_.url.host, spec_.url.port,
                            [self](beast::error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->failEc("looking up the host", ec);
                              self->step_ = "connecting";
                              beast::get_lowest_layer(self->stream_)
                                  .async_connect(
                                      results, [self](beast::error_code ec2, const tcp::endpoint&) {
                                        self->onConnect(ec2);
                                      });
                            });
  }

 private:
  static Stream makeStream(boost::asio::io_context& io, const TlsClientContext* tls) {
    if constexpr (kTls)
      return Stream(io, tls->context());
    else
      return Stream(io);
  }

  void onConnect(beast::error_code ec) {
    if (ec) return failEc("connecting", ec);
    if constexpr (kTls) {
      if (auto ready = tls_->prepare(stream_.native_handle(), spec_.url.host); !ready)
        return fail(ready.error());
      step_ = "doing the TLS handshake";
      auto self = this->shared_from_this();
      stream_.async_handshake(boost::asio::ssl::stream_base::client, [self](beast::error_code ec2) {
        if (ec2) return self->failEc("TLS handshake", ec2);
        self->write();
      });
    } else {
      write();
    }
  }

  void write() {
    step_ = "sending the request";
    auto self = this->shared_from_this();
    http::async_write(stream_, req_, [self](beast::error_code ec, std::size_t) {
      if (ec) return self->onWriteError(ec);
      self->step_ = "reading the response";
      http::async_read_header(self->stream_, self->buffer_, self->parser_,
                              [self](beast::error_code ec2, std::size_t) { self->onHeader(ec2); });
    });
  }

  // With TLS 1.3 a server checks the client's certificate after the client's side of the
  // handshake is done, so its refusal (an alert) arrives while the request is on its way, and
  // closing the socket on it often resets the connection under the write. The alert may still
  // be waiting to be read, and it says far more than "Connection reset by peer".
  void onWriteError(beast::error_code ec) {
    if constexpr (kTls) {
      if (!finished_) {
        auto self = this->shared_from_this();
        http::async_read_header(
            stream_, buffer_, parser_, [self, ec](beast::error_code alert, std::size_t) {
              bool said_why = alert.category() == boost::asio::error::get_ssl_category();
              self->failEc("sending the request", said_why ? alert : ec);
            });
        return;
      }
    }
    failEc("sending the request", ec);
  }

  // The header first: Beast 1.74 does not apply body_limit to a Content-Length body that
  // arrives in the same read as its header, so the declared length is checked here.
  void onHeader(beast::error_code ec) {
    if (ec) return onRead(ec);
    if (auto length = parser_.content_length(); length && *length > spec_.max_body)
      return onRead(http::error::body_limit);
    auto self = this->shared_from_this();
    http::async_read(stream_, buffer_, parser_,
                     [self](beast::error_code ec2, std::size_t) { self->onRead(ec2); });
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::body_limit)
      return fail(makeError("the response body is larger than the " +
                            formatBytes(static_cast<double>(spec_.max_body)) + " cap"));
    if (ec == http::error::header_limit)
      return fail(makeError("the response headers are larger than 64KiB"));
    if (ec) return failEc("reading the response", ec);
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    auto& msg = parser_.get();
    HttpResponse r;
    r.status = msg.result_int();
    r.reason = std::string(msg.reason());
    if (auto it = msg.find(http::field::content_type); it != msg.end())
      r.content_type = std::string(it->value());
    r.body = std::move(msg.body());
    r.took = clock_.steadyNow() - started_;
    // No TLS close_notify exchange: the response is whole, and waiting for a peer's reply could
    // hang. Closing the socket is enough for a "Connection: close" exchange.
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    done_(std::move(r));
  }

  void failEc(const char* step, beast::error_code ec) {
    if (finished_) return;  // the deadline already reported, and closed the socket
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof || isTlsTruncation(ec))
      return fail(
          makeError(std::string("the server closed the connection while ") +
                    (std::string_view(step) == "TLS handshake" ? "in the TLS handshake" : step)));
    if constexpr (kTls)
      return fail(
          makeError(std::string(step) + ": " + describeTlsError(ec, stream_.native_handle())));
    fail(makeError(std::string(step) + ": " + ec.message()));
  }

  void fail(Error e) {
    if (finished_) return;
    finished_ = true;
    e.path = spec_.method + " " + spec_.url.str();
    deadline_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    socket().close(ignored);
    done_(std::move(e));
  }

  tcp::socket& socket() { return beast::get_lowest_layer(stream_).socket(); }

  TlsContextPtr tls_;  // keeps the SSL_CTX alive as long as the stream made from it
  tcp::resolver resolver_;
  Stream stream_;
  boost::asio::steady_timer deadline_;
  beast::flat_buffer buffer_{8192};
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
  HttpRequest spec_;
  HttpCallback done_;
  SystemClock clock_;
  SteadyTime started_{};
  const char* step_ = "starting";
  bool finished_ = false;
};

// Reports an error that stops an exchange before it starts, from `io` like any other outcome.
void failLater(boost::asio::io_context& io, const HttpRequest& request, Error e,
               HttpCallback done) {
  e.path = request.method + " " + request.url.str();
  boost::asio::post(io, [e = std::move(e), done = std::move(done)]() mutable { done(e); });
}

}  // namespace

void startHttpRequest(boost::asio::io_context& io, HttpRequest request, HttpCallback done) {
  if (!request.url.https()) {
    std::make_shared<Exchange<PlainStream>>(io, std::move(request), std::move(done), nullptr)
        ->start();
    return;
  }
  TlsContextPtr tls = request.tls;
  if (!tls) {
    auto fallback = defaultTlsClientContext();
    if (!fallback) return failLater(io, request, fallback.error(), std::move(done));
    tls = *fallback;
  }
  std::make_shared<Exchange<TlsStream>>(io, std::move(request), std::move(done), std::move(tls))
      ->start();
}

}  // namespace oomsentinel
