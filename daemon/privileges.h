// daemon/: wiring and lifetime.
// Privileges: what the daemon keeps of root's power once it has started.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace oomsentinel {

// The capabilities the running daemon keeps, each for a reason (see privileges.cc), by name.
const std::vector<std::string>& keptCapabilityNames();

// Run as root: keeps only keptCapabilityNames() (effective, permitted and the bounding set, so
// that no exec brings the others back) and sets PR_SET_NO_NEW_PRIVS. Capabilities belong to each
// thread: this is called before the daemon starts any thread, and every thread started later
// inherits the reduced set. Not root: nothing to drop; returns false without an error.
// Returns true when it dropped.
Result<bool> dropPrivileges();

}  // namespace oomsentinel
