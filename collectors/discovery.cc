#include "collectors/discovery.h"

#include <dirent.h>
#include <fnmatch.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <set>

#include "collectors/control_file.h"
#include "collectors/parse.h"
#include "core/owned_fd.h"

namespace oomsentinel {
namespace {

// The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger.
constexpr long kMaxPid = 4 * 1024 * 1024;

std::optional<pid_t> parsePid(std::string_view s) {
  long v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v < 1 || v > kMaxPid)
    return std::nullopt;
  return static_cast<pid_t>(v);
}

// A comm is at most 16 bytes (TASK_COMM_LEN); more is room for a fixture's, never a real file.
constexpr std::size_t kMaxCommBytes = 64;

RE2::Options selectorOptions() {
  RE2::Options o;
  o.set_max_mem(kProcessSelectorMaxMem);
  o.set_log_errors(false);  // a bad pattern is an error value for the caller, not a line on stderr
  o.set_never_capture(true);
  return o;
}

// Appended piecewise: GCC 12 -O3 warns -Wrestrict wrongly on "'" + std::string(s) + "'".
std::string inQuotes(std::string_view s) {
  std::string out(1, '\'');
  out.append(s);
  out.push_back('\'');
  return out;
}

pid_t selfPid(const HostPaths& paths, const DiscoveryOptions& o) {
  if (o.self_pid >= 0) return o.self_pid;
  char buf[32];
  ssize_t n = ::readlink(paths.procFile("self").c_str(), buf, sizeof buf - 1);
  if (n <= 0) return 0;
  return parsePid(std::string_view(buf, static_cast<std::size_t>(n))).value_or(0);
}

// The labels of a process's cgroup; none when it has no memory cgroup we can reach.
std::vector<std::pair<std::string, std::string>> pidLabels(const HostPaths& paths,
                                                           const CgroupLayout& layout, pid_t pid,
                                                           const KubeLogIndex& index) {
  if (layout.kind == CgroupLayout::Kind::kNone) return {};
  auto cg = resolvePidCgroup(paths, layout, pid);
  if (!cg) return {};
  return kubeLabels(cg->relative, index);
}

Error tooMany(const std::string& name, std::size_t max) {
  return makeError("selector of target '" + name + "' matched more than " + std::to_string(max) +
                   " targets; narrow it");
}

std::vector<std::string> splitGlob(std::string_view glob) {
  std::vector<std::string> out;
  while (!glob.empty()) {
    std::size_t p = glob.find('/');
    std::string_view c = glob.substr(0, p);
    // "a//b" and "a/./b" are "a/b"; "**/**" is "**".
    if (!c.empty() && c != "." && !(c == "**" && !out.empty() && out.back() == "**"))
      out.emplace_back(c);
    if (p == std::string_view::npos) break;
    glob.remove_prefix(p + 1);
  }
  return out;
}

bool hasMeta(std::string_view c) { return c.find_first_of("*?[") != std::string_view::npos; }

bool isDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class GlobWalk {
 public:
  GlobWalk(const std::string& root, std::vector<std::string> comps, const WalkLimits& limits)
      : root_(root), comps_(std::move(comps)), limits_(limits) {}

  Status run() {
    match(0, "", 0);
    if (!error_.message.empty()) return error_;
    return Ok{};
  }
  const std::set<std::string>& found() const { return found_; }

 private:
  std::string dirOf(const std::string& rel) const {
    return rel.empty() ? root_ : joinPath(root_, rel);
  }

  // The sub-directories of rel, each directory listed at most once per walk.
  const std::vector<std::string>* subdirs(const std::string& rel) {
    auto it = listed_.find(rel);
    if (it != listed_.end()) return &it->second;
    if (listed_.size() >= limits_.max_dirs) {
      error_ = makeError("cgroup_glob looked at more than " + std::to_string(limits_.max_dirs) +
                             " cgroups; narrow the glob",
                         root_);
      return nullptr;
    }
    auto subs = listSubdirs(dirOf(rel));
    if (!subs) {
      error_ = subs.error();
      return nullptr;
    }
    return &listed_.emplace(rel, std::move(*subs)).first->second;
  }

  void match(std::size_t i, const std::string& rel, int depth) {
    if (!error_.message.empty()) return;
    if (!seen_.emplace(rel, i).second) return;  // reached again through another '**'
    if (i == comps_.size()) {
      if (!rel.empty()) found_.insert(rel);
      return;
    }
    const std::string& c = comps_[i];
    auto child = [&](const std::string& name) { return rel.empty() ? name : rel + "/" + name; };
    if (depth >= limits_.max_depth) {
      // Only an error when the tree really goes deeper.
      const auto* subs = subdirs(rel);
      if (subs && !subs->empty())
        error_ = makeError("cgroup tree deeper than " + std::to_string(limits_.max_depth) +
                               " levels at " + rel + "; narrow the glob",
                           root_);
      return;
    }
    if (c == "**") {
      match(i + 1, rel, depth);
      if (const auto* subs = subdirs(rel))
        for (const auto& s : *subs) match(i, child(s), depth + 1);
      return;
    }
    if (!hasMeta(c)) {
      // A literal component: no listing needed.
      if (isDir(dirOf(child(c)))) match(i + 1, child(c), depth + 1);
      return;
    }
    if (const auto* subs = subdirs(rel))
      for (const auto& s : *subs)
        if (::fnmatch(c.c_str(), s.c_str(), FNM_PATHNAME) == 0) match(i + 1, child(s), depth + 1);
  }

  std::string root_;
  std::vector<std::string> comps_;
  WalkLimits limits_;
  std::map<std::string, std::vector<std::string>> listed_;
  std::set<std::pair<std::string, std::size_t>> seen_;
  std::set<std::string> found_;
  Error error_;
};

}  // namespace

Result<std::vector<Discovered>> discover(const HostPaths& paths, const CgroupLayout& layout,
                                         const std::string& name, const TargetSelector& selector,
                                         const DiscoveryOptions& options) {
  switch (selector.kind) {
    case SelectorKind::kProcess:
      return discoverProcesses(paths, layout, name, selector.pattern, options);
    case SelectorKind::kPidFile:
      return discoverPidFile(paths, layout, name, selector.pattern, options);
    case SelectorKind::kCgroupGlob:
      return discoverCgroupGlob(layout, name, selector.pattern, options);
    case SelectorKind::kSystemdUnit:
      return discoverSystemdUnit(layout, name, selector.pattern, options);
    case SelectorKind::kNone:
      break;
  }
  return makeError("target '" + name + "' has no selector to discover");
}

Status checkProcessSelector(const std::string& regex) {
  RE2 re(regex, selectorOptions());
  if (!re.ok()) return makeError(re.error());
  return Ok{};
}

Result<std::vector<Discovered>> discoverProcesses(const HostPaths& paths,
                                                  const CgroupLayout& layout,
                                                  const std::string& name, const std::string& regex,
                                                  const DiscoveryOptions& options) {
  RE2 re(regex, selectorOptions());
  if (!re.ok())
    return makeError("process selector of target '" + name +
                     "': not a valid regular expression: " + re.error());
  const std::string& root = paths.procRoot();
  DIR* d = ::opendir(root.c_str());
  if (!d) return makeError("cannot list processes", root, errno);
  std::vector<pid_t> pids;
  while (dirent* e = ::readdir(d))
    if (auto pid = parsePid(e->d_name)) pids.push_back(*pid);
  ::closedir(d);
  std::sort(pids.begin(), pids.end());

  const pid_t self = selfPid(paths, options);
  std::vector<pid_t> matched;
  for (pid_t pid : pids) {
    if (pid == self) continue;
    // Any failure here means the process exited (ENOENT, ESRCH) or is not ours to read: both are
    // "not a match", never a failed discovery.
    auto cmdline = readFileUpTo(paths.proc(pid, "cmdline"), kProcessCmdlinePrefixBytes);
    if (!cmdline || cmdline->empty()) continue;  // gone, or a kernel thread (or a zombie)
    std::string& cmd = *cmdline;
    while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    auto comm = readFileUpTo(paths.proc(pid, "comm"), kMaxCommBytes);
    if (!comm) continue;
    std::string_view c = trim(*comm);
    if (RE2::PartialMatch(c, re) || RE2::PartialMatch(cmd, re)) matched.push_back(pid);
    if (matched.size() > options.max_targets) return tooMany(name, options.max_targets);
  }
  KubeLogIndex index = readKubeLogIndex(options.containers_log_dir);
  std::vector<Discovered> out;
  for (pid_t pid : matched) {
    Discovered dsc;
    dsc.target =
        Target::process(matched.size() == 1 ? name : name + "/" + std::to_string(pid), pid);
    dsc.labels = pidLabels(paths, layout, pid, index);
    out.push_back(std::move(dsc));
  }
  return out;
}

Result<std::vector<Discovered>> discoverPidFile(const HostPaths& paths, const CgroupLayout& layout,
                                                const std::string& name, const std::string& file,
                                                const DiscoveryOptions& options) {
  auto text = readWholeFile(file);
  if (!text) return text.error();
  std::string_view t = trim(*text);
  auto pid = parsePid(t);
  if (!pid)
    return makeError("not a pid: " + inQuotes(t.substr(0, 64)) + (t.size() > 64 ? "..." : ""),
                     file);
  if (!isDir(joinPath(paths.procRoot(), std::to_string(*pid))))
    return makeError("process " + std::to_string(*pid) + " is not running", file, ESRCH);
  Discovered dsc;
  dsc.target = Target::process(name, *pid);
  dsc.labels = pidLabels(paths, layout, *pid, readKubeLogIndex(options.containers_log_dir));
  return std::vector<Discovered>{std::move(dsc)};
}

Result<std::vector<Discovered>> discoverCgroupGlob(const CgroupLayout& layout,
                                                   const std::string& name, const std::string& glob,
                                                   const DiscoveryOptions& options) {
  if (layout.memory_root.empty()) return makeError("no memory cgroup hierarchy to glob over");
  auto comps = splitGlob(glob);
  for (const auto& c : comps)
    if (c == "..") return makeError("a cgroup glob may not contain '..'", glob);
  if (comps.empty()) return makeError("empty cgroup glob");
  std::size_t literal = 0;
  while (literal < comps.size() && !hasMeta(comps[literal])) ++literal;

  GlobWalk walk(layout.memory_root, comps, options.limits);
  if (auto st = walk.run(); !st) return st.error();
  if (walk.found().size() > options.max_targets) return tooMany(name, options.max_targets);

  KubeLogIndex index = readKubeLogIndex(options.containers_log_dir);
  std::vector<Discovered> out;
  for (const std::string& rel : walk.found()) {
    // Strip the glob's leading literal components: what is left tells the matches apart.
    std::string_view rest = rel;
    for (std::size_t i = 0; i < literal && !rest.empty(); ++i) {
      std::size_t p = rest.find('/');
      rest = p == std::string_view::npos ? std::string_view() : rest.substr(p + 1);
    }
    Discovered dsc;
    dsc.target = Target::cgroupPath(rest.empty() ? name : name + "/" + std::string(rest), rel);
    dsc.labels = kubeLabels(rel, index);
    out.push_back(std::move(dsc));
  }
  return out;
}

std::optional<std::string> systemdSlicePath(std::string_view slice) {
  if (!slice.ends_with(".slice")) return std::nullopt;
  std::string_view stem = slice.substr(0, slice.size() - 6);
  if (stem == "-") return std::string();
  if (stem.empty() || stem.front() == '-' || stem.back() == '-' ||
      stem.find("--") != std::string_view::npos || stem.find('/') != std::string_view::npos)
    return std::nullopt;
  std::string out;
  for (std::size_t p = stem.find('-'); p != std::string_view::npos; p = stem.find('-', p + 1))
    out += std::string(stem.substr(0, p)) + ".slice/";
  out += slice;
  return out;
}

Result<std::vector<Discovered>> discoverSystemdUnit(const CgroupLayout& layout,
                                                    const std::string& name,
                                                    const std::string& unit,
                                                    const DiscoveryOptions& options) {
  if (layout.memory_root.empty()) return makeError("no memory cgroup hierarchy to look in");
  if (unit.empty() || unit.find('/') != std::string::npos || unit == "." || unit == "..")
    return makeError("not a unit name: " + inQuotes(unit));
  auto found = [&](const std::string& rel) {
    return std::vector<Discovered>{{Target::cgroupPath(name, rel), {}}};
  };
  // The likely places first: a slice's own path, a system service.
  std::vector<std::string> first;
  if (auto slice = systemdSlicePath(unit); slice && !slice->empty()) first.push_back(*slice);
  first.push_back("system.slice/" + unit);
  for (const auto& rel : first)
    if (isDir(joinPath(layout.memory_root, rel))) return found(rel);
  std::string hit;
  auto st = walkCgroupTree(layout.memory_root, options.limits, [&](const std::string& rel, int) {
    std::size_t slash = rel.rfind('/');
    std::string_view base = slash == std::string::npos ? std::string_view(rel)
                                                       : std::string_view(rel).substr(slash + 1);
    if (base != unit) return WalkStep::kDescend;
    hit = rel;
    return WalkStep::kStop;
  });
  if (!st) return st.error();
  if (hit.empty())
    return makeError("systemd unit " + unit + " has no cgroup (not running, or not started yet)",
                     layout.memory_root, ENOENT);
  return found(hit);
}

}  // namespace oomsentinel
