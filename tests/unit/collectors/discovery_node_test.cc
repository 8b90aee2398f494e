// A node agent's view of each kubelet driver, from its mountinfo (the host's, with hostPID) to
// the containers a cgroup_glob finds: systemd driver on cgroup v2 (containerd and CRI-O), and
// cgroupfs driver on a cgroup v1 memory hierarchy (hybrid), with the fixture trees of
// tests/fixtures/discovery/ standing in for the mounted hierarchies.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "collectors/discovery.h"
#include "collectors/layout.h"
#include "collectors/parse.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

std::string label(const Discovered& d, const std::string& key) {
  for (const auto& [k, v] : d.labels)
    if (k == key) return v;
  return "";
}

TEST(DiscoveryOnANode, SystemdDriverOnCgroupV2) {
  auto mounts = parseMountinfo(testing::readFixture("discovery/mountinfo-node-systemd-v2"));
  ASSERT_TRUE(mounts.ok()) << mounts.error().describe();
  CgroupLayout layout = layoutFromMounts(*mounts, "cpuset cpu io memory hugetlb pids rdma\n");
  EXPECT_EQ(layout.kind, CgroupLayout::Kind::kUnified);
  EXPECT_EQ(layout.memory_root, "/sys/fs/cgroup");
  EXPECT_EQ(layout.mount_root, "/");
  layout.memory_root = testing::fixture("discovery/systemd-v2/cgroup");

  // The node agent's glob: every container scope of every pod, whatever its QoS class.
  auto found = discoverCgroupGlob(layout, "pods", "kubepods.slice/**/*.scope");
  ASSERT_TRUE(found.ok()) << found.error().describe();
  std::vector<std::string> runtimes;
  for (const auto& d : *found) {
    EXPECT_EQ(d.target.kind, TargetKind::kCgroup);
    EXPECT_EQ(d.target.cgroup.rfind("kubepods.slice/", 0), 0u) << d.target.cgroup;
    // CRI-O's monitor process has a scope of its own in the pod: not a container.
    if (d.target.cgroup.find("crio-conmon-") != std::string::npos) continue;
    EXPECT_FALSE(label(d, "pod_uid").empty()) << d.target.name;
    EXPECT_EQ(label(d, "container_id").size(), 64u) << d.target.name;
    runtimes.push_back(d.target.cgroup.find("/cri-containerd-") != std::string::npos ? "containerd"
                                                                                     : "cri-o");
  }
  // Two containerd containers of the burstable pod, CRI-O's of the best-effort one, and the
  // guaranteed pod's container right under kubepods.slice.
  EXPECT_EQ(std::count(runtimes.begin(), runtimes.end(), "containerd"), 3) << found->size();
  EXPECT_EQ(std::count(runtimes.begin(), runtimes.end(), "cri-o"), 1);
}

TEST(DiscoveryOnANode, CgroupfsDriverOnCgroupV1) {
  auto mounts = parseMountinfo(testing::readFixture("discovery/mountinfo-node-cgroupfs-v1"));
  ASSERT_TRUE(mounts.ok()) << mounts.error().describe();
  CgroupLayout layout = layoutFromMounts(*mounts, "");
  EXPECT_EQ(layout.kind, CgroupLayout::Kind::kHybrid);
  EXPECT_EQ(layout.memory_version, CgroupVersion::kV1);
  EXPECT_EQ(layout.memory_root, "/sys/fs/cgroup/memory");
  layout.memory_root = testing::fixture("discovery/cgroupfs-v1/cgroup");

  auto found = discoverCgroupGlob(layout, "pods", "kubepods/**/pod*/*");
  ASSERT_TRUE(found.ok()) << found.error().describe();
  ASSERT_EQ(found->size(), 3u);
  for (const auto& d : *found) {
    EXPECT_FALSE(label(d, "pod_uid").empty()) << d.target.name;
    EXPECT_FALSE(label(d, "container_id").empty()) << d.target.name;
  }
}

}  // namespace
}  // namespace oomsentinel
