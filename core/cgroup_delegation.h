// core/: what a delegated cgroup looks like, shared by the room that makes the daemon's leaf
// (dumpers/child.h enterDelegatedLeaf) and the room that reads the daemon's own memory
// (collectors/target_collector.cc, a `self` target).
#pragma once

#include <string>
#include <string_view>

namespace oomsentinel {

// The leaf the daemon moves itself into when systemd delegated its cgroup to it (the unit's
// Delegate=yes): <service cgroup>/daemon.
inline constexpr std::string_view kDaemonLeaf = "daemon";

// Whether systemd (>= 251) marked `dir` as delegated (Delegate=yes): the user.delegate=1 xattr,
// readable without privilege (trusted.delegate, the older mark, needs CAP_SYS_ADMIN to read).
bool cgroupMarkedDelegated(const std::string& dir);

// For a cgroup directory that is the daemon's leaf of a delegated cgroup: the delegated cgroup
// (the service, whose memory.max systemd set and whose usage counts the daemon and its children).
// Empty for any other directory.
std::string delegatedServiceOfLeaf(std::string_view dir);

}  // namespace oomsentinel
