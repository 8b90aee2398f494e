// daemon/: wiring and lifetime of the oomsentinel executable.
// The subcommands besides status: run, check-config, record, replay.
#pragma once

#include <string>
#include <vector>

#include "core/host_paths.h"

namespace oomsentinel {

extern const char* const kRunUsage;
extern const char* const kCheckConfigUsage;
extern const char* const kRecordUsage;
extern const char* const kReplayUsage;

int runDaemon(const HostPaths& paths, std::vector<std::string> args);
int runCheckConfig(std::vector<std::string> args);
int runRecord(const HostPaths& paths, std::vector<std::string> args);
int runReplay(std::vector<std::string> args);

}  // namespace oomsentinel
