#include "collectors/layout.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "collectors/cgroup_walk.h"
#include "collectors/control_file.h"

namespace oomsentinel {
namespace {

bool hasWord(std::string_view list, std::string_view word, char sep) {
  while (!list.empty()) {
    std::size_t p = list.find(sep);
    if (trim(list.substr(0, p)) == word) return true;
    if (p == std::string_view::npos) break;
    list.remove_prefix(p + 1);
  }
  return false;
}

// True when a /proc/PID/cgroup path has a ".." component: the kernel writes the path of a cgroup
// outside the reader's cgroup namespace that way ("/../../other"). A name that merely starts
// with two dots ("/..data") is an ordinary cgroup.
bool leavesRoot(std::string_view path) {
  while (!path.empty()) {
    std::size_t p = path.find('/');
    if (path.substr(0, p) == "..") return true;
    if (p == std::string_view::npos) break;
    path.remove_prefix(p + 1);
  }
  return false;
}

bool controllersHaveMemory(std::string_view controllers) {
  return hasWord(trim(controllers), "memory", ' ');
}

// "/a/b/" and "a/b" -> "/a/b"; "" -> "/". Rejects ".." so a target cannot leave the hierarchy.
Result<std::string> normalizeRelative(std::string_view path) {
  std::string out;
  while (!path.empty()) {
    std::size_t p = path.find('/');
    std::string_view part = path.substr(0, p);
    path = p == std::string_view::npos ? std::string_view() : path.substr(p + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return makeError("cgroup path may not contain '..'");
    out += '/';
    out += part;
  }
  if (out.empty()) out.assign(1, '/');  // not = "/": GCC 12 -O3 warns -Wrestrict wrongly
  return out;
}

// For a path that a cgroup namespace made relative: the suffix left after the leading ".."
// components, when exactly one directory under the memory root ends with it; otherwise the
// directory whose cgroup.procs lists the pid (cgroup.procs shows pids in the reader's pid
// namespace, as /proc does). nullopt when neither finds one; `note` then says why, if a walk
// failed.
std::optional<ResolvedCgroup> findNamespacedCgroup(const HostPaths& paths,
                                                   const CgroupLayout& layout,
                                                   std::string_view path, pid_t pid,
                                                   std::string* note) {
  const WalkLimits limits;
  std::string_view suffix = path;
  while (!suffix.empty()) {
    if (suffix.front() == '/') {
      suffix.remove_prefix(1);
    } else if (suffix == ".." || suffix.starts_with("../")) {
      suffix.remove_prefix(2);
    } else {
      break;
    }
  }
  while (!suffix.empty() && suffix.back() == '/') suffix.remove_suffix(1);
  if (!suffix.empty() && !leavesRoot(suffix)) {
    std::vector<std::string> hits;
    auto st = walkCgroupTree(layout.memory_root, limits, [&](const std::string& rel, int) {
      if (rel.size() >= suffix.size() && std::string_view(rel).ends_with(suffix) &&
          (rel.size() == suffix.size() || rel[rel.size() - suffix.size() - 1] == '/')) {
        hits.push_back(rel);
        if (hits.size() > 1) return WalkStep::kStop;  // ambiguous: the pid decides
      }
      return WalkStep::kDescend;
    });
    if (!st) *note = st.error().describe();
    if (st && hits.size() == 1)
      if (auto r = resolveCgroupPath(layout, hits[0])) return *r;
  }
  // Which pid to look for: "self" is a number in the proc root's namespace.
  if (pid == 0) {
    char buf[32];
    ssize_t n = ::readlink(paths.procFile("self").c_str(), buf, sizeof buf - 1);
    if (n <= 0) return std::nullopt;
    buf[n] = '\0';
    pid = static_cast<pid_t>(std::atol(buf));
    if (pid <= 0) return std::nullopt;
  }
  auto holds = [&](const std::string& dir) {
    auto text = readWholeFile(joinPath(dir, "cgroup.procs"));
    std::vector<int> pids;
    if (!text || !parsePidList(*text, pids).ok()) return false;
    return std::find(pids.begin(), pids.end(), pid) != pids.end();
  };
  // In the root cgroup: the root is what the namespace-relative path would have named anyway.
  if (holds(layout.memory_root)) return std::nullopt;
  std::string hit;
  auto st = walkCgroupTree(layout.memory_root, limits, [&](const std::string& rel, int) {
    if (!holds(joinPath(layout.memory_root, rel))) return WalkStep::kDescend;
    hit = rel;
    return WalkStep::kStop;
  });
  if (!st) {
    if (!note->empty()) *note += "; ";
    *note += st.error().describe();
  }
  if (hit.empty()) return std::nullopt;
  auto r = resolveCgroupPath(layout, hit);
  if (!r) return std::nullopt;
  return *r;
}

}  // namespace

const char* cgroupVersionName(CgroupVersion v) {
  switch (v) {
    case CgroupVersion::kV1:
      return "v1";
    case CgroupVersion::kV2:
      return "v2";
    case CgroupVersion::kNone:
      break;
  }
  return "none";
}

const char* layoutKindName(CgroupLayout::Kind k) {
  switch (k) {
    case CgroupLayout::Kind::kUnified:
      return "unified";
    case CgroupLayout::Kind::kLegacy:
      return "legacy";
    case CgroupLayout::Kind::kHybrid:
      return "hybrid";
    case CgroupLayout::Kind::kNone:
      break;
  }
  return "none";
}

CgroupLayout layoutFromMounts(const std::vector<MountInfo>& mounts,
                              std::string_view unified_controllers) {
  CgroupLayout out;
  const MountInfo* v1mem = nullptr;
  const MountInfo* v2 = nullptr;
  for (const auto& m : mounts) {
    if (m.fs_type == "cgroup" && !v1mem && hasWord(m.super_options, "memory", ',')) v1mem = &m;
    if (m.fs_type == "cgroup2" && !v2) v2 = &m;
  }
  if (v2) out.unified_root = v2->mount_point;
  if (v1mem) {
    out.kind = v2 ? CgroupLayout::Kind::kHybrid : CgroupLayout::Kind::kLegacy;
    out.memory_version = CgroupVersion::kV1;
    out.memory_root = v1mem->mount_point;
    out.mount_root = v1mem->root;
  } else if (v2 && controllersHaveMemory(unified_controllers)) {
    out.kind = CgroupLayout::Kind::kUnified;
    out.memory_version = CgroupVersion::kV2;
    out.memory_root = v2->mount_point;
    out.mount_root = v2->root;
  } else if (v2) {
    out.why_none = "cgroup2 is mounted at " + v2->mount_point +
                   " without the memory controller, and no cgroup v1 memory hierarchy is mounted";
  } else {
    out.why_none = "no cgroup v1 memory hierarchy and no cgroup2 mount in mountinfo";
  }
  return out;
}

Result<CgroupLayout> detectLayout(const HostPaths& paths) {
  CgroupLayout out;
  const std::string& root = paths.cgroupRoot();
  if (!paths.cgroupRootGiven()) {
    auto text = readWholeFile(paths.selfMountinfo());
    if (!text) return text.error();
    auto mounts = parseMountinfo(*text);
    if (!mounts) return makeError(mounts.error().message, paths.selfMountinfo());
    std::string controllers;
    for (const auto& m : *mounts)
      if (m.fs_type == "cgroup2") {
        auto c = readWholeFile(joinPath(m.mount_point, "cgroup.controllers"));
        if (c) controllers = *c;
        break;
      }
    out = layoutFromMounts(*mounts, controllers);
    if (out.kind == CgroupLayout::Kind::kNone)
      return makeError(out.why_none, paths.selfMountinfo());
    return out;
  }
  // A tree given by the user: its files say what it is.
  if (!fileExists(root)) return makeError("no such directory", root, ENOENT);
  auto v2controllers = readWholeFile(joinPath(root, "cgroup.controllers"));
  if (fileExists(joinPath(root, "memory.limit_in_bytes"))) {
    out.kind = CgroupLayout::Kind::kLegacy;
    out.memory_version = CgroupVersion::kV1;
    out.memory_root = root;
  } else if (v2controllers && controllersHaveMemory(*v2controllers)) {
    out.kind = CgroupLayout::Kind::kUnified;
    out.memory_version = CgroupVersion::kV2;
    out.memory_root = root;
    out.unified_root = root;
  } else if (fileExists(joinPath(root, "memory/memory.limit_in_bytes"))) {
    out.memory_version = CgroupVersion::kV1;
    out.memory_root = joinPath(root, "memory");
    bool unified = fileExists(joinPath(root, "unified/cgroup.controllers"));
    out.kind = unified ? CgroupLayout::Kind::kHybrid : CgroupLayout::Kind::kLegacy;
    if (unified) out.unified_root = joinPath(root, "unified");
  } else if (v2controllers) {
    return makeError(
        "cgroup v2 tree without the memory controller in cgroup.controllers (and no v1 memory "
        "hierarchy at memory/)",
        root);
  } else {
    return makeError(
        "neither a cgroup v2 tree (cgroup.controllers) nor a v1 memory hierarchy "
        "(memory.limit_in_bytes, memory/memory.limit_in_bytes)",
        root);
  }
  return out;
}

Result<ResolvedCgroup> resolveCgroupPath(const CgroupLayout& layout, std::string_view path) {
  auto rel = normalizeRelative(path);
  if (!rel) return makeError(rel.error().message, std::string(path));
  ResolvedCgroup out;
  out.version = layout.memory_version;
  out.relative = *rel;
  out.dir = *rel == "/" ? layout.memory_root : joinPath(layout.memory_root, *rel);
  const char* probe =
      out.version == CgroupVersion::kV2 ? "memory.current" : "memory.usage_in_bytes";
  if (!fileExists(joinPath(out.dir, probe))) {
    if (!fileExists(out.dir)) return makeError("no such cgroup", out.dir, ENOENT);
    if (out.version == CgroupVersion::kV2 && *rel == "/")
      return makeError("the cgroup v2 root has no memory.current; watch the host instead (--host)",
                       out.dir, ENOENT);
    return makeError(std::string("not a memory cgroup (no ") + probe + ")", out.dir, ENOENT);
  }
  return out;
}

Result<ResolvedCgroup> resolvePidCgroup(const HostPaths& paths, const CgroupLayout& layout,
                                        pid_t pid) {
  std::string file = paths.proc(pid, "cgroup");
  auto text = readWholeFile(file);
  if (!text) {
    if (text.error().isGone()) return makeError("no such process", file, ESRCH);
    return text.error();
  }
  auto entries = parseProcCgroup(*text);
  if (!entries) return makeError(entries.error().message, file);
  const ProcCgroupEntry* found = nullptr;
  for (const auto& e : *entries) {
    bool match = layout.memory_version == CgroupVersion::kV2
                     ? (e.hierarchy == 0 && e.controllers.empty())
                     : hasWord(e.controllers, "memory", ',');
    if (match) {
      found = &e;
      break;
    }
  }
  if (!found)
    return makeError(
        std::string("no ") + cgroupVersionName(layout.memory_version) + " memory cgroup line",
        file);
  std::string_view p = found->path;
  // Strip the mounted sub-tree; a path outside it cannot be reached through this mount.
  if (layout.mount_root != "/" && !layout.mount_root.empty()) {
    std::string_view mr = layout.mount_root;
    if (p.substr(0, mr.size()) != mr || (p.size() > mr.size() && p[mr.size()] != '/'))
      return makeError(
          "cgroup " + found->path + " is outside the mounted hierarchy " + layout.mount_root, file);
    p.remove_prefix(mr.size());
  }
  // The normal case: the path exists under the memory root.
  Error first;
  if (!leavesRoot(p)) {
    auto r = resolveCgroupPath(layout, p);
    if (r && r->relative == "/") {
      // On v1 the root is a cgroup too, so "/" may be a private namespace's root: the root's
      // cgroup.procs says whether the pid is really there.
      std::string ignored;
      if (auto found = findNamespacedCgroup(paths, layout, p, pid, &ignored)) return *found;
      return r;
    }
    if (r || r.error().errnum != ENOENT) return r;
    first = r.error();
  } else {
    first = makeError("cgroup " + found->path +
                          " is outside this cgroup namespace; mount the host's cgroupfs and pass "
                          "--cgroup-root",
                      file);
  }
  // A private cgroup namespace: the path is relative to the reader's own cgroup ("/", or
  // "/../<sibling>"), so look for the directory it names, then for the one that holds the pid.
  std::string note;
  if (auto r = findNamespacedCgroup(paths, layout, p, pid, &note)) return *r;
  if (!note.empty()) first.message += " (" + note + ")";
  return first;
}

}  // namespace oomsentinel
