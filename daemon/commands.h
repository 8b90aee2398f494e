// daemon/: wiring and lifetime of the oomsentinel executable.
// The subcommands besides status: run, check-config, record, replay, incidents.
#pragma once

#include <string>
#include <vector>

#include "core/host_paths.h"

namespace oomsentinel {

extern const char* const kRunUsage;
extern const char* const kCheckConfigUsage;
extern const char* const kRecordUsage;
extern const char* const kReplayUsage;
extern const char* const kIncidentsUsage;

int runDaemon(const HostPaths& paths, std::vector<std::string> args);
int runCheckConfig(std::vector<std::string> args);
int runRecord(const HostPaths& paths, std::vector<std::string> args);
int runReplay(std::vector<std::string> args);
int runIncidents(std::vector<std::string> args);
// `incidents show ID|latest` (incidents_show.cc), given the arguments after "show".
int runIncidentsShow(std::vector<std::string> args);
// Where `incidents` looks by default: dump.dir's default.
extern const char* const kDefaultIncidentsDir;

class Args;
// The flags `incidents` and `incidents show` share, taken from the front of `args`: --dir DIR
// (not empty) into `dir`, --json into `json`. False when the next argument is neither.
bool takeIncidentsFlag(Args& args, std::string& dir, bool& json);

}  // namespace oomsentinel
