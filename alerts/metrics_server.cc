#include "alerts/metrics_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <map>

namespace oomsentinel {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

class MetricsSession;

namespace {

// The source a per-peer count is kept for: an IPv4 address, or an IPv6 /64 (one host is commonly
// given a whole /64, so counting single v6 addresses would give one attacker 2^64 allowances).
boost::asio::ip::address peerKey(const boost::asio::ip::address& a) {
  if (!a.is_v6()) return a;
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6);
  auto bytes = v6.to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return boost::asio::ip::address_v6(bytes);
}
}  // namespace

// Everything here but the atomics is used on the server's thread only.
struct MetricsServer::State {
  Handler handler;
  Limits limits;
  std::list<MetricsSession*> pending;  // oldest first
  std::map<boost::asio::ip::address, int> per_peer;
  int open = 0;
  int large = 0;
  std::atomic<std::uint64_t> accepted{0}, requests{0}, refused{0}, evicted{0}, timed_out{0},
      busy{0};
  std::atomic<int> open_now{0}, pending_now{0};

  void counted() {
    open_now.store(open);
    pending_now.store(static_cast<int>(pending.size()));
  }
  // Closes the oldest pending connection, of `peer` when given: false when there is none.
  bool evictOldest(const boost::asio::ip::address* peer);
};

// One connection, from accept to the end of its answer.
class MetricsSession : public std::enable_shared_from_this<MetricsSession> {
 public:
  MetricsSession(tcp::socket socket, std::shared_ptr<MetricsServer::State> state,
                 boost::asio::ip::address peer)
      : stream_(std::move(socket)), state_(std::move(state)), peer_(peer) {
    parser_.body_limit(8 * 1024);
    parser_.header_limit(8 * 1024);
    ++state_->open;
    ++state_->per_peer[peer_];
    pending_at_ = state_->pending.insert(state_->pending.end(), this);
    pending_ = true;
    state_->counted();
  }
  ~MetricsSession() { release(); }

  void start() {
    stream_.expires_after(state_->limits.header_deadline);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, parser_,
                     [self](beast::error_code ec, std::size_t) { self->onRead(ec); });
  }

  const boost::asio::ip::address& peer() const { return peer_; }

  // Made room for a newer connection: it stops counting now, not when its read is cancelled.
  void evict() {
    release();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void leavePending() {
    if (!pending_) return;
    state_->pending.erase(pending_at_);
    pending_ = false;
    state_->counted();
  }
  void release() {
    if (released_) return;
    released_ = true;
    leavePending();
    --state_->open;
    if (auto it = state_->per_peer.find(peer_); it != state_->per_peer.end() && --it->second <= 0)
      state_->per_peer.erase(it);
    if (large_) --state_->large;
    state_->counted();
  }

  void onRead(beast::error_code ec) {
    leavePending();
    if (ec) {  // a client that hung up, timed out, sent junk or was evicted gets nothing
      if (ec == beast::error::timeout) ++state_->timed_out;
      return;
    }
    ++state_->requests;
    const auto& req = parser_.get();
    HttpAnswer a;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      a.status = 405;
      a.body = "only GET\n";
    } else {
      std::string path(req.target());
      if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
      if (MetricsServer::isProbePath(path)) {
        a = state_->handler(path);
      } else if (state_->large >= state_->limits.max_large_answers) {
        ++state_->busy;
        a.status = 503;
        a.body = "busy: too many answers being written\n";
      } else {
        large_ = true;
        ++state_->large;
        a = state_->handler(path);
      }
    }
    res_.result(a.status);
    res_.version(req.version());
    res_.set(http::field::server, "oomsentinel");
    res_.set(http::field::content_type, a.content_type);
    res_.keep_alive(false);
    res_.body() = req.method() == http::verb::head ? std::string() : std::move(a.body);
    res_.prepare_payload();
    stream_.expires_after(state_->limits.write_deadline);
    auto self = shared_from_this();
    http::async_write(stream_, res_, [self](beast::error_code ec, std::size_t) {
      if (ec == beast::error::timeout) ++self->state_->timed_out;
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<MetricsServer::State> state_;
  boost::asio::ip::address peer_;
  std::list<MetricsSession*>::iterator pending_at_;
  bool pending_ = false, released_ = false, large_ = false;
};

bool MetricsServer::State::evictOldest(const boost::asio::ip::address* peer) {
  for (MetricsSession* s : pending) {
    if (peer && s->peer() != *peer) continue;
    ++evicted;
    s->evict();  // erases it from `pending`: the loop ends here
    return true;
  }
  return false;
}

struct MetricsServer::Loop {
  boost::asio::io_context io;
  tcp::acceptor acceptor{io};  // opened by start()
};

MetricsServer::MetricsServer() : loop_(std::make_unique<Loop>()) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            Handler handler, Limits limits) {
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
  // Reachable from elsewhere only when asked for by address (0.0.0.0, a pod IP): the port answers
  // anyone who reaches it.
  if (host.empty()) host = "127.0.0.1";
  beast::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return makeError("not an IP address: '" + host + "' (" + ec.message() + ")", listen);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    return makeError("not a port: '" + port + "'", listen);
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->state_ = std::make_shared<State>();
  s->state_->handler = std::move(handler);
  s->state_->limits = limits;
  tcp::acceptor& acceptor = s->loop_->acceptor;
  tcp::endpoint ep(address, static_cast<unsigned short>(p));
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(128, ec);
  if (ec) return makeError("cannot listen: " + ec.message(), listen, ec.value());
  s->port_ = acceptor.local_endpoint().port();
  s->accept();
  s->thread_ = std::thread([srv = s.get()] { srv->loop_->io.run(); });
  return s;
}

void MetricsServer::accept() {
  loop_->acceptor.async_accept(loop_->io, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec) {
      State& st = *state_;
      ++st.accepted;
      auto refuse = [&] {
        ++st.refused;
        beast::error_code ignored;
        socket.close(ignored);
      };
      auto remote = socket.remote_endpoint(ec);
      if (ec) {
        socket.close(ec);  // already gone
      } else {
        auto peer = peerKey(remote.address());
        bool room = true;
        // One address over its share gives up its own oldest idle connection, so an attacker
        // sharing the kubelet's address (a hostNetwork pod) still cannot keep a probe out.
        if (auto it = st.per_peer.find(peer);
            it != st.per_peer.end() && it->second >= st.limits.max_per_peer)
          room = st.evictOldest(&peer);
        if (room && static_cast<int>(st.pending.size()) >= st.limits.max_pending)
          st.evictOldest(nullptr);
        if (room && st.open >= st.limits.max_open) room = st.evictOldest(nullptr);
        if (room)
          std::make_shared<MetricsSession>(std::move(socket), state_, peer)->start();
        else
          refuse();
      }
    }
    accept();
  });
}

MetricsServer::Stats MetricsServer::stats() const {
  const State& st = *state_;
  Stats s;
  s.accepted = st.accepted.load();
  s.requests = st.requests.load();
  s.refused = st.refused.load();
  s.evicted = st.evicted.load();
  s.timed_out = st.timed_out.load();
  s.busy = st.busy.load();
  s.open = st.open_now.load();
  s.pending = st.pending_now.load();
  return s;
}

MetricsServer::~MetricsServer() {
  loop_->io.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace oomsentinel
