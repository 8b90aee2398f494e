// The dump: section and a target's dumpers (dumpers, gperftools, go.profiles, jvm, exec, proc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "config/config.h"

namespace oomsentinel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string dumpConfigErrors(const ConfigLoad& load) {
  std::string out;
  for (const auto& e : load.errors) out += e.format() + "\n";
  return out;
}

Config loadDumpConfig(const std::string& text) {
  ConfigLoad load = loadConfigText(text, "t.yaml");
  EXPECT_TRUE(load.config) << dumpConfigErrors(load);
  return load.config.value_or(Config{});
}

ConfigError onlyDumpConfigError(const std::string& text) {
  ConfigLoad load = loadConfigText(text, "t.yaml");
  EXPECT_EQ(load.errors.size(), 1u) << dumpConfigErrors(load);
  return load.errors.empty() ? ConfigError{} : load.errors[0];
}

const std::string kApp = "targets:\n  - name: app\n    cgroup: app\n";

TEST(DumpConfig, Defaults) {
  Config c = loadDumpConfig(kApp);
  EXPECT_EQ(c.dump, DumpSpec{});
  EXPECT_EQ(c.dump.dir, "/var/lib/oomsentinel/incidents");
  EXPECT_EQ(c.dump.max_incidents, 20u);
  EXPECT_EQ(c.dump.min_free, 1ull << 30);
  EXPECT_EQ(c.dump.max_bundle_bytes, 1ull << 30);
  EXPECT_EQ(c.dump.per_minute, 6u);
  EXPECT_EQ(c.dump.target_cooldown, 5min);
  ASSERT_EQ(c.targets.size(), 1u);
  EXPECT_THAT(c.targets[0].dump.dumpers, ElementsAre(DumperKind::kProc));
}

TEST(DumpConfig, TheDumpSection) {
  Config c = loadDumpConfig(
      "dump:\n  dir: /srv/incidents\n  max_incidents: 5\n  max_bytes: 10GiB\n  max_age: 48h\n"
      "  min_free: 512MiB\n  max_artifact_bytes: 64MiB\n  timeout: 10s\n  per_minute: 2\n"
      "  target_cooldown: 0s\n  history: 120\n  max_bundle_bytes: 300MiB\n");
  EXPECT_EQ(c.dump.dir, "/srv/incidents");
  EXPECT_EQ(c.dump.max_incidents, 5u);
  EXPECT_EQ(c.dump.max_bytes, 10ull << 30);
  EXPECT_EQ(c.dump.max_age, 48h);
  EXPECT_EQ(c.dump.min_free, 512ull << 20);
  EXPECT_EQ(c.dump.max_artifact_bytes, 64ull << 20);
  EXPECT_EQ(c.dump.max_bundle_bytes, 300ull << 20);
  EXPECT_EQ(c.dump.timeout, 10s);
  EXPECT_EQ(c.dump.per_minute, 2u);
  EXPECT_EQ(c.dump.target_cooldown, 0s);
  EXPECT_EQ(c.dump.history, 120u);

  EXPECT_THAT(onlyDumpConfigError("dump: {dir: incidents}\n").message, HasSubstr("absolute path"));
  EXPECT_THAT(onlyDumpConfigError("dump: {max_incidents: 0}\n").message,
              HasSubstr("whole number from 1 to 100000"));
  EXPECT_THAT(onlyDumpConfigError("dump: {per_minute: many}\n").message, HasSubstr("whole number"));
  EXPECT_THAT(onlyDumpConfigError("dump: {timeout: 5ms}\n").message, HasSubstr("at least 100ms"));
  EXPECT_EQ(onlyDumpConfigError("dump: {dirr: /x}\n").message,
            "unknown key 'dirr' (did you mean 'dir'?)");
}

TEST(DumpConfig, DumpersAreInferredFromTheSectionsGiven) {
  Config c =
      loadDumpConfig(kApp +
                     "    gperftools: {heap_prefix: /tmp/app, signal: SIGUSR1}\n"
                     "    go: {pprof_url: 'http://127.0.0.1:6060', profiles: [heap, allocs]}\n"
                     "    jvm: {class_histogram: true, heap_dump: true}\n"
                     "    exec: {argv: [/usr/local/bin/collect, --fast], timeout: 3s, user: app}\n"
                     "    proc: {smaps: true}\n");
  const TargetDumpSpec& d = c.targets[0].dump;
  EXPECT_THAT(d.dumpers, ElementsAre(DumperKind::kProc, DumperKind::kGperftools,
                                     DumperKind::kGoPprof, DumperKind::kJvm, DumperKind::kExec));
  EXPECT_EQ(d.gperftools_heap_prefix, "/tmp/app");
  EXPECT_EQ(d.gperftools_signal, SIGUSR1);
  EXPECT_THAT(d.go_profiles, ElementsAre("heap", "allocs"));
  EXPECT_TRUE(d.jvm_heap_dump);
  // The direct attach and the histogram after a full GC, unless told.
  EXPECT_FALSE(d.jvm_attach_jcmd);
  EXPECT_FALSE(d.jvm_class_histogram_all);
  const TargetDumpSpec told =
      loadDumpConfig(kApp + "    jvm: {attach: direct, class_histogram_all: true}\n")
          .targets[0]
          .dump;
  EXPECT_FALSE(told.jvm_attach_jcmd);
  EXPECT_TRUE(told.jvm_class_histogram_all);
  EXPECT_TRUE(loadDumpConfig(kApp + "    jvm: {attach: jcmd}\n").targets[0].dump.jvm_attach_jcmd);
  EXPECT_THAT(d.exec_argv, ElementsAre("/usr/local/bin/collect", "--fast"));
  EXPECT_EQ(d.exec_timeout, 3s);
  EXPECT_EQ(d.exec_user, "app");
  EXPECT_TRUE(d.proc_smaps);
  // The hook runs as nobody unless told.
  EXPECT_EQ(loadDumpConfig(kApp + "    exec: {argv: [/bin/true]}\n").targets[0].dump.exec_user,
            "nobody");
  // Its cgroup is capped unless told otherwise: 64 MiB (no swap) and 512 tasks.
  const TargetDumpSpec plain =
      loadDumpConfig(kApp + "    exec: {argv: [/bin/true]}\n").targets[0].dump;
  EXPECT_EQ(plain.exec_memory_max, 64ull << 20);
  EXPECT_EQ(plain.exec_pids_max, 512u);
  const TargetDumpSpec capped =
      loadDumpConfig(kApp + "    exec: {argv: [/bin/true], memory_max: 1GiB, pids_max: 64}\n")
          .targets[0]
          .dump;
  EXPECT_EQ(capped.exec_memory_max, 1ull << 30);
  EXPECT_EQ(capped.exec_pids_max, 64u);

  // Listed explicitly: exactly those, in that order.
  Config only =
      loadDumpConfig(kApp + "    dumpers: [gperftools]\n    gperftools: {heap_prefix: /h}\n");
  EXPECT_THAT(only.targets[0].dump.dumpers, ElementsAre(DumperKind::kGperftools));
  EXPECT_EQ(only.targets[0].dump.gperftools_signal, SIGUSR2);
  // A perf-data-only jvm section still adds the jcmd dumper (class histogram by default).
  EXPECT_THAT(loadDumpConfig(kApp + "    jvm: {}\n").targets[0].dump.dumpers,
              ElementsAre(DumperKind::kProc, DumperKind::kJvm));
}

TEST(DumpConfig, DumperMistakes) {
  struct Case {
    std::string body, message;
  };
  std::vector<Case> cases = {
      {"    dumpers: [prof]\n", "unknown dumper 'prof' (did you mean 'proc'?)"},
      {"    dumpers: [gperftools]\n", "needs a gperftools: {heap_prefix: ...} section"},
      {"    dumpers: [go_pprof]\n", "needs go.pprof_url"},
      {"    dumpers: [exec]\n", "needs an exec: {argv: [...]} section"},
      {"    gperftools: {signal: SIGUSR2}\n", "missing required key 'heap_prefix'"},
      {"    gperftools: {heap_prefix: heap}\n", "must be an absolute path"},
      {"    gperftools: {heap_prefix: /h, signal: SIGTERM}\n", "use SIGUSR1, SIGUSR2, SIGPROF"},
      {"    gperftools: {heap_prefix: /h, signal: 9}\n", "cannot stop the target"},
      {"    exec: {argv: [collect]}\n", "must be an absolute path"},
      {"    exec: {argv: []}\n", "a list of strings"},
      {"    exec: {timeout: 1s}\n", "missing required key 'argv'"},
      {"    exec: {argv: [/bin/true], user: [a]}\n", "a user name or uid"},
      {"    exec: {argv: [/bin/true], memory_max: 1MiB}\n", "must be at least 16MiB"},
      {"    exec: {argv: [/bin/true], memory_max: lots}\n", "expected a number with a unit"},
      {"    exec: {argv: [/bin/true], pids_max: 0}\n", "expected a whole number from 16 to"},
      {"    exec: {argv: [/bin/true], pids_max: -1}\n", "expected a whole number from 16 to"},
      {"    exec: {argv: [/bin/true], pids_max: [1]}\n", "expected a whole number from 16 to"},
      {"    go: {pprof_url: 'http://h:1', profiles: [../etc]}\n", "a pprof profile is a name"},
  };
  for (const auto& c : cases) {
    ConfigError e = onlyDumpConfigError(kApp + c.body);
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.body;
  }
  EXPECT_THAT(
      onlyDumpConfigError(
          "targets: [{name: h, host: true, dumpers: [gperftools], gperftools: {heap_prefix: "
          "/h}}]\n")
          .message,
      HasSubstr("needs a process: give a cgroup or pid target"));
  // Real-time signals by offset and by number.
  Config rt = loadDumpConfig(kApp + "    gperftools: {heap_prefix: /h, signal: SIGRTMIN+3}\n");
  EXPECT_EQ(rt.targets[0].dump.gperftools_signal, SIGRTMIN + 3);
  Config num = loadDumpConfig(kApp + "    gperftools: {heap_prefix: /h, signal: 10}\n");
  EXPECT_EQ(num.targets[0].dump.gperftools_signal, SIGUSR1);
}

TEST(DumpConfig, PrintsAndReadsBackTheSame) {
  Config c =
      loadDumpConfig("dump: {dir: /srv/i, max_bytes: 3GiB, min_free: 100MiB, history: 5}\n" + kApp +
                     "    gperftools: {heap_prefix: /tmp/app, signal: SIGRTMIN+2}\n"
                     "    go: {pprof_url: 'http://127.0.0.1:6060', profiles: [heap]}\n"
                     "    jvm: {perfdata: false, heap_dump: true}\n"
                     "    exec: {argv: [/bin/echo, 'a b'], timeout: 2s, user: '1000', memory_max: "
                     "100MiB, pids_max: 99}\n"
                     "    proc: {smaps: true}\n"
                     "    dumpers: [exec, proc, jvm]\n");
  std::string printed = printConfig(c);
  ConfigLoad back = loadConfigText(printed, "printed.yaml");
  ASSERT_TRUE(back.config) << dumpConfigErrors(back) << printed;
  EXPECT_EQ(*back.config, c) << printed;
  EXPECT_EQ(back.config->dump, c.dump);
  EXPECT_EQ(back.config->targets[0].dump, c.targets[0].dump) << printed;
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

TEST(DumpConfig, ThrottleDuringDumpAsABoolOrAMap) {
  const TargetDumpSpec off = loadDumpConfig(kApp).targets[0].dump;
  EXPECT_FALSE(off.throttle);
  EXPECT_EQ(off.throttle_max_duration, 5s);
  EXPECT_EQ(off.throttle_headroom, 0u);
  EXPECT_EQ(loadDumpConfig(kApp).dump.throttle_records, "/var/lib/oomsentinel/throttle");

  EXPECT_TRUE(loadDumpConfig(kApp + "    throttle_during_dump: true\n").targets[0].dump.throttle);
  const TargetDumpSpec map =
      loadDumpConfig(kApp + "    throttle_during_dump: {max_duration: 2s, headroom: 16MiB}\n")
          .targets[0]
          .dump;
  EXPECT_TRUE(map.throttle);
  EXPECT_EQ(map.throttle_max_duration, 2s);
  EXPECT_EQ(map.throttle_headroom, 16u << 20);
  EXPECT_EQ(loadDumpConfig("dump: {throttle_records: /srv/throttle}\n").dump.throttle_records,
            "/srv/throttle");

  struct Case {
    std::string body, message, key_path;
  };
  std::vector<Case> cases = {
      {"    throttle_during_dump: yes please\n", "true or false",
       "targets[0].throttle_during_dump"},
      {"    throttle_during_dump: {max_duration: 10m}\n", "at most 5m",
       "targets[0].throttle_during_dump.max_duration"},
      {"    throttle_during_dump: {max_duration: 1ms}\n", "at least 100ms",
       "targets[0].throttle_during_dump.max_duration"},
      {"    throttle_during_dump: {headroom: 0}\n", "more than 0",
       "targets[0].throttle_during_dump.headroom"},
      {"    throttle_during_dump: {headrom: 1MiB}\n", "did you mean 'headroom'",
       "targets[0].throttle_during_dump.headrom"},
  };
  for (const auto& c : cases) {
    ConfigError e = onlyDumpConfigError(kApp + c.body);
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.body;
    EXPECT_EQ(e.key_path, c.key_path) << c.body;
  }
  EXPECT_THAT(
      onlyDumpConfigError("targets: [{name: h, host: true, throttle_during_dump: true}]\n").message,
      HasSubstr("the host target has no memory.high"));
  EXPECT_THAT(onlyDumpConfigError("dump: {throttle_records: throttle}\n").message,
              HasSubstr("absolute path"));
}

// A trailing '/' would make the store's lstat and open(O_NOFOLLOW) follow a symlink in the last
// place: the directories are normalised at load, and a ".." is refused.
TEST(DumpConfig, DirectoriesAreNormalisedAndDotDotRefused) {
  Config c = loadDumpConfig(
      "dump: {dir: '/var//lib/./oomsentinel/incidents/', throttle_records: '/t//'}\n");
  EXPECT_EQ(c.dump.dir, "/var/lib/oomsentinel/incidents");
  EXPECT_EQ(c.dump.throttle_records, "/t");
  EXPECT_EQ(loadDumpConfig("dump: {dir: '//'}\n").dump.dir, "/");
  EXPECT_THAT(onlyDumpConfigError("dump: {dir: /var/lib/../../etc}\n").message,
              HasSubstr("must not have a '..' component"));
}

}  // namespace
}  // namespace oomsentinel
