// The daemon's Prometheus series and its HTTP server: values, counters that follow the kernel's,
// series that go with their target, and an exposition promtool accepts.
#include "alerts/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include "alerts/metrics_server.h"
#include "core/http_client.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::runCommand;
using testing::TempDir;

Snapshot sample(double usage, double pgfault, double majfault, double oom_kills) {
  Snapshot s;
  s.set(Sig::kUsageBytes, usage);
  s.set(Sig::kLimitBytes, 1000);
  s.set(Sig::kWorkingSetBytes, usage);
  s.set(Sig::kWorkingSetRatio, usage / 1000);
  s.set(Sig::kPsiSomeAvg10, 12.5);
  s.set(Sig::kPgfault, pgfault);
  s.set(Sig::kPgmajfault, majfault);
  s.set(Sig::kEventsOomKill, oom_kills);
  s.set(internSignal("gc_cycles"), 7);
  return s;
}

std::string line(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at + 1);
  return text.substr(at + 1, end - at - 1);
}

TEST(DaemonMetrics, GaugesAndCountersFollowTheTargetsSignals) {
  DaemonMetrics m{HostPaths()};
  m.updateTarget("api", sample(500, 100, 10, 0));
  std::string t = m.render();
  EXPECT_EQ(line(t, "oomsentinel_memory_usage_bytes{target=\"api\"}"),
            "oomsentinel_memory_usage_bytes{target=\"api\"} 500");
  EXPECT_EQ(line(t, "oomsentinel_memory_working_set_ratio{target=\"api\"}"),
            "oomsentinel_memory_working_set_ratio{target=\"api\"} 0.5");
  EXPECT_EQ(line(t, "oomsentinel_pressure_some_avg10_ratio{target=\"api\"}"),
            "oomsentinel_pressure_some_avg10_ratio{target=\"api\"} 0.125");
  EXPECT_EQ(line(t, "oomsentinel_page_faults_total{kind=\"minor\",target=\"api\"}"),
            "oomsentinel_page_faults_total{kind=\"minor\",target=\"api\"} 90");
  EXPECT_EQ(line(t, "oomsentinel_gc_cycles_total{target=\"api\"}"),
            "oomsentinel_gc_cycles_total{target=\"api\"} 7");
  EXPECT_EQ(line(t, "oomsentinel_oom_kills_unwarned_total{target=\"api\"}"),
            "oomsentinel_oom_kills_unwarned_total{target=\"api\"} 0");
  // The kernel's counters advance; ours by as much. A counter that went back (the cgroup was
  // made again) starts over from its new value, so ours never goes down.
  m.updateTarget("api", sample(600, 150, 12, 1));
  t = m.render();
  EXPECT_EQ(line(t, "oomsentinel_page_faults_total{kind=\"major\",target=\"api\"}"),
            "oomsentinel_page_faults_total{kind=\"major\",target=\"api\"} 12");
  EXPECT_EQ(line(t, "oomsentinel_oom_kills_total{target=\"api\"}"),
            "oomsentinel_oom_kills_total{target=\"api\"} 1");
  m.updateTarget("api", sample(600, 5, 1, 0));
  t = m.render();
  EXPECT_EQ(line(t, "oomsentinel_page_faults_total{kind=\"major\",target=\"api\"}"),
            "oomsentinel_page_faults_total{kind=\"major\",target=\"api\"} 13");
  // No trend: +Inf, not the last prediction.
  EXPECT_EQ(line(t, "oomsentinel_time_to_oom_seconds{target=\"api\"}"),
            "oomsentinel_time_to_oom_seconds{target=\"api\"} +Inf");
}

TEST(DaemonMetrics, ATargetMadeNameIsValidUtf8OnOneLineInEveryLabel) {
  DaemonMetrics m{HostPaths()};
  // A discovered cgroup's name and its pod's, as the target made them.
  const std::string name = "pods/x\xff\ny";
  m.updateTarget(name, sample(500, 100, 10, 0));
  m.targetInfo(name, {{"pod", "p\xC0\xAF\x1b[2J"}});
  Firing f;
  f.rule = "near-limit";
  f.target = name;
  f.to = RuleState::kFiring;
  m.transition(f);
  m.dump(name, "proc", "ok", 0.1, 10);
  m.throttle(name, "throttled", true);
  std::string t = m.render();
  EXPECT_THAT(t, Not(HasSubstr("\xff")));
  EXPECT_THAT(t, Not(HasSubstr("\x1b")));
  // The exposition escapes the backslash of safeText's "\x0a" once more.
  const std::string safe = "pods/x\xEF\xBF\xBD\\\\x0ay";
  EXPECT_EQ(line(t, "oomsentinel_memory_usage_bytes{target=\"" + safe + "\"}"),
            "oomsentinel_memory_usage_bytes{target=\"" + safe + "\"} 500");
  EXPECT_THAT(t, HasSubstr("pod=\"p\xEF\xBF\xBD\xEF\xBF\xBD\\\\x1b[2J\",target=\"" + safe));
  EXPECT_THAT(
      t, HasSubstr("oomsentinel_rule_firing{rule=\"near-limit\",severity=\"warning\",target=\"" +
                   safe));
  // Removing the target by its own name still removes every series made for it.
  m.removeTarget(name);
  EXPECT_THAT(m.render(), Not(HasSubstr("pods/x")));
}

TEST(DaemonMetrics, WorkLeftBehindOnStalledFileSystemsIsShown) {
  DaemonMetrics m(HostPaths{});
  std::string t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_target_fs_stuck_workers 0\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_dumpers_stuck 0\n"));
  m.stuckWork(3, 5, 1);
  m.stuckWork(2, 7, 2);
  t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_target_fs_stuck_workers 2\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_target_fs_abandoned_total 7\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_dumpers_stuck 2\n"));
}

TEST(DaemonMetrics, TheListenersDefenceIsCountedByReasonAcrossANewServer) {
  DaemonMetrics m(HostPaths{});
  m.httpConnections(1, 2, 3, 4);
  m.httpConnections(1, 7, 3, 4);
  std::string t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_http_connections_closed_total{reason=\"refused\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_http_connections_closed_total{reason=\"evicted\"} 7\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_http_connections_closed_total{reason=\"timed_out\"} 3\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_http_connections_closed_total{reason=\"busy\"} 4\n"));
  // A reload moved the listener: the new server counts from 0, and what it counts is new.
  m.httpConnections(0, 2, 0, 0);
  EXPECT_THAT(m.render(),
              HasSubstr("oomsentinel_http_connections_closed_total{reason=\"evicted\"} 9\n"));
}

TEST(DaemonMetrics, ATargetsSeriesGoWithIt) {
  DaemonMetrics m{HostPaths()};
  m.updateTarget("a", sample(1, 1, 1, 0));
  m.updateTarget("b", sample(2, 1, 1, 0));
  Firing f;
  f.rule = "oom-imminent";
  f.target = "a";
  f.severity = Severity::kCritical;
  f.to = RuleState::kFiring;
  m.transition(f);
  m.dump("a", "proc", "ok", 0.02, 4096);
  m.incident("a", "published");
  m.throttle("a", "throttled", true);
  std::string t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_dump_throttle_total{result=\"throttled\",target=\"a\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_dump_throttled{target=\"a\"} 1"));
  m.throttle("a", "restored", false);
  t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_dump_throttle_total{result=\"restored\",target=\"a\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_dump_throttled{target=\"a\"} 0"));
  EXPECT_THAT(
      t,
      HasSubstr(
          "oomsentinel_rule_firing{rule=\"oom-imminent\",severity=\"critical\",target=\"a\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_rule_transitions_total{rule=\"oom-imminent\",state="
                           "\"firing\",target=\"a\"} 1"));
  EXPECT_THAT(t,
              HasSubstr("oomsentinel_dumps_total{dumper=\"proc\",result=\"ok\",target=\"a\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_incidents_total{result=\"published\",target=\"a\"} 1"));
  m.removeTarget("a");
  t = m.render();
  EXPECT_THAT(t, Not(HasSubstr("target=\"a\"")));
  EXPECT_THAT(t, HasSubstr("oomsentinel_memory_usage_bytes{target=\"b\"} 2"));
  // A target whose cgroup went keeps its counters (the OOM kill that removed it must still be
  // scraped) but not its gauges.
  m.updateTarget("b", sample(2, 1, 1, 1));
  m.targetGone("b");
  t = m.render();
  EXPECT_THAT(t, Not(HasSubstr("oomsentinel_memory_usage_bytes{target=\"b\"}")));
  EXPECT_THAT(t, HasSubstr("oomsentinel_oom_kills_total{target=\"b\"} 1"));
  m.updateTarget("b", sample(7, 1, 1, 0));  // made again: its kill counter started over at 0
  t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_memory_usage_bytes{target=\"b\"} 7"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_oom_kills_total{target=\"b\"} 1"));
  m.removeTarget("b");
  EXPECT_THAT(m.render(), Not(HasSubstr("target=\"b\"")));
  // A target that comes back starts from its own values again.
  m.updateTarget("a", sample(3, 1, 1, 0));
  EXPECT_THAT(m.render(), HasSubstr("oomsentinel_memory_usage_bytes{target=\"a\"} 3"));
}

TEST(DaemonMetrics, UnwarnedKillsAndSelfFigures) {
  DaemonMetrics m{HostPaths()};
  m.updateTarget("a", sample(1, 1, 1, 0));
  m.oomKill("a", /*warned=*/true);
  m.oomKill("a", /*warned=*/false);
  m.tick(SystemClock().wallNow(), std::chrono::milliseconds(3), std::chrono::milliseconds(50), 1,
         0);
  m.reload(true);
  std::string t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_oom_kills_unwarned_total{target=\"a\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_poll_interval_seconds 0.05"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_targets{state=\"resolved\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_config_reloads_total{result=\"ok\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_poll_duration_seconds_count 1"));
  // Our own process, read from /proc/self.
  EXPECT_THAT(t, HasSubstr("oomsentinel_process_resident_memory_bytes "));
  EXPECT_THAT(line(t, "oomsentinel_process_open_fds"), Not(HasSubstr(" 0")));
}

TEST(DaemonMetrics, TickLatenessIsObservedAndAnEarlyTickCountsAsOnTime) {
  DaemonMetrics m{HostPaths()};
  m.tickLateness(std::chrono::milliseconds(3));
  m.tickLateness(std::chrono::milliseconds(-2));  // a wake-up tick before its timer: on time
  std::string t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_tick_lateness_seconds_count 2"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_tick_lateness_seconds_sum 0.003"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_tick_lateness_seconds_bucket{le=\"0.0025\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_tick_lateness_seconds_bucket{le=\"0.005\"} 2"));
}

TEST(DaemonMetrics, ATargetsDumpersStartAtZeroSoThatAFirstFailureIsAnIncrease) {
  DaemonMetrics m{HostPaths()};
  m.declareDumpers("api", {"proc", "gperftools"});
  std::string t = m.render();
  for (const char* d : {"proc", "gperftools"})
    for (const char* r : {"ok", "failed", "timed_out"})
      EXPECT_THAT(t, HasSubstr(std::string("oomsentinel_dumps_total{dumper=\"") + d +
                               "\",result=\"" + r + "\",target=\"api\"} 0"))
          << d << " " << r;
  m.dump("api", "gperftools", "failed", 1, 0);
  m.declareDumpers("api", {"proc", "gperftools"});  // again (a reload): counts stay
  EXPECT_THAT(m.render(),
              HasSubstr("oomsentinel_dumps_total{dumper=\"gperftools\",result=\"failed\","
                        "target=\"api\"} 1"));
  m.removeTarget("api");
  EXPECT_THAT(m.render(), Not(HasSubstr("target=\"api\"")));
}

TEST(DaemonMetrics, RefusedDumpsAreCountedByReasonEachFromZero) {
  DaemonMetrics m{HostPaths()};
  std::string t = m.render();
  for (const char* why : {"cooldown", "storm_limit", "busy", "stuck", "degraded"})
    EXPECT_THAT(t,
                HasSubstr(std::string("oomsentinel_dumps_refused_total{reason=\"") + why + "\"} 0"))
        << why;
  m.dumpRefused(DumpRefused::kStormLimit);
  m.dumpRefused(DumpRefused::kStormLimit);
  m.dumpRefused(DumpRefused::kDegraded);
  t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_dumps_refused_total{reason=\"storm_limit\"} 2"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_dumps_refused_total{reason=\"degraded\"} 1"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_dumps_refused_total{reason=\"busy\"} 0"));
}

TEST(DaemonMetrics, TheNotifiersCountersFollowItsStatusAndGoWithItsUrls) {
  DaemonMetrics m{HostPaths()};
  AlertmanagerStatus s;
  AlertEndpointStatus a{"http://am-a:9093/api/v2/alerts", {}, false, false};
  AlertEndpointStatus b{"http://am-b:9093/api/v2/alerts", {}, false, false};
  a.stats.sent = 3;
  a.stats.failed = 1;
  b.stats.failed = 4;
  b.stats.retries = 3;
  s.endpoints = {a, b};
  s.total.dropped = 2;
  s.active = 1;
  s.resolving = 1;
  m.alertmanager(s);
  s.endpoints[0].stats.sent = 5;  // advances by 2
  m.alertmanager(s);
  std::string t = m.render();
  EXPECT_THAT(t,
              HasSubstr("oomsentinel_alertmanager_notifications_sent_total{alertmanager=\"http://"
                        "am-a:9093/api/v2/alerts\"} 5"));
  EXPECT_THAT(t,
              HasSubstr("oomsentinel_alertmanager_notifications_errors_total{alertmanager=\"http:"
                        "//am-b:9093/api/v2/alerts\"} 4"));
  EXPECT_THAT(t,
              HasSubstr("oomsentinel_alertmanager_notifications_retries_total{alertmanager=\"http:"
                        "//am-b:9093/api/v2/alerts\"} 3"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_alertmanager_alerts_dropped_total 2"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_alertmanager_alerts{state=\"active\"} 1"));
  // A reload dropped am-b and made a new notifier (counts from 0 again): am-a's counters go on.
  s.endpoints = {a};
  s.endpoints[0].stats.sent = 1;
  s.total.dropped = 0;
  m.alertmanager(s);
  t = m.render();
  EXPECT_THAT(t, Not(HasSubstr("am-b")));
  EXPECT_THAT(t,
              HasSubstr("oomsentinel_alertmanager_notifications_sent_total{alertmanager=\"http://"
                        "am-a:9093/api/v2/alerts\"} 6"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_alertmanager_alerts_dropped_total 2"));
  m.alertmanager({});  // alerts no longer configured
  EXPECT_THAT(m.render(), Not(HasSubstr("am-a")));
}

TEST(DaemonMetrics, TcmallocFiguresAppearOnlyWithTcmallocInTheProcess) {
  // This test binary is not linked with tcmalloc; the daemon under LD_PRELOAD is tested in
  // tests/unit/daemon/run_metrics_test.cc.
  DaemonMetrics m{HostPaths()};
  EXPECT_THAT(m.render(), Not(HasSubstr("oomsentinel_process_tcmalloc_bytes{")));
}

TEST(DaemonMetrics, PromtoolFindsNothingToSay) {
  if (::access("/usr/bin/promtool", X_OK) != 0)
    GTEST_SKIP() << "promtool is missing: install Debian package prometheus";
  DaemonMetrics m{HostPaths()};
  m.updateTarget("api", sample(500, 100, 10, 1));
  Firing f;
  f.rule = "near-limit";
  f.target = "api";
  f.to = RuleState::kFiring;
  m.transition(f);
  m.dump("api", "gperftools", "timed_out", 5, 0);
  m.declareDumpers("api", {"proc"});
  AlertmanagerStatus am;
  am.endpoints.push_back({"http://127.0.0.1:9093/api/v2/alerts", {}, false, false});
  m.alertmanager(am);
  m.tick(SystemClock().wallNow(), std::chrono::milliseconds(3), std::chrono::seconds(1), 1, 0);
  TempDir dir;
  dir.write("scrape.txt", m.render());
  // promtool reads stdin; the shell-less way is to give it the file as stdin.
  auto r = runCommand({"/usr/bin/sh", "-c", "exec /usr/bin/promtool check metrics < \"$0\"",
                       dir.path() + "/scrape.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "promtool's findings";
}

TEST(MetricsServer, ServesTheHandlersAnswers) {
  auto s = MetricsServer::start("127.0.0.1:0", [](const std::string& path) {
    HttpAnswer a;
    if (path == "/metrics") {
      a.body = "x 1\n";
    } else {
      a.status = 404;
      a.body = "no " + path;
    }
    return a;
  });
  ASSERT_TRUE(s.ok()) << s.error().describe();
  ASSERT_GT((*s)->port(), 0);
  auto get = [&](const std::string& path) {
    boost::asio::io_context io;
    HttpRequest req;
    req.url = *Url::parse("http://127.0.0.1:" + std::to_string((*s)->port()) + path);
    std::optional<Result<HttpResponse>> got;
    startHttpRequest(io, req, [&](Result<HttpResponse> r) { got.emplace(std::move(r)); });
    io.run();
    return std::move(*got);
  };
  auto ok = get("/metrics?x=1");
  ASSERT_TRUE(ok.ok()) << ok.error().describe();
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(ok->body, "x 1\n");
  auto missing = get("/other");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404u);
  EXPECT_EQ(missing->body, "no /other");
  EXPECT_EQ((*s)->requests(), 2u);

  EXPECT_FALSE(MetricsServer::start("127.0.0.1", nullptr).ok());
  EXPECT_FALSE(MetricsServer::start("localhost:80", nullptr).ok()) << "an address, not a name";
  EXPECT_FALSE(MetricsServer::start("127.0.0.1:99999", nullptr).ok());
  auto taken = MetricsServer::start("127.0.0.1:" + std::to_string((*s)->port()), nullptr);
  ASSERT_FALSE(taken.ok());
  EXPECT_THAT(taken.error().message, HasSubstr("cannot listen"));
}

}  // namespace
}  // namespace oomsentinel
