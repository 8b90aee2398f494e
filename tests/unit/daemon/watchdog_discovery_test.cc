// Selector targets in the daemon: a cgroup_glob over a fixture cgroup v2 tree laid out like a
// Kubernetes node (systemd driver, containerd), changed between ticks: containers appear and go,
// each with its own series, Kubernetes labels and rule state, and a rule limited to the
// selector's name covers what it found.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "alerts/metrics.h"
#include "daemon/logger.h"
#include "daemon/watchdog.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using namespace std::chrono_literals;
using oomsentinel::testing::TempDir;

const std::string kPod =
    "kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod1234abcd_5678_90ef_1234_567890abcdef.slice";
const std::string kIdA = std::string(64, 'a'), kIdB = std::string(64, 'b');

class Node {
 public:
  Node() {
    dir_.write("cg/cgroup.controllers", "memory\n");
    dir_.write("proc/self/cgroup", "0::/\n");
    addContainer(kIdA, 10);
  }
  std::string container(const std::string& id) const {
    return kPod + "/cri-containerd-" + id + ".scope";
  }
  void addContainer(const std::string& id, int usage_mib) const {
    std::string c = "cg/" + container(id) + "/";
    dir_.write(c + "cgroup.procs", "");
    dir_.write(c + "memory.max", "104857600\n");
    dir_.write(c + "memory.current", std::to_string(usage_mib << 20) + "\n");
    dir_.write(c + "memory.stat",
               "anon " + std::to_string(usage_mib << 20) + "\nfile 0\ninactive_file 0\n");
  }
  void removeContainer(const std::string& id) const {
    std::filesystem::remove_all(dir_.path() + "/cg/" + container(id));
  }
  // The kubelet's /var/log/containers symlink for a container.
  void logLink(const std::string& pod, const std::string& ns, const std::string& name,
               const std::string& id) const {
    std::filesystem::create_directories(dir_.path() + "/logs");
    std::filesystem::create_symlink(
        "/var/log/pods/" + ns + "_" + pod + "_1234abcd-5678-90ef-1234-567890abcdef/" + name +
            "/0.log",
        dir_.path() + "/logs/" + pod + "_" + ns + "_" + name + "-" + id + ".log");
  }
  HostPaths paths() const { return HostPaths(dir_.path() + "/cg", dir_.path() + "/proc"); }
  std::string logs() const { return dir_.path() + "/logs"; }

 private:
  TempDir dir_;
};

Config nodeConfig(const Node& node, const std::string& rule_target) {
  Config c;
  c.source = "test";
  TargetSpec t;
  t.target = Target::cgroupPath("pods", "");
  t.selector = {SelectorKind::kCgroupGlob, "kubepods.slice/*/*/*.scope"};
  c.targets.push_back(t);
  RuleSpec r;
  r.name = "near";
  r.expr = "working_set_ratio > 50%";
  r.actions = {ActionKind::kLog};
  if (!rule_target.empty()) r.targets = {rule_target};
  c.rules.push_back(r);
  c.rules_are_defaults = false;
  c.discovery.interval = 5s;
  c.discovery.containers_log_dir = node.logs();
  return c;
}

TEST(Discovery, ContainersComeAndGoWithTheirSeriesLabelsAndRules) {
  Node node;
  node.logLink("web-7d9f", "shop", "app", kIdA);
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  DaemonMetrics metrics{node.paths()};
  Watchdog dog(node.paths(), clock, log);
  dog.setMetrics(&metrics);
  ASSERT_TRUE(dog.apply(nodeConfig(node, "pods")));
  dog.tick();
  const std::string a =
      "pods/kubepods-burstable.slice/"
      "kubepods-burstable-pod1234abcd_5678_90ef_1234_567890abcdef.slice/"
      "cri-containerd-" +
      kIdA + ".scope";
  ASSERT_NE(dog.lastSnapshot(a), nullptr) << out.text();
  EXPECT_EQ(dog.lastSnapshot(a)->get(Sig::kUsageBytes), 10 << 20);
  EXPECT_THAT(out.text(), HasSubstr("discovered target target=" + a));
  std::string text = metrics.render();
  EXPECT_THAT(text,
              HasSubstr("oomsentinel_target_info{container=\"app\",container_id=\"" + kIdA +
                        "\",namespace=\"shop\",pod=\"web-7d9f\",pod_uid=\"1234abcd-5678-90ef-1234-"
                        "567890abcdef\",target=\"" +
                        a + "\"} 1"));

  // A second container appears: seen at the next look, discovery.interval later, and its rule
  // (limited to "pods") fires on it alone.
  node.addContainer(kIdB, 60);
  clock.advance(1s);
  dog.tick();
  const std::string b = a.substr(0, a.size() - kIdA.size() - 6) + kIdB + ".scope";
  EXPECT_EQ(dog.lastSnapshot(b), nullptr) << "not looked for again yet";
  clock.advance(4s);
  dog.tick();
  ASSERT_NE(dog.lastSnapshot(b), nullptr) << out.text();
  EXPECT_THAT(out.text(), HasSubstr("rule near on " + b + ": inactive -> firing"));
  EXPECT_THAT(out.text(), Not(HasSubstr("rule near on " + a + ": inactive -> firing")));
  EXPECT_EQ(dog.unresolvedTargets(), std::vector<std::string>{});

  // The first goes away: its state and its series go with it at the next look.
  node.removeContainer(kIdA);
  clock.advance(5s);
  dog.tick();
  EXPECT_EQ(dog.lastSnapshot(a), nullptr);
  EXPECT_THAT(out.text(), HasSubstr("discovered target went away target=" + a));
  text = metrics.render();
  EXPECT_THAT(text, Not(HasSubstr(kIdA)));
  EXPECT_THAT(text, HasSubstr(kIdB));

  // A reload with the selector unchanged keeps what it found (and the firing rule's state).
  std::size_t firings = 0;
  for (std::size_t at = 0; (at = out.text().find("-> firing", at)) != std::string::npos; ++at)
    ++firings;
  ASSERT_TRUE(dog.apply(nodeConfig(node, "pods")));
  clock.advance(1s);
  dog.tick();
  std::size_t after = 0;
  for (std::size_t at = 0; (at = out.text().find("-> firing", at)) != std::string::npos; ++at)
    ++after;
  EXPECT_EQ(after, firings) << "no second firing after the reload";
}

TEST(Discovery, ARuleForAnotherTargetDoesNotCoverDiscoveredOnes) {
  Node node;
  node.addContainer(kIdB, 60);
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(node.paths(), clock, log);
  Config c = nodeConfig(node, "db");
  TargetSpec db;
  db.target = Target::cgroupPath("db", kPod);
  c.targets.push_back(db);
  ASSERT_TRUE(dog.apply(c));
  dog.tick();
  EXPECT_THAT(out.text(), Not(HasSubstr("inactive -> firing")));
}

TEST(Discovery, AFailedLookIsLoggedOnceAndTheDaemonGoesOn) {
  Node node;
  FakeClock clock;
  testing::CapturedOutput out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  Watchdog dog(node.paths(), clock, log);
  Config c = nodeConfig(node, "");
  TargetSpec pidfile;
  pidfile.target = Target::process("nginx", 0);
  pidfile.selector = {SelectorKind::kPidFile, "/nonexistent/oomsentinel-test.pid"};
  c.targets.push_back(pidfile);
  ASSERT_TRUE(dog.apply(c));
  for (int i = 0; i < 3; ++i) {
    clock.advance(5s);
    dog.tick();
  }
  std::string text = out.text();
  auto first = text.find("target discovery failed; keeping what it found before target=nginx");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("target discovery failed", first + 1), std::string::npos) << "once";
  EXPECT_EQ(dog.lastSnapshot("nginx"), nullptr);
  EXPECT_EQ(dog.resolvedTargets(), 1u) << "the glob's container is watched";
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

// A sidecar with no cgroupfs view of the application: a pid target with limit_env is read from
// the application's /proc counters against the limit the Downward API put in the environment.
TEST(ProcessOnly, APidWithoutACgroupViewIsReadAgainstLimitEnv) {
  TempDir dir;
  // An empty cgroup root (no controllers: no memory hierarchy at all).
  dir.write("cg/.keep", "");
  namespace fs = std::filesystem;
  fs::create_directories(dir.path() + "/proc");
  fs::copy(testing::fixture("trees/v1/proc/5151"), dir.path() + "/proc/5151");
  HostPaths paths(dir.path() + "/cg", dir.path() + "/proc");
  Config c;
  c.source = "test";
  TargetSpec app;
  app.target = Target::process("app", 5151);
  app.limit_env = "OOMSENTINEL_TEST_APP_LIMIT";
  c.targets.push_back(app);
  RuleSpec r;
  r.name = "near";
  r.expr = "working_set_ratio > 50%";
  r.actions = {ActionKind::kLog};
  c.rules.push_back(r);
  c.rules_are_defaults = false;

  FakeClock clock;
  testing::CapturedOutput out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  {
    ::unsetenv("OOMSENTINEL_TEST_APP_LIMIT");
    Watchdog dog(paths, clock, log);
    ASSERT_TRUE(dog.apply(c));
    dog.tick();
    EXPECT_EQ(dog.lastSnapshot("app"), nullptr);
    EXPECT_THAT(out.text(), HasSubstr("limit_env OOMSENTINEL_TEST_APP_LIMIT is not set"));
    // Retried every 5 s, each error said once.
    for (int i = 0; i < 3; ++i) {
      clock.advance(5s);
      dog.tick();
    }
    std::string text = out.text();
    for (const char* said : {"cannot find the memory cgroup controller", "is not set"}) {
      auto first = text.find(said);
      ASSERT_NE(first, std::string::npos) << said;
      EXPECT_EQ(text.find(said, first + 1), std::string::npos) << said << "\n" << text;
    }
  }
  ::setenv("OOMSENTINEL_TEST_APP_LIMIT", "67108864", 1);  // 64 MiB, as the Downward API writes it
  Watchdog dog(paths, clock, log);
  ASSERT_TRUE(dog.apply(c));
  dog.tick();
  ::unsetenv("OOMSENTINEL_TEST_APP_LIMIT");
  const Snapshot* s = dog.lastSnapshot("app");
  ASSERT_NE(s, nullptr) << out.text();
  EXPECT_EQ(s->get(Sig::kRssBytes), 40960.0 * 1024);
  EXPECT_EQ(s->get(Sig::kUsageBytes), 40960.0 * 1024);
  EXPECT_EQ(s->get(Sig::kLimitBytes), 64.0 * 1024 * 1024);
  EXPECT_EQ(s->get(Sig::kWorkingSetRatio), 40960.0 / 65536);
  EXPECT_THAT(out.text(), HasSubstr("no cgroup view of the target: watching its /proc counters"));
  EXPECT_THAT(out.text(), HasSubstr("rule near on app: inactive -> firing"));
}

}  // namespace
}  // namespace oomsentinel
