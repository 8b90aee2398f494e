// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// For fuzz_state_file under clang 14, which cannot compile all of the daemon library (see
// fuzz/CMakeLists.txt): daemon/state_file.cc is linked alone, and stateJson (the writer, never
// called by the harness) needs these two. They abort if anything ever calls them.
#include <cstdlib>
#include <string>

#include "daemon/kernel_wakeups.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

KernelWakeups::Summary KernelWakeups::summary() const { std::abort(); }
const Snapshot* Watchdog::lastSnapshot(const std::string&) const { std::abort(); }

}  // namespace oomsentinel
