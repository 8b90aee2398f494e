#include "collectors/cgroup_walk.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <utility>

#include "core/host_paths.h"

namespace oomsentinel {

Result<std::vector<std::string>> listSubdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ENODEV) return out;
    return makeError("cannot list", dir, errno);
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      is_dir = ::stat(joinPath(dir, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.emplace_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status walkCgroupTree(
    const std::string& root, const WalkLimits& limits,
    const std::function<WalkStep(const std::string& relative, int depth)>& visit) {
  std::deque<std::pair<std::string, int>> queue{{"", 0}};
  std::size_t listed = 0;
  while (!queue.empty()) {
    auto [rel, depth] = std::move(queue.front());
    queue.pop_front();
    if (++listed > limits.max_dirs)
      return makeError("more than " + std::to_string(limits.max_dirs) +
                           " cgroups to look at; narrow the selector",
                       root);
    auto subs = listSubdirs(rel.empty() ? root : joinPath(root, rel));
    if (!subs) return subs.error();
    if (!subs->empty() && depth >= limits.max_depth)
      return makeError("cgroup tree deeper than " + std::to_string(limits.max_depth) +
                           " levels at " + rel + "; narrow the selector",
                       root);
    for (auto& name : *subs) {
      std::string child = rel.empty() ? name : rel + "/" + name;
      WalkStep step = visit(child, depth + 1);
      if (step == WalkStep::kStop) return Ok{};
      if (step == WalkStep::kDescend) queue.emplace_back(std::move(child), depth + 1);
    }
  }
  return Ok{};
}

}  // namespace oomsentinel
