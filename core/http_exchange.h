// core/: the shared vocabulary of oomsentinel.
// The inside of startHttpRequest: one exchange, as a template over its transport, shared by the
// plain http client (core/http_client.cc) and the TLS module (core/http_tls_module.cc). Only
// those two include this.
#pragma once

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/http_client.h"
#include "core/units.h"

namespace oomsentinel::http_detail {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// One request from lookup to response, on the stream of a Transport. Every step runs under the
// one deadline; whichever ends first (the exchange or the deadline) reports, and closes the
// socket.
//
// A Transport says what the stream is and does its TLS parts:
//   static constexpr bool kTls;
//   using Stream = ...;                                     a beast::tcp_stream, or TLS over one
//   static Stream makeStream(io, const TlsClientContext*);  the context is null for plain http
//   static bool truncated(const error_code&);               closed without TLS's close_notify
//   static std::string describe(const error_code&, Stream&);
// and with kTls also:
//   static Status prepare(const TlsClientContext&, Stream&, const std::string& url_host);
//   static void handshake(Stream&, std::function<void(error_code)>);
//   static bool isTlsAlert(const error_code&);
// Everything TLS is reached through the Transport, so plain http builds without OpenSSL's
// headers and the TLS one lives in its own module (core/http_tls_module.cc).
template <class Transport>
class Exchange : public std::enable_shared_from_this<Exchange<Transport>> {
  using Stream = typename Transport::Stream;
  static constexpr bool kTls = Transport::kTls;

 public:
  Exchange(boost::asio::io_context& io, HttpRequest spec, HttpCallback done, TlsContextPtr tls)
      : tls_(std::move(tls)),
        resolver_(io),
        stream_(Transport::makeStream(io, tls_.get())),
        deadline_(io),
        spec_(std::move(spec)),
        done_(std::move(done)) {
    // Streaming, a body over the cap is cut, not refused: the cap is checked while it is read.
    // (Not boost::none: Beast 1.74 compares a Content-Length with the optional, and any length
    // is more than none.)
    if (spec_.body_sink)
      parser_.body_limit(kNoLimit);
    else
      parser_.body_limit(spec_.max_body);
    parser_.header_limit(64 * 1024);
  }

  void start() {
    started_ = clock_.steadyNow();
    req_.method_string(spec_.method);
    req_.target(spec_.url.target);
    req_.version(11);
    req_.set(http::field::host, spec_.url.authority());
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
  void onConnect(beast::error_code ec) {
    if (ec) return failEc("connecting", ec);
    if constexpr (kTls) {
      if (auto ready = Transport::prepare(*tls_, stream_, spec_.url.host); !ready)
        return fail(ready.error());
      step_ = "doing the TLS handshake";
      auto self = this->shared_from_this();
      Transport::handshake(stream_, [self](beast::error_code ec2) {
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
              self->failEc("sending the request", Transport::isTlsAlert(alert) ? alert : ec);
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
    if (spec_.body_sink) {
      // The header alone has been read, so the parser can change its body type (Beast's
      // "change body type" pattern): from here the body goes through a fixed buffer.
      streaming_.emplace(std::move(parser_));
      streaming_->body_limit(kNoLimit);
      sink_ok_ = streaming_->get().result_int() / 100 == 2;
      chunk_ = std::make_unique<char[]>(kChunk);
      return readChunk();
    }
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
    r.body_bytes = r.body.size();
    r.took = clock_.steadyNow() - started_;
    // No TLS close_notify exchange: the response is whole, and waiting for a peer's reply could
    // hang. Closing the socket is enough for a "Connection: close" exchange.
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    done_(std::move(r));
  }

  // The cap of what is read now: max_body for a 2xx body, which goes to the sink, a short
  // excerpt for another (kept in the response). One byte past it is asked for, to tell a body
  // that ends at the cap from one cut there.
  std::uint64_t streamCap() const {
    return sink_ok_ ? spec_.max_body
                    : std::min<std::uint64_t>(spec_.max_body, kHttpStreamErrorBodyCap);
  }

  void readChunk() {
    if (finished_) return;
    if (streaming_->is_done()) return finishStream(false);
    std::uint64_t left = streamCap() - streamed_;
    auto& body = streaming_->get().body();
    body.data = chunk_.get();
    asked_ = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, left + 1));
    body.size = asked_;
    auto self = this->shared_from_this();
    http::async_read(stream_, buffer_, *streaming_, [self](beast::error_code ec, std::size_t) {
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return self->onRead(ec);
      self->onChunk();
    });
  }

  void onChunk() {
    if (finished_) return;
    auto& body = streaming_->get().body();
    std::size_t n = asked_ - body.size;
    std::uint64_t left = streamCap() - streamed_;
    bool cut = n > left;
    std::string_view piece(chunk_.get(), cut ? static_cast<std::size_t>(left) : n);
    if (sink_ok_) {
      if (auto st = spec_.body_sink(piece); !st)
        return fail(makeError("streaming the body: " + st.error().describe()));
    } else {
      error_body_.append(piece);
    }
    streamed_ += piece.size();
    if (cut) return finishStream(true);
    readChunk();
  }

  void finishStream(bool truncated) {
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    auto& msg = streaming_->get();
    HttpResponse r;
    r.status = msg.result_int();
    r.reason = std::string(msg.reason());
    if (auto it = msg.find(http::field::content_type); it != msg.end())
      r.content_type = std::string(it->value());
    r.body = std::move(error_body_);
    r.body_bytes = streamed_;
    r.truncated = truncated;
    r.took = clock_.steadyNow() - started_;
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    done_(std::move(r));
  }

  void failEc(const char* step, beast::error_code ec) {
    if (finished_) return;  // the deadline already reported, and closed the socket
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
        Transport::truncated(ec))
      return fail(
          makeError(std::string("the server closed the connection while ") +
                    (std::string_view(step) == "TLS handshake" ? "in the TLS handshake" : step)));
    fail(makeError(std::string(step) + ": " + Transport::describe(ec, stream_)));
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
  // With HttpRequest::body_sink: the parser after the header, and its fixed buffer.
  static constexpr std::size_t kChunk = 64 << 10;
  static constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();
  std::optional<http::response_parser<http::buffer_body>> streaming_;
  std::unique_ptr<char[]> chunk_;
  bool sink_ok_ = false;   // a 2xx: the body goes to the sink
  std::size_t asked_ = 0;  // the room offered to the last read
  std::uint64_t streamed_ = 0;
  std::string error_body_;
  HttpRequest spec_;
  HttpCallback done_;
  SystemClock clock_;
  SteadyTime started_{};
  const char* step_ = "starting";
  bool finished_ = false;
};

// Reports an error that stops an exchange before it starts, from `io` like any other outcome.
inline void failLater(boost::asio::io_context& io, const HttpRequest& request, Error e,
                      HttpCallback done) {
  e.path = request.method + " " + request.url.str();
  boost::asio::post(io, [e = std::move(e), done = std::move(done)]() mutable { done(e); });
}

}  // namespace oomsentinel::http_detail
