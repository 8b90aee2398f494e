// collectors/: turning kernel text into Snapshots.
// Target discovery: a selector (process regex, pid file, cgroup glob, systemd unit) -> the
// concrete targets it stands for right now, with Kubernetes labels where the cgroup says so.
// Each call looks afresh (nothing is cached): the caller evaluates again every
// discovery.interval and diffs the names.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/cgroup_walk.h"
#include "collectors/kube_path.h"
#include "collectors/layout.h"
#include "core/host_paths.h"
#include "core/result.h"
#include "core/target.h"

namespace oomsentinel {

struct Discovered {
  // Concrete: kCgroup with a path relative to the memory hierarchy (no leading '/'), or kPid.
  // Its name is the spec's name, or "<spec name>/<part>" when a selector matched several.
  Target target;
  // namespace, pod, container, pod_uid, container_id (kubeLabels): those that are known.
  std::vector<std::pair<std::string, std::string>> labels;
};

struct DiscoveryOptions {
  // The kubelet's container log symlinks, for the namespace/pod/container labels ("": none).
  std::string containers_log_dir;
  // oomsentinel's own pid, which `process` never matches; -1: <proc root>/self says (so it is
  // right in the proc root's pid namespace).
  pid_t self_pid = -1;
  WalkLimits limits;
  std::size_t max_targets = 1000;  // more matches is an error: the selector is too wide
};

// Dispatches on selector.kind (an error for kNone).
Result<std::vector<Discovered>> discover(const HostPaths& paths, const CgroupLayout& layout,
                                         const std::string& name, const TargetSelector& selector,
                                         const DiscoveryOptions& options = {});

// How much of a command line a process selector sees: its first 4 KiB (a read of that much, never
// the whole file). A command line is the target's to choose and may be megabytes long; the name
// and flags a selector looks for come first.
inline constexpr std::size_t kProcessCmdlinePrefixBytes = 4096;
// RE2's max_mem for one process selector (its compiled program and DFA cache): a pattern that
// needs more is a config error; a DFA that fills it falls back to RE2's NFA, still linear.
inline constexpr std::int64_t kProcessSelectorMaxMem = 1 << 20;

// OK when `regex` compiles as a process selector (RE2 syntax: no backreferences, no lookaround),
// else RE2's own message, e.g. "invalid perl operator: (?=".
Status checkProcessSelector(const std::string& regex);

// process: an RE2 search (linear in the text, no recursion) over each process's comm and over the
// first kProcessCmdlinePrefixBytes of its command line (NULs as spaces); kernel threads (empty
// command line) and oomsentinel itself are skipped, and so are processes that exit while we look.
// Named `name` when exactly one process matched, else `name/<pid>` each. Sorted by pid. No match
// is an empty list, not an error.
Result<std::vector<Discovered>> discoverProcesses(const HostPaths& paths,
                                                  const CgroupLayout& layout,
                                                  const std::string& name, const std::string& regex,
                                                  const DiscoveryOptions& options = {});

// pid_file: the file's pid (whitespace trimmed), as a target named `name`. Errors name the file
// and its text, and say so when the process is not running.
Result<std::vector<Discovered>> discoverPidFile(const HostPaths& paths, const CgroupLayout& layout,
                                                const std::string& name, const std::string& file,
                                                const DiscoveryOptions& options = {});

// cgroup_glob: directories under layout.memory_root matching `glob` component by component:
// '*', '?' and '[...]' within one component (fnmatch), '**' for zero or more components. Sorted.
// Named `name/<the match without the glob's leading literal components>` (just `name` when
// nothing is left). No match is an empty list.
Result<std::vector<Discovered>> discoverCgroupGlob(const CgroupLayout& layout,
                                                   const std::string& name, const std::string& glob,
                                                   const DiscoveryOptions& options = {});

// systemd_unit: the unit's cgroup, named `name`. A slice's place follows from its name
// (a-b.slice is a.slice/a-b.slice); a service or scope is looked for at system.slice/NAME, then
// anywhere (breadth-first, bounded). An error when there is none (not started yet, perhaps).
Result<std::vector<Discovered>> discoverSystemdUnit(const CgroupLayout& layout,
                                                    const std::string& name,
                                                    const std::string& unit,
                                                    const DiscoveryOptions& options = {});

// Pure: where systemd puts a slice, "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice"
// ("-.slice", the root slice, -> ""); nullopt for what is not a valid slice name.
std::optional<std::string> systemdSlicePath(std::string_view slice);

}  // namespace oomsentinel
