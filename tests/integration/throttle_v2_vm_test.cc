// Throttling during a dump on a real cgroup v2 kernel, in the throwaway QEMU VM
// (tests/integration/vm). A leak of 200 MiB/s reaches memory.max well within the 2 s a slow
// capture takes (an exec hook that stands for gcore, a JVM histogram of a large heap, ...): the
// same VM runs it twice, with throttle_during_dump off and on. Off, the process is dead before
// the capture ends; on, memory.high holds the leaker back, the capture finds it alive, memory.high
// is put back, and only then does the kernel kill it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/real_cgroup.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::vmScript;

using oomsentinel::testing::runCommand;
using ::testing::HasSubstr;

// One round in the guest, its lines tagged "<tag>-<round> ...".
std::string round(const std::string& bin, const std::string& leaker, const std::string& name,
                  const std::string& throttle) {
  return "cg=/sys/fs/cgroup/t\n"
         "mkdir $cg\n"
         "echo 200M > $cg/memory.max\n"
         "echo 0 > $cg/memory.swap.max 2>/dev/null || true\n"
         "mkdir -p /tmp/inc-" +
         name +
         "\n"
         "printf '%s\\n' 'poll: {interval: 200ms, fast_interval: 20ms, fast_above: 30%}' "
         "'dump: {dir: /tmp/inc-" +
         name +
         ", min_free: 0, timeout: 20s, throttle_records: /tmp/throttle}' 'targets:' "
         "'  - name: t' '    cgroup: /t' '    throttle_during_dump: " +
         throttle +
         "' '    dumpers: [exec]' '    exec: {argv: [/bin/sh, /tmp/slow-capture], timeout: 15s}' "
         "'rules:' '  - name: oom-imminent' '    expr: usage_ratio > 50%' "
         "'    severity: critical' '    actions: [log, dump]' > /tmp/c.yaml\n" +
         bin + " run --config /tmp/c.yaml --state-file none --log-format json 2>/tmp/daemon-" +
         name +
         ".log &\n"
         "d=$!\n"
         "sleep 2\n"
         "sh -c \"echo \\$\\$ > $cg/cgroup.procs; exec " +
         leaker +
         " --rate 200MiB/s > /dev/null 2>&1\"\n"
         "echo \"leak-exit-" +
         name +
         " $?\"\n"
         "sleep 1\n"
         "echo \"high-after-" +
         name +
         " $(cat $cg/memory.high)\"\n"
         "echo \"events-" +
         name +
         " $(tr '\\n' ' ' < $cg/memory.events)\"\n"
         "kill $d; wait $d || true\n"
         "echo -n 'incident-" +
         name + " '; " + bin + " incidents --dir /tmp/inc-" + name +
         " --json | head -1\n"
         "for f in /tmp/inc-" +
         name + "/*/exec/status.txt; do [ -f \"$f\" ] && echo \"status-" + name +
         " $(tr '\\n' ' ' < $f)\"; done\n"
         "echo \"stderr-" +
         name + " $(cat /tmp/inc-" + name +
         "/*/exec/stderr.txt 2>/dev/null)\"\n"
         "sed 's/^/log-" +
         name + " /' /tmp/daemon-" + name +
         ".log\n"
         "rmdir $cg\n";
}

TEST(ThrottleV2Vm, AThrottledLeakIsCapturedAliveByASlowDumpThatLosesWithoutIt) {
  if (auto why = oomsentinel::testing::vmUnavailable(); !why.empty()) GTEST_SKIP() << why;
  std::string bin = oomsentinel::testing::binaryPath();
  std::string leaker = oomsentinel::testing::leakerPath();
  // The slow capture: 2 s of work, then the process's status, which only a live process has.
  std::string script =
      "set -e\n"
      "printf '%s\\n' 'sleep 2' "
      "'if grep -q VmRSS /proc/$OOMSENTINEL_PID/status 2>/dev/null; then' "
      "'  grep -E \"^(State|VmRSS)\" /proc/$OOMSENTINEL_PID/status > "
      "\"$OOMSENTINEL_INCIDENT_DIR/status.txt\"' "
      "'else echo \"process $OOMSENTINEL_PID was gone when the capture ended\" >&2; exit 1; fi' "
      "> /tmp/slow-capture\n"
      "set +e\n" +
      round(bin, leaker, "off", "false") + round(bin, leaker, "on", "{max_duration: 10s}") +
      "echo \"records $(ls /tmp/throttle | wc -l)\"\n";
  auto r = runCommand({vmScript("run-in-vm"), "--mem", "512M", "--timeout", "240", "--add", bin,
                       "--add", leaker, "--", "sh", "-c", script},
                      300);
  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  std::map<std::string, std::string> tagged;
  std::map<std::string, std::string> logs;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    std::string tag = line.substr(0, sp), rest = line.substr(sp + 1);
    if (tag == "log-off" || tag == "log-on")
      logs[tag] += rest + "\n";
    else
      tagged[tag] = rest;
  }
  auto incident = [&](const std::string& name) {
    return nlohmann::json::parse(tagged["incident-" + name], nullptr, false);
  };
  // Without throttling: the kernel killed the leak before the 2 s capture ended.
  EXPECT_EQ(tagged["leak-exit-off"], "137") << r.out;
  auto off = incident("off");
  ASSERT_TRUE(off.is_object()) << r.out;
  EXPECT_EQ(off["results"]["exec"], "failed") << off.dump() << "\n" << logs["log-off"];
  EXPECT_EQ(tagged.count("status-off"), 0u) << r.out;
  EXPECT_THAT(tagged["stderr-off"], HasSubstr("was gone when the capture ended")) << r.out;
  EXPECT_THAT(logs["log-off"], HasSubstr("exec=failed"));

  // With it: the capture found the process alive, after 2 s of a 200 MiB/s leak; then memory.high
  // was put back and the kernel killed it.
  EXPECT_EQ(tagged["leak-exit-on"], "137") << r.out;
  auto on = incident("on");
  ASSERT_TRUE(on.is_object()) << r.out;
  EXPECT_EQ(on["results"]["exec"], "ok") << on.dump() << "\n" << logs["log-on"];
  EXPECT_THAT(tagged["status-on"], HasSubstr("VmRSS")) << r.out;
  EXPECT_THAT(tagged["status-on"], ::testing::Not(HasSubstr("zombie"))) << r.out;
  EXPECT_EQ(tagged["high-after-on"], "max") << r.out;
  EXPECT_THAT(tagged["events-on"], ::testing::ContainsRegex("high [1-9]")) << r.out;
  EXPECT_THAT(tagged["events-on"], ::testing::ContainsRegex("oom_kill 1")) << r.out;
  EXPECT_THAT(logs["log-on"], HasSubstr("throttling the target while it is dumped"));
  EXPECT_THAT(logs["log-on"], HasSubstr("throttle ended: the dump is done"));
  EXPECT_EQ(tagged["records"], "0") << r.out;
  std::cout << "v2 VM: throttled capture status: " << tagged["status-on"] << "\n";
  for (const auto& l : {logs["log-on"]}) {
    std::istringstream in(l);
    for (std::string line; std::getline(in, line);)
      if (line.find("throttl") != std::string::npos) std::cout << "  " << line << "\n";
  }
}

}  // namespace
}  // namespace oomsentinel
