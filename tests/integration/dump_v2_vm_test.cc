// The C++ dump scenario on a real cgroup v2 kernel, in the throwaway QEMU VM
// (tests/integration/vm): cpp-leak leaks into a cgroup with memory.max, `oomsentinel run` fires
// a critical rule with the dump action, and the heap profile must be published before the kernel
// kills the leaker, and name the leaking function.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::vmScript;

using oomsentinel::testing::parseIsoTime;

using oomsentinel::testing::runCommand;
using oomsentinel::testing::TempDir;
using ::testing::HasSubstr;

TEST(DumpV2Vm, CppHeapProfileIsPublishedBeforeTheKill) {
  if (auto why = oomsentinel::testing::vmUnavailable(); !why.empty()) GTEST_SKIP() << why;
  std::string leak = OOMSENTINEL_CPP_LEAK;
  if (leak.empty()) GTEST_SKIP() << "examples/cpp-leak was not built (libgoogle-perftools-dev)";
  if (::access("/usr/bin/google-pprof", X_OK) != 0)
    GTEST_SKIP() << "google-pprof is missing (Debian package google-perftools)";
  std::string bin = oomsentinel::testing::binaryPath();
  // Inside the guest (busybox sh). Tagged lines carry what the host checks.
  std::string script =
      "set -e\n"
      "cg=/sys/fs/cgroup/t\n"
      "mkdir $cg\n"
      "echo 160M > $cg/memory.max\n"
      "echo 0 > $cg/memory.swap.max 2>/dev/null || true\n"
      "mkdir -p /tmp/heap /tmp/inc\n"
      "printf '%s\\n' 'poll: {interval: 200ms, fast_interval: 20ms, fast_above: 30%}' "
      "'dump: {dir: /tmp/inc, min_free: 0, timeout: 20s}' 'targets:' '  - name: cpp' "
      "'    cgroup: /t' '    gperftools: {heap_prefix: /tmp/heap/cpp, signal: SIGUSR2}' "
      "'rules:' '  - name: oom-imminent' '    expr: working_set_ratio > 50%' "
      "'    severity: critical' '    actions: [log, dump]' > /tmp/c.yaml\n" +
      bin +
      " run --config /tmp/c.yaml --state-file none 2>/tmp/daemon.log &\n"
      "d=$!\n"
      "sleep 2\n"
      "set +e\n"
      "sh -c \"echo \\$\\$ > $cg/cgroup.procs; export HEAPPROFILE=/tmp/heap/cpp "
      "HEAPPROFILESIGNAL=12; exec " +
      leak +
      " --rate 20MiB/s > /dev/null 2>&1\"\n"
      "echo \"leak-exit $?\"\n"
      "echo -n 'after '; " +
      bin +
      " status --cgroup /t --json\n"
      "sleep 2\n"
      "kill $d; wait $d\n"
      "echo -n 'incident '; " +
      bin +
      " incidents --dir /tmp/inc --json | head -1\n"
      "for f in /tmp/inc/*/heap.prof; do echo \"profile $(base64 -w 0 $f)\"; done\n"
      "sed 's/^/log /' /tmp/daemon.log\n";
  auto r = runCommand({vmScript("run-in-vm"), "--mem", "512M", "--timeout", "240", "--add", bin,
                       "--add", leak, "--", "sh", "-c", script},
                      300);
  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  std::string leak_exit, profile, log;
  nlohmann::json after, incident;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    std::string tag = line.substr(0, sp), rest = line.substr(sp + 1);
    if (tag == "leak-exit") leak_exit = rest;
    if (tag == "after") after = nlohmann::json::parse(rest, nullptr, false);
    if (tag == "incident") incident = nlohmann::json::parse(rest, nullptr, false);
    if (tag == "profile") profile = rest;
    if (tag == "log") log += rest + "\n";
  }
  EXPECT_EQ(leak_exit, "137") << "the kernel did not kill cpp-leak\n" << r.out;
  ASSERT_TRUE(after.is_object()) << r.out;
  EXPECT_GE(after["signals"]["events_oom_kill"].get<int>(), 1) << r.out;
  ASSERT_TRUE(incident.is_object()) << "no bundle\n" << r.out;
  EXPECT_EQ(incident["results"]["gperftools"], "ok") << incident.dump();
  double published = parseIsoTime(incident["published_at"].get<std::string>());
  double seen_after_kill = parseIsoTime(after["time"].get<std::string>());
  EXPECT_LT(published, seen_after_kill) << log;
  std::cout << "v2 VM: bundle published " << (seen_after_kill - published) * 1000
            << " ms before the status read after the kill\n";

  // The profile, decoded on the host, read by google-pprof against the same binary (the guest
  // ran it at the host's path, so the profile's mapping names it).
  ASSERT_FALSE(profile.empty()) << r.out;
  TempDir dir;
  dir.write("heap.b64", profile);
  auto decoded = runCommand({"/usr/bin/base64", "-d", dir.path() + "/heap.b64"}, 30);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  dir.write("heap.prof", decoded.out);
  auto pprof = runCommand({"/usr/bin/google-pprof", "--text", leak, dir.path() + "/heap.prof"}, 60);
  ASSERT_EQ(pprof.exit_code, 0) << pprof.err;
  EXPECT_THAT(pprof.out, HasSubstr("leakOneChunk")) << pprof.out;
}

}  // namespace
}  // namespace oomsentinel
