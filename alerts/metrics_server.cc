#include "alerts/metrics_server.h"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace oomsentinel {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

constexpr int kMaxConnections = 32;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const MetricsServer::Handler& handler, std::atomic<int>& open,
          std::atomic<std::uint64_t>& requests)
      : stream_(std::move(socket)), handler_(handler), open_(open), requests_(requests) {
    parser_.body_limit(8 * 1024);
    parser_.header_limit(8 * 1024);
  }
  ~Session() { --open_; }

  void start() {
    stream_.expires_after(std::chrono::seconds(5));
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, parser_,
                     [self](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

 private:
  void onRead(beast::error_code ec) {
    if (ec) return;  // a client that hung up, timed out or sent junk gets nothing
    ++requests_;
    const auto& req = parser_.get();
    HttpAnswer a;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      a.status = 405;
      a.body = "only GET\n";
    } else {
      std::string path(req.target());
      if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
      a = handler_(path);
    }
    res_.result(a.status);
    res_.version(req.version());
    res_.set(http::field::server, "oomsentinel");
    res_.set(http::field::content_type, a.content_type);
    res_.keep_alive(false);
    res_.body() = req.method() == http::verb::head ? std::string() : std::move(a.body);
    res_.prepare_payload();
    auto self = shared_from_this();
    http::async_write(stream_, res_, [self](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
  const MetricsServer::Handler& handler_;
  std::atomic<int>& open_;
  std::atomic<std::uint64_t>& requests_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            Handler handler) {
  std::string host, port;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find("]:");
    if (close == std::string::npos) return makeError("expected [ADDRESS]:PORT", listen);
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return makeError("expected HOST:PORT", listen);
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  beast::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return makeError("not an IP address: '" + host + "' (" + ec.message() + ")", listen);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    return makeError("not a port: '" + port + "'", listen);
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->handler_ = std::move(handler);
  s->acceptor_ = std::make_unique<tcp::acceptor>(s->io_);
  tcp::endpoint ep(address, static_cast<unsigned short>(p));
  s->acceptor_->open(ep.protocol(), ec);
  if (!ec) s->acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor_->bind(ep, ec);
  if (!ec) s->acceptor_->listen(64, ec);
  if (ec) return makeError("cannot listen: " + ec.message(), listen, ec.value());
  s->port_ = s->acceptor_->local_endpoint().port();
  s->accept();
  s->thread_ = std::thread([srv = s.get()] { srv->io_.run(); });
  return s;
}

void MetricsServer::accept() {
  acceptor_->async_accept(io_, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec) {
      if (open_.load() >= kMaxConnections) {
        beast::error_code ignored;
        socket.close(ignored);  // a scrape storm must not cost the daemon its memory
      } else {
        ++open_;
        std::make_shared<Session>(std::move(socket), handler_, open_, requests_)->start();
      }
    }
    accept();
  });
}

MetricsServer::~MetricsServer() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace oomsentinel
