#include "core/host_paths.h"

#include <utility>

namespace oomsentinel {

HostPaths::HostPaths(std::string cgroup_root, std::string proc_root)
    : cgroup_root_(std::move(cgroup_root)), proc_root_(std::move(proc_root)) {
  while (cgroup_root_.size() > 1 && cgroup_root_.back() == '/') cgroup_root_.pop_back();
  while (proc_root_.size() > 1 && proc_root_.back() == '/') proc_root_.pop_back();
}

std::string HostPaths::proc(pid_t pid, std::string_view file) const {
  std::string dir =
      pid == 0 ? joinPath(proc_root_, "self") : joinPath(proc_root_, std::to_string(pid));
  return joinPath(dir, file);
}

std::string HostPaths::procFile(std::string_view file) const { return joinPath(proc_root_, file); }

std::string joinPath(std::string_view a, std::string_view b) {
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  std::string out(a);
  if (b.empty()) return out;
  if (out.empty() || out.back() != '/') out += '/';
  out += b;
  return out;
}

}  // namespace oomsentinel
