#include "tests/support/http_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace oomsentinel::testing {

ServerStep ServerStep::reply(int status, const std::string& body, const std::string& content_type) {
  ServerStep s;
  s.raw = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
          body;
  return s;
}

// One accepted socket, plain or TLS.
class HttpTestServer::Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  int fd() const { return fd_; }
  // Bytes TLS has already decrypted: poll() on the socket would not see them.
  bool buffered() const { return ssl_ && SSL_pending(ssl_) > 0; }
  long read(char* buf, std::size_t n) {
    if (!ssl_) return ::read(fd_, buf, n);
    int got = SSL_read(ssl_, buf, static_cast<int>(n));
    return got > 0 ? got : -1;
  }
  bool write(const char* data, std::size_t n) {
    if (!ssl_) return ::write(fd_, data, n) == static_cast<ssize_t>(n);
    return SSL_write(ssl_, data, static_cast<int>(n)) == static_cast<int>(n);
  }
  // Sends close_notify without waiting for the peer's.
  void closeNotify() {
    if (ssl_) SSL_shutdown(ssl_);
  }

 private:
  int fd_;
  SSL* ssl_;
};

namespace {

std::string opensslReason() {
  char reason[256] = "no reason given";
  if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  return reason;
}

SSL_CTX* makeServerContext(const ServerTls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw std::runtime_error("SSL_CTX_new failed");
  bool ok = SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) == 1 &&
            SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  if (ok && !tls.client_ca_file.empty()) {
    ok = SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) == 1;
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str()))
      SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  if (!ok) {
    std::string why = opensslReason();
    SSL_CTX_free(ctx);
    throw std::runtime_error("test server TLS setup: " + why);
  }
  return ctx;
}

}  // namespace

HttpTestServer::HttpTestServer(std::vector<ServerStep> script, std::optional<ServerTls> tls)
    : script_(std::move(script)) {
  if (tls) ssl_ctx_ = makeServerContext(*tls);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("bind/listen failed");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  thread_ = std::thread([this] { serve(); });
}

HttpTestServer::~HttpTestServer() {
  (void)!::write(stop_pipe_[1], "x", 1);
  thread_.join();
  for (auto& t : handlers_) t.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
  SSL_CTX_free(ssl_ctx_);
}

std::string HttpTestServer::url(const std::string& path) const {
  return (ssl_ctx_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_) +
         path;
}

std::vector<std::string> HttpTestServer::serverNames() const {
  std::lock_guard lock(mu_);
  return server_names_;
}

std::vector<std::string> HttpTestServer::handshakeErrors() const {
  std::lock_guard lock(mu_);
  return handshake_errors_;
}

std::vector<std::string> HttpTestServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void HttpTestServer::setScript(std::vector<ServerStep> script) {
  std::lock_guard lock(mu_);
  script_ = std::move(script);
}

void HttpTestServer::serve() {
  std::size_t next = 0;
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    ServerStep step;
    {
      std::lock_guard lock(mu_);
      step = script_.empty() ? ServerStep::reply(200, "")
                             : script_[std::min(next, script_.size() - 1)];
      ++next;
    }
    handlers_.emplace_back([this, fd, step] {
      handle(fd, step);
      ::close(fd);
    });
  }
}

void HttpTestServer::handle(int fd, const ServerStep& step) {
  // A client that hung up makes a write fail with EPIPE, not kill the test with SIGPIPE (OpenSSL
  // writes with write(2), so MSG_NOSIGNAL is not an option). This thread only.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  if (!ssl_ctx_) {
    Connection plain(fd, nullptr);
    return exchange(plain, step);
  }
  // A client that stalls mid-handshake must not hold this thread (and the destructor) forever.
  timeval limit{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  SSL* ssl = SSL_new(ssl_ctx_);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    std::string why = opensslReason();
    std::lock_guard lock(mu_);
    handshake_errors_.push_back(why);
  } else {
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    {
      std::lock_guard lock(mu_);
      server_names_.push_back(sni ? sni : "");
    }
    Connection tls(fd, ssl);
    exchange(tls, step);
    if (step.kind != ServerStep::Kind::kClose && !step.abrupt_close) tls.closeNotify();
  }
  SSL_free(ssl);
  ERR_clear_error();
}

void HttpTestServer::exchange(Connection& conn, const ServerStep& step) {
  // Read until the end of the headers, plus a Content-Length body when there is one.
  std::string req;
  char buf[4096];
  std::size_t want = std::string::npos;
  while (want == std::string::npos || req.size() < want) {
    if (!conn.buffered()) {
      pollfd p[2] = {{conn.fd(), POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      if (::poll(p, 2, 2000) <= 0 || p[1].revents) break;
    }
    long n = conn.read(buf, sizeof buf);
    if (n <= 0) break;
    req.append(buf, static_cast<std::size_t>(n));
    std::size_t end = req.find("\r\n\r\n");
    if (end != std::string::npos && want == std::string::npos) {
      want = end + 4;
      std::size_t cl = req.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) want += std::stoul(req.substr(cl + 16));
    }
  }
  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
  }
  switch (step.kind) {
    case ServerStep::Kind::kReply:
      (void)conn.write(step.raw.data(), step.raw.size());
      break;
    case ServerStep::Kind::kHang: {
      pollfd p = {stop_pipe_[0], POLLIN, 0};
      ::poll(&p, 1, -1);
      break;
    }
    case ServerStep::Kind::kTrickle:
      for (char c : step.raw) {
        if (!conn.write(&c, 1)) break;
        pollfd p = {stop_pipe_[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(step.delay.count())) > 0) break;
      }
      break;
    case ServerStep::Kind::kClose:
      break;
  }
}

}  // namespace oomsentinel::testing
