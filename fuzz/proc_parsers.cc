// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The kernel and /proc file parsers (collectors/parse.h, and the small ones beside them): a
// target controls what its cgroup and /proc files say only in part, but a container's own
// mount namespace, cgroup names and status lines are its to choose. The first byte picks the
// parser, the rest is the file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/hsperfdata.h"
#include "collectors/kube_path.h"
#include "collectors/parse.h"
#include "core/units.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t which = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (which % 14) {
    case 0:  // memory.stat, memory.events, oom_control, vmstat
      (void)forEachKeyValue(text, [](std::string_view k, std::uint64_t v) {
        (void)k.size();
        (void)v;
      });
      break;
    case 1:  // meminfo, /proc/PID/status, smaps_rollup
      (void)forEachKbLine(text, [](std::string_view k, std::uint64_t v) {
        (void)k.size();
        (void)v;
      });
      break;
    case 2:  // memory.pressure, /proc/pressure/memory
      (void)parsePressure(text);
      break;
    case 3:  // /proc/PID/stat
      (void)parseProcStat(text);
      break;
    case 4:  // /proc/PID/mountinfo
      (void)parseMountinfo(text);
      break;
    case 5:  // /proc/PID/cgroup
      (void)parseProcCgroup(text);
      break;
    case 6: {  // cgroup.procs
      std::vector<int> pids;
      (void)parsePidList(text, pids);
      break;
    }
    case 7:  // memory.max, memory.high, memory.swap.max
      (void)parseV2Limit(text);
      break;
    case 8:  // memory.limit_in_bytes, memory.current and every single-number file
      (void)parseU64(text);
      break;
    case 9:  // the NSpid line of /proc/PID/status
      (void)parseNsPid(text, 1234);
      break;
    case 10:  // a cgroup path under kubepods
      (void)parseKubeCgroupPath(text);
      break;
    case 11:  // a kubelet's /var/log/containers symlink name
      (void)parseContainerLogName(text);
      break;
    case 12:  // durations of the config and the CLI
      (void)parseDuration(text);
      break;
    case 13:  // byte sizes of the config and the CLI
      (void)parseBytes(text);
      break;
  }
  return 0;
}
