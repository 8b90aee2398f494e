#include "core/http_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

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

Result<Url> Url::parse(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return urlError(text, "it contains a space or a control character");
  std::size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    return urlError(text, "it has no scheme; write http://host:port/path");
  std::string_view scheme = text.substr(0, sep);
  if (equalsNoCase(scheme, "https"))
    return urlError(text,
                    "https is not supported for this endpoint; use plain http (a target's "
                    "endpoints are on loopback or the pod network)");
  if (!equalsNoCase(scheme, "http"))
    return urlError(text, "the scheme '" + std::string(scheme) + "' is not http");
  std::string_view rest = text.substr(sep + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (std::size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos)
    return urlError(text, "credentials in the URL are not supported");
  Url url;
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

std::string Url::str() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string out = "http://";
  out += v6 ? "[" + host + "]" : host;
  if (port != "80") out += ":" + port;
  return out + target;
}

namespace {

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(boost::asio::io_context& io, HttpRequest spec, HttpCallback done)
      : resolver_(io), stream_(io), deadline_(io), spec_(std::move(spec)), done_(std::move(done)) {
    parser_.body_limit(spec_.max_body);
    parser_.header_limit(64 * 1024);
  }

  void start() {
    started_ = clock_.steadyNow();
    req_.method_string(spec_.method);
    req_.target(spec_.url.target);
    req_.version(11);
    bool v6 = spec_.url.host.find(':') != std::string::npos;
    std::string host = v6 ? "[" + spec_.url.host + "]" : spec_.url.host;
    if (spec_.url.port != "80") host += ":" + spec_.url.port;
    req_.set(http::field::host, host);
    req_.set(http::field::user_agent, "oomsentinel");
    req_.set(http::field::connection, "close");
    for (const auto& [k, v] : spec_.headers) req_.set(k, v);
    if (!spec_.body.empty() || spec_.method == "POST" || spec_.method == "PUT") {
      req_.body() = spec_.body;
      req_.prepare_payload();
    }
    auto self = shared_from_this();
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
                              self->stream_.async_connect(
                                  results, [self](beast::error_code ec2, const tcp::endpoint&) {
                                    self->onConnect(ec2);
                                  });
                            });
  }

 private:
  void onConnect(beast::error_code ec) {
    if (ec) return failEc("connecting", ec);
    step_ = "sending the request";
    auto self = shared_from_this();
    http::async_write(stream_, req_, [self](beast::error_code ec2, std::size_t) {
      if (ec2) return self->failEc("sending the request", ec2);
      self->step_ = "reading the response";
      http::async_read_header(self->stream_, self->buffer_, self->parser_,
                              [self](beast::error_code ec3, std::size_t) { self->onHeader(ec3); });
    });
  }

  // The header first: Beast 1.74 does not apply body_limit to a Content-Length body that
  // arrives in the same read as its header, so the declared length is checked here.
  void onHeader(beast::error_code ec) {
    if (ec) return onRead(ec);
    if (auto length = parser_.content_length(); length && *length > spec_.max_body)
      return onRead(http::error::body_limit);
    auto self = shared_from_this();
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
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    done_(std::move(r));
  }

  void failEc(const char* step, beast::error_code ec) {
    if (finished_) return;  // the deadline already reported, and closed the socket
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof)
      return fail(makeError(std::string("the server closed the connection while ") + step));
    fail(makeError(std::string(step) + ": " + ec.message()));
  }

  void fail(Error e) {
    if (finished_) return;
    finished_ = true;
    e.path = spec_.method + " " + spec_.url.str();
    deadline_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    stream_.socket().close(ignored);
    done_(std::move(e));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
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

}  // namespace

void startHttpRequest(boost::asio::io_context& io, HttpRequest request, HttpCallback done) {
  std::make_shared<Exchange>(io, std::move(request), std::move(done))->start();
}

}  // namespace oomsentinel
