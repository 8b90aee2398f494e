// alerts/: telling the world: Prometheus exposition and Alertmanager push.
// MetricsServer: the daemon's small HTTP server (/metrics, /healthz, /readyz), on a thread of its
// own. Anyone who can reach the port is a stranger, and the kubelet restarts the daemon when
// /healthz goes unanswered, so no client, however idle, slow or numerous, may keep a probe out:
// - A connection must deliver a complete request (at most 8 KiB) within 2 s of its accept
//   (slowloris), and take its answer within 10 s.
// - Connections still waiting for their request are "pending": at most 8 per source address and
//   64 in all. One more evicts the oldest pending one (of that address, else of all), never the
//   newcomer: an idle socket is the cheapest thing to give up, and a probe, which sends its
//   request at once, is answered before it could grow old.
// - Answers other than the probes' (/metrics: large, and a slow reader holds it) are written to
//   at most 16 connections at once; more get a 503 at once. A probe's answer is a few hundred
//   bytes the kernel takes in one write, so it never waits for a slot.
// - 128 open connections at most (the file descriptors): beyond, one pending is evicted, or the
//   newcomer is closed when none is.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
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

  // The bounds above; tests shrink some to reach them with little data.
  struct Limits {
    std::chrono::milliseconds header_deadline{2000};  // accept to a complete request
    std::chrono::milliseconds write_deadline{10000};  // the answer taken by the client
    int max_per_peer = 8;                             // pending + answering, per source address
    int max_pending = 64;                             // waiting for their request, in all
    int max_large_answers = 16;                       // non-probe answers being written
    int max_open = 128;                               // every connection
  };
  // The answers that bypass max_large_answers: the kubelet's probes.
  static bool isProbePath(const std::string& path) {
    return path == "/healthz" || path == "/readyz";
  }

  // What the server did with its connections, counted since start (readable from any thread).
  struct Stats {
    std::uint64_t accepted = 0;
    std::uint64_t requests = 0;   // complete requests answered
    std::uint64_t refused = 0;    // closed at accept: over max_per_peer or max_open, none to evict
    std::uint64_t evicted = 0;    // pending, closed to make room for a newer connection
    std::uint64_t timed_out = 0;  // no complete request within header_deadline, or answer not
                                  // taken within write_deadline
    std::uint64_t busy = 0;       // answered 503: max_large_answers reached
    int open = 0;                 // connections open now
    int pending = 0;              // of which waiting for their request
  };

  // `listen`: "HOST:PORT" or "[V6]:PORT"; no HOST (":PORT") is loopback, 127.0.0.1; port 0 picks
  // a free one (tests).
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, Handler handler,
                                                      Limits limits);
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, Handler handler) {
    return start(listen, std::move(handler), Limits());
  }
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  std::uint64_t requests() const { return stats().requests; }
  Stats stats() const;

  struct State;  // shared with the connections (they may outlive the server's members)

 private:
  MetricsServer();
  void accept();

  // The io_context and the listening socket, defined in the .cc so that this header, which the
  // daemon and its health checks include, stays free of Asio's headers.
  struct Loop;
  std::unique_ptr<Loop> loop_;
  std::shared_ptr<State> state_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace oomsentinel
