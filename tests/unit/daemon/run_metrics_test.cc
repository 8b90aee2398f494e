// `oomsentinel run` with alerts.metrics.listen: /metrics, /healthz and /readyz served while it
// ticks, the listener moved by a reload, and a port that cannot be had refused at start.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "core/http_client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::freeLoopbackPort;
using ::testing::HasSubstr;
using testing::slurp;
using testing::TempDir;
using namespace std::chrono_literals;

Result<HttpResponse> get(int port, const std::string& path) {
  boost::asio::io_context io;
  HttpRequest req;
  req.url = *Url::parse("http://127.0.0.1:" + std::to_string(port) + path);
  std::optional<Result<HttpResponse>> got;
  startHttpRequest(io, req, [&](Result<HttpResponse> r) { got.emplace(std::move(r)); });
  io.run();
  return std::move(*got);
}

// The value of the first sample line that starts with `series` (0 when there is none).
double sampleValue(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
  }
  return 0;
}

bool metricsEventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

// `oomsentinel --cgroup-root DIR/cg run --config DIR/c.yaml`, stderr to `log`; `in_child` runs
// in the child before the exec (a limit, an environment variable).
testing::DaemonOptions metricsDaemonOptions(const TempDir& dir, const std::string& log,
                                            std::function<void()> in_child = {}) {
  testing::DaemonOptions o(testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log);
  o.in_child = std::move(in_child);
  return o;
}

TEST(RunMetrics, ServesMetricsHealthAndReadinessAndFollowsAReload) {
  TempDir dir;
  testing::writeAppCgroup(dir, 94371840);
  int port = freeLoopbackPort();
  auto config = [&](int p, bool ghost) {
    dir.write("c.yaml.new", "alerts: {metrics: {listen: '127.0.0.1:" + std::to_string(p) +
                                "'}}\ntargets:\n  - name: app\n    cgroup: /app\n" +
                                (ghost ? "  - name: ghost\n    cgroup: /nope\n" : "") +
                                "rules:\n  - name: high\n    expr: working_set_ratio > 50%\n");
    std::rename((dir.path() + "/c.yaml.new").c_str(), (dir.path() + "/c.yaml").c_str());
  };
  config(port, true);
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(metricsDaemonOptions(dir, log));
  ASSERT_TRUE(daemon.waitForLog("serving /metrics")) << slurp(log);
  ASSERT_TRUE(metricsEventually([&] {
    auto r = get(port, "/metrics");
    return r.ok() && r->body.find("oomsentinel_rule_firing{rule=\"high\"") != std::string::npos;
  }));
  auto metrics = get(port, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200u);
  EXPECT_THAT(metrics->content_type, HasSubstr("version=0.0.4"));
  EXPECT_THAT(metrics->body, HasSubstr("oomsentinel_memory_usage_bytes{target=\"app\"} 94371840"));
  EXPECT_THAT(metrics->body, HasSubstr("oomsentinel_targets{state=\"unresolved\"} 1"));
  // Every tick's lateness is observed as it starts, before the tick itself is: the count is the
  // ticks', or one more when the scrape fell between the two.
  double late = sampleValue(metrics->body, "oomsentinel_tick_lateness_seconds_count");
  double ticks = sampleValue(metrics->body, "oomsentinel_poll_duration_seconds_count");
  EXPECT_GT(ticks, 0);
  EXPECT_GE(late, ticks);
  EXPECT_LE(late, ticks + 1);
  auto health = get(port, "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200u) << health->body;
  auto ready = get(port, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503u);
  EXPECT_EQ(ready->body, "targets not resolved: ghost\n");

  // A reload that drops the unresolved target and moves the listener.
  int port2 = freeLoopbackPort();
  config(port2, false);
  daemon.signal(SIGHUP);
  ASSERT_TRUE(metricsEventually([&] {
    auto r = get(port2, "/readyz");
    return r.ok() && r->status == 200;
  })) << slurp(log);
  EXPECT_FALSE(get(port, "/metrics").ok()) << "the old listener is closed";
  auto after = get(port2, "/metrics");
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(after->body, HasSubstr("oomsentinel_config_reloads_total{result=\"ok\"} 1"));
  EXPECT_THAT(after->body, ::testing::Not(HasSubstr("target=\"ghost\"")));

  int status = daemon.stop();
  EXPECT_TRUE(testing::exitedWith(status, 0)) << status;

  // A port already taken at start: exit 2, saying so.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  config(ntohs(addr.sin_port), false);
  auto taken =
      testing::runCommand({testing::binaryPath(), "--cgroup-root", dir.path() + "/cg", "run",
                           "--config", dir.path() + "/c.yaml", "--state-file", "none"},
                          20);
  ::close(fd);
  EXPECT_EQ(taken.exit_code, 2);
  EXPECT_THAT(taken.err, HasSubstr("cannot serve /metrics"));
  EXPECT_THAT(taken.err, HasSubstr("Address already in use"));
}

TEST(RunMetrics, TheOpenFileLimitIsRaisedToTheHardLimitForManyTargets) {
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "1000\n");
  int port = freeLoopbackPort();
  dir.write("c.yaml", "alerts: {metrics: {listen: '127.0.0.1:" + std::to_string(port) +
                          "'}}\ntargets:\n  - name: app\n    cgroup: /app\n");
  rlimit hard{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &hard), 0);
  if (hard.rlim_max <= 256)
    GTEST_SKIP() << "the hard open-file limit here is only " << hard.rlim_max;
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(metricsDaemonOptions(dir, log, [max = hard.rlim_max] {
    rlimit low{256, max};
    ::setrlimit(RLIMIT_NOFILE, &low);
  }));
  EXPECT_TRUE(metricsEventually([&] { return get(port, "/metrics").ok(); })) << slurp(log);
  std::string limits = slurp("/proc/" + std::to_string(daemon.pid()) + "/limits");
  daemon.stop();
  std::string line = limits.substr(limits.find("Max open files"));
  line = line.substr(0, line.find('\n'));
  std::istringstream in(line.substr(std::string("Max open files").size()));
  std::string soft;
  in >> soft;
  EXPECT_EQ(soft, hard.rlim_max == RLIM_INFINITY ? "unlimited" : std::to_string(hard.rlim_max))
      << line;
  EXPECT_THAT(slurp(log), HasSubstr("raised the open-file limit from=256"));
}

TEST(RunMetrics, TcmallocFiguresAreExportedWhenTheDaemonRunsWithTcmalloc) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Both replace malloc with their own allocator; the daemon dies at start (SIGSEGV under TSan).
  GTEST_SKIP() << "this build uses AddressSanitizer or ThreadSanitizer, which cannot run under a "
                  "preloaded tcmalloc";
#endif
  const char* tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";
  if (::access(tcmalloc, R_OK) != 0)
    GTEST_SKIP() << tcmalloc << " is missing: install Debian package libgoogle-perftools-dev";
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "1000\n");
  dir.write("cg/app/memory.stat", "anon 1000\n");
  int port = freeLoopbackPort();
  dir.write("c.yaml", "alerts: {metrics: {listen: '127.0.0.1:" + std::to_string(port) +
                          "'}}\ntargets:\n  - name: app\n    cgroup: /app\n");
  std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(
      metricsDaemonOptions(dir, log, [tcmalloc] { ::setenv("LD_PRELOAD", tcmalloc, 1); }));
  std::string body;
  EXPECT_TRUE(metricsEventually([&] {
    auto r = get(port, "/metrics");
    if (r.ok()) body = r->body;
    return r.ok();
  })) << slurp(log);
  daemon.stop();
  std::size_t at = body.find("oomsentinel_process_tcmalloc_bytes{kind=\"allocated\"} ");
  ASSERT_NE(at, std::string::npos) << body;
  double allocated = std::strtod(body.c_str() + at + 53, nullptr);
  EXPECT_GT(allocated, 100e3) << "the daemon's own heap, as tcmalloc counts it";
  EXPECT_THAT(body, HasSubstr("oomsentinel_process_tcmalloc_bytes{kind=\"heap\"} "));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("oomsentinel_process_malloc_bytes{")))
      << "glibc's arenas hold next to nothing when tcmalloc is the allocator";
}

// Two malloc arenas unless the environment says otherwise (daemon/daemon.cc: limitMallocArenas;
// the RSS it saves is measured in bench/README.md, not here).
TEST(RunMetrics, MallocArenasAreLimitedUnlessTheEnvironmentSetsThem) {
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  dir.write("cg/app/memory.current", "1000\n");
  dir.write("c.yaml", "targets:\n  - name: app\n    cgroup: /app\n");
  for (const char* env : {"", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES"}) {
    std::string log = dir.path() + "/log-" + (*env ? env : "none");
    testing::DaemonProcess daemon(metricsDaemonOptions(dir, log, [env] {
      ::unsetenv("MALLOC_ARENA_MAX");
      ::unsetenv("GLIBC_TUNABLES");
      if (std::string(env) == "MALLOC_ARENA_MAX") ::setenv(env, "4", 1);
      if (std::string(env) == "GLIBC_TUNABLES") ::setenv(env, "glibc.malloc.arena_max=4", 1);
    }));
    ASSERT_TRUE(daemon.waitForLog("watching target")) << slurp(log);
    daemon.stop();
    if (*env)
      EXPECT_THAT(slurp(log), HasSubstr("malloc arenas: as the environment sets them")) << env;
    else
#if defined(__SANITIZE_ADDRESS__)
      // ASan's allocator answers mallopt with a failure: said, not hidden. (ThreadSanitizer lets
      // glibc's answer it, which agrees, though its own allocator has no arenas to limit.)
      EXPECT_THAT(slurp(log), HasSubstr("cannot limit malloc's arenas"));
#else
      EXPECT_THAT(slurp(log), HasSubstr("malloc arenas limited arenas=2"));
#endif
  }
}

}  // namespace
}  // namespace oomsentinel
