#include "bench/fixture.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "collectors/control_file.h"
#include "core/host_paths.h"

namespace oomsentinel::bench {
namespace {

// memory.stat as a 6.1 kernel writes it (keys and order of tests/fixtures/v2-captured), with
// numbers of a busy container: the parse cost depends on the number of lines and digits.
constexpr const char* kMemoryStat =
    "anon 151003136\nfile 46137344\nkernel 3473408\nkernel_stack 442368\npagetables 1204224\n"
    "sec_pagetables 0\npercpu 17280\nsock 0\nvmalloc 12288\nshmem 4194304\nzswap 0\n"
    "zswapped 0\nfile_mapped 20971520\nfile_dirty 135168\nfile_writeback 0\nswapcached 0\n"
    "anon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 150994944\nactive_anon 4198400\n"
    "inactive_file 33554432\nactive_file 12582912\nunevictable 0\nslab_reclaimable 1318912\n"
    "slab_unreclaimable 485376\nslab 1804288\nworkingset_refault_anon 10\n"
    "workingset_refault_file 90\nworkingset_activate_anon 3\nworkingset_activate_file 41\n"
    "workingset_restore_anon 0\nworkingset_restore_file 12\nworkingset_nodereclaim 0\n"
    "pgscan 4096\npgsteal 3072\npgscan_kswapd 1024\npgscan_direct 3072\npgsteal_kswapd 768\n"
    "pgsteal_direct 2304\npgfault 1234567\npgmajfault 42\npgrefill 2048\npgactivate 9000\n"
    "pgdeactivate 1500\npglazyfree 0\npglazyfreed 0\nzswpin 0\nzswpout 0\n"
    "thp_fault_alloc 0\nthp_collapse_alloc 0\n";
constexpr const char* kEvents = "low 0\nhigh 12\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n";
constexpr const char* kPressure =
    "some avg10=12.50 avg60=6.25 avg300=1.75 total=3456789\n"
    "full avg10=4.00 avg60=2.00 avg300=0.50 total=1234567\n";
constexpr const char* kPids[] = {"4242", "4243"};

Status writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return makeError("cannot write", path, errno);
  return Ok{};
}

}  // namespace

Result<FixtureTree> writeV2Fixture(const std::string& dir) {
  FixtureTree t{joinPath(dir, "cgroup"), joinPath(dir, "proc"), "kubepods.slice/pod-bench/app"};
  const std::string app = joinPath(t.cgroup_root, t.cgroup);
  const std::string pod = joinPath(t.cgroup_root, "kubepods.slice/pod-bench");
  const std::string slice = joinPath(t.cgroup_root, "kubepods.slice");
  std::error_code ec;
  std::filesystem::create_directories(app, ec);
  if (ec) return makeError("cannot create", app, ec.value());

  // Copies of a live process's files keep the proc side realistic without a captured fixture.
  auto status = readWholeFile(HostPaths().proc(0, "status"));
  if (!status) return status.error();
  auto stat = readWholeFile(HostPaths().proc(0, "stat"));
  if (!stat) return stat.error();

  std::vector<std::pair<std::string, std::string>> files = {
      {joinPath(t.cgroup_root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids\n"},
      {joinPath(slice, "memory.current"), "216006656\n"},
      {joinPath(slice, "memory.max"), "1073741824\n"},
      {joinPath(pod, "memory.current"), "209715200\n"},
      {joinPath(pod, "memory.max"), "268435456\n"},
      {joinPath(app, "memory.current"), "201326592\n"},
      {joinPath(app, "memory.max"), "max\n"},
      {joinPath(app, "memory.high"), "251658240\n"},
      {joinPath(app, "memory.low"), "0\n"},
      {joinPath(app, "memory.min"), "0\n"},
      {joinPath(app, "memory.peak"), "226492416\n"},
      {joinPath(app, "memory.stat"), kMemoryStat},
      {joinPath(app, "memory.events"), kEvents},
      {joinPath(app, "memory.events.local"), kEvents},
      {joinPath(app, "memory.pressure"), kPressure},
      {joinPath(app, "memory.swap.current"), "0\n"},
      {joinPath(app, "memory.swap.max"), "max\n"},
      {joinPath(app, "cgroup.procs"), std::string(kPids[0]) + "\n" + kPids[1] + "\n"},
  };
  for (const char* pid : kPids) {
    std::string pdir = joinPath(t.proc_root, pid);
    std::filesystem::create_directories(pdir, ec);
    if (ec) return makeError("cannot create", pdir, ec.value());
    files.emplace_back(joinPath(pdir, "status"), *status);
    files.emplace_back(joinPath(pdir, "stat"), *stat);
  }
  for (const auto& [path, text] : files)
    if (auto st = writeFile(path, text); !st) return st.error();
  return t;
}

}  // namespace oomsentinel::bench
