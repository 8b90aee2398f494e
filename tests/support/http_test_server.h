// tests/: helpers shared by the test binaries.
// A scripted HTTP server on a loopback port, written on plain sockets so that it shares no code
// with the client under test: each connection gets the next behaviour in the script (or the
// last one, repeated). Optionally https, through OpenSSL's own SSL_* API (the client uses Asio's).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace oomsentinel::testing {

struct ServerStep {
  enum class Kind {
    kReply,    // read the request, send `raw`, close
    kHang,     // read the request, then say nothing until the server stops
    kTrickle,  // read the request, send `raw` one byte per `delay`, then close
    kClose,    // read the request, close without a word
  };
  Kind kind = Kind::kReply;
  std::string raw;
  std::chrono::milliseconds delay{0};
  // TLS only: close the TCP connection without TLS's close_notify, as a truncating attacker would.
  bool abrupt_close = false;

  // "HTTP/1.1 <status>" with Content-Length and the body.
  static ServerStep reply(int status, const std::string& body,
                          const std::string& content_type = "text/plain");
};

// The server's side of TLS (PEM files). TLS 1.2 and 1.3.
struct ServerTls {
  std::string cert_file;
  std::string key_file;
  // Set: a client certificate signed by one of these CAs is required (mutual TLS).
  std::string client_ca_file;
};

class HttpTestServer {
 public:
  explicit HttpTestServer(std::vector<ServerStep> script,
                          std::optional<ServerTls> tls = std::nullopt);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port><path>, or https://... when the server speaks TLS.
  std::string url(const std::string& path = "/") const;
  // The raw requests received so far (headers and whatever body came with them).
  std::vector<std::string> requests() const;
  int connections() const { return connections_.load(); }
  void setScript(std::vector<ServerStep> script);
  // TLS: the SNI name of each completed handshake ("" when the client sent none), and OpenSSL's
  // reason for each failed one.
  std::vector<std::string> serverNames() const;
  std::vector<std::string> handshakeErrors() const;

 private:
  class Connection;
  void serve();
  void handle(int fd, const ServerStep& step);
  void exchange(Connection& conn, const ServerStep& step);

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<ServerStep> script_;
  std::vector<std::string> requests_;
  std::vector<std::string> server_names_;
  std::vector<std::string> handshake_errors_;
  ssl_ctx_st* ssl_ctx_ = nullptr;  // OpenSSL's SSL_CTX; null for plain http
  std::vector<std::thread> handlers_;
  std::thread thread_;
};

}  // namespace oomsentinel::testing
