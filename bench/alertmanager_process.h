// bench/: benchmarks and their recorded results.
// Debian's Alertmanager on a free loopback port with its files in a temporary directory, for the
// benchmarks that push alerts to a real one (bench_alerts, bench_oom_race); and the small
// plain-HTTP and port helpers they share. SIGINT/SIGTERM/SIGHUP kill it and remove its files.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/http_client.h"
#include "core/result.h"

namespace oomsentinel::bench {

// One GET run to its end on `io` (2 s timeout).
Result<HttpResponse> httpGet(boost::asio::io_context& io, const Url& url,
                             std::size_t max_body = 4 << 20);
int freeLoopbackPort();
// The last `max` bytes of a file, for error messages.
std::string tail(const std::string& path, std::size_t max = 3000);

class Alertmanager {
 public:
  // Started and ready (GET /-/ready answers 200) within 10 s, or an error with its log. On
  // `port` when given (bench_soak restarts it where the daemon's config points), else a free one.
  static Result<std::unique_ptr<Alertmanager>> start(const std::string& binary, int port = 0);
  ~Alertmanager();
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;

  const std::string& url() const { return url_; }
  std::string log() const { return tail(dir_ + "/am.log"); }
  int port() const { return port_; }

 private:
  Alertmanager() = default;
  std::string dir_, url_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace oomsentinel::bench
