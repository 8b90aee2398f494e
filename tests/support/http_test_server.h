// tests/: helpers shared by the test binaries.
// A scripted HTTP server on a loopback port, written on plain sockets so that it shares no code
// with the client under test: each connection gets the next behaviour in the script (or the
// last one, repeated).
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

  // "HTTP/1.1 <status>" with Content-Length and the body.
  static ServerStep reply(int status, const std::string& body,
                          const std::string& content_type = "text/plain");
};

class HttpTestServer {
 public:
  explicit HttpTestServer(std::vector<ServerStep> script);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const;
  // The raw requests received so far (headers and whatever body came with them).
  std::vector<std::string> requests() const;
  int connections() const { return connections_.load(); }
  void setScript(std::vector<ServerStep> script);

 private:
  void serve();
  void handle(int fd, const ServerStep& step);

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<ServerStep> script_;
  std::vector<std::string> requests_;
  std::vector<std::thread> handlers_;
  std::thread thread_;
};

}  // namespace oomsentinel::testing
