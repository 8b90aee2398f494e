// A target's runtime sections: go, jvm, metrics_url, signals, runtime.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string runtimeConfigErrors(const ConfigLoad& load) {
  std::string out;
  for (const auto& e : load.errors) out += e.format() + "\n";
  return out;
}

RuntimeSpec runtimeOf(const std::string& target_body) {
  ConfigLoad load = loadConfigText("targets:\n  - name: a\n    pid: 1\n" + target_body, "t.yaml");
  EXPECT_TRUE(load.config) << runtimeConfigErrors(load);
  if (!load.config || load.config->targets.empty()) return {};
  return load.config->targets[0].runtime;
}

ConfigError onlyTargetError(const std::string& target_body) {
  ConfigLoad load = loadConfigText("targets:\n  - name: a\n    pid: 1\n" + target_body, "t.yaml");
  EXPECT_EQ(load.errors.size(), 1u) << runtimeConfigErrors(load);
  EXPECT_FALSE(load.config);
  return load.errors.empty() ? ConfigError{} : load.errors[0];
}

TEST(RuntimeConfig, NoneByDefault) {
  RuntimeSpec rt = runtimeOf("");
  EXPECT_FALSE(rt.any());
  EXPECT_EQ(rt, RuntimeSpec{});
  EXPECT_EQ(rt.interval, 1s);
  EXPECT_EQ(rt.timeout, 500ms);
  EXPECT_EQ(rt.stale_after, 5s);
  EXPECT_EQ(rt.max_bytes, 4u << 20);
}

TEST(RuntimeConfig, ExpvarDefaultsToThePprofHostAndPort) {
  RuntimeSpec rt = runtimeOf("    go: {pprof_url: 'http://127.0.0.1:6060/debug/pprof/'}\n");
  EXPECT_EQ(rt.go_pprof_url, "http://127.0.0.1:6060/debug/pprof/");
  EXPECT_EQ(rt.go_expvar_url, "http://127.0.0.1:6060/debug/vars");
  EXPECT_TRUE(rt.any());

  RuntimeSpec own = runtimeOf(
      "    go:\n      pprof_url: http://127.0.0.1:6060\n"
      "      expvar_url: http://10.0.0.7:9000/vars\n");
  EXPECT_EQ(own.go_expvar_url, "http://10.0.0.7:9000/vars");
  EXPECT_EQ(runtimeOf("    go: {expvar_url: 'http://[::1]:6060'}\n").go_expvar_url,
            "http://[::1]:6060/");
}

TEST(RuntimeConfig, MetricsSignalsJvmAndTiming) {
  RuntimeSpec rt = runtimeOf(
      "    metrics_url: http://127.0.0.1:8080/metrics\n"
      "    signals:\n"
      "      queue_bytes: 'app_queue_bytes{queue=\"in\"}'\n"
      "      heap_alloc_bytes: jvm_memory_used_bytes{area=\"heap\",id!=\"Metaspace\"}\n"
      "    jvm: {}\n"
      "    runtime: {interval: 250ms, timeout: 200ms, stale_after: 3s, max_bytes: 512KiB}\n");
  EXPECT_EQ(rt.metrics_url, "http://127.0.0.1:8080/metrics");
  ASSERT_EQ(rt.signals.size(), 2u);
  EXPECT_EQ(rt.signals[0].first, "queue_bytes");
  EXPECT_EQ(rt.signals[0].second, "app_queue_bytes{queue=\"in\"}");
  EXPECT_EQ(rt.signals[1].first, "heap_alloc_bytes");
  EXPECT_TRUE(rt.jvm_perfdata);
  EXPECT_EQ(rt.interval, 250ms);
  EXPECT_EQ(rt.timeout, 200ms);
  EXPECT_EQ(rt.stale_after, 3s);
  EXPECT_EQ(rt.max_bytes, 512u << 10);

  EXPECT_TRUE(runtimeOf("    jvm:\n").jvm_perfdata);
  EXPECT_FALSE(runtimeOf("    jvm: {perfdata: false}\n").jvm_perfdata);
}

TEST(RuntimeConfig, EachMistakeIsOneErrorAtItsPlace) {
  struct Case {
    std::string body, path, message;
    int line, column;
  };
  std::vector<Case> cases = {
      {"    metrics_url: localhost:8080/metrics\n", "targets[0].metrics_url",
       "not a usable URL: it has no scheme; write http://host:port/path", 4, 18},
      {"    go: {pprof_url: 'https://127.0.0.1:6060'}\n", "targets[0].go.pprof_url",
       "not a usable URL: https is not supported", 4, 21},
      {"    go: {expvar: 'http://h'}\n", "targets[0].go.expvar",
       "unknown key 'expvar' (did you mean 'expvar_url'?)", 4, 10},
      {"    go: http://h\n", "targets[0].go", "expected a map with the keys pprof_url, expvar_url",
       4, 9},
      {"    jvm: {heap_dump: yes}\n", "targets[0].jvm.heap_dump", "expected true or false", 4, 22},
      {"    jvm: {perfdata: maybe}\n", "targets[0].jvm.perfdata", "expected true or false", 4, 21},
      {"    jvm: {attach: jdb}\n", "targets[0].jvm.attach", "use direct or jcmd, got 'jdb'", 4, 19},
      {"    jvm: {class_histogram_all: 1}\n", "targets[0].jvm.class_histogram_all",
       "expected true or false", 4, 32},
      {"    signals: {q: 'x{a=\"b\"}'}\n", "targets[0].signals",
       "signals are read from the target's metrics_url, and it has none", 4, 5},
      {"    metrics_url: http://h/m\n    signals: {9lives: x}\n", "targets[0].signals.9lives",
       "a signal name is letters, digits and '_'", 5, 15},
      {"    metrics_url: http://h/m\n    signals: {q: 'x{a=b}'}\n", "targets[0].signals.q", "", 5,
       18},
      {"    metrics_url: http://h/m\n    signals: {q: }\n", "targets[0].signals.q",
       "expected a metric selector", 5, 15},
      {"    metrics_url: http://h/m\n    signals: {q: x, q: y}\n", "targets[0].signals.q",
       "duplicate signal 'q' (first at line 5)", 5, 21},
      {"    metrics_url: http://h/m\n    runtime: {interval: 50ms}\n",
       "targets[0].runtime.interval", "must be at least 100ms", 5, 25},
      {"    metrics_url: http://h/m\n    runtime: {interval: 10s}\n", "targets[0].runtime.interval",
       "stale_after (5s) is shorter than interval (10s)", 5, 25},
      {"    metrics_url: http://h/m\n    runtime: {timeout: 2m}\n", "targets[0].runtime.timeout",
       "must be at most 1m", 5, 24},
      {"    metrics_url: http://h/m\n    runtime: {max_bytes: 100MiB}\n",
       "targets[0].runtime.max_bytes", "must be between 1KiB and 64MiB", 5, 26},
      {"    metrics_url: http://h/m\n    runtime: {max_bytes: lots}\n",
       "targets[0].runtime.max_bytes", "", 5, 26},
      {"    metrics_url: http://h/m\n    runtime: {stale: 1s}\n", "targets[0].runtime.stale",
       "unknown key 'stale' (did you mean 'stale_after'?)", 5, 15},
  };
  for (const auto& c : cases) {
    ConfigError e = onlyTargetError(c.body);
    EXPECT_EQ(e.key_path, c.path) << c.body;
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.body;
    EXPECT_FALSE(e.message.empty()) << c.body;
    EXPECT_EQ(e.line, c.line) << c.body << e.format();
    EXPECT_EQ(e.column, c.column) << c.body << e.format();
  }
}

TEST(RuntimeConfig, TheHostHasNoJvmOfItsOwn) {
  ConfigLoad load = loadConfigText("targets: [{name: h, host: true, jvm: {}}]\n", "t.yaml");
  ASSERT_EQ(load.errors.size(), 1u) << runtimeConfigErrors(load);
  EXPECT_EQ(load.errors[0].key_path, "targets[0].jvm");
  EXPECT_THAT(load.errors[0].message, HasSubstr("the host target has none of its own"));
  EXPECT_TRUE(loadConfigText("targets: [{name: h, host: true, jvm: {perfdata: false}}]\n", "t.yaml")
                  .config);
}

TEST(RuntimeConfig, SignalsAreBounded) {
  std::string body = "    metrics_url: http://h/m\n    signals:\n";
  for (int i = 0; i < 65; ++i) body += "      s" + std::to_string(i) + ": x\n";
  ConfigError e = onlyTargetError(body);
  EXPECT_THAT(e.message, HasSubstr("at most 64 signals per target"));
}

TEST(RuntimeConfig, PrintsAndReadsBackTheSame) {
  const std::string text =
      "targets:\n  - name: a\n    pid: 1\n"
      "    go: {pprof_url: 'http://127.0.0.1:6060'}\n"
      "    metrics_url: http://127.0.0.1:8080/metrics\n"
      "    signals: {q: 'app_queue_bytes{queue=\"in\",x!=\"it''s\"}'}\n"
      "    jvm: {}\n"
      "    runtime: {interval: 2s, timeout: 1s, stale_after: 10s, max_bytes: 2000}\n";
  ConfigLoad first = loadConfigText(text, "t.yaml");
  ASSERT_TRUE(first.config) << runtimeConfigErrors(first);
  std::string printed = printConfig(*first.config);
  EXPECT_THAT(printed, HasSubstr("expvar_url: http://127.0.0.1:6060/debug/vars"));
  EXPECT_THAT(printed, HasSubstr("max_bytes: 2000"));
  ConfigLoad second = loadConfigText(printed, "printed.yaml");
  ASSERT_TRUE(second.config) << runtimeConfigErrors(second) << printed;
  EXPECT_EQ(*second.config, *first.config) << printed;
  EXPECT_EQ(second.config->targets[0].runtime, first.config->targets[0].runtime);
}

TEST(RuntimeConfig, AChangedEndpointIsAChangedTarget) {
  ConfigLoad a =
      loadConfigText("targets: [{name: a, host: true, metrics_url: 'http://h/m'}]\n", "a.yaml");
  ConfigLoad b =
      loadConfigText("targets: [{name: a, host: true, metrics_url: 'http://h/n'}]\n", "b.yaml");
  ASSERT_TRUE(a.config && b.config);
  EXPECT_FALSE(a.config->targets[0] == b.config->targets[0]);
}

}  // namespace
}  // namespace oomsentinel
