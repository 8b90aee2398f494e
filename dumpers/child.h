// dumpers/: capturing evidence while the process is still alive.
// Running a helper program (jcmd, a user's hook) bounded in time and output, without a shell,
// in its own process group so that a deadline takes down everything it started.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace oomsentinel {

struct ChildSpec {
  // argv[0] is the program: a path when it holds a '/', else looked up in our own PATH (never
  // the PATH given in env_add, and never the current directory).
  std::vector<std::string> argv;
  // Set on top of our own environment (replacing a variable of the same name).
  std::vector<std::pair<std::string, std::string>> env_add;
  // Created (or emptied) with mode 0600; empty means /dev/null. Both may name the same file.
  std::string stdout_path, stderr_path;
  // 0 means no cap. A child whose stdout or stderr file passes it is stopped like a timed-out
  // one (its disk is the incident store's), and the file is cut to the cap afterwards.
  std::uint64_t max_output_bytes = 0;
  // The child is stopped at this time: SIGTERM to its group, then SIGKILL after kill_grace.
  // A deadline already passed is an error: the program is not started.
  SteadyTime deadline{};
  Duration kill_grace = std::chrono::milliseconds(500);
};

struct ChildResult {
  int exit_code = -1;       // its exit status, or -1 when it was killed by a signal
  int term_signal = 0;      // the signal that ended it, 0 when it exited
  bool timed_out = false;   // it was stopped at the deadline
  bool output_cut = false;  // it was stopped because an output passed the cap
  bool stdout_cut = false;  // that file was cut to max_output_bytes
  bool stderr_cut = false;
  // It had not ended 2s after SIGKILL (stuck in the kernel, e.g. on a hung NFS mount): a
  // background thread reaps it when it does, and exit_code/term_signal are unknown.
  bool abandoned = false;
  Duration took{};
  // "exited with status 0", "killed by signal 9 (SIGKILL)", "timed out after 2s; its process
  // group was killed", ...
  std::string describe() const;
};

// Starts spec.argv with stdin on /dev/null and no other descriptor of ours, in a new process
// group, and waits for it; then kills whatever it left behind in its group and reaps it, so
// nothing it started outlives the call. Errors: an empty argv, a program that is not found or
// not executable (the error names the path), an output file that cannot be created, a deadline
// already passed. Safe to call from several threads at once: it waits for its own pid only and
// installs no signal handler (and so requires that nobody else reaps with wait(-1)). Returns by
// deadline + kill_grace, plus up to 2s for a SIGKILLed process to let go of its memory.
Result<ChildResult> runChild(const ChildSpec& spec);

}  // namespace oomsentinel
