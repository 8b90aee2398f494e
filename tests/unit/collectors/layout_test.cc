// Where the memory controller lives (v2 unified, v1 legacy, hybrid, none) and how targets are
// resolved to a cgroup directory, on the fixture trees in tests/fixtures/trees/.
#include "collectors/layout.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "collectors/parse.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using testing::fixture;
using testing::readFixture;
using testing::TempDir;

std::string tree(const std::string& layout, const std::string& part) {
  return fixture("trees/" + layout + "/" + part);
}

HostPaths treePaths(const std::string& layout) {
  return HostPaths(tree(layout, "cgroup"), tree(layout, "proc"));
}

std::vector<MountInfo> mounts(const std::string& text) {
  auto m = parseMountinfo(text);
  EXPECT_TRUE(m.ok()) << m.error().describe();
  return m.ok() ? *m : std::vector<MountInfo>{};
}

CgroupLayout layoutOf(const std::string& layout) {
  auto l = detectLayout(treePaths(layout));
  EXPECT_TRUE(l.ok()) << l.error().describe();
  return l.ok() ? *l : CgroupLayout{};
}

// ---- layoutFromMounts: pure, on mountinfo text ----

TEST(LayoutFromMounts, UnifiedNeedsMemoryInTheRootControllers) {
  auto l = layoutFromMounts(mounts(readFixture("trees/v2/proc/self/mountinfo")),
                            "cpuset cpu io memory hugetlb pids rdma misc\n");
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kUnified);
  EXPECT_EQ(l.memory_version, CgroupVersion::kV2);
  EXPECT_EQ(l.memory_root, "/sys/fs/cgroup");
  EXPECT_EQ(l.unified_root, "/sys/fs/cgroup");
  EXPECT_EQ(l.mount_root, "/");
  EXPECT_EQ(l.why_none, "");
  EXPECT_STREQ(layoutKindName(l.kind), "unified");
  EXPECT_STREQ(cgroupVersionName(l.memory_version), "v2");
}

TEST(LayoutFromMounts, CapturedV2KernelIsUnified) {
  auto l = layoutFromMounts(mounts(readFixture("v2-captured/proc/self/mountinfo")),
                            readFixture("v2-captured/sys/fs/cgroup/cgroup.controllers"));
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kUnified);
  EXPECT_EQ(l.memory_root, "/sys/fs/cgroup");
}

TEST(LayoutFromMounts, Legacy) {
  auto l = layoutFromMounts(mounts(readFixture("trees/v1/proc/self/mountinfo")), "");
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kLegacy);
  EXPECT_EQ(l.memory_version, CgroupVersion::kV1);
  EXPECT_EQ(l.memory_root, "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.unified_root, "");
  EXPECT_EQ(l.mount_root, "/");
  EXPECT_STREQ(layoutKindName(l.kind), "legacy");
}

TEST(LayoutFromMounts, Hybrid) {
  // The controllers of the cgroup2 mount do not matter once v1 has memory.
  for (const char* controllers : {"", "\n", "pids\n"}) {
    auto l = layoutFromMounts(mounts(readFixture("trees/hybrid/proc/self/mountinfo")), controllers);
    EXPECT_EQ(l.kind, CgroupLayout::Kind::kHybrid) << controllers;
    EXPECT_EQ(l.memory_version, CgroupVersion::kV1);
    EXPECT_EQ(l.memory_root, "/sys/fs/cgroup/memory");
    EXPECT_EQ(l.unified_root, "/sys/fs/cgroup/unified");
    EXPECT_STREQ(layoutKindName(l.kind), "hybrid");
  }
}

TEST(LayoutFromMounts, CapturedDevelopmentMachineIsHybrid) {
  auto l = layoutFromMounts(mounts(readFixture("proc-captured/self/mountinfo")), "");
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kHybrid);
  EXPECT_EQ(l.memory_root, "/sys/fs/cgroup/memory");
}

TEST(LayoutFromMounts, Cgroup2WithoutMemoryIsNoneAndSaysWhy) {
  // "memory_recursiveprot" in the mount options and "name=memoryish" on a v1 mount are not the
  // memory controller.
  const std::string text =
      "25 23 0:22 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n"
      "40 25 0:37 / /run/named rw,relatime - cgroup cgroup rw,xattr,name=memoryish\n";
  auto l = layoutFromMounts(mounts(text), "cpu io pids\n");
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kNone);
  EXPECT_EQ(l.memory_version, CgroupVersion::kNone);
  EXPECT_EQ(l.memory_root, "");
  EXPECT_EQ(l.unified_root, "/sys/fs/cgroup");
  EXPECT_EQ(l.why_none,
            "cgroup2 is mounted at /sys/fs/cgroup without the memory controller, and no cgroup v1 "
            "memory hierarchy is mounted");
  EXPECT_STREQ(layoutKindName(l.kind), "none");
  EXPECT_STREQ(cgroupVersionName(l.memory_version), "none");
  // A word that only contains "memory" is not it either.
  EXPECT_EQ(layoutFromMounts(mounts(text), "memoryx io\n").kind, CgroupLayout::Kind::kNone);
}

TEST(LayoutFromMounts, NoCgroupMountAtAll) {
  auto l = layoutFromMounts(
      mounts("22 1 0:20 / /proc rw,nosuid - proc proc rw\n1 0 259:1 / / rw - ext4 /dev/root rw\n"),
      "");
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kNone);
  EXPECT_EQ(l.why_none, "no cgroup v1 memory hierarchy and no cgroup2 mount in mountinfo");
}

TEST(LayoutFromMounts, CoMountedV1MemoryAndNamespaceRoot) {
  // memory co-mounted with cpu, seen from inside a container: only a sub-tree is mounted.
  auto l = layoutFromMounts(
      mounts("35 31 0:32 /kubepods/pod1/c1 /sys/fs/cgroup/cpu,memory ro,nosuid - cgroup cgroup "
             "rw,cpu,memory\n"),
      "");
  EXPECT_EQ(l.kind, CgroupLayout::Kind::kLegacy);
  EXPECT_EQ(l.memory_root, "/sys/fs/cgroup/cpu,memory");
  EXPECT_EQ(l.mount_root, "/kubepods/pod1/c1");

  auto u = layoutFromMounts(
      mounts("25 23 0:22 /kubepods.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"),
      "memory pids");
  EXPECT_EQ(u.kind, CgroupLayout::Kind::kUnified);
  EXPECT_EQ(u.mount_root, "/kubepods.slice");
}

// ---- detectLayout ----

TEST(DetectLayout, TreesSayWhatTheyAre) {
  auto v2 = layoutOf("v2");
  EXPECT_EQ(v2.kind, CgroupLayout::Kind::kUnified);
  EXPECT_EQ(v2.memory_version, CgroupVersion::kV2);
  EXPECT_EQ(v2.memory_root, tree("v2", "cgroup"));
  EXPECT_EQ(v2.unified_root, tree("v2", "cgroup"));
  EXPECT_EQ(v2.mount_root, "/");

  auto v1 = layoutOf("v1");
  EXPECT_EQ(v1.kind, CgroupLayout::Kind::kLegacy);
  EXPECT_EQ(v1.memory_version, CgroupVersion::kV1);
  EXPECT_EQ(v1.memory_root, tree("v1", "cgroup"));
  EXPECT_EQ(v1.unified_root, "");

  auto hy = layoutOf("hybrid");
  EXPECT_EQ(hy.kind, CgroupLayout::Kind::kHybrid);
  EXPECT_EQ(hy.memory_version, CgroupVersion::kV1);
  EXPECT_EQ(hy.memory_root, tree("hybrid", "cgroup/memory"));
  EXPECT_EQ(hy.unified_root, tree("hybrid", "cgroup/unified"));
}

TEST(DetectLayout, TrailingSlashOnTheRootIsIgnored) {
  auto l = detectLayout(HostPaths(tree("v2", "cgroup") + "/", tree("v2", "proc")));
  ASSERT_TRUE(l.ok()) << l.error().describe();
  EXPECT_EQ(l->memory_root, tree("v2", "cgroup"));
}

TEST(DetectLayout, AGivenRootWinsOverMountinfo) {
  // The proc tree's mountinfo says hybrid; the given cgroup root is a v2 tree.
  auto l = detectLayout(HostPaths(tree("v2", "cgroup"), tree("hybrid", "proc")));
  ASSERT_TRUE(l.ok()) << l.error().describe();
  EXPECT_EQ(l->kind, CgroupLayout::Kind::kUnified);
  auto l1 = detectLayout(HostPaths(tree("v1", "cgroup"), tree("v2", "proc")));
  ASSERT_TRUE(l1.ok()) << l1.error().describe();
  EXPECT_EQ(l1->kind, CgroupLayout::Kind::kLegacy);
}

TEST(DetectLayout, TheDefaultRootReadsMountinfoOfTheProcRoot) {
  // No v1 mountinfo here names a cgroup2 mount with memory, so nothing of this machine is read
  // that could change the answer.
  auto l = detectLayout(HostPaths(std::string(HostPaths::kDefaultCgroupRoot), tree("v1", "proc")));
  ASSERT_TRUE(l.ok()) << l.error().describe();
  EXPECT_EQ(l->kind, CgroupLayout::Kind::kLegacy);
  EXPECT_EQ(l->memory_root, "/sys/fs/cgroup/memory");

  auto h =
      detectLayout(HostPaths(std::string(HostPaths::kDefaultCgroupRoot), tree("hybrid", "proc")));
  ASSERT_TRUE(h.ok()) << h.error().describe();
  EXPECT_EQ(h->kind, CgroupLayout::Kind::kHybrid);
  EXPECT_EQ(h->unified_root, "/sys/fs/cgroup/unified");
}

TEST(DetectLayout, MountinfoWithoutCgroupsIsAnErrorNamingIt) {
  TempDir proc;
  proc.write("self/mountinfo", "22 1 0:20 / /proc rw - proc proc rw\n");
  auto l = detectLayout(HostPaths(std::string(HostPaths::kDefaultCgroupRoot), proc.path()));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().describe(), proc.path() +
                                      "/self/mountinfo: no cgroup v1 memory hierarchy and no "
                                      "cgroup2 mount in mountinfo");
}

TEST(DetectLayout, ATreeThatIsNeither) {
  TempDir t;
  t.write("cpu/cpu.shares", "1024\n");
  auto l = detectLayout(HostPaths(t.path(), tree("v2", "proc")));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().describe(),
            t.path() +
                ": neither a cgroup v2 tree (cgroup.controllers) nor a v1 memory hierarchy "
                "(memory.limit_in_bytes, memory/memory.limit_in_bytes)");
}

TEST(DetectLayout, AV2TreeWithoutMemory) {
  // The hybrid tree's unified/ is a cgroup2 tree with no controllers.
  auto l = detectLayout(HostPaths(tree("hybrid", "cgroup/unified"), tree("hybrid", "proc")));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().describe(), tree("hybrid", "cgroup/unified") +
                                      ": cgroup v2 tree without the memory controller in "
                                      "cgroup.controllers (and no v1 memory hierarchy at memory/)");
}

TEST(DetectLayout, AMissingRootSaysSo) {
  TempDir t;
  std::string root = t.path() + "/nope";
  auto l = detectLayout(HostPaths(root, tree("v2", "proc")));
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().describe(), root + ": no such directory (No such file or directory)");
}

TEST(DetectLayout, V1WithoutUnifiedIsLegacy) {
  TempDir t;
  t.write("memory/memory.limit_in_bytes", "9223372036854771712\n");
  auto l = detectLayout(HostPaths(t.path(), tree("v1", "proc")));
  ASSERT_TRUE(l.ok()) << l.error().describe();
  EXPECT_EQ(l->kind, CgroupLayout::Kind::kLegacy);
  EXPECT_EQ(l->memory_root, t.path() + "/memory");
  EXPECT_EQ(l->unified_root, "");
}

// ---- resolveCgroupPath ----

TEST(ResolveCgroupPath, NormalisesThePath) {
  auto l = layoutOf("v2");
  for (const char* p : {"kubepods.slice/pod-x/app", "/kubepods.slice/pod-x/app",
                        "/kubepods.slice//pod-x/./app/", "./kubepods.slice/pod-x/app//"}) {
    auto r = resolveCgroupPath(l, p);
    ASSERT_TRUE(r.ok()) << p << ": " << r.error().describe();
    EXPECT_EQ(r->relative, "/kubepods.slice/pod-x/app") << p;
    EXPECT_EQ(r->dir, tree("v2", "cgroup/kubepods.slice/pod-x/app")) << p;
    EXPECT_EQ(r->version, CgroupVersion::kV2);
  }
}

TEST(ResolveCgroupPath, V1RootIsACgroup) {
  auto l = layoutOf("v1");
  for (const char* p : {"", "/", "//", "."}) {
    auto r = resolveCgroupPath(l, p);
    ASSERT_TRUE(r.ok()) << p << ": " << r.error().describe();
    EXPECT_EQ(r->relative, "/");
    EXPECT_EQ(r->dir, tree("v1", "cgroup"));
    EXPECT_EQ(r->version, CgroupVersion::kV1);
  }
  auto h = resolveCgroupPath(layoutOf("hybrid"), "system.slice/app.service");
  ASSERT_TRUE(h.ok()) << h.error().describe();
  EXPECT_EQ(h->dir, tree("hybrid", "cgroup/memory/system.slice/app.service"));
}

TEST(ResolveCgroupPath, DotDotIsRejected) {
  auto l = layoutOf("v2");
  for (const char* p : {"..", "../etc", "kubepods.slice/../..", "kubepods.slice/pod-x/../pod-x"}) {
    auto r = resolveCgroupPath(l, p);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().message, "cgroup path may not contain '..'") << p;
    EXPECT_EQ(r.error().path, p);
  }
  // Two dots inside a name are a name.
  TempDir t;
  t.write("cgroup.controllers", "memory\n");
  t.write("..data/memory.current", "0\n");
  auto l2 = detectLayout(HostPaths(t.path(), tree("v2", "proc")));
  ASSERT_TRUE(l2.ok());
  auto r = resolveCgroupPath(*l2, "..data");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/..data");
}

TEST(ResolveCgroupPath, MissingCgroupNamesThePath) {
  auto l = layoutOf("v2");
  auto r = resolveCgroupPath(l, "kubepods.slice/pod-y");
  ASSERT_FALSE(r.ok());
  std::string dir = tree("v2", "cgroup/kubepods.slice/pod-y");
  EXPECT_EQ(r.error().describe(), dir + ": no such cgroup (No such file or directory)");
  EXPECT_EQ(r.error().errnum, ENOENT);
  EXPECT_TRUE(r.error().isGone());
}

TEST(ResolveCgroupPath, V2RootIsRefusedWithTheHostHint) {
  auto l = layoutOf("v2");
  auto r = resolveCgroupPath(l, "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            tree("v2", "cgroup") +
                ": the cgroup v2 root has no memory.current; watch the host instead (--host) (No "
                "such file or directory)");
}

TEST(ResolveCgroupPath, ADirectoryWithoutTheProbeIsNotAMemoryCgroup) {
  TempDir t;
  t.write("cgroup.controllers", "memory\n");
  t.write("other/cgroup.procs", "");
  auto l = detectLayout(HostPaths(t.path(), tree("v2", "proc")));
  ASSERT_TRUE(l.ok());
  auto r = resolveCgroupPath(*l, "other");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      r.error().describe(),
      t.path() + "/other: not a memory cgroup (no memory.current) (No such file or directory)");

  TempDir v1;
  v1.write("memory.limit_in_bytes", "1\n");
  v1.write("memory.usage_in_bytes", "1\n");
  v1.write("x/tasks", "");
  auto l1 = detectLayout(HostPaths(v1.path(), tree("v1", "proc")));
  ASSERT_TRUE(l1.ok());
  auto r1 = resolveCgroupPath(*l1, "x");
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().message, "not a memory cgroup (no memory.usage_in_bytes)");
}

// ---- resolvePidCgroup ----

TEST(ResolvePidCgroup, EachTreesProcessesAndSelf) {
  struct Case {
    const char* layout;
    pid_t pid;
    const char* relative;
    const char* dir;
  };
  for (const Case& c : {
           Case{"v2", 4242, "/kubepods.slice/pod-x/app", "cgroup/kubepods.slice/pod-x/app"},
           Case{"v2", 4243, "/kubepods.slice/pod-x/app", "cgroup/kubepods.slice/pod-x/app"},
           Case{"v2", 0, "/kubepods.slice/pod-x/app", "cgroup/kubepods.slice/pod-x/app"},
           Case{"v1", 5151, "/batch/job", "cgroup/batch/job"},
           Case{"v1", 0, "/batch/job", "cgroup/batch/job"},
           Case{"v1", 1, "/", "cgroup"},
           Case{"hybrid", 6161, "/system.slice/app.service",
                "cgroup/memory/system.slice/app.service"},
           Case{"hybrid", 1, "/", "cgroup/memory"},
       }) {
    auto r = resolvePidCgroup(treePaths(c.layout), layoutOf(c.layout), c.pid);
    ASSERT_TRUE(r.ok()) << c.layout << " " << c.pid << ": " << r.error().describe();
    EXPECT_EQ(r->relative, c.relative) << c.layout << " " << c.pid;
    EXPECT_EQ(r->dir, tree(c.layout, c.dir)) << c.layout << " " << c.pid;
  }
}

// A proc tree with one pid whose cgroup file is `text`.
struct OnePid {
  TempDir proc;
  explicit OnePid(const std::string& text) { proc.write("77/cgroup", text); }
  HostPaths paths(const std::string& cgroup_root) const {
    return HostPaths(cgroup_root, proc.path());
  }
};

TEST(ResolvePidCgroup, V1TakesTheMemoryLineAndV2TheZeroLine) {
  OnePid p(
      "0::/wrong-for-v1\n12:pids:/wrong-too\n5:cpu,memory,cpuacct:/batch/job\n1:name=systemd:/x\n");
  auto v1 = resolvePidCgroup(p.paths(tree("v1", "cgroup")), layoutOf("v1"), 77);
  ASSERT_TRUE(v1.ok()) << v1.error().describe();
  EXPECT_EQ(v1->relative, "/batch/job");

  OnePid q("11:memory:/wrong-for-v2\n0::/kubepods.slice/pod-x\n");
  auto v2 = resolvePidCgroup(q.paths(tree("v2", "cgroup")), layoutOf("v2"), 77);
  ASSERT_TRUE(v2.ok()) << v2.error().describe();
  EXPECT_EQ(v2->relative, "/kubepods.slice/pod-x");
}

TEST(ResolvePidCgroup, NoMemoryLine) {
  OnePid p("0::/batch/job\n12:pids:/batch/job\n");
  auto r = resolvePidCgroup(p.paths(tree("v1", "cgroup")), layoutOf("v1"), 77);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), p.proc.path() + "/77/cgroup: no v1 memory cgroup line");
}

TEST(ResolvePidCgroup, AMountRootIsStripped) {
  // As seen from a pod whose own cgroup is mounted at the root: mountinfo's root field is
  // /kubepods.slice, the pid's cgroup file still has the full path.
  CgroupLayout l = layoutOf("v2");
  l.memory_root = tree("v2", "cgroup/kubepods.slice");
  l.mount_root = "/kubepods.slice";
  auto r = resolvePidCgroup(treePaths("v2"), l, 4242);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/pod-x/app");
  EXPECT_EQ(r->dir, tree("v2", "cgroup/kubepods.slice/pod-x/app"));

  // The mount root itself is the hierarchy's root.
  OnePid top("0::/kubepods.slice/pod-x\n");
  l.memory_root = tree("v2", "cgroup/kubepods.slice/pod-x");
  l.mount_root = "/kubepods.slice/pod-x";
  auto t = resolvePidCgroup(top.paths(tree("v2", "cgroup")), l, 77);
  ASSERT_TRUE(t.ok()) << t.error().describe();
  EXPECT_EQ(t->relative, "/");
  EXPECT_EQ(t->dir, tree("v2", "cgroup/kubepods.slice/pod-x"));

  // v1 likewise.
  CgroupLayout l1 = layoutOf("v1");
  l1.memory_root = tree("v1", "cgroup/batch");
  l1.mount_root = "/batch";
  auto r1 = resolvePidCgroup(treePaths("v1"), l1, 5151);
  ASSERT_TRUE(r1.ok()) << r1.error().describe();
  EXPECT_EQ(r1->relative, "/job");
  EXPECT_EQ(r1->dir, tree("v1", "cgroup/batch/job"));
}

TEST(ResolvePidCgroup, APathOutsideTheMountRoot) {
  CgroupLayout l = layoutOf("v2");
  l.memory_root = tree("v2", "cgroup/kubepods.slice");
  l.mount_root = "/kubepods.slice";
  // "/kubepods.slicex" starts with the mount root's text but is not under it.
  for (const char* path : {"/system.slice/other", "/kubepods.slicex/pod", "/"}) {
    OnePid p(std::string("0::") + path + "\n");
    auto r = resolvePidCgroup(p.paths(tree("v2", "cgroup")), l, 77);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().describe(), p.proc.path() + "/77/cgroup: cgroup " + path +
                                        " is outside the mounted hierarchy /kubepods.slice");
  }
}

TEST(ResolvePidCgroup, APathOutsideTheCgroupNamespace) {
  OnePid p("0::/../../system.slice/x\n");
  auto r = resolvePidCgroup(p.paths(tree("v2", "cgroup")), layoutOf("v2"), 77);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(),
            p.proc.path() +
                "/77/cgroup: cgroup /../../system.slice/x is outside this cgroup namespace; mount "
                "the host's cgroupfs and pass --cgroup-root");
}

TEST(ResolvePidCgroup, ANameStartingWithTwoDotsIsNotOutside) {
  TempDir cg;
  cg.write("cgroup.controllers", "memory\n");
  cg.write("..hidden/memory.current", "0\n");
  OnePid p("0::/..hidden\n");
  auto l = detectLayout(HostPaths(cg.path(), p.proc.path()));
  ASSERT_TRUE(l.ok());
  auto r = resolvePidCgroup(p.paths(cg.path()), *l, 77);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->relative, "/..hidden");
}

TEST(ResolvePidCgroup, AMissingProcess) {
  auto paths = treePaths("v2");
  auto r = resolvePidCgroup(paths, layoutOf("v2"), 99999);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, ESRCH);
  EXPECT_EQ(r.error().describe(),
            tree("v2", "proc") + "/99999/cgroup: no such process (No such process)");
}

TEST(ResolvePidCgroup, ThePidsCgroupMustExist) {
  OnePid p("0::/kubepods.slice/gone\n");
  auto r = resolvePidCgroup(p.paths(tree("v2", "cgroup")), layoutOf("v2"), 77);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().describe(), tree("v2", "cgroup/kubepods.slice/gone") +
                                      ": no such cgroup (No such file or directory)");
}

TEST(ResolvePidCgroup, AMalformedCgroupFileNamesIt) {
  OnePid p("garbage\n");
  auto r = resolvePidCgroup(p.paths(tree("v2", "cgroup")), layoutOf("v2"), 77);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().path, p.proc.path() + "/77/cgroup");
}

}  // namespace
}  // namespace oomsentinel
