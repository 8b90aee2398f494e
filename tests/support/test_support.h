// tests/: helpers shared by the test binaries.
#pragma once

#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace oomsentinel::testing {

// The units the tests write sizes in, and the rules' infinity: one definition for every test file,
// since a unity build (scripts/test's sanitizer builds) compiles several of them as one.
inline constexpr double kMiB = 1024.0 * 1024.0;
inline constexpr double kGiB = 1024.0 * kMiB;
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Path of a file under tests/fixtures/.
std::string fixture(const std::string& relative);
// Whole file as a string; fails the current test when it cannot be read.
std::string readFixture(const std::string& relative);
// The built oomsentinel executable.
std::string binaryPath();

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs argv (argv[0] a path) with no shell, capturing stdout and stderr; kills it after
// timeout_s seconds (exit_code -1 then).
RunResult runCommand(const std::vector<std::string>& argv, int timeout_s = 60);

// A whole file as a string ("" when it cannot be read).
std::string slurp(const std::string& path);
// A loopback TCP port nobody listens on right now.
int freeLoopbackPort();
// Asks `f` every `step_ms` until it says true, at most `tries` times; its last answer.
bool eventually(const std::function<bool()>& f, int tries = 250, int step_ms = 20);
// GET http://127.0.0.1:<port><path> (HTTP/1.0, 5 s at most): the body of a 200, else "".
std::string httpGetLocal(int port, const std::string& path);
// tests/integration/vm/<name>, and "" when the cgroup v2 VM can run here, else what is missing
// (for GTEST_SKIP).
std::string vmScript(const std::string& name);
std::string vmUnavailable();
// "2026-11-29T05:51:31.555Z" -> Unix seconds; and the wall clock now, in the same unit.
double parseIsoTime(const std::string& text);
double unixNow();

// A FILE* whose output the test reads back (a Logger's stream).
class CapturedOutput {
 public:
  CapturedOutput();
  ~CapturedOutput();
  CapturedOutput(const CapturedOutput&) = delete;
  CapturedOutput& operator=(const CapturedOutput&) = delete;
  std::FILE* file() { return f_; }
  std::string text();

 private:
  char* buf_ = nullptr;
  std::size_t len_ = 0;
  std::FILE* f_;
};

// A tmpfs of `size` (mount(8)'s syntax: "256k", "1m") on the directory `dir`, made here, so that a
// test can fill a real file system (ENOSPC) or remount it read-only; detached when it goes.
// Mounting needs root: why() says what stopped it (the test skips with it), empty when mounted.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& size);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  const std::string& dir() const { return dir_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  std::string why_;
};

// A fresh directory under TMPDIR, removed with its contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative, creating parent directories.
  void write(const std::string& relative, const std::string& content) const;

 private:
  std::string path_;
};

// A cgroup v2 tree of plain files under dir/cg with one cgroup, "app": `used` bytes charged (all
// anon) of a 100 MiB memory.max, no process listed. What the daemon-starting tests watch.
void writeAppCgroup(const TempDir& dir, unsigned long long used);

}  // namespace oomsentinel::testing
