#include "dumpers/target_process.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "dumpers/gperftools_dumper.h"

namespace oomsentinel {
namespace {

bool readSmall(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::uint64_t vmRssKb(const std::string& status) {
  auto at = status.find("\nVmRSS:");
  if (at == std::string::npos) return 0;  // a kernel thread or a zombie: nothing to dump
  return std::strtoull(status.c_str() + at + 7, nullptr, 10);
}

}  // namespace

Result<ChosenProcess> describeProcess(const HostPaths& paths, pid_t pid) {
  std::string stat, status;
  if (!readSmall(paths.proc(pid, "stat"), stat))
    return makeError("no such process", paths.proc(pid, "stat"), ESRCH);
  auto start = parseStatStartTime(stat);
  if (!start) return start.error();
  ChosenProcess p;
  p.pid = pid;
  p.starttime = *start;
  if (readSmall(paths.proc(pid, "status"), status)) p.rss_kb = vmRssKb(status);
  return p;
}

std::optional<std::string> notTheChosenProcess(const std::string& stat_path, pid_t pid,
                                               std::uint64_t starttime) {
  const std::string who = "pid " + std::to_string(pid);
  std::string stat;
  if (!readSmall(stat_path, stat)) return who + " is gone";
  auto start = parseStatStartTime(stat);
  if (!start) return who + ": " + start.error().describe();
  if (*start != starttime)
    return who + " was recycled (start time " + std::to_string(*start) + ", expected " +
           std::to_string(starttime) + ")";
  return std::nullopt;
}

std::optional<std::string> notTheChosenProcess(const HostPaths& paths, pid_t pid,
                                               std::uint64_t starttime) {
  return notTheChosenProcess(paths.proc(pid, "stat"), pid, starttime);
}

Result<ChosenProcess> largestProcess(const HostPaths& paths, const std::string& cgroup_procs) {
  std::string procs;
  if (!readSmall(cgroup_procs, procs)) return makeError("cannot read", cgroup_procs, errno);
  std::istringstream in(procs);
  std::optional<ChosenProcess> best;
  int seen = 0;
  for (long pid; in >> pid && seen < 4096; ++seen) {
    auto p = describeProcess(paths, static_cast<pid_t>(pid));
    if (!p) continue;  // exited since the list was read
    if (!best || p->rss_kb > best->rss_kb) best = *p;
  }
  if (!best) return makeError("the cgroup has no process to dump", cgroup_procs);
  return *best;
}

}  // namespace oomsentinel
