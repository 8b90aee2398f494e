// The kernel wakes the watchdog (docs/design/wakeups.md): on a real cgroup v1 child, a
// rule fires within milliseconds of its level being crossed although poll.interval and
// poll.fast_interval are both 1 s; again after a reload adds a rule, and after the cgroup is
// removed and made again; and a storm of crossings does not turn into a storm of ticks.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collectors/kernel_events.h"
#include "core/http_client.h"
#include "tests/integration/real_cgroup.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;
using oomsentinel::testing::parseIsoTime;
using oomsentinel::testing::RealV1Cgroup;
using oomsentinel::testing::slurp;
using oomsentinel::testing::TempDir;

constexpr long long kMiB = 1 << 20;

double wallNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

long long usageOf(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? std::atoll(buf) : -1;
}

// A process in `cg` that allocates on command. Told a level in MiB through its pipe, it touches
// memory a MiB at a time until the cgroup's usage is above that level, notes the time, touches
// 2 MiB more (the kernel checks thresholds every 128 pages charged on a CPU, so a leak that
// stopped exactly at the crossing might not be noticed until it went on), and answers the time.
// Told a negative level, it allocates and frees 4 MiB around its current usage for that many
// tenths of a second (a storm of crossings). Killed by the test.
class Allocator {
 public:
  explicit Allocator(const std::string& cgroup_dir) {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      std::string self = std::to_string(::getpid());
      int procs = ::open((cgroup_dir + "/cgroup.procs").c_str(), O_WRONLY);
      if (procs < 0 || ::write(procs, self.data(), self.size()) < 0) _exit(3);
      ::close(procs);
      run(cgroup_dir, to_child[0], from_child[1]);
      _exit(0);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    to_ = to_child[1];
    from_ = from_child[0];
  }
  ~Allocator() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(to_);
    ::close(from_);
  }
  // The wall time the cgroup's usage was first seen above `mib`; 0 when the child is gone.
  double cross(int mib) {
    if (::write(to_, &mib, sizeof mib) != sizeof mib) return 0;
    double at = 0;
    return ::read(from_, &at, sizeof at) == sizeof at ? at : 0;
  }
  // Like cross(), but the last 3 MiB before the level in bursts of 256 KiB (64 pages) every 30
  // ms, as a runtime that grows its heap in steps does: the kernel checks thresholds only every
  // 128 pages charged on a CPU, so the burst that crosses the level is checked, or not, by
  // chance, and when not the level's own notification comes a burst (30 ms) late.
  double crossInBursts(int mib) {
    int v = kBursts + mib;
    if (::write(to_, &v, sizeof v) != sizeof v) return 0;
    double at = 0;
    return ::read(from_, &at, sizeof at) == sizeof at ? at : 0;
  }
  void storm(int tenths) {
    int v = -tenths;
    if (::write(to_, &v, sizeof v) != sizeof v) return;
    double done = 0;
    [[maybe_unused]] ssize_t n = ::read(from_, &done, sizeof done);
  }

 private:
  static void run(const std::string& dir, int in, int out) {
    const std::size_t size = 400 * kMiB;
    auto* mem = static_cast<char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED) _exit(4);
    int usage = ::open((dir + "/memory.usage_in_bytes").c_str(), O_RDONLY);
    std::size_t touched = 0;
    auto touch = [&](std::size_t bytes) {
      for (std::size_t end = std::min(size, touched + bytes); touched < end; touched += 4096)
        mem[touched] = 1;
    };
    int cmd = 0;
    while (::read(in, &cmd, sizeof cmd) == sizeof cmd) {
      double at = 0;
      if (cmd >= kBursts) {
        long long level = (cmd - kBursts) * kMiB;
        while (usageOf(usage) <= level - 3 * kMiB && touched < size) touch(kMiB);
        timespec pause{0, 30'000'000};
        ::clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
        while (usageOf(usage) <= level && touched < size) {
          touch(256 << 10);
          if (usageOf(usage) > level) break;
          ::clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
        }
        at = wallNow();
        for (int i = 0; i < 4; ++i) {
          ::clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
          touch(256 << 10);
        }
      } else if (cmd >= 0) {
        while (usageOf(usage) <= cmd * kMiB && touched < size) touch(kMiB);
        at = wallNow();
        touch(2 * kMiB);
      } else {
        double until = wallNow() + -cmd / 10.0;
        while (wallNow() < until) {
          touched -= 4 * kMiB;
          ::madvise(mem + touched, 4 * kMiB, MADV_DONTNEED);
          touch(4 * kMiB);
        }
        at = wallNow();
      }
      if (::write(out, &at, sizeof at) != sizeof at) _exit(5);
    }
  }

  static constexpr int kBursts = 1 << 20;  // a command at or above: crossInBursts
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

std::string metricsOf(int port) { return oomsentinel::testing::httpGetLocal(port, "/metrics"); }

// The value of the first series whose line starts with `prefix` (0 when absent).
double metric(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) sum += std::atof(line.substr(line.rfind(' ') + 1).c_str());
  return sum;
}

// The real daemon (tests/support/daemon_process.h) on dir/c.yaml, with a JSON log; stopped with
// SIGTERM when dropped.
class Daemon {
 public:
  Daemon(const TempDir& dir, const std::string& config) : dir_(dir), process_(start(dir, config)) {}
  ~Daemon() { process_.stop(); }
  void write(const std::string& config) {
    dir_.write("c.yaml.new", config);
    std::rename((dir_.path() + "/c.yaml.new").c_str(), (dir_.path() + "/c.yaml").c_str());
  }
  void reload() { process_.signal(SIGHUP); }
  // How many of the daemon's descriptors are eventfds.
  int eventfds() const {
    auto r = oomsentinel::testing::runCommand({"/bin/sh", "-c",
                                               "ls -l /proc/" + std::to_string(process_.pid()) +
                                                   "/fd | grep -c 'anon_inode:\\[eventfd\\]'"},
                                              10);
    return std::atoi(r.out.c_str());
  }
  std::string log() const { return process_.log(); }
  // When `rule` fired for the (n+1)th time, from the JSON log; 0 if it has not.
  double firedAt(const std::string& rule, int n = 0) const {
    std::istringstream in(log());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j.value("msg", "") != "rule transition" ||
          j.value("state", "") != "firing" || j.value("rule", "") != rule)
        continue;
      if (n-- == 0) return parseIsoTime(j["time"]);
    }
    return 0;
  }
  bool logged(const std::string& msg) const { return log().find(msg) != std::string::npos; }

 private:
  static oomsentinel::testing::DaemonOptions start(const TempDir& dir, const std::string& config) {
    dir.write("c.yaml", config);
    return {oomsentinel::testing::runArgs("", dir.path() + "/c.yaml", {"--log-format", "json"}),
            dir.path() + "/daemon.log"};
  }

  const TempDir& dir_;
  oomsentinel::testing::DaemonProcess process_;
};

bool eventually(const std::function<bool()>& f, int tenths = 100) {
  return oomsentinel::testing::eventually(f, tenths * 5);
}

std::string config(const std::string& relative, int port, const std::string& rules) {
  return "poll: {interval: 1s, fast_interval: 1s, full_read_interval: 1s}\n"
         "alerts: {metrics: {listen: '127.0.0.1:" +
         std::to_string(port) +
         "'}}\n"
         "targets:\n  - name: t\n    cgroup: " +
         relative + "\nrules:\n" + rules;
}

std::string rule(const std::string& name, int mib) {
  return "  - name: " + name + "\n    expr: usage_bytes > " + std::to_string(mib) +
         "MiB\n    actions: [log]\n";
}

// Well under the 1 s poll: only a wake-up can make it (log times are to the millisecond).
constexpr double kFast = 0.150;

TEST(WakeupsV1Real, ARuleFiresAtTheCrossingNotAtThePollAfterReloadAndRecreationToo) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  std::optional<RealV1Cgroup> cg;
  cg.emplace("oomsentinel-it-wake", 512 * kMiB);
  ASSERT_TRUE(cg->ok()) << cg->error();
  TempDir dir;
  int port = oomsentinel::testing::freeLoopbackPort();
  Daemon d(dir, config(cg->relative(), port,
                       rule("at100", 100) + rule("at150", 150) + rule("at200", 200)));
  std::optional<Allocator> a;
  a.emplace(cg->dir());
  // Armed after the first full read.
  ASSERT_TRUE(eventually([&] {
    return metric(metricsOf(port), "oomsentinel_targets{state=\"resolved\"}") == 1;
  })) << d.log();
  std::this_thread::sleep_for(1500ms);

  // Three crossings 1.2 s apart (the wake-ups are at most one per 1 s fast interval): their
  // phases against a 1 s poll are 0.2 s apart, so a poll alone could catch at most one of them
  // within kFast.
  std::map<std::string, double> crossed;
  for (auto [name, mib] : {std::pair{"at100", 100}, {"at150", 150}, {"at200", 200}}) {
    crossed[name] = a->cross(mib);
    ASSERT_GT(crossed[name], 0);
    std::this_thread::sleep_for(1200ms);
  }
  for (const auto& [name, at] : crossed) {
    ASSERT_TRUE(eventually([&] { return d.firedAt(name) > 0; }, 30)) << name << "\n" << d.log();
    double latency = d.firedAt(name) - at;
    std::cout << name << ": fired " << latency * 1000 << " ms after the crossing\n";
    EXPECT_LT(latency, kFast) << name;
    // The allocator notes the crossing after it has read the usage, a little after the kernel saw
    // it.
    EXPECT_GT(latency, -0.020) << name << " fired before the crossing?";
  }
  std::string m = metricsOf(port);
  EXPECT_GE(metric(m, "oomsentinel_kernel_wakeups_total{result=\"tick\",source=\"v1_threshold\"}"),
            3)
      << m;

  // A reload that adds a level: armed again without a restart.
  d.write(
      config(cg->relative(), port,
             rule("at100", 100) + rule("at150", 150) + rule("at200", 200) + rule("at250", 250)));
  d.reload();
  ASSERT_TRUE(eventually([&] { return d.logged("config reloaded"); })) << d.log();
  std::this_thread::sleep_for(1500ms);
  double at250 = a->cross(250);
  ASSERT_TRUE(eventually([&] { return d.firedAt("at250") > 0; }, 30)) << d.log();
  std::cout << "at250 after the reload: " << (d.firedAt("at250") - at250) * 1000 << " ms\n";
  EXPECT_LT(d.firedAt("at250") - at250, kFast);

  // The cgroup removed and made again under the same name: the old registrations went with it.
  a.reset();
  cg.reset();
  cg.emplace("oomsentinel-it-wake", 512 * kMiB);
  ASSERT_TRUE(cg->ok()) << cg->error();
  a.emplace(cg->dir());
  // The rules resolve on the empty cgroup, and the new one is watched (and armed) again.
  ASSERT_TRUE(eventually(
      [&] {
        std::string text = metricsOf(port);
        return text.find(
                   "oomsentinel_rule_firing{rule=\"at100\",severity=\"warning\",target=\"t\"} 0") !=
               std::string::npos;
      },
      150))
      << d.log();
  std::this_thread::sleep_for(2500ms);
  double again = a->cross(100);
  ASSERT_TRUE(eventually([&] { return d.firedAt("at100", 1) > 0; }, 30)) << d.log();
  std::cout << "at100 in the re-created cgroup: " << (d.firedAt("at100", 1) - again) * 1000
            << " ms\n";
  EXPECT_LT(d.firedAt("at100", 1) - again, kFast);
}

// The usage watch (docs/design/wakeups.md): a threshold a band below each level starts a
// watch that reads the usage every millisecond, so a crossing the kernel's own check would
// report a burst late is seen within milliseconds. Five crossings: each would be late by chance
// (about one in two) without the watch.
TEST(WakeupsV1Real, ACrossingInABurstTheKernelChecksLateIsSeenByTheUsageWatch) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  RealV1Cgroup cg("oomsentinel-it-burst", 512 * kMiB);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  int port = oomsentinel::testing::freeLoopbackPort();
  const int levels[] = {100, 140, 180, 220, 260};
  std::string rules;
  for (int mib : levels) rules += rule("at" + std::to_string(mib), mib);
  Daemon d(dir, config(cg.relative(), port, rules));
  Allocator a(cg.dir());
  ASSERT_TRUE(eventually([&] {
    return metric(metricsOf(port), "oomsentinel_targets{state=\"resolved\"}") == 1;
  })) << d.log();
  std::this_thread::sleep_for(1500ms);
  std::map<std::string, double> crossed;
  for (int mib : levels) {
    std::string name = "at" + std::to_string(mib);
    crossed[name] = a.crossInBursts(mib);
    ASSERT_GT(crossed[name], 0);
    std::this_thread::sleep_for(1200ms);  // past the 1 s fast interval: one extra tick each
  }
  for (const auto& [name, at] : crossed) {
    ASSERT_TRUE(eventually([&] { return d.firedAt(name) > 0; }, 30)) << name << "\n" << d.log();
    double latency = d.firedAt(name) - at;
    std::cout << name << ": fired " << latency * 1000 << " ms after the crossing\n";
    EXPECT_LT(latency, 0.015) << name;
    EXPECT_GT(latency, -0.020) << name << " fired before the crossing?";
  }
  std::string m = metricsOf(port);
  EXPECT_GE(metric(m, "oomsentinel_usage_watches_total{result=\"crossed\""), 5) << m;
}

TEST(WakeupsV1Real, AStormOfCrossingsIsAtMostOneExtraTickPerFastInterval) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  RealV1Cgroup cg("oomsentinel-it-storm", 512 * kMiB);
  ASSERT_TRUE(cg.ok()) << cg.error();
  TempDir dir;
  int port = oomsentinel::testing::freeLoopbackPort();
  // The poll kept slow (no fast_above, no time_to_oom trigger): the timer ticks once a second.
  Daemon d(dir,
           "poll: {interval: 1s, fast_interval: 200ms, fast_above: 99%, "
           "fast_when_tto_below: 0s}\n"
           "alerts: {metrics: {listen: '127.0.0.1:" +
               std::to_string(port) +
               "'}}\n"
               "targets:\n  - name: t\n    cgroup: " +
               cg.relative() + "\nrules:\n" + rule("at100", 100));
  Allocator a(cg.dir());
  ASSERT_TRUE(eventually([&] {
    return metric(metricsOf(port), "oomsentinel_targets{state=\"resolved\"}") == 1;
  })) << d.log();
  ASSERT_GT(a.cross(100), 0);
  std::this_thread::sleep_for(1500ms);
  // The target's two eventfds (thresholds, OOM notifier), each held once: the loop waits on the
  // kernel's own descriptor, not on a duplicate. Two more are Asio's own (the reactors of the
  // run loop and of the metrics server): 4 in all, where duplicates made it 6.
  EXPECT_EQ(d.eventfds(), 4) << "eventfds held with one v1 target";
  std::string before = metricsOf(port);
  auto started = std::chrono::steady_clock::now();
  a.storm(30);  // 3 s of 4 MiB down and up across the threshold at 100 MiB
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string after = metricsOf(port);
  double ticks = metric(after, "oomsentinel_poll_duration_seconds_count") -
                 metric(before, "oomsentinel_poll_duration_seconds_count");
  double events = metric(after, "oomsentinel_kernel_wakeups_total{") -
                  metric(before, "oomsentinel_kernel_wakeups_total{");
  double coalesced = metric(after, "oomsentinel_kernel_wakeups_total{result=\"coalesced\"") -
                     metric(before, "oomsentinel_kernel_wakeups_total{result=\"coalesced\"");
  std::cout << events << " notifications in " << seconds << " s: " << ticks << " ticks, "
            << coalesced << " coalesced\n";
  EXPECT_GT(events, 20) << "the storm did not make notifications";
  EXPECT_GT(coalesced, 10);
  // The 1 s timer's ticks, plus at most one extra tick per 200 ms fast interval, plus one.
  EXPECT_LE(ticks, seconds / 1.0 + seconds / 0.2 + 2) << after;
}

// The thresholds are registered on memory plus swap too where the kernel accounts swap (this
// machine: memory.memsw.* present, no swap, so both counters move together and the one eventfd
// counts both crossings); the loop waits on the kernel's own eventfd, no duplicate.
TEST(WakeupsV1Real, ThresholdsOnUsageAndMemswShareOneEventfd) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  RealV1Cgroup cg("oomsentinel-it-memsw", 512 * kMiB);
  ASSERT_TRUE(cg.ok()) << cg.error();
  bool memsw = ::access((cg.dir() + "/memory.memsw.usage_in_bytes").c_str(), F_OK) == 0;
  auto armed = V1MemoryEvents::arm(cg.dir(), {64 * kMiB}, false);
  ASSERT_TRUE(armed.ok()) << armed.error().describe();
  EXPECT_EQ(armed->memsw(), memsw);
  Allocator a(cg.dir());
  ASSERT_GT(a.cross(70), 0);
  std::uint64_t count = 0;
  for (int i = 0; i < 100 && count == 0; ++i) {
    count = armed->drain();
    if (count == 0) std::this_thread::sleep_for(10ms);
  }
  std::cout << "memsw accounted: " << memsw << ", eventfd count after one crossing: " << count
            << "\n";
  EXPECT_GE(count, memsw ? 2u : 1u);
  // Handed over, the eventfd is the registration: closing it is what unregisters.
  OwnedFd fd = armed->takeFd();
  EXPECT_GE(fd.get(), 0);
  EXPECT_EQ(armed->fd(), -1);
}

// vmpressure on a real v1 cgroup: a rule that reads vmpressure_critical makes the daemon listen
// to memory.pressure_level; an anonymous leak into the limit (no swap: reclaim finds nothing)
// brings critical notifications, a critical one starts a tick at once, and the rule fires with
// the counts in its values. A target whose rules do not name the signals is not listened to.
TEST(WakeupsV1Real, VmpressureIsASignalRulesCanReadAndCriticalWakesATick) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  RealV1Cgroup cg("oomsentinel-it-vmp", 64 * kMiB);
  ASSERT_TRUE(cg.ok()) << cg.error();
  RealV1Cgroup quiet("oomsentinel-it-vmp-quiet", 64 * kMiB);
  ASSERT_TRUE(quiet.ok()) << quiet.error();
  if (::access((cg.dir() + "/memory.pressure_level").c_str(), F_OK) != 0)
    GTEST_SKIP() << "this kernel has no memory.pressure_level";
  TempDir dir;
  int port = oomsentinel::testing::freeLoopbackPort();
  Daemon d(dir,
           "poll: {interval: 1s, fast_interval: 1s, fast_above: 99%, fast_when_tto_below: 0s}\n"
           "alerts: {metrics: {listen: '127.0.0.1:" +
               std::to_string(port) +
               "'}}\n"
               "targets:\n  - name: t\n    cgroup: " +
               cg.relative() + "\n  - name: q\n    cgroup: " + quiet.relative() +
               "\nrules:\n  - name: reclaim-failing\n    expr: vmpressure_critical > 0\n"
               "    actions: [log]\n    targets: [t]\n"
               "  - name: big\n    expr: usage_bytes > 1GiB\n    actions: [log]\n");
  ASSERT_TRUE(eventually([&] {
    return metric(metricsOf(port), "oomsentinel_targets{state=\"resolved\"}") == 2;
  })) << d.log();
  std::this_thread::sleep_for(1500ms);  // armed after the first tick
  // Three eventfds more than the quiet target's two: t listens to vmpressure, q does not.
  EXPECT_EQ(d.eventfds(), 2 + 2 + 3 + 2) << "eventfds: t (thresholds, OOM, 3 levels), q, Asio";
  pid_t leak = cg.spawn({oomsentinel::testing::leakerPath(), "--rate", "40MiB/s"});
  ASSERT_GT(leak, 0);
  bool fired = eventually([&] { return d.firedAt("reclaim-failing") > 0; }, 150);
  std::string log = d.log();
  ASSERT_TRUE(fired) << log;
  std::string values;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("msg", "") == "rule transition" &&
        j.value("rule", "") == "reclaim-failing" && j.value("state", "") == "firing")
      values = j["values"].dump();
  }
  std::cout << "reclaim-failing fired with " << values << "\n";
  EXPECT_THAT(values, ::testing::HasSubstr("vmpressure_critical"));
  std::string m = metricsOf(port);
  EXPECT_GT(metric(m, "oomsentinel_kernel_wakeups_total{result=\"tick\",source=\"v1_pressure\"}") +
                metric(m,
                       "oomsentinel_kernel_wakeups_total{result=\"coalesced\",source="
                       "\"v1_pressure\"}"),
            0)
      << m;
}

// Registering a usage threshold costs the kernel an RCU grace period a write (6 to 16 ms here;
// a target with two rule levels and the fast-poll level has twelve writes: three levels, their
// early twins, on usage and on memsw), so 40 targets' thresholds are several seconds of writes.
// The armer's thread makes them (daemon/threshold_armer.h): the 100 ms ticks stay on time
// meanwhile, and every target ends with its two eventfds (the OOM notifier's, the thresholds').
// When the loop made them itself, the tick after the first came seconds late.
TEST(WakeupsV1Real, ArmingTheThresholdsOfManyCgroupsLeavesTheTicksOnTime) {
  std::string why;
  if (!RealV1Cgroup::available(&why)) GTEST_SKIP() << why;
  constexpr int kTargets = 40;
  std::vector<std::unique_ptr<RealV1Cgroup>> cgs;
  for (int i = 0; i < kTargets; ++i) {
    cgs.push_back(
        std::make_unique<RealV1Cgroup>("oomsentinel-it-arm-" + std::to_string(i), 512 * kMiB));
    ASSERT_TRUE(cgs.back()->ok()) << cgs.back()->error();
  }
  TempDir dir;
  int port = oomsentinel::testing::freeLoopbackPort();
  Daemon d(dir,
           "poll: {interval: 100ms, fast_interval: 100ms}\n"
           "alerts: {metrics: {listen: '127.0.0.1:" +
               std::to_string(port) +
               "'}}\n"
               "targets:\n  - name: arm\n    cgroup_glob: 'oomsentinel-it-arm-*-" +
               std::to_string(::getpid()) + "'\nrules:\n" + rule("at100", 100) +
               rule("at200", 200));
  ASSERT_TRUE(eventually([&] {
    return metric(metricsOf(port), "oomsentinel_targets{state=\"resolved\"}") == kTargets;
  })) << d.log();
  ASSERT_TRUE(eventually([&] { return d.eventfds() >= 2 * kTargets; }, 300))
      << d.eventfds() << " eventfds\n"
      << d.log();
  std::this_thread::sleep_for(300ms);  // a few ticks after the last registration
  std::string m = metricsOf(port);
  double ticks = metric(m, "oomsentinel_tick_lateness_seconds_count");
  double on_time = metric(m, "oomsentinel_tick_lateness_seconds_bucket{le=\"0.25\"}");
  double late = metric(m, "oomsentinel_tick_lateness_seconds_sum");
  std::cout << ticks << " ticks, " << ticks - on_time << " more than 250 ms late, " << late
            << " s of lateness in all\n";
  EXPECT_GT(ticks, 10);
  EXPECT_EQ(on_time, ticks) << m;
}

}  // namespace
}  // namespace oomsentinel
