// Real kernel, cgroup v2, in a throwaway QEMU VM (tests/integration/vm): `status --json` against a
// child cgroup with memory.max, while an allocator grows in it and after the kernel kills it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/real_cgroup.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::vmScript;

TEST(CgroupV2Vm, StatusSeesLimitGrowthAndOomKill) {
  if (auto why = oomsentinel::testing::vmUnavailable(); !why.empty()) GTEST_SKIP() << why;
  std::string bin = oomsentinel::testing::binaryPath();
  std::string leaker = oomsentinel::testing::leakerPath();
  // Inside the guest (busybox sh). Each status line is tagged so the test can tell them apart.
  std::string script =
      "set -e\n"
      "cg=/sys/fs/cgroup/t\n"
      "mkdir $cg\n"
      "echo 64M > $cg/memory.max\n"
      "echo -n 'empty '; " +
      bin +
      " status --cgroup /t --json\n"
      "sh -c \"echo \\$\\$ > $cg/cgroup.procs; exec " +
      leaker +
      " --rate 200MiB/s --max 32MiB --hold > /dev/null\" &\n"
      "holder=$!\n"
      "sleep 2\n"
      "echo -n 'holding '; " +
      bin +
      " status --cgroup /t --json\n"
      "kill -9 $holder; wait $holder || true\n"
      "set +e\n"
      "sh -c \"echo \\$\\$ > $cg/cgroup.procs; exec " +
      leaker +
      " --rate 100MiB/s > /dev/null\"\n"
      "echo \"leaker-exit $?\"\n"
      "set -e\n"
      "echo -n 'after '; " +
      bin + " status --cgroup /t --json\n";
  auto r =
      oomsentinel::testing::runCommand({vmScript("run-in-vm"), "--mem", "512M", "--timeout", "240",
                                        "--add", bin, "--add", leaker, "--", "sh", "-c", script},
                                       300);
  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;

  std::map<std::string, nlohmann::json> by_tag;
  std::string leaker_exit;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    std::string tag = line.substr(0, sp), rest = line.substr(sp + 1);
    if (tag == "leaker-exit") {
      leaker_exit = rest;
      continue;
    }
    auto j = nlohmann::json::parse(rest, nullptr, false);
    if (!j.is_discarded()) by_tag[tag] = j;
  }
  ASSERT_EQ(by_tag.size(), 3u) << r.out;
  EXPECT_EQ(by_tag["empty"]["layout"], "unified");
  EXPECT_EQ(by_tag["empty"]["cgroup_version"], "v2");

  auto& empty = by_tag["empty"]["signals"];
  EXPECT_EQ(empty["limit_bytes"], 64 << 20);
  EXPECT_EQ(empty["events_oom_kill"], 0);
  EXPECT_TRUE(empty.contains("psi_some_avg10")) << "v2 offers per-cgroup PSI";

  auto& holding = by_tag["holding"]["signals"];
  EXPECT_GE(holding["usage_bytes"].get<double>(), 32 << 20);
  EXPECT_GE(holding["anon_bytes"].get<double>(), 32 << 20);
  EXPECT_GT(holding["working_set_ratio"].get<double>(), 0.5);
  EXPECT_EQ(holding["process_count"], 1);
  EXPECT_GE(holding["rss_bytes"].get<double>(), 32 << 20);

  EXPECT_EQ(leaker_exit, "137") << "the kernel should SIGKILL the leaker";
  auto& after = by_tag["after"]["signals"];
  EXPECT_EQ(after["events_oom_kill"], 1);
  EXPECT_GE(after["events_max"].get<double>(), 1);
  EXPECT_EQ(after["peak_bytes"], 64 << 20);
  EXPECT_EQ(after["process_count"], 0);
}

}  // namespace
}  // namespace oomsentinel
