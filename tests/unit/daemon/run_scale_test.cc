// The fault matrix's load rows (docs/reliability.md, issue 19) against the real daemon on a
// cgroup v2 tree of plain files: 200 targets crossing a dump rule at once (row 11), and /metrics
// scraped in a tight loop by 20 clients (row 12). Each injects its load for real and checks what
// must hold under it: storm control and the dump directory's caps, the tick interval, /healthz.
// The figures measured are printed, for the table.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_figures.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::eventually;
using testing::freeLoopbackPort;
using testing::Histogram;
using testing::histogramOf;
using testing::sampleValue;
using testing::TempDir;
using namespace std::chrono_literals;

// The p99 of how late a tick starts must stay under half of the 100 ms interval: a tick later than
// that is closer to the next one than to its own due time. The histogram's buckets are 25 ms and
// 50 ms there, so the check is "the 99th percentile is in a bucket at or under 50 ms". On an idle
// machine it is in the 0.5 ms bucket; 50 ms leaves room for a CI machine whose two cores are
// shared with the compilers and the load the test makes itself.
constexpr double kLatenessP99Bound = 0.05;
// Under the sanitizers (a Debug build, several times slower) the timing is printed, not checked:
// the bound is the release build's; storm control, the caps and /healthz are checked in both.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kTimed = false;
#else
constexpr bool kTimed = true;
#endif

// Writes dir/relative over itself in one pwrite, without truncating: the daemon holds the control
// files open (as it does a kernel's), so a rename would not reach it, and the values written are
// of one length (10 and 90 MiB), so it never reads half a file.
void put(const TempDir& dir, const std::string& relative, const std::string& content) {
  int fd = ::open((dir.path() + "/" + relative).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << relative;
  EXPECT_EQ(::pwrite(fd, content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));
  ::close(fd);
}

// cg/<name>: a cgroup at `mib` of its 100 MiB memory.max, no process listed.
void writeCgroup(const TempDir& dir, const std::string& name, int mib, bool whole = true) {
  const std::string c = "cg/" + name + "/", bytes = std::to_string(mib << 20) + "\n";
  if (whole) {
    dir.write(c + "memory.max", "104857600\n");
    dir.write(c + "cgroup.procs", "");
  }
  put(dir, c + "memory.current", bytes);
  put(dir, c + "memory.stat", "anon " + bytes + "inactive_file 0\n");
}

std::string appName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "app%03d", i);
  return name;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The directories under `dir` whose name starts with `prefix` (hidden ones only when it does).
std::vector<std::string> entries(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (prefix.empty() ? n[0] != '.' : n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    ::closedir(d);
  }
  return out;
}

std::uintmax_t bytesUnder(const std::string& dir) {
  std::uintmax_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  return total;
}

// Row 11: 200 discovered targets cross a rule whose actions dump, all in the same tick, four times
// over (each wave after the last one's dumps ended). Storm control holds: at most 2 dumps at once
// (the exec hook sleeps a second, so running dumps are seen as `.partial-` directories), no more
// bundles begun than dump.per_minute (5) in the test's minute, every other firing refused with its
// reason in the log (busy, storm limit, cooldown), and the count of refusals is the firings less
// the bundles. The dump directory keeps to max_incidents and max_bytes, each bundle to
// max_bundle_bytes, and the ticks stay on time while it happens.
TEST(RunStorm, TwoHundredTargetsFiringAtOnceKeepStormLimitsDiskCapsAndTicks) {
  constexpr int kTargets = 200, kWaves = 4, kPerMinute = 5;
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  for (int i = 0; i < kTargets; ++i) writeCgroup(dir, appName(i), 10);
  const std::string dumps = dir.path() + "/incidents";
  int port = freeLoopbackPort();
  // Each bundle: the proc snapshot and a 300 kB file the hook writes, then a second's sleep.
  // Retention by bytes binds (3 x 300 kB is over 700 KiB), before max_incidents.
  dir.write("c.yaml",
            "poll: {interval: 100ms, fast_interval: 100ms}\n"
            "discovery: {interval: 100ms}\n"
            "dump: {dir: '" +
                dumps +
                "', min_free: 1MiB, max_incidents: 3, max_bytes: 700KiB, max_bundle_bytes: 1MiB,"
                " per_minute: " +
                std::to_string(kPerMinute) +
                ", target_cooldown: 5m, timeout: 10s}\n"
                "alerts: {metrics: {listen: '127.0.0.1:" +
                std::to_string(port) +
                "'}}\n"
                "targets:\n"
                "  - name: apps\n"
                "    cgroup_glob: 'app*'\n"
                "    dumpers: [proc, exec]\n"
                "    exec: {argv: [/bin/sh, -c, 'head -c 300000 /dev/zero > blob; sleep 1'],"
                " timeout: 5s}\n"
                "rules:\n"
                "  - {name: high, expr: working_set_ratio > 50%, actions: [log, dump]}\n");
  const std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(
      {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log});
  auto metrics = [&] { return testing::httpGetLocal(port, "/metrics"); };
  // How many targets the rule fires on (the gauge's lines at 1).
  auto firing = [&](const std::string& m) {
    std::size_t n = 0;
    for (std::size_t at = m.find("\noomsentinel_rule_firing{"); at != std::string::npos;
         at = m.find("\noomsentinel_rule_firing{", at + 1))
      if (m.compare(m.find('\n', at + 1) - 3, 3, "} 1") == 0) ++n;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return testing::targetLabels(metrics()).size() == kTargets; }, 1500))
      << testing::slurp(log);

  // What is running, seen from outside: the bundles being built.
  std::atomic<bool> watching{true};
  std::atomic<std::size_t> most_at_once{0};
  std::thread watcher([&] {
    while (watching) {
      std::size_t n = entries(dumps, ".partial-").size();
      if (n > most_at_once) most_at_once = n;
      std::this_thread::sleep_for(2ms);
    }
  });

  const std::string before = metrics();
  const auto started = std::chrono::steady_clock::now();
  for (int wave = 1; wave <= kWaves; ++wave) {
    for (int i = 0; i < kTargets; ++i) writeCgroup(dir, appName(i), 90, false);
    EXPECT_TRUE(eventually([&] { return firing(metrics()) == kTargets; }, 500))
        << "wave " << wave << ": not every target fired\n"
        << testing::slurp(log);
    // The wave's dumps have ended when every started one has a report.
    EXPECT_TRUE(eventually(
        [&] {
          std::string l = testing::slurp(log);
          return count(l, "dump started rule=") ==
                 count(l, "incident bundle published rule=") + count(l, "no incident bundle rule=");
        },
        500))
        << testing::slurp(log);
    for (int i = 0; i < kTargets; ++i) writeCgroup(dir, appName(i), 10, false);
    EXPECT_TRUE(eventually([&] { return firing(metrics()) == 0; }, 500)) << "wave " << wave;
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string after = metrics();
  watching = false;
  watcher.join();
  ASSERT_LT(took, 60) << "the storm must fit in one minute for the per-minute check";

  const std::string l = testing::slurp(log);
  const std::size_t begun = count(l, "dump started rule=");
  const std::size_t refused = count(l, "dump not started rule=");
  const std::size_t busy = count(l, "why=\"busy: ");
  const std::size_t storm = count(l, "why=\"storm limit: ");
  const std::size_t cooldown = count(l, "why=\"cooldown: ");
  const std::size_t published = count(l, "incident bundle published rule=");
  EXPECT_EQ(begun, std::size_t{kPerMinute}) << "bundles begun in the minute";
  EXPECT_EQ(published, begun) << l.substr(0, 20000);
  EXPECT_EQ(begun + refused, std::size_t{kTargets * kWaves}) << "every firing dumps or says why";
  EXPECT_EQ(busy + storm + cooldown, refused);
  EXPECT_GT(busy, 0u) << "max_running refused some";
  EXPECT_GT(storm, 0u) << "per_minute refused some";
  EXPECT_GT(cooldown, 0u) << "target_cooldown refused some";
  EXPECT_EQ(most_at_once.load(), 2u) << "at most max_running (2) dumps at once, and it was reached";
  // The same refusals counted by reason in /metrics (the log says why in a sentence; the counter
  // is what an alert watches).
  auto refusedBy = [&](const char* reason) {
    std::string series = std::string("oomsentinel_dumps_refused_total{reason=\"") + reason + "\"}";
    return testing::sampleValue(after, series).value_or(-1) -
           testing::sampleValue(before, series).value_or(-1);
  };
  EXPECT_EQ(refusedBy("busy") + refusedBy("stuck"), static_cast<double>(busy));
  EXPECT_EQ(refusedBy("storm_limit"), static_cast<double>(storm));
  EXPECT_EQ(refusedBy("cooldown"), static_cast<double>(cooldown));
  EXPECT_EQ(refusedBy("degraded"), 0);

  // The dump directory: retention left at most what the caps allow, each bundle within its own.
  auto bundles = entries(dumps, "");
  EXPECT_GE(bundles.size(), 1u);
  EXPECT_LE(bundles.size(), 3u) << "max_incidents";
  EXPECT_LE(bytesUnder(dumps), 700u * 1024) << "max_bytes";
  for (const auto& b : bundles) {
    EXPECT_LE(bytesUnder(dumps + "/" + b), 1024u * 1024) << b;
    EXPECT_TRUE(std::filesystem::exists(dumps + "/" + b + "/manifest.json")) << b;
  }
  EXPECT_TRUE(entries(dumps, ".partial-").empty());

  Histogram late = histogramOf(after, "oomsentinel_tick_lateness_seconds")
                       .since(histogramOf(before, "oomsentinel_tick_lateness_seconds"));
  Histogram poll = histogramOf(after, "oomsentinel_poll_duration_seconds")
                       .since(histogramOf(before, "oomsentinel_poll_duration_seconds"));
  std::printf(
      "[ figures  ] %d targets, %d waves in %.1f s: %zu bundles begun, %zu refused (busy %zu, "
      "storm "
      "limit %zu, cooldown %zu), at most %zu at once, %zu bundles kept (%ju bytes); %.0f ticks, "
      "poll duration mean %.2f ms p99 <= %g s; lateness mean %.2f ms p99 <= %g s\n",
      kTargets, kWaves, took, begun, refused, busy, storm, cooldown, most_at_once.load(),
      bundles.size(), bytesUnder(dumps), poll.count, 1000 * poll.sum / poll.count,
      poll.quantileBound(0.99), 1000 * late.sum / late.count, late.quantileBound(0.99));
  EXPECT_GT(late.count, 0) << "ticks went on during the storm";
  if (kTimed) {
    EXPECT_GE(late.count, took / 0.1 / 2) << "at least every other 100 ms tick";
    EXPECT_LE(late.quantileBound(0.99), kLatenessP99Bound);
  }
  EXPECT_TRUE(daemon.running());
  EXPECT_TRUE(testing::exitedWith(daemon.stop(15s), 0)) << daemon.log();
}

// GET path on 127.0.0.1:port, the whole answer read: its status (0 when there was none).
int getStatus(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string head;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[16384];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
        if (head.size() < 16) head.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return head.rfind("HTTP/1.", 0) == 0 && head.size() >= 12 ? std::atoi(head.c_str() + 9) : 0;
}

// Row 12: 20 clients, each asking /metrics then /healthz in a tight loop for 15 s, against the
// daemon ticking 50 targets every 100 ms. The tick interval holds: the ticks counted over the
// window are the window over the interval, within 2, and their lateness p99 stays under the bound;
// /healthz answers 200 every time (a /metrics answer may be a 503 "busy": 16 are written at most at
// once, by design). The daemon's CPU over the window is printed.
TEST(RunScrapeLoad, TwentyClientsScrapingInATightLoopLeaveTheTicksAndHealthzAlone) {
  constexpr int kTargets = 50, kClients = 20;
  constexpr auto kWindow = 15s;
  constexpr double kInterval = 0.1;
  TempDir dir;
  dir.write("cg/cgroup.controllers", "memory\n");
  for (int i = 0; i < kTargets; ++i) writeCgroup(dir, appName(i), 10);
  int port = freeLoopbackPort();
  dir.write("c.yaml",
            "poll: {interval: 100ms, fast_interval: 100ms}\n"
            "alerts: {metrics: {listen: '127.0.0.1:" +
                std::to_string(port) +
                "'}}\n"
                "targets:\n  - {name: apps, cgroup_glob: 'app*'}\n"
                "rules:\n  - {name: high, expr: working_set_ratio > 50%}\n");
  const std::string log = dir.path() + "/log";
  testing::DaemonProcess daemon(
      {testing::runArgs(dir.path() + "/cg", dir.path() + "/c.yaml"), log});
  std::string before;
  ASSERT_TRUE(eventually([&] {
    before = testing::httpGetLocal(port, "/metrics");
    return testing::targetLabels(before).size() == kTargets;
  })) << testing::slurp(log);

  // The window runs from one quiet scrape to the next; its ticks are read from the two.
  auto scrape = [&](std::string* body) {
    *body = testing::httpGetLocal(port, "/metrics");
    return std::chrono::steady_clock::now();
  };
  const double cpu_before = testing::cpuSeconds(daemon.pid());
  const auto from = scrape(&before);
  std::atomic<bool> go{true};
  std::atomic<long> metrics_ok{0}, metrics_busy{0}, metrics_other{0}, health_ok{0}, health_bad{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&] {
      while (go) {
        int m = getStatus(port, "/metrics");
        (m == 200 ? metrics_ok : m == 503 ? metrics_busy : metrics_other)++;
        (getStatus(port, "/healthz") == 200 ? health_ok : health_bad)++;
      }
    });
  std::this_thread::sleep_for(kWindow);
  go = false;
  for (auto& t : clients) t.join();
  std::string after;
  const auto to = scrape(&after);
  const double cpu = testing::cpuSeconds(daemon.pid()) - cpu_before;
  const double window = std::chrono::duration<double>(to - from).count();

  Histogram late = histogramOf(after, "oomsentinel_tick_lateness_seconds")
                       .since(histogramOf(before, "oomsentinel_tick_lateness_seconds"));
  Histogram poll = histogramOf(after, "oomsentinel_poll_duration_seconds")
                       .since(histogramOf(before, "oomsentinel_poll_duration_seconds"));
  std::printf(
      "[ figures  ] %d clients for %.1f s: /metrics %ld answered, %ld busy (503), %ld failed; "
      "/healthz %ld 200, %ld not; %.0f ticks (%.1f expected); lateness mean %.2f ms p99 <= %g s; "
      "poll duration (%d targets) mean %.2f ms p99 <= %g s; daemon CPU %.2f s (%.0f%% of a core)\n",
      kClients, window, metrics_ok.load(), metrics_busy.load(), metrics_other.load(),
      health_ok.load(), health_bad.load(), poll.count, window / kInterval,
      1000 * late.sum / late.count, late.quantileBound(0.99), kTargets,
      1000 * poll.sum / poll.count, poll.quantileBound(0.99), cpu, 100 * cpu / window);
  EXPECT_GT(metrics_ok.load(), 100) << "the clients were answered: the load was real";
  // 20 clients share one address, over the listener's max_per_peer (8): a connection it closes to
  // defend itself (refused at accept, an idle one evicted) is a failure the client sees, rare
  // (1 in 28,000 here) but by design; each must be one the daemon counted, none silent.
  auto closedBy = [](const std::string& body) {
    double n = 0;
    for (const char* why : {"refused", "evicted", "timed_out"}) {
      std::string key =
          std::string("oomsentinel_http_connections_closed_total{reason=\"") + why + "\"} ";
      if (auto at = body.find(key); at != std::string::npos)
        n += std::strtod(body.c_str() + at + key.size(), nullptr);
    }
    return n;
  };
  EXPECT_LE(static_cast<double>(metrics_other.load()), closedBy(after) - closedBy(before))
      << "a failed /metrics the daemon did not count as a connection it closed";
  EXPECT_LE(metrics_other.load(), metrics_ok.load() / 1000) << "a rare defence, not the rule";
  EXPECT_GT(health_ok.load(), 100);
  EXPECT_EQ(health_bad.load(), 0) << "/healthz answers 200 under the load";
  if (kTimed) {
    EXPECT_NEAR(poll.count, window / kInterval, 2) << "the tick interval holds";
    EXPECT_LE(late.quantileBound(0.99), kLatenessP99Bound);
  }
  EXPECT_TRUE(testing::exitedWith(daemon.stop(), 0)) << daemon.log();
}

}  // namespace
}  // namespace oomsentinel
