// alerts/: telling the world: Prometheus exposition and Alertmanager push.
// MetricsServer: the daemon's small HTTP server (/metrics, /healthz, /readyz), on a thread of its
// own; bounded: a request is read within 5 s and at most 8 KiB of it, 32 connections at once.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/result.h"

namespace oomsentinel {

struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class MetricsServer {
 public:
  // Called on the server's thread for every GET; the path without its query.
  using Handler = std::function<HttpAnswer(const std::string& path)>;

  // `listen`: "HOST:PORT" or "[V6]:PORT"; port 0 picks a free one (tests).
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, Handler handler);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  std::uint64_t requests() const { return requests_.load(); }

 private:
  MetricsServer() = default;
  void accept();

  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  Handler handler_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> open_{0};
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace oomsentinel
