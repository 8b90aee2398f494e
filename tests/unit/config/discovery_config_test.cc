// config/: the selector targets (process, pid_file, cgroup_glob, systemd_unit), limit_env and
// the discovery section: what each reads, each error with its position, and the printed form.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string formatSelectorErrors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.format() + "\n";
  return out;
}

ConfigError onlySelectorError(const std::string& text) {
  ConfigLoad load = loadConfigText(text, "t.yaml");
  EXPECT_EQ(load.errors.size(), 1u) << formatSelectorErrors(load.errors);
  return load.errors.empty() ? ConfigError{} : load.errors[0];
}

Config loadSelectorConfig(const std::string& text) {
  ConfigLoad load = loadConfigText(text, "t.yaml");
  EXPECT_TRUE(load.config.has_value()) << formatSelectorErrors(load.errors);
  return load.config.value_or(Config{});
}

TEST(SelectorConfig, EachSelectorIsReadWithTheKindDiscoveryMakes) {
  Config c = loadSelectorConfig(
      "targets:\n"
      "  - {name: java, process: 'java .*-jar app\\.jar'}\n"
      "  - {name: nginx, pid_file: /run/nginx.pid}\n"
      "  - {name: pods, cgroup_glob: 'kubepods.slice/*/*'}\n"
      "  - {name: db, systemd_unit: postgresql.service}\n"
      "  - {name: all, cgroup_glob: 'kubepods/**'}\n"
      "  - {name: sl, systemd_unit: machine-qemu.slice}\n"
      "  - {name: sc, systemd_unit: session-3.scope}\n");
  ASSERT_EQ(c.targets.size(), 7u);
  struct Want {
    SelectorKind kind;
    const char* pattern;
    TargetKind target_kind;
  };
  const Want want[] = {
      {SelectorKind::kProcess, "java .*-jar app\\.jar", TargetKind::kPid},
      {SelectorKind::kPidFile, "/run/nginx.pid", TargetKind::kPid},
      {SelectorKind::kCgroupGlob, "kubepods.slice/*/*", TargetKind::kCgroup},
      {SelectorKind::kSystemdUnit, "postgresql.service", TargetKind::kCgroup},
      {SelectorKind::kCgroupGlob, "kubepods/**", TargetKind::kCgroup},
      {SelectorKind::kSystemdUnit, "machine-qemu.slice", TargetKind::kCgroup},
      {SelectorKind::kSystemdUnit, "session-3.scope", TargetKind::kCgroup},
  };
  for (std::size_t i = 0; i < 7; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(c.targets[i].selector.kind, want[i].kind);
    EXPECT_EQ(c.targets[i].selector.pattern, want[i].pattern);
    EXPECT_TRUE(c.targets[i].selector.any());
    EXPECT_EQ(c.targets[i].target.kind, want[i].target_kind);
    EXPECT_EQ(c.targets[i].target.cgroup, "");
    EXPECT_EQ(c.targets[i].target.pid, 0);
  }
  EXPECT_STREQ(selectorKindName(SelectorKind::kCgroupGlob), "cgroup_glob");
  EXPECT_STREQ(selectorKindName(SelectorKind::kNone), "none");
  // A concrete target has no selector.
  EXPECT_FALSE(
      loadSelectorConfig("targets: [{name: a, cgroup: a.slice}]\n").targets[0].selector.any());
}

TEST(SelectorConfig, ADumperThatNeedsAProcessIsFineOnASelector) {
  Config c = loadSelectorConfig(
      "targets:\n  - name: j\n    process: java\n    jvm: {perfdata: true}\n"
      "    dumpers: [proc, jvm]\n");
  EXPECT_EQ(c.targets[0].dump.dumpers,
            (std::vector<DumperKind>{DumperKind::kProc, DumperKind::kJvm}));
}

TEST(SelectorConfig, ErrorsSayWhatIsWrongWhere) {
  struct Case {
    const char* text;
    const char* key_path;
    const char* message;
    int line, column;
  };
  const Case cases[] = {
      {"targets:\n  - name: a\n    process: 'java (.*'\n", "targets[0].process",
       "not a valid RE2 regular expression: missing ): java (.*", 3, 14},
      // ECMAScript that RE2 does not take: lookaround and backreferences.
      {"targets:\n  - name: a\n    process: 'java(?!c)'\n", "targets[0].process",
       "not a valid RE2 regular expression: invalid perl operator: (?!", 3, 14},
      {"targets:\n  - name: a\n    process: '(j)ava\\1'\n", "targets[0].process",
       "not a valid RE2 regular expression: invalid escape sequence: \\1", 3, 14},
      {"targets:\n  - name: a\n    process: ''\n", "targets[0].process",
       "empty: expected a regular expression such as 'java .*-jar app\\.jar'", 3, 14},
      {"targets:\n  - name: a\n    process: [java]\n", "targets[0].process",
       "expected a regular expression such as 'java .*-jar app\\.jar', got a list", 3, 14},
      {"targets:\n  - name: a\n    pid_file: run/a.pid\n", "targets[0].pid_file",
       "must be an absolute path, got 'run/a.pid'", 3, 15},
      {"targets:\n  - name: a\n    cgroup_glob: /kubepods/*\n", "targets[0].cgroup_glob",
       "a glob is relative to the memory hierarchy's root: leave out the leading '/'", 3, 18},
      {"targets:\n  - name: a\n    cgroup_glob: 'a/../*'\n", "targets[0].cgroup_glob",
       "a cgroup glob may not contain '..'", 3, 18},
      {"targets:\n  - name: a\n    cgroup_glob: '..'\n", "targets[0].cgroup_glob",
       "a cgroup glob may not contain '..'", 3, 18},
      {"targets:\n  - name: a\n    systemd_unit: app\n", "targets[0].systemd_unit",
       "a unit with a cgroup of its own ends in .service, .scope or .slice, got 'app'", 3, 19},
      {"targets:\n  - name: a\n    systemd_unit: .service\n", "targets[0].systemd_unit",
       "a unit with a cgroup of its own ends in .service, .scope or .slice, got '.service'", 3, 19},
      {"targets:\n  - name: a\n    systemd_unit: app.socket\n", "targets[0].systemd_unit",
       "a unit with a cgroup of its own ends in .service, .scope or .slice, got 'app.socket'", 3,
       19},
      {"targets:\n  - name: a\n    systemd_unit: system.slice/a.service\n",
       "targets[0].systemd_unit",
       "a unit name has no '/': give the unit (app.service), or use cgroup: PATH", 3, 19},
      {"targets:\n  - name: a\n    process: java\n    cgroup_glob: '*'\n", "targets[0].cgroup_glob",
       "'cgroup_glob' and 'process' given together: a target is exactly one of cgroup, pid, "
       "self, host, process, pid_file, cgroup_glob, systemd_unit",
       4, 5},
      {"targets:\n  - name: a\n    limit_env: 2BIG\n    host: true\n", "targets[0].limit_env",
       "an environment variable name is letters, digits and '_', not starting with a digit, got "
       "'2BIG'",
       3, 16},
      {"targets:\n  - name: a\n    limit_env: MEM-LIMIT\n    host: true\n", "targets[0].limit_env",
       "an environment variable name is letters, digits and '_', not starting with a digit, got "
       "'MEM-LIMIT'",
       3, 16},
      {"targets:\n  - name: a\n    limit_env: {x: 1}\n    host: true\n", "targets[0].limit_env",
       "expected an environment variable name such as MEMORY_LIMIT, got a map", 3, 16},
      {"discovery:\n  interval: 99ms\n", "discovery.interval", "must be at least 100ms, got '99ms'",
       2, 13},
      {"discovery:\n  interval: 5\n", "discovery.interval",
       "a duration needs a unit, e.g. '5s' or '5ms' (ns, us, ms, s, m, h)", 2, 13},
      {"discovery:\n  containers_log_dir: var/log\n", "discovery.containers_log_dir",
       "must be an absolute path, got 'var/log'", 2, 23},
      {"discovery: [1]\n", "discovery",
       "expected a map with the keys interval, containers_log_dir, got a list", 1, 12},
      {"discovery: {intervall: 1s}\n", "discovery.intervall",
       "unknown key 'intervall' (did you mean 'interval'?)", 1, 13},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ConfigError e = onlySelectorError(c.text);
    EXPECT_EQ(e.key_path, c.key_path);
    EXPECT_EQ(e.message.substr(0, std::string(c.message).size()), c.message) << e.message;
    EXPECT_EQ(e.line, c.line);
    EXPECT_EQ(e.column, c.column);
  }
}

TEST(SelectorConfig, NoKindListsTheSelectorsToo) {
  EXPECT_EQ(onlySelectorError("targets: [{name: a}]\n").message,
            "no target kind: give one of cgroup: PATH, pid: N, self: true, host: true, process: "
            "REGEX, pid_file: PATH, cgroup_glob: GLOB, systemd_unit: NAME");
  // A misspelt selector: the suggestion, not also "no target kind".
  EXPECT_EQ(onlySelectorError("targets: [{name: a, proces: java}]\n").message,
            "unknown key 'proces' (did you mean 'process'?)");
}

TEST(LimitEnvConfig, IsReadOnAnyTarget) {
  Config c = loadSelectorConfig(
      "targets:\n"
      "  - {name: me, self: true, limit_env: MEMORY_LIMIT}\n"
      "  - {name: j, process: java, limit_env: _x9}\n"
      "  - {name: h, host: true}\n");
  EXPECT_EQ(c.targets[0].limit_env, "MEMORY_LIMIT");
  EXPECT_EQ(c.targets[1].limit_env, "_x9");
  EXPECT_EQ(c.targets[2].limit_env, "");
}

TEST(DiscoveryConfig, DefaultsAndValues) {
  Config d = loadSelectorConfig("");
  EXPECT_EQ(d.discovery, DiscoverySpec{});
  EXPECT_EQ(d.discovery.interval, seconds(5));
  EXPECT_EQ(d.discovery.containers_log_dir, "/var/log/containers");
  Config c = loadSelectorConfig(
      "discovery: {interval: 100ms, containers_log_dir: /host/var/log/containers}\n");
  EXPECT_EQ(c.discovery.interval, milliseconds(100));
  EXPECT_EQ(c.discovery.containers_log_dir, "/host/var/log/containers");
  EXPECT_EQ(loadSelectorConfig("discovery:\n").discovery, DiscoverySpec{});
  EXPECT_FALSE(c == d);  // part of the compared config, so a reload sees the change
}

TEST(SelectorConfig, EqualityComparesSelectorAndLimitEnv) {
  Config a = loadSelectorConfig("targets: [{name: j, process: java}]\n");
  Config b = loadSelectorConfig("targets: [{name: j, process: javac}]\n");
  Config c = loadSelectorConfig("targets: [{name: j, process: java, limit_env: M}]\n");
  Config d = loadSelectorConfig("targets: [{name: j, pid_file: /java}]\n");
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == c);
  EXPECT_FALSE(a == d);
  EXPECT_TRUE(a == loadSelectorConfig("targets: [{name: j, process: java}]\n"));
}

TEST(SelectorConfig, PrintsAndReadsBack) {
  Config c = loadSelectorConfig(
      "targets:\n"
      "  - {name: java, process: '[jJ]ava \"x\" .*', limit_env: MEM}\n"
      "  - {name: nginx, pid_file: /run/nginx.pid}\n"
      "  - {name: pods, cgroup_glob: '*/kubepods-*.slice/**'}\n"
      "  - {name: db, systemd_unit: postgresql@14-main.service}\n"
      "discovery: {interval: 2500ms, containers_log_dir: /x/y}\n");
  std::string printed = printConfig(c);
  for (const char* line :
       {"    process: \"[jJ]ava \\\"x\\\" .*\"\n", "    limit_env: MEM\n",
        "    pid_file: \"/run/nginx.pid\"\n", "    cgroup_glob: \"*/kubepods-*.slice/**\"\n",
        "    systemd_unit: \"postgresql@14-main.service\"\n",
        "discovery:\n  interval: 2500ms\n  containers_log_dir: /x/y\n"})
    EXPECT_THAT(printed, HasSubstr(line)) << line << "\n---\n" << printed;
  ConfigLoad back = loadConfigText(printed, "printed");
  ASSERT_TRUE(back.config) << formatSelectorErrors(back.errors) << printed;
  EXPECT_EQ(*back.config, c);
  EXPECT_EQ(back.config->targets[0].selector.pattern, "[jJ]ava \"x\" .*");
}

}  // namespace
}  // namespace oomsentinel
