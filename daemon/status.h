// daemon/: wiring and lifetime of the oomsentinel executable.
// `oomsentinel status`: how close a workload is to being OOM-killed, once or --watch.
#pragma once

#include <string>
#include <vector>

#include "core/host_paths.h"

namespace oomsentinel {

extern const char* const kStatusUsage;
int runStatus(const HostPaths& paths, std::vector<std::string> args);

}  // namespace oomsentinel
