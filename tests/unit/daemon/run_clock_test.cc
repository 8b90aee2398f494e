// The fault matrix's row 8 (docs/reliability.md, issue 19) against the real daemon: its wall
// clock stepped an hour back and forward while a `for:` timer and a dump's cooldown count. The
// step is made by tests/support/wall_clock_shim.cc (LD_PRELOAD), which offsets CLOCK_REALTIME in
// the daemon alone by what the test writes into a file, and leaves CLOCK_MONOTONIC alone: the
// host's clock is never touched. Timers must not move (no early firing, no stall, the ticks at
// their interval, the cooldown whole) and every timestamp must say what the wall clock said.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr std::int64_t kHour = 3600;

double steadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The daemon's wall-clock offset, in the file the shim maps (8 bytes, nanoseconds).
class WallOffset {
 public:
  explicit WallOffset(std::string path) : path_(std::move(path)) { set(0); }
  const std::string& path() const { return path_; }
  void set(std::int64_t seconds) {
    std::int64_t ns = seconds * 1'000'000'000;
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    // One aligned 8-byte write: the daemon never reads half of it.
    ASSERT_EQ(::pwrite(fd, &ns, sizeof ns, 0), static_cast<ssize_t>(sizeof ns));
    ::close(fd);
  }

 private:
  std::string path_;
};

// "2026-12-07T06:01:45.123Z" (the log's, the manifest's, Alertmanager's startsAt) as Unix seconds.
std::optional<double> parseIso(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(::timegm(&tm)) + ms / 1000.0;
}

// The time at the start of the first log line holding `text`.
std::optional<double> logTime(const std::string& log, const std::string& text) {
  auto at = log.find(text);
  if (at == std::string::npos) return std::nullopt;
  auto line = log.rfind('\n', at);
  line = line == std::string::npos ? 0 : line + 1;
  return parseIso(log.substr(line, 24));
}

// The ticks so far: the count of oomsentinel_poll_duration_seconds.
long ticks(int port) {
  std::string body = testing::httpGetLocal(port, "/metrics");
  const std::string name = "oomsentinel_poll_duration_seconds_count ";
  auto at = body.find(name);
  return at == std::string::npos ? -1 : std::atol(body.c_str() + at + name.size());
}

// Every alert the stand-in for Alertmanager was sent, in the order of the POSTs.
std::vector<nlohmann::json> alertsPosted(const testing::HttpTestServer& am) {
  std::vector<nlohmann::json> out;
  for (const auto& raw : am.requests()) {
    auto body = raw.find("\r\n\r\n");
    if (body == std::string::npos) continue;
    auto j = nlohmann::json::parse(raw.substr(body + 4), nullptr, false);
    if (!j.is_array()) continue;
    for (auto& a : j) out.push_back(a);
  }
  return out;
}

// The last alert posted for rule "slow", firing or resolved, as (startsAt, endsAt) in Unix
// seconds. A firing one ends 4 resend intervals (40 s here) after it was sent; a resolved one
// when it resolved, which here is never 25 to 55 s after it started.
struct Posted {
  double starts = 0, ends = 0;
};
std::optional<Posted> lastPosted(const testing::HttpTestServer& am, bool firing) {
  std::optional<Posted> last;
  for (const auto& a : alertsPosted(am)) {
    if (a["labels"].value("alertname", "") != "slow") continue;
    auto s = parseIso(a.value("startsAt", "")), e = parseIso(a.value("endsAt", ""));
    if (!s || !e) continue;
    bool is_firing = *e - *s > 25 && *e - *s < 55;
    if (is_firing == firing) last = Posted{*s, *e};
  }
  return last;
}

// Row 8. A rule with `for: 3s` on the app, the wall clock stepped forward an hour, back an hour
// and back another while the timer counts, then forward again while the dump's cooldown counts.
TEST(RunClock, AWallClockSteppedAnHourEachWayMovesNoTimerAndEveryTimestampSaysSo) {
  if (std::string(OOMSENTINEL_WALL_CLOCK_SHIM).empty())
    GTEST_SKIP() << "the wall clock shim was not built";
  TempDir dir;
  testing::writeAppCgroup(dir, 10ull << 20);
  WallOffset offset(dir.path() + "/wall-offset");
  testing::HttpTestServer am({testing::ServerStep::reply(200, "")});
  const int metrics = testing::freeLoopbackPort();
  const std::string incidents = dir.path() + "/incidents";
  dir.write("c.yaml",
            "poll: {interval: 100ms, fast_interval: 100ms, full_read_interval: 0s}\n"
            "alerts:\n"
            "  metrics: {listen: '127.0.0.1:" +
                std::to_string(metrics) + "'}\n  alertmanager: {urls: ['" + am.url() +
                "'], resend_interval: 10s}\n"
                "dump: {dir: " +
                incidents +
                ", min_free: 0, target_cooldown: 30m}\n"
                "targets:\n  - name: app\n    cgroup: /app\n    dumpers: [exec]\n"
                "    exec: {argv: [/bin/true], timeout: 10s, user: root}\n"
                "rules:\n  - name: slow\n    expr: working_set_ratio > 50%\n    for: 3s\n"
                "    actions: [log, alert, dump]\n");
  const std::string state = dir.path() + "/state.json";
  testing::DaemonOptions opts{{"--cgroup-root", dir.path() + "/cg", "run", "--config",
                               dir.path() + "/c.yaml", "--state-file", state},
                              dir.path() + "/log"};
  // Under AddressSanitizer (scripts/test's sanitizer build) a library preloaded before ASan's
  // runtime stops the process at start unless this check is off; the interposition still works.
  const char* asan = std::getenv("ASAN_OPTIONS");
  opts.env = {{"LD_PRELOAD", OOMSENTINEL_WALL_CLOCK_SHIM},
              {"OOMSENTINEL_WALL_OFFSET_FILE", offset.path()},
              {"ASAN_OPTIONS", std::string(asan ? asan : "") + ":verify_asan_link_order=0"}};
  testing::DaemonProcess daemon(std::move(opts));
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(testing::eventually([&] { return ticks(metrics) > 0; }, 500)) << daemon.log();

  // After a step: the ticks go on at their interval (5 more take 0.5 s; 2 s is the bound).
  auto ticksGoOn = [&](const char* after) {
    long before = ticks(metrics);
    double t0 = steadySeconds();
    bool on = testing::eventually([&] { return ticks(metrics) >= before + 5; }, 200, 10);
    EXPECT_TRUE(on) << "the ticks stalled after " << after << "\n" << daemon.log();
    EXPECT_LT(steadySeconds() - t0, 2.0) << "5 ticks of 100 ms after " << after;
  };
  // The age of the state file as `oomsentinel status` (a process of its own, on the host's
  // unstepped clock) says it: "updated 0.4s ago". Measured on the monotonic clock, which every
  // process shares, it is under the second between two writes whatever the daemon's wall clock.
  auto statusAge = [&]() -> double {
    auto r = testing::runCommand({OOMSENTINEL_BINARY, "--cgroup-root", dir.path() + "/cg", "status",
                                  "--config", dir.path() + "/c.yaml", "--state", state});
    auto at = r.out.find("updated ");
    EXPECT_NE(at, std::string::npos) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("daemon         running,")) << r.out;
    return at == std::string::npos ? -1e9 : std::atof(r.out.c_str() + at + 8);
  };
  // When the log holds `text` `times` times, in steady seconds (polled every 5 ms).
  auto seenAt = [&](const std::string& text, double within,
                    std::size_t times = 1) -> std::optional<double> {
    double until = steadySeconds() + within;
    while (steadySeconds() < until) {
      std::string log = slurp(dir.path() + "/log");
      std::size_t n = 0;
      for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
      if (n >= times) return steadySeconds();
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  };

  // The condition becomes true; `for:` counts 3 s of steady time from the next tick.
  testing::writeAppCgroup(dir, 90ull << 20);
  const double crossed = steadySeconds();
  offset.set(kHour);  // forward an hour
  ticksGoOn("the step forward");
  double age = statusAge();
  EXPECT_GE(age, 0.0) << "the state file's age after a step forward";
  EXPECT_LT(age, 1.5) << "the state file's age after a step forward";
  offset.set(0);  // back an hour
  ticksGoOn("the step back");
  offset.set(-kHour);  // and back another
  ticksGoOn("the second step back");
  age = statusAge();
  EXPECT_GE(age, 0.0) << "the state file's age after a step back";
  EXPECT_LT(age, 1.5) << "the state file's age after a step back";
  ASSERT_EQ(daemon.log().find("pending -> firing"), std::string::npos)
      << "the steps were not all made while `for:` counted (a slow machine?)";
  auto fired = seenAt("rule slow on app: pending -> firing", 10);
  ASSERT_TRUE(fired) << "the rule never fired\n" << daemon.log();
  const double fired_wall = testing::unixNow() - kHour;  // the daemon's wall clock now
  std::printf("fired %.3f s after the crossing\n", *fired - crossed);
  EXPECT_GE(*fired - crossed, 3.0) << "fired before `for:` held 3 s of steady time";
  EXPECT_LT(*fired - crossed, 4.0) << "`for:` stalled past a tick or two";

  // The bundle: its manifest's times and its name are the daemon's wall clock (an hour behind).
  ASSERT_TRUE(daemon.waitForLog("incident bundle published")) << daemon.log();
  std::vector<std::string> bundles;
  for (const auto& e : std::filesystem::directory_iterator(incidents))
    if (e.path().filename().string()[0] != '.') bundles.push_back(e.path().string());
  ASSERT_EQ(bundles.size(), 1u);
  auto manifest = nlohmann::json::parse(slurp(bundles[0] + "/manifest.json"), nullptr, false);
  ASSERT_TRUE(manifest.is_object()) << slurp(bundles[0] + "/manifest.json");
  auto fired_at = parseIso(manifest.value("fired_at", "")),
       published_at = parseIso(manifest.value("published_at", ""));
  ASSERT_TRUE(fired_at && published_at) << manifest.dump();
  EXPECT_NEAR(*fired_at, fired_wall, 3.0) << manifest.dump();
  EXPECT_GE(*published_at, *fired_at) << manifest.dump();
  EXPECT_NEAR(*published_at, fired_wall, 5.0) << manifest.dump();
  EXPECT_NE(std::filesystem::path(bundles[0]).filename().string().find("slow"), std::string::npos);
  // The log line says the same.
  auto fired_log = logTime(daemon.log(), "rule slow on app: pending -> firing");
  ASSERT_TRUE(fired_log) << daemon.log();
  EXPECT_NEAR(*fired_log, fired_wall, 3.0) << daemon.log();
  // And the alert's startsAt.
  ASSERT_TRUE(testing::eventually([&] { return lastPosted(am, true).has_value(); }, 250))
      << "no firing alert posted";
  EXPECT_NEAR(lastPosted(am, true)->starts, fired_wall, 3.0);

  // Forward an hour (the true time again); the usage falls: the resolve's endsAt is now, and
  // after its startsAt.
  offset.set(0);
  testing::writeAppCgroup(dir, 10ull << 20);
  ASSERT_TRUE(seenAt("rule slow on app: firing -> resolved", 5)) << daemon.log();
  ASSERT_TRUE(testing::eventually([&] { return lastPosted(am, false).has_value(); }, 250))
      << "no resolve posted";
  auto resolved = *lastPosted(am, false);
  EXPECT_NEAR(resolved.ends, testing::unixNow(), 3.0);
  EXPECT_GE(resolved.ends, resolved.starts);

  // True again, and forward another hour while it counts: `for:` still takes 3 s, and the dump
  // is refused by its 30-minute cooldown, which began a few seconds ago on the steady clock (on
  // the wall clock it began two hours ago).
  testing::writeAppCgroup(dir, 90ull << 20);
  const double crossed2 = steadySeconds();
  offset.set(kHour);
  ticksGoOn("the third step forward");
  auto fired2 = seenAt("rule slow on app: pending -> firing", 10, 2);
  ASSERT_TRUE(fired2) << "the rule never fired again\n" << daemon.log();
  std::printf("fired again %.3f s after the crossing\n", *fired2 - crossed2);
  EXPECT_GE(*fired2 - crossed2, 3.0) << "fired before `for:` held 3 s of steady time";
  EXPECT_LT(*fired2 - crossed2, 4.0) << "`for:` stalled past a tick or two";
  ASSERT_TRUE(daemon.waitForLog("dump not started")) << "the cooldown did not hold\n"
                                                     << daemon.log();
  std::string log = daemon.log();
  auto why = log.find("cooldown: the last bundle of app began ");
  ASSERT_NE(why, std::string::npos) << log;
  double began =
      std::atof(log.c_str() + why + std::string("cooldown: the last bundle of app began ").size());
  std::printf("%s\n", log.substr(why, log.find('"', why) - why).c_str());
  EXPECT_GT(began, 3.0) << log.substr(why, 120);
  EXPECT_LT(began, 30.0) << "the cooldown's age is steady time, not the wall clock's "
                         << log.substr(why, 120);
  EXPECT_TRUE(testing::eventually([&] {
    auto p = lastPosted(am, true);
    return p && std::abs(p->starts - (testing::unixNow() + kHour)) < 3.0;
  })) << "the second firing's startsAt is not the daemon's wall clock (an hour ahead)";
  auto fired2_log = logTime(log, "dump not started");
  ASSERT_TRUE(fired2_log);
  EXPECT_NEAR(*fired2_log, testing::unixNow() + kHour, 3.0);
  // Still one bundle.
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(incidents))
    n += e.path().filename().string()[0] != '.';
  EXPECT_EQ(n, 1u);

  EXPECT_TRUE(testing::exitedWith(daemon.stop(), 0)) << daemon.log();
}

}  // namespace
}  // namespace oomsentinel
