#include "dumpers/exec_dumper.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "core/host_paths.h"
#include "core/owned_fd.h"
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

struct Who {
  uid_t uid = 0;
  gid_t gid = 0;
};

// nobody is 65534 on Debian and in most images, also where no passwd entry names it.
constexpr uid_t kNobody = 65534;

Result<Who> lookUpUser(const std::string& user) {
  Who who;
  if (!user.empty() &&
      std::all_of(user.begin(), user.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    who.uid = static_cast<uid_t>(std::stoul(user));
    who.gid = who.uid;
  }
  std::vector<char> buf(16384);
  struct passwd pw, *found = nullptr;
  int rc = who.uid != 0 || user.empty()
               ? ::getpwuid_r(who.uid, &pw, buf.data(), buf.size(), &found)
               : ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc == 0 && found != nullptr) return Who{found->pw_uid, found->pw_gid};
  if (who.uid != 0) return who;  // a number without a passwd entry: its own group
  if (user == "nobody") return Who{kNobody, kNobody};
  return makeError("no such user", user, rc);
}

}  // namespace

ExecDumper::ExecDumper(std::vector<std::string> argv, Duration timeout, ExecIdentity identity)
    : argv_(std::move(argv)), timeout_(timeout), identity_(std::move(identity)) {}

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
  auto who = lookUpUser(identity_.user);
  if (!who) return done(DumpResult::kFailed, "exec.user: " + who.error().describe());
  // Its folder is its user's; the rest of the bundle stays ours. Held open: the command starts
  // there and reaches it as descriptor 3, whatever the bundle's parents allow its user.
  OwnedFd own_fd(::open(own.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (own_fd.get() < 0)
    return done(DumpResult::kFailed, "cannot open " + own + ": " + std::strerror(errno));
  if (::fchown(own_fd.get(), who->uid, who->gid) != 0 && ::geteuid() == 0)
    return done(DumpResult::kFailed,
                "cannot give " + own + " to the command's user: " + std::strerror(errno));
  static std::atomic<unsigned> sequence{0};
  auto cgroup =
      ChildCgroup::create(identity_.paths, "oomsentinel-exec-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(sequence.fetch_add(1)));

  ChildSpec spec;
  spec.argv = argv_;
  spec.env_add = {{"OOMSENTINEL_TARGET", req.target},
                  {"OOMSENTINEL_RULE", req.rule},
                  {"OOMSENTINEL_INCIDENT_DIR", joinPath(HostPaths::kOwnFdDir, "3")}};
  spec.clean_environment = true;
  spec.no_capabilities = true;
  if (::geteuid() == 0) {
    spec.uid = who->uid;
    spec.gid = who->gid;
  }
  spec.cwd_fd = own_fd.get();
  spec.cwd_as_fd3 = true;
  if (cgroup) spec.cgroup_procs_fd = cgroup->procsFd();
  if (req.pid) spec.env_add.emplace_back("OOMSENTINEL_PID", std::to_string(*req.pid));
  spec.stdout_path = joinPath(own, kStdout);
  spec.stderr_path = joinPath(own, kStderr);
  spec.max_output_bytes = req.max_bytes;
  spec.deadline = deadline;
  auto child = runChild(spec);
  // What it left running, setsid() or not, goes with its cgroup.
  std::string leftovers;
  if (cgroup) leftovers = cgroup->killAll();

  DumpResult result = DumpResult::kOk;
  std::string error;
  if (!child) {
    result = DumpResult::kFailed;
    error = child.error().describe();
  } else if (child->timed_out) {
    result = DumpResult::kTimedOut;
    error = "timed out after " +
            formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(allowed)) +
            (cgroup ? "; its cgroup was killed" : "; its process group was killed");
  } else if (child->output_cut) {
    result = DumpResult::kPartial;
    error = "its output passed the size cap of " + formatBytes(double(req.max_bytes)) +
            "; it was stopped";
  } else if (child->abandoned || child->term_signal != 0 || child->exit_code != 0) {
    result = DumpResult::kFailed;
    error = child->describe();
  }

  auto note = [&](const std::string& s) {
    error += error.empty() ? "" : "; ";
    error += s;
  };
  if (!cgroup)
    note("no cgroup of its own (" + cgroup.error().describe() +
         "): only its process group was killed, and a descendant that called setsid() may "
         "still run");
  if (!leftovers.empty()) note("of its cgroup, " + leftovers);

  // What it wrote becomes ours before it is read: the daemon keeps no CAP_DAC_OVERRIDE, and
  // finishing an artifact opens it for writing. Links are not followed (lchown).
  if (::geteuid() == 0) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(own, ec), end; !ec && it != end; it.increment(ec))
      (void)!::lchown(it->path().c_str(), 0, 0);
    (void)!::fchown(own_fd.get(), 0, 0);
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
