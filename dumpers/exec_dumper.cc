#include "dumpers/exec_dumper.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "core/host_paths.h"
#include "core/units.h"
#include "dumpers/artifact.h"
#include "dumpers/child.h"

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOwnDir = "exec";
constexpr const char* kStdout = "stdout.txt";
constexpr const char* kStderr = "stderr.txt";
// A command that litters the bundle with more files than this gets only the first ones listed:
// hashing is bounded like everything else.
constexpr std::size_t kMaxFiles = 1000;

const Clock& clock() {
  static const SystemClock c;
  return c;
}

// The regular files under `dir`, as paths relative to it. Symlinks are neither followed nor
// listed: finishing an artifact rewrites the file, and a link could point anywhere.
std::set<std::string> regularFiles(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code sec;
    if (!it->is_symlink(sec) && it->is_regular_file(sec))
      out.insert(fs::relative(it->path(), dir, sec).string());
    if (out.size() > kMaxFiles) break;
  }
  return out;
}

}  // namespace

ExecDumper::ExecDumper(std::vector<std::string> argv, Duration timeout)
    : argv_(std::move(argv)), timeout_(timeout) {}

DumpOutcome ExecDumper::run(const DumpRequest& req) {
  SteadyTime start = clock().steadyNow();
  DumpOutcome out;
  out.dumper = name();
  auto done = [&](DumpResult r, std::string error) {
    out.result = r;
    out.error = std::move(error);
    out.took = clock().steadyNow() - start;
    return out;
  };
  if (argv_.empty()) return done(DumpResult::kFailed, "no command configured");

  // A request without a deadline (the zero time point) is bounded by our own timeout alone.
  SteadyTime deadline = start + timeout_;
  if (req.deadline != SteadyTime{}) deadline = std::min(deadline, req.deadline);
  Duration allowed = deadline - start;
  if (allowed <= Duration::zero())
    return done(DumpResult::kTimedOut, "no time left before the dump's deadline; not started");

  // A folder of its own: the other dumpers write into the bundle at the same time, and what the
  // command leaves must not be confused with their files.
  const std::string own = joinPath(req.dir, kOwnDir);
  if (::mkdir(own.c_str(), 0700) != 0 && errno != EEXIST)
    return done(DumpResult::kFailed, "cannot create " + own + ": " + std::strerror(errno));
  std::set<std::string> before = regularFiles(own);

  ChildSpec spec;
  spec.argv = argv_;
  spec.env_add = {{"OOMSENTINEL_TARGET", req.target},
                  {"OOMSENTINEL_RULE", req.rule},
                  {"OOMSENTINEL_INCIDENT_DIR", own}};
  if (req.pid) spec.env_add.emplace_back("OOMSENTINEL_PID", std::to_string(*req.pid));
  spec.stdout_path = joinPath(own, kStdout);
  spec.stderr_path = joinPath(own, kStderr);
  spec.max_output_bytes = req.max_bytes;
  spec.deadline = deadline;
  auto child = runChild(spec);

  DumpResult result = DumpResult::kOk;
  std::string error;
  if (!child) {
    result = DumpResult::kFailed;
    error = child.error().describe();
  } else if (child->timed_out) {
    result = DumpResult::kTimedOut;
    error = "timed out after " +
            formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(allowed)) +
            "; its process group was killed";
  } else if (child->output_cut) {
    result = DumpResult::kPartial;
    error = "its output passed the size cap of " + formatBytes(double(req.max_bytes)) +
            "; it was stopped";
  } else if (child->abandoned || child->term_signal != 0 || child->exit_code != 0) {
    result = DumpResult::kFailed;
    error = child->describe();
  }

  // Its two output files first, then whatever else it wrote, in name order.
  std::set<std::string> after = regularFiles(own);
  std::vector<std::string> fresh;
  for (const char* f : {kStdout, kStderr})
    if (after.count(f) && !before.count(f)) fresh.emplace_back(f);
  for (const auto& f : after)
    if (!before.count(f) && f != kStdout && f != kStderr) fresh.push_back(f);
  if (after.size() > kMaxFiles) {
    error += error.empty() ? "" : "; ";
    error += "it left more than " + std::to_string(kMaxFiles) + " files; not all are listed";
    if (result == DumpResult::kOk) result = DumpResult::kPartial;
  }
  for (const auto& f : fresh) {
    auto a = finishArtifact(req.dir, std::string(kOwnDir) + "/" + f, req.max_bytes);
    if (!a) {
      error += error.empty() ? "" : "; ";
      error += a.error().describe();
      if (result == DumpResult::kOk) result = DumpResult::kPartial;
      continue;
    }
    if (child && ((f == kStdout && child->stdout_cut) || (f == kStderr && child->stderr_cut)))
      a->truncated = true;
    out.artifacts.push_back(std::move(*a));
  }
  return done(result, std::move(error));
}

}  // namespace oomsentinel
