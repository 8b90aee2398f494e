// daemon/: wiring and lifetime.
// Privileges: what the daemon keeps of root's power once it has started.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/result.h"

namespace oomsentinel {

// The capabilities the running daemon keeps, each for a reason (see privileges.cc), by name.
const std::vector<std::string>& keptCapabilityNames();
// Those of them this process holds (effective): what it kept, for the start-up log.
std::vector<std::string> heldKeptCapabilityNames();

// Run as root: keeps only keptCapabilityNames() (effective, permitted and the bounding set, so
// that no exec brings the others back) and sets PR_SET_NO_NEW_PRIVS. Capabilities belong to each
// thread: this is called before the daemon starts any thread, and every thread started later
// inherits the reduced set. Not root: nothing to drop; returns false without an error.
// Returns true when it dropped.
Result<bool> dropPrivileges();

// What the dumpers' children cannot do with the capabilities this process holds, in one line for
// the start-up log ("" when nothing is missing), so that a dump does not fail silently later:
// without CAP_SETUID/CAP_SETGID exec hooks run as our own uid and jcmd reaches only JVMs of it;
// without CAP_SYS_ADMIN/CAP_SYS_CHROOT jcmd cannot enter a JVM's namespaces; without CAP_FOWNER a
// file another user left in a bundle cannot be made 0600. `held`: the effective capabilities.
std::string describeChildLimits(uid_t euid, const std::vector<int>& held);
// The same for this process.
std::string childLimits();

}  // namespace oomsentinel
