// dumpers/: capturing evidence while the process is still alive.
// ExecDumper: the user's own command (`exec: {argv, timeout}`), run without a shell with the
// incident's facts in its environment; whatever it leaves in the bundle becomes evidence.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

// The command runs with, on top of the daemon's environment:
//   OOMSENTINEL_TARGET        the target's name
//   OOMSENTINEL_RULE          the rule that fired
//   OOMSENTINEL_PID           the process to look at (only when the target has one)
//   OOMSENTINEL_INCIDENT_DIR  the bundle's directory, where it may write files
// Its stdout and stderr go to exec.stdout.txt and exec.stderr.txt in the bundle; every regular
// file it leaves in the bundle (subdirectories too; symlinks are not followed) is an artifact,
// cut at the request's max_bytes. It is stopped, with everything it started, at
// min(timeout, the request's deadline), and anything it left running in its process group is
// killed when it exits.
class ExecDumper final : public Dumper {
 public:
  ExecDumper(std::vector<std::string> argv, Duration timeout);
  const char* name() const override { return "exec"; }
  DumpOutcome run(const DumpRequest& req) override;

 private:
  std::vector<std::string> argv_;
  Duration timeout_;
};

}  // namespace oomsentinel
