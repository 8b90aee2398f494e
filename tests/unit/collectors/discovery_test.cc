// Target discovery on the fixture trees in tests/fixtures/discovery/ (see its README): every
// selector, the names it gives, the Kubernetes labels, and pids whose /proc/PID/cgroup path is
// relative to a cgroup namespace.
#include "collectors/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "collectors/kube_path.h"
#include "core/owned_fd.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using testing::fixture;
using testing::TempDir;
using Labels = std::vector<std::pair<std::string, std::string>>;

const std::string kId1(64, 'a'), kId2(64, 'b'), kId3(64, 'c'), kId4(64, 'd'), kId5(64, 'e'),
    kId6(64, 'f');
const std::string kId7 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kU1 = "1a2b3c4d-0000-4000-8000-00000000abcd";
const std::string kU2 = "2b3c4d5e-1111-4111-8111-11111111bcde";
const std::string kU3 = "3c4d5e6f-2222-4222-8222-22222222cdef";
const std::string kU4 = "4d5e6f70-3333-4333-8333-33333333def0";
const std::string kPod1 =
    "kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod1a2b3c4d_0000_4000_8000_00000000abcd.slice";

std::string disc(const std::string& part) { return fixture("discovery/" + part); }

HostPaths paths(const std::string& tree) { return HostPaths(disc(tree + "/cgroup"), disc("proc")); }

CgroupLayout discoveryLayoutOf(const std::string& tree) {
  auto l = detectLayout(paths(tree));
  EXPECT_TRUE(l.ok()) << l.error().describe();
  return l.ok() ? *l : CgroupLayout{};
}

std::vector<std::string> names(const std::vector<Discovered>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.target.name);
  return out;
}

std::vector<std::string> cgroups(const std::vector<Discovered>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.target.cgroup);
  return out;
}

// The kubelet's /var/log/containers, made at run time (symlinks into /var/log/pods).
struct LogDir {
  TempDir dir;
  void link(const std::string& pod, const std::string& ns, const std::string& ctr,
            const std::string& id, const std::string& uid) {
    std::string target = "/var/log/pods/" + ns + "_" + pod + "_" + uid + "/" + ctr + "/0.log";
    std::string name = dir.path() + "/" + pod + "_" + ns + "_" + ctr + "-" + id + ".log";
    EXPECT_EQ(::symlink(target.c_str(), name.c_str()), 0) << name;
  }
};

// ---- the Kubernetes cgroup path parser ----

TEST(KubeCgroupPath, BothDriversEveryRuntimeAndQos) {
  struct Case {
    std::string path;
    KubePath want;
  };
  const Case cases[] = {
      {kPod1 + "/cri-containerd-" + kId1 + ".scope", {"burstable", kU1, kId1, "containerd"}},
      {"/" + kPod1 + "/cri-containerd-" + kId1 + ".scope/", {"burstable", kU1, kId1, "containerd"}},
      {kPod1, {"burstable", kU1, "", ""}},
      {"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
           std::string("2b3c4d5e_1111_4111_8111_11111111bcde.slice/crio-") + kId3 + ".scope",
       {"besteffort", kU2, kId3, "cri-o"}},
      {"kubepods.slice/kubepods-pod3c4d5e6f_2222_4222_8222_22222222cdef.slice/docker-" + kId4 +
           ".scope",
       {"guaranteed", kU3, kId4, "docker"}},
      // CRI-O on cgroup v2 may nest a "container" cgroup inside the scope.
      {kPod1 + "/crio-" + kId1 + ".scope/container", {"burstable", kU1, kId1, "cri-o"}},
      // Below a kubelet --cgroup-root, as kind nodes do.
      {"kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
       "kubelet-kubepods-burstable-pod1a2b3c4d_0000_4000_8000_00000000abcd.slice/cri-containerd-" +
           kId1 + ".scope",
       {"burstable", kU1, kId1, "containerd"}},
      // A static pod's uid is a 32-digit hash.
      {"kubepods.slice/kubepods-burstable.slice/"
       "kubepods-burstable-pod0123456789abcdef0123456789abcdef.slice",
       {"burstable", "0123456789abcdef0123456789abcdef", "", ""}},
      // cgroupfs.
      {"kubepods/burstable/pod" + kU4 + "/" + kId5, {"burstable", kU4, kId5, ""}},
      {"/kubepods/pod" + kU1 + "/" + kId6, {"guaranteed", kU1, kId6, ""}},
      {"kubepods/besteffort/pod" + kU2 + "/crio-" + kId7, {"besteffort", kU2, kId7, "cri-o"}},
      {"kubepods/besteffort/pod" + kU2, {"besteffort", kU2, "", ""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    auto k = parseKubeCgroupPath(c.path);
    ASSERT_TRUE(k.has_value());
    EXPECT_EQ(*k, c.want);
  }
}

TEST(KubeCgroupPath, MalformedAndForeignPathsAreNotKubernetes) {
  for (const std::string& path : {
           std::string(""),
           std::string("/"),
           std::string("kubepods.slice"),
           std::string("kubepods.slice/kubepods-burstable.slice"),
           std::string("system.slice/app.service"),
           std::string("kubepods"),
           std::string("kubepods/burstable"),
           // uid: too short, not hex, wrong dash positions
           std::string("kubepods.slice/kubepods-pod1234.slice"),
           std::string("kubepods.slice/kubepods-podzzzzzzzz_0000_4000_8000_00000000abcd.slice"),
           std::string("kubepods/pod1a2b3c4d0-000-4000-8000-00000000abcd/" + kId1),
           // a pod slice that is not kubepods'
           std::string("system.slice/foo-pod1a2b3c4d_0000_4000_8000_00000000abcd.slice"),
           // the container: a short id, an unknown runtime, conmon, a missing .scope
           kPod1 + "/cri-containerd-abc.scope",
           kPod1 + "/runc-" + kId1 + ".scope",
           kPod1 + "/crio-conmon-" + kId1 + ".scope",
           kPod1 + "/cri-containerd-" + kId1,
           "kubepods/burstable/pod" + kU4 + "/" + kId5.substr(1),
           "kubepods/burstable/pod" + kU4 + "/" + std::string(64, 'G'),
           // pod<uid> not under kubepods
           "other/burstable/pod" + kU4 + "/" + kId5,
           "pod" + kU4 + "/" + kId5,
       }) {
    EXPECT_FALSE(parseKubeCgroupPath(path).has_value()) << path;
  }
}

TEST(ContainerLogName, ParsedFromTheRight) {
  auto n = parseContainerLogName("shop-7d9f8-x2k4q_prod_app-" + kId1 + ".log");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, (ContainerLogName{"shop-7d9f8-x2k4q", "prod", "app", kId1}));
  // A container name with dashes; a namespace with dashes.
  n = parseContainerLogName("p_kube-system_istio-proxy-" + kId2 + ".log");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, (ContainerLogName{"p", "kube-system", "istio-proxy", kId2}));
  for (const std::string& bad : {
           "p_ns_c-" + kId1,                     // no .log
           "p_ns_c-" + kId1.substr(1) + ".log",  // short id
           "p_ns_c" + kId1 + ".log",             // no '-' before the id
           "p_ns-" + kId1 + ".log",              // no container part
           "pns_c-" + kId1 + ".log",             // hmm: pod "pns"? no namespace
           "_ns_c-" + kId1 + ".log",             // empty pod
           "p__c-" + kId1 + ".log",              // empty namespace
           "p_ns_-" + kId1 + ".log",             // empty container
           std::string("x.log"),
       })
    EXPECT_FALSE(parseContainerLogName(bad).has_value()) << bad;
}

TEST(KubeLabels, NamesFromTheLogDirectory) {
  LogDir logs;
  logs.link("shop-1", "prod", "app", kId1, kU1);
  logs.link("shop-1", "prod", "sidecar", kId2, kU1);
  logs.link("bad-name", "ns", "c", kId4, "not-a-uid");
  ::symlink("/nowhere", (logs.dir.path() + "/README").c_str());
  KubeLogIndex index = readKubeLogIndex(logs.dir.path());
  EXPECT_EQ(index.by_container_id.size(), 3u);
  EXPECT_EQ(index.by_pod_uid.size(), 1u);

  EXPECT_EQ(kubeLabels(kPod1 + "/cri-containerd-" + kId1 + ".scope", index),
            (Labels{{"namespace", "prod"},
                    {"pod", "shop-1"},
                    {"container", "app"},
                    {"pod_uid", kU1},
                    {"container_id", kId1}}));
  // The pod's own cgroup: namespace and pod from where the symlinks point.
  EXPECT_EQ(kubeLabels(kPod1, index),
            (Labels{{"namespace", "prod"}, {"pod", "shop-1"}, {"pod_uid", kU1}}));
  // Not in the log directory: the ids only.
  EXPECT_EQ(kubeLabels("kubepods/burstable/pod" + kU4 + "/" + kId5, index),
            (Labels{{"pod_uid", kU4}, {"container_id", kId5}}));
  EXPECT_TRUE(kubeLabels("system.slice/app.service", index).empty());
  // No directory: no names, no error.
  EXPECT_TRUE(readKubeLogIndex("/nonexistent-oomsentinel-dir").by_container_id.empty());
  EXPECT_TRUE(readKubeLogIndex("").by_container_id.empty());
}

TEST(KubeLabels, UnsafeValuesAreLeftOut) {
  KubeLogIndex index;
  index.by_container_id[kId1] = {"shop", "prod", "bad\"name", kId1};
  EXPECT_EQ(
      kubeLabels(kPod1 + "/cri-containerd-" + kId1 + ".scope", index),
      (Labels{{"namespace", "prod"}, {"pod", "shop"}, {"pod_uid", kU1}, {"container_id", kId1}}));
}

// ---- process ----

TEST(DiscoverProcesses, RegexOverCommAndCmdlineSkippingSelfAndKernelThreads) {
  LogDir logs;
  logs.link("shop-1", "prod", "app", kId1, kU1);
  DiscoveryOptions o;
  o.containers_log_dir = logs.dir.path();
  // "java" is in 3001's and 3002's comm, and in oomsentinel's own (999) command line.
  auto r =
      discoverProcesses(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "java", "java", o);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(names(*r), (std::vector<std::string>{"java/3001", "java/3002"}));
  EXPECT_EQ((*r)[0].target.kind, TargetKind::kPid);
  EXPECT_EQ((*r)[0].target.pid, 3001);
  EXPECT_EQ((*r)[0].labels, (Labels{{"namespace", "prod"},
                                    {"pod", "shop-1"},
                                    {"container", "app"},
                                    {"pod_uid", kU1},
                                    {"container_id", kId1}}));
  EXPECT_EQ(
      (*r)[1].labels,
      (Labels{{"namespace", "prod"}, {"pod", "shop-1"}, {"pod_uid", kU1}, {"container_id", kId2}}));

  // Exactly one match: the spec's name itself. The command line, with NULs as spaces.
  r = discoverProcesses(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "shop",
                        "-jar /app/shop", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), std::vector<std::string>{"shop"});
  EXPECT_EQ((*r)[0].target.pid, 3001);

  // comm only (kthreadd has an empty cmdline: a kernel thread, never a match).
  r = discoverProcesses(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "k", "^kthreadd$", o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = discoverProcesses(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "py", "^python3$", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), std::vector<std::string>{"py"});

  // oomsentinel is only skipped because it is self: given another self pid, it matches.
  o.self_pid = 1;
  r = discoverProcesses(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "java", "java", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), (std::vector<std::string>{"java/999", "java/3001", "java/3002"}));
}

TEST(DiscoverProcesses, LabelsOnV1CgroupfsAndNoLabelsOutsideKubernetes) {
  auto r =
      discoverProcesses(paths("cgroupfs-v1"), discoveryLayoutOf("cgroupfs-v1"), "redis", "redis");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].labels, (Labels{{"pod_uid", kU4}, {"container_id", kId5}}));
  r = discoverProcesses(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "app",
                        "^/usr/bin/app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), (std::vector<std::string>{"app/2001", "app/2002"}));
  EXPECT_TRUE((*r)[0].labels.empty());
  // Without a memory hierarchy, no labels but still the processes.
  r = discoverProcesses(paths("systemd-v2"), CgroupLayout{}, "app", "^/usr/bin/app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);
}

TEST(DiscoverProcesses, VanishedProcessesAreSkippedAndErrorsAreValues) {
  TempDir proc;
  proc.write("10/comm", "java\n");
  proc.write("10/cmdline", std::string("java\0-jar\0x\0", 12));
  ::mkdir((proc.path() + "/11").c_str(), 0755);        // exited between readdir and open
  proc.write("12/cmdline", std::string("java\0", 5));  // exited between cmdline and comm
  HostPaths p(disc("systemd-v2/cgroup"), proc.path());
  auto r = discoverProcesses(p, CgroupLayout{}, "j", "java");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(names(*r), std::vector<std::string>{"j"});

  auto bad = discoverProcesses(p, CgroupLayout{}, "j", "java(");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message,
              HasSubstr("process selector of target 'j': not a valid regular"));
  auto gone = discoverProcesses(HostPaths("/x", proc.path() + "/nope"), CgroupLayout{}, "j", "x");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().path, proc.path() + "/nope");

  DiscoveryOptions o;
  o.max_targets = 1;
  proc.write("13/comm", "java\n");
  proc.write("13/cmdline", std::string("java\0", 5));
  auto wide = discoverProcesses(p, CgroupLayout{}, "j", "java", o);
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.error().message, "selector of target 'j' matched more than 1 targets; narrow it");
}

// A real process with the command line a hostile local user can give any process of theirs:
// /bin/sleep whose argv[0] (which sleep never parses) is 120 KB (a single argument may be 128 KiB).
// SIGKILLed and reaped at the end.
class LongCmdline {
 public:
  explicit LongCmdline(std::string argv0) : argv0_(std::move(argv0)) {
    std::string secs = "60";  // an orphan, should the test crash, goes away by itself
    char* argv[] = {argv0_.data(), secs.data(), nullptr};
    char* envp[] = {nullptr};
    if (::posix_spawn(&pid_, "/bin/sleep", nullptr, nullptr, argv, envp) != 0) pid_ = -1;
    // posix_spawn returns when the child's exec has replaced its memory, a moment before the
    // kernel sets up the new argument area (until then /proc cmdline reads as empty).
    if (pid_ > 0) {
      EXPECT_TRUE(testing::eventually([&] {
        auto c = readFileUpTo(HostPaths().proc(pid_, "cmdline"), 16);
        return c.ok() && !c->empty();
      }));
    }
  }
  ~LongCmdline() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  LongCmdline(const LongCmdline&) = delete;
  LongCmdline& operator=(const LongCmdline&) = delete;
  pid_t pid() const { return pid_; }

 private:
  std::string argv0_;
  pid_t pid_ = -1;
};

// Issue 18: std::regex recursed once per character, so "java .*-jar" over this command line
// overflowed the stack and killed the daemon (SIGSEGV). RE2 does not recurse, and sees 4 KiB.
TEST(DiscoverProcesses, RealProcessWith120KBCommandLineDoesNotCrashAndOnlyItsFirst4KiBIsSeen) {
  const std::string tok = "t" + std::to_string(::getpid());
  // "head-" in the first 4 KiB, "tail-" 120 KB later; 'x', 'y' and 'z' all over the padding.
  std::string pad;
  while (pad.size() < 120 * 1024) pad += "xyzjava -jar ";
  LongCmdline child("java -jar head-" + tok + " " + pad + " tail-" + tok);
  ASSERT_GT(child.pid(), 0);
  HostPaths real;  // the real /proc

  auto r = discoverProcesses(real, CgroupLayout{}, "j", "java .*-jar head-" + tok);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(names(*r), std::vector<std::string>{"j"});
  EXPECT_EQ((*r)[0].target.pid, child.pid());

  // Past the prefix: not seen, though the process's command line has it.
  r = discoverProcesses(real, CgroupLayout{}, "j", "tail-" + tok);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->empty()) << names(*r).front();

  // The backtracker's worst cases, over every process on this machine: an answer, no crash.
  for (const char* re : {"java .*-jar", ".*x.*y.*z", "(x|xy|xyz|.)*q$", "(.*)*-jar$"}) {
    SCOPED_TRACE(re);
    r = discoverProcesses(real, CgroupLayout{}, "j", re);
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
}

TEST(DiscoverProcesses, MatchesWithinTheFirst4KiBOfTheCommandLineAndNotAfterIt) {
  ASSERT_EQ(kProcessCmdlinePrefixBytes, 4096u);
  TempDir proc;
  HostPaths p(disc("systemd-v2/cgroup"), proc.path());
  // A 1 MiB command line of NUL-separated arguments; markers end at byte 4096, 4097 and ~500 KiB.
  auto cmdline = [](std::size_t marker_end, const std::string& marker) {
    std::string c(1 << 20, 'a');
    for (std::size_t i = 100; i < c.size(); i += 100) c[i] = '\0';
    c.replace(marker_end - marker.size(), marker.size(), marker);
    return c;
  };
  proc.write("20/comm", "app\n");
  proc.write("20/cmdline", cmdline(4096, "mark-in"));
  proc.write("21/comm", "app\n");
  proc.write("21/cmdline", cmdline(4097, "mark-out"));  // "mark-ou" within the prefix
  proc.write("22/comm", "app\n");
  proc.write("22/cmdline", cmdline(500 * 1024, "mark-far"));

  auto r = discoverProcesses(p, CgroupLayout{}, "a", "mark-(in|out|far)");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(names(*r), std::vector<std::string>{"a"});
  EXPECT_EQ((*r)[0].target.pid, 20);
  // NULs read as spaces within the prefix.
  r = discoverProcesses(p, CgroupLayout{}, "a", "a a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 3u);
  // Exponential for a backtracking engine (100 'a's before each space); linear for RE2.
  r = discoverProcesses(p, CgroupLayout{}, "a", "^(a|aa)*b");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(DiscoverProcesses, SyntaxRe2DoesNotTakeIsAnErrorWithRe2sMessage) {
  EXPECT_TRUE(checkProcessSelector("java .*-jar app\\.jar").ok());
  struct Case {
    std::string re, message;
  };
  const Case cases[] = {
      {"java(?=x)", "invalid perl operator: (?="},
      {"(?<!x)java", "invalid perl operator: (?<"},
      {"(j)ava\\1", "invalid escape sequence: \\1"},
      {"java (.*", "missing ): java (.*"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.re);
    auto st = checkProcessSelector(c.re);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message, c.message);
    auto r = discoverProcesses(paths("systemd-v2"), CgroupLayout{}, "j", c.re);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message,
              "process selector of target 'j': not a valid regular expression: " + c.message);
  }
  // RE2's max_mem is set (1 MiB): this compiles within RE2's default 8 MiB, not within ours.
  std::string big;
  for (int i = 0; i < 100; ++i) big += "[a-z]{1000}";
  auto st = checkProcessSelector(big);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "pattern too large - compile failed");
}

// ---- pid_file ----

TEST(DiscoverPidFile, ReadsTrimsAndChecksTheProcess) {
  auto r = discoverPidFile(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "app",
                           disc("run/app.pid"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].target.name, "app");
  EXPECT_EQ((*r)[0].target.kind, TargetKind::kPid);
  EXPECT_EQ((*r)[0].target.pid, 2001);

  auto g = discoverPidFile(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "app",
                           disc("run/garbage.pid"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().describe(), disc("run/garbage.pid") + ": not a pid: 'pid=2001'");
  auto s = discoverPidFile(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "app",
                           disc("run/stale.pid"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "process 31337 is not running");
  EXPECT_EQ(s.error().path, disc("run/stale.pid"));
  auto m = discoverPidFile(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "app",
                           disc("run/missing.pid"));
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.error().isGone());
  EXPECT_EQ(m.error().path, disc("run/missing.pid"));
}

TEST(DiscoverPidFile, ZeroNegativeAndEmptyAreNotPids) {
  TempDir d;
  for (const char* text : {"0\n", "-5\n", "", "  \n", "12 13\n", "99999999999\n"}) {
    d.write("x.pid", text);
    auto r = discoverPidFile(paths("systemd-v2"), CgroupLayout{}, "x", d.path() + "/x.pid");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().message.rfind("not a pid: ", 0), 0u) << r.error().message;
  }
}

// ---- cgroup_glob ----

TEST(DiscoverCgroupGlob, StarsWithinAComponentNamedByWhatIsLeft) {
  LogDir logs;
  logs.link("shop-1", "prod", "app", kId1, kU1);
  DiscoveryOptions o;
  o.containers_log_dir = logs.dir.path();
  auto r = discoverCgroupGlob(discoveryLayoutOf("systemd-v2"), "pods", "kubepods.slice/*/*", o);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  // Sorted: besteffort before burstable.
  EXPECT_EQ(cgroups(*r),
            (std::vector<std::string>{
                "kubepods.slice/kubepods-besteffort.slice/"
                "kubepods-besteffort-pod2b3c4d5e_1111_4111_8111_11111111bcde.slice",
                kPod1,
                "kubepods.slice/kubepods-pod3c4d5e6f_2222_4222_8222_22222222cdef.slice/"
                "cri-containerd-" +
                    kId4 + ".scope"}));
  EXPECT_EQ((*r)[1].target.name,
            "pods/kubepods-burstable.slice/"
            "kubepods-burstable-pod1a2b3c4d_0000_4000_8000_00000000abcd.slice");
  EXPECT_EQ((*r)[1].target.kind, TargetKind::kCgroup);
  EXPECT_EQ((*r)[1].labels, (Labels{{"namespace", "prod"}, {"pod", "shop-1"}, {"pod_uid", kU1}}));
  EXPECT_EQ((*r)[0].labels, (Labels{{"pod_uid", kU2}}));
  EXPECT_EQ((*r)[2].labels, (Labels{{"pod_uid", kU3}, {"container_id", kId4}}));
}

TEST(DiscoverCgroupGlob, DoubleStarQuestionMarkAndBrackets) {
  CgroupLayout l = discoveryLayoutOf("systemd-v2");
  // Every containerd container, however deep.
  auto r = discoverCgroupGlob(l, "c", "kubepods.slice/**/cri-containerd-*.scope");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].target.name,
            "c/kubepods-burstable.slice/"
            "kubepods-burstable-pod1a2b3c4d_0000_4000_8000_00000000abcd.slice/"
            "cri-containerd-" +
                kId1 + ".scope");
  // '**' is zero or more components: the literal part itself matches, named as the spec.
  r = discoverCgroupGlob(l, "m", "machine.slice/**");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), (std::vector<std::string>{"m", "m/machine-qemu.slice",
                                                 "m/machine-qemu.slice/machine-qemu-vm1.scope"}));
  EXPECT_EQ(cgroups(*r)[0], "machine.slice");
  // Bracket classes, and '**' in front.
  r = discoverCgroupGlob(l, "s", "**/[ad][pb]*.service");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(cgroups(*r),
            (std::vector<std::string>{
                "system.slice/app.service", "system.slice/db.service",
                "user.slice/user-1000.slice/user@1000.service/app.slice/app.service"}));
  EXPECT_EQ(names(*r)[0], "s/system.slice/app.service");
  // '*' never crosses a '/'; files are never matched; no match is no error.
  r = discoverCgroupGlob(l, "q", "system.slice/?b.service");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), std::vector<std::string>{"q/db.service"});
  r = discoverCgroupGlob(l, "x", "system.slice*");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(cgroups(*r), std::vector<std::string>{"system.slice"});
  r = discoverCgroupGlob(l, "x", "system.slice/app.service/*");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = discoverCgroupGlob(l, "x", "nothing-*");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  // No meta characters: one cgroup, under the spec's name.
  r = discoverCgroupGlob(l, "db", "system.slice/db.service");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), std::vector<std::string>{"db"});
}

TEST(DiscoverCgroupGlob, CgroupfsDriverOnV1) {
  auto r = discoverCgroupGlob(discoveryLayoutOf("cgroupfs-v1"), "k", "kubepods/**/pod*/*");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(names(*r), (std::vector<std::string>{
                           "k/besteffort/pod6f708192-5555-4555-8555-55555555f012/crio-" + kId7,
                           "k/burstable/pod" + kU4 + "/" + kId5,
                           "k/pod5e6f7081-4444-4444-8444-44444444ef01/" + kId6}));
  EXPECT_EQ((*r)[1].labels, (Labels{{"pod_uid", kU4}, {"container_id", kId5}}));
}

TEST(DiscoverCgroupGlob, BoundsAreClearErrors) {
  DiscoveryOptions o;
  o.limits.max_dirs = 5;
  auto r = discoverCgroupGlob(discoveryLayoutOf("systemd-v2"), "x", "**/*.scope", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cgroup_glob looked at more than 5 cgroups; narrow the glob");
  o = {};
  o.limits.max_depth = 3;
  r = discoverCgroupGlob(discoveryLayoutOf("systemd-v2"), "x", "**/*.scope", o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("cgroup tree deeper than 3 levels at "));
  o = {};
  o.max_targets = 2;
  r = discoverCgroupGlob(discoveryLayoutOf("systemd-v2"), "x", "**/*.scope", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "selector of target 'x' matched more than 2 targets; narrow it");
  r = discoverCgroupGlob(discoveryLayoutOf("systemd-v2"), "x", "a/../b");
  ASSERT_FALSE(r.ok());
  r = discoverCgroupGlob(CgroupLayout{}, "x", "*");
  ASSERT_FALSE(r.ok());
}

// ---- systemd_unit ----

TEST(SystemdSlicePath, NestsByDashes) {
  EXPECT_EQ(systemdSlicePath("a-b-c.slice"), "a.slice/a-b.slice/a-b-c.slice");
  EXPECT_EQ(systemdSlicePath("system.slice"), "system.slice");
  EXPECT_EQ(systemdSlicePath("-.slice"), "");
  for (const char* bad : {"a-.slice", "-a.slice", "a--b.slice", ".slice", "a.service"})
    EXPECT_FALSE(systemdSlicePath(bad).has_value()) << bad;
}

TEST(DiscoverSystemdUnit, SlicesServicesAndScopes) {
  CgroupLayout l = discoveryLayoutOf("systemd-v2");
  struct Case {
    const char* unit;
    const char* cgroup;
  };
  for (const Case& c : {
           Case{"machine-qemu.slice", "machine.slice/machine-qemu.slice"},
           Case{"kubepods-burstable.slice", "kubepods.slice/kubepods-burstable.slice"},
           // system.slice first, though a user's manager has a unit of the same name.
           Case{"app.service", "system.slice/app.service"},
           Case{"editor.service",
                "user.slice/user-1000.slice/user@1000.service/app.slice/"
                "editor.service"},
           Case{"machine-qemu-vm1.scope",
                "machine.slice/machine-qemu.slice/machine-qemu-vm1.scope"},
           Case{"init.scope", "init.scope"},
       }) {
    auto r = discoverSystemdUnit(l, "u", c.unit);
    ASSERT_TRUE(r.ok()) << c.unit << ": " << r.error().describe();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].target.name, "u");
    EXPECT_EQ((*r)[0].target.kind, TargetKind::kCgroup);
    EXPECT_EQ((*r)[0].target.cgroup, c.cgroup) << c.unit;
  }
  auto r = discoverSystemdUnit(l, "u", "nope.service");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "systemd unit nope.service has no cgroup (not running, or not "
            "started yet)");
  EXPECT_TRUE(r.error().isGone());
  EXPECT_FALSE(discoverSystemdUnit(l, "u", "a/b.service").ok());
}

TEST(Discover, DispatchesOnTheSelector) {
  auto r = discover(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "db",
                    {SelectorKind::kSystemdUnit, "db.service"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(cgroups(*r), std::vector<std::string>{"system.slice/db.service"});
  r = discover(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "p",
               {SelectorKind::kPidFile, disc("run/app.pid")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].target.pid, 2001);
  r = discover(paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), "n", {});
  EXPECT_FALSE(r.ok());
}

// ---- resolvePidCgroup across cgroup namespaces ----

// A proc tree with one pid whose cgroup file is `text`, and a cgroup tree we may change.
struct NsCase {
  TempDir proc;
  NsCase(pid_t pid, const std::string& text) { proc.write(std::to_string(pid) + "/cgroup", text); }
  HostPaths paths(const std::string& tree) const {
    return HostPaths(disc(tree + "/cgroup"), proc.path());
  }
};

TEST(ResolvePidCgroupNamespace, AUniqueSuffixAfterDotDots) {
  // A sidecar in its own cgroup namespace sees its sibling container as "/../<scope>".
  NsCase c(3002, "0::/../cri-containerd-" + kId1 + ".scope\n");
  auto r = resolvePidCgroup(c.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 3002);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/" + kPod1 + "/cri-containerd-" + kId1 + ".scope");
  EXPECT_EQ(r->dir, disc("systemd-v2/cgroup/" + kPod1 + "/cri-containerd-" + kId1 + ".scope"));
  // A path that looks absolute but names nothing at the root: a suffix as well.
  NsCase d(3003, "0::/crio-" + kId3 + ".scope\n");
  r = resolvePidCgroup(d.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 3003);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_THAT(r->relative, HasSubstr("kubepods-besteffort-pod"));
  // v1 cgroupfs.
  NsCase e(4001, "5:memory:/../../" + kId5 + "\n");
  r = resolvePidCgroup(e.paths("cgroupfs-v1"), discoveryLayoutOf("cgroupfs-v1"), 4001);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/kubepods/burstable/pod" + kU4 + "/" + kId5);
}

TEST(ResolvePidCgroupNamespace, CgroupProcsDecidesWhenTheSuffixDoesNot) {
  // "/": the reader's own namespace root; only cgroup.procs can say.
  NsCase c(3002, "0::/\n");
  auto r = resolvePidCgroup(c.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 3002);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/" + kPod1 + "/cri-containerd-" + kId2 + ".scope");
  // Two app.service cgroups end with the suffix: cgroup.procs picks the user's.
  NsCase d(2002, "0::/../../app.service\n");
  r = resolvePidCgroup(d.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 2002);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/user.slice/user-1000.slice/user@1000.service/app.slice/app.service");
  // v1, the root of the namespace.
  NsCase e(4002, "5:memory:/\n");
  r = resolvePidCgroup(e.paths("cgroupfs-v1"), discoveryLayoutOf("cgroupfs-v1"), 4002);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/kubepods/pod5e6f7081-4444-4444-8444-44444444ef01/" + kId6);
}

TEST(ResolvePidCgroupNamespace, SelfIsLookedUpByItsNumber) {
  NsCase c(3004, "0::/\n");
  ::symlink("3004", (c.proc.path() + "/self").c_str());
  auto r = resolvePidCgroup(c.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 0);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative,
            "/kubepods.slice/kubepods-pod3c4d5e6f_2222_4222_8222_22222222cdef.slice/"
            "cri-containerd-" +
                kId4 + ".scope");
}

TEST(ResolvePidCgroupNamespace, NothingFoundKeepsTheFirstError) {
  // v1: a pid in the root cgroup is the root, found normally.
  NsCase a(2, "5:memory:/\n");
  auto r = resolvePidCgroup(a.paths("cgroupfs-v1"), discoveryLayoutOf("cgroupfs-v1"), 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->relative, "/");
  // v2 root ("/"), in no cgroup.procs: the host hint as before.
  NsCase b(77, "0::/\n");
  r = resolvePidCgroup(b.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 77);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("watch the host instead"));
  NsCase c(77, "0::/../../nowhere.scope\n");
  r = resolvePidCgroup(c.paths("systemd-v2"), discoveryLayoutOf("systemd-v2"), 77);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "cgroup /../../nowhere.scope is outside this cgroup namespace; mount the host's "
            "cgroupfs and pass --cgroup-root");
}

}  // namespace
}  // namespace oomsentinel
