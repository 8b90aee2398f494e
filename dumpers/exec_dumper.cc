#include "dumpers/exec_dumper.h"

#include <cap-ng.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/target_fs.h"
#include "core/units.h"
#include "dumpers/artifact.h"
#include "dumpers/child.h"
#include "dumpers/target_process.h"

namespace oomsentinel {
namespace {

constexpr const char* kOwnDir = "exec";
constexpr const char* kStdout = "stdout.txt";
constexpr const char* kStderr = "stderr.txt";
// A command that litters the bundle with more files than this gets only the first ones listed:
// hashing is bounded like everything else.
constexpr std::size_t kMaxFiles = 1000;

const Clock& execDumperClock() {
  static const SystemClock c;
  return c;
}

// How deep the hook's own folders are walked: a hook that nests deeper leaves files nobody lists.
constexpr int kMaxDepth = 16;

// What the command left in its folder, walked through descriptors (door-style: nothing is
// followed, every entry is lstat'ed relative to its folder): the command is another user, and
// its folder is the only part of the bundle it could change.
struct LeftBehind {
  std::set<std::string> files;  // regular files, relative to its folder
  std::size_t removed = 0;      // entries that were not plain files of ours or its user's
  bool too_many = false;        // more than kMaxFiles: the rest is not listed
};

bool ownedBy(const struct stat& st, uid_t a, uid_t b) { return st.st_uid == a || st.st_uid == b; }

// With `settle`, also makes it what the daemon can keep: each regular file 0600 (CAP_FOWNER for
// the hook user's files; they stay that user's, whom the bundle's 0700 parents keep out), and
// removes what is not a plain file of ours or of the hook's user: symlinks, FIFOs, sockets,
// devices, and hard links (a link to another user's file would have that file cut and chmodded
// when it is finished). Its own folders become 0007: the daemon has no CAP_DAC_OVERRIDE, and the
// "other" bits are what let it (and the incident store's retention) list and remove their
// entries; their owner gets no access bits at all (the owner class never falls back to "other"),
// so a descendant that outlived the hook cannot use a descriptor it still holds on one.
void walkLeft(int dir_fd, const std::string& rel, int depth, uid_t hook_uid, bool settle,
              LeftBehind& out) {
  auto entries = listTargetDir(dir_fd, rel.empty() ? "exec" : rel);
  if (!entries) return;
  const uid_t ours = ::geteuid();
  for (const auto& e : *entries) {
    if (out.files.size() >= kMaxFiles) {
      out.too_many = true;
      return;
    }
    std::string name = rel.empty() ? e.name : rel + "/" + e.name;
    const struct stat& st = e.st;
    if (S_ISDIR(st.st_mode)) {
      if (!ownedBy(st, ours, hook_uid) || depth >= kMaxDepth) continue;
      auto sub = openTargetDirAt(dir_fd, e.name, name);
      if (!sub) continue;
      if (settle) ::fchmod(sub->get(), st.st_uid == ours ? 0700 : 0007);
      walkLeft(sub->get(), name, depth + 1, hook_uid, settle, out);
      continue;
    }
    if (S_ISREG(st.st_mode) && st.st_nlink == 1 && ownedBy(st, ours, hook_uid)) {
      out.files.insert(name);
      continue;
    }
    if (settle && ::unlinkat(dir_fd, e.name.c_str(), 0) == 0) ++out.removed;
  }
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

// Whether this thread may switch to another user: setresuid/setresgid and setgroups.
bool canSwitchUser() {
  if (capng_get_caps_process() != 0) return false;
  return capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID) &&
         capng_have_capability(CAPNG_EFFECTIVE, CAP_SETGID);
}

}  // namespace

Result<uid_t> execUserUid(const std::string& user) {
  auto who = lookUpUser(user);
  if (!who) return who.error();
  return who->uid;
}

ExecRunAs chooseExecRunAs(const std::string& user, uid_t uid, gid_t gid, uid_t our_euid,
                          bool can_switch) {
  ExecRunAs as;
  if (can_switch) {
    as.uid = uid;
    as.gid = gid;
    return as;
  }
  if (uid == our_euid) return as;
  as.note = "it ran as uid " + std::to_string(our_euid) + ", the daemon's own, not as " + user +
            " (uid " + std::to_string(uid) + "): the daemon " +
            (our_euid != 0 ? "is not root and " : "") + "has no CAP_SETUID/CAP_SETGID";
  return as;
}

namespace {

// What the command runs as: its argv without a shell, a clean environment that names the target,
// the rule and the incident folder (descriptor 3, `own_fd`, also its working directory), no
// capabilities, the user chosen, its output files and cap, the dump's deadline.
ChildSpec hookSpec(const std::vector<std::string>& argv, const DumpRequest& req,
                   const ExecRunAs& as, int own_fd, const std::string& own, SteadyTime deadline) {
  ChildSpec spec;
  spec.argv = argv;
  spec.env_add = {{"OOMSENTINEL_TARGET", req.target},
                  {"OOMSENTINEL_RULE", req.rule},
                  {"OOMSENTINEL_INCIDENT_DIR", joinPath(HostPaths::kOwnFdDir, "3")}};
  spec.clean_environment = true;
  spec.no_capabilities = true;
  if (as.uid) {
    spec.uid = *as.uid;
    spec.gid = as.gid;
  }
  spec.cwd_fd = own_fd;
  spec.cwd_as_fd3 = true;
  if (req.pid) spec.env_add.emplace_back("OOMSENTINEL_PID", std::to_string(*req.pid));
  if (req.pid && req.pid_starttime != 0)
    spec.env_add.emplace_back("OOMSENTINEL_PID_STARTTIME", std::to_string(req.pid_starttime));
  spec.stdout_path = joinPath(own, kStdout);
  spec.stderr_path = joinPath(own, kStderr);
  spec.max_output_bytes = req.max_bytes;
  spec.deadline = deadline;
  return spec;
}

// The dump's result from how the command ended, and why when it is not ok; what its cgroup and
// the sweep of the delegated cgroup found is added to the why.
std::pair<DumpResult, std::string> verdictOf(const Result<ChildResult>& child, Duration allowed,
                                             const Result<ChildCgroup>& cgroup,
                                             const std::string& leftovers,
                                             const Result<DelegatedSweep>& sweep,
                                             std::uint64_t max_bytes) {
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
    error =
        "its output passed the size cap of " + formatBytes(double(max_bytes)) + "; it was stopped";
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
  if (sweep && !sweep->clean()) {
    note("it wrote where only the daemon belongs: " + sweep->describe());
    if (result == DumpResult::kOk || result == DumpResult::kPartial) result = DumpResult::kFailed;
  }
  return {result, std::move(error)};
}

// The files the command left in its folder (`own_fd`; not in `before`) into the outcome, once
// settled (walkLeft): its two output files first, then the rest in name order; what cannot be
// taken makes it partial.
void takeWhatItLeft(const DumpRequest& req, int own_fd, const LeftBehind& before, uid_t hook_uid,
                    const Result<ChildResult>& child, DumpOutcome& out, DumpResult& result,
                    std::string& error) {
  auto note = [&](const std::string& s) {
    error += error.empty() ? "" : "; ";
    error += s;
  };
  LeftBehind after;
  walkLeft(own_fd, "", 0, hook_uid, true, after);
  if (after.removed > 0)
    note("removed " + std::to_string(after.removed) +
         (after.removed == 1 ? " entry that was" : " entries that were") +
         " not a plain file of its own (a symlink, FIFO, socket, device or hard link)");
  std::vector<std::string> fresh;
  for (const char* f : {kStdout, kStderr})
    if (after.files.count(f) && !before.files.count(f)) fresh.emplace_back(f);
  for (const auto& f : after.files)
    if (!before.files.count(f) && f != kStdout && f != kStderr) fresh.push_back(f);
  if (after.too_many) {
    note("it left more than " + std::to_string(kMaxFiles) + " files; not all are listed");
    if (result == DumpResult::kOk) result = DumpResult::kPartial;
  }
  for (const auto& f : fresh) {
    auto a = finishArtifact(req.dir, std::string(kOwnDir) + "/" + f, req.max_bytes, hook_uid);
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
}

}  // namespace

ExecDumper::ExecDumper(std::vector<std::string> argv, Duration timeout, ExecIdentity identity)
    : argv_(std::move(argv)), timeout_(timeout), identity_(std::move(identity)) {}

DumpOutcome ExecDumper::run(const DumpRequest& req) {
  SteadyTime start = execDumperClock().steadyNow();
  DumpOutcome out;
  out.dumper = name();
  auto done = [&](DumpResult r, std::string error) {
    out.result = r;
    out.error = std::move(error);
    out.took = execDumperClock().steadyNow() - start;
    return out;
  };
  if (argv_.empty()) return done(DumpResult::kFailed, "no command configured");

  // A request without a deadline (the zero time point) is bounded by our own timeout alone.
  SteadyTime deadline = start + timeout_;
  if (req.deadline != SteadyTime{}) deadline = std::min(deadline, req.deadline);
  Duration allowed = deadline - start;
  if (allowed <= Duration::zero())
    return done(DumpResult::kTimedOut, "no time left before the dump's deadline; not started");

  // OOMSENTINEL_PID names the process chosen at the firing, or the command does not run: a
  // command handed a recycled pid would act on another process (gcore, jmap, kill), with root's
  // reach. The command can check again with OOMSENTINEL_PID_STARTTIME (field 22 of its stat).
  if (req.pid && req.pid_starttime != 0)
    if (auto why = notTheChosenProcess(identity_.paths, *req.pid, req.pid_starttime))
      return done(DumpResult::kSkipped, *why + ": the command was not run");

  // A folder of its own: the other dumpers write into the bundle at the same time, and what the
  // command leaves must not be confused with their files.
  const std::string own = joinPath(req.dir, kOwnDir);
  if (::mkdir(own.c_str(), 0700) != 0 && errno != EEXIST)
    return done(DumpResult::kFailed, "cannot create " + own + ": " + std::strerror(errno));
  auto who = lookUpUser(identity_.user);
  if (!who) return done(DumpResult::kFailed, "exec.user: " + who.error().describe());
  ExecRunAs as = chooseExecRunAs(identity_.user, who->uid, who->gid, ::geteuid(), canSwitchUser());
  const uid_t hook_uid = as.uid.value_or(::geteuid());
  // Held open: the command starts there and reaches it as descriptor 3 (a path walk from a
  // descriptor checks no permission of the folders above it), so the bundle stays root's 0700.
  OwnedFd own_fd(::open(own.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (own_fd.get() < 0)
    return done(DumpResult::kFailed, "cannot open " + own + ": " + std::strerror(errno));
  LeftBehind before;
  walkLeft(own_fd.get(), "", 0, hook_uid, false, before);
  // Another user may write there while it runs, without the folder becoming its (that would take
  // CAP_CHOWN, which the unit does not give). Sticky: it cannot remove or replace the stdout and
  // stderr files we create in it. Readable: it may list what it wrote (a glob, a tar).
  const bool other_user = hook_uid != ::geteuid();
  if (other_user && ::fchmod(own_fd.get(), 01777) != 0)
    return done(DumpResult::kFailed,
                "cannot open " + own + " to the command's user: " + std::strerror(errno));
  static std::atomic<unsigned> sequence{0};
  auto cgroup = ChildCgroup::create(identity_.paths,
                                    "oomsentinel-exec-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(sequence.fetch_add(1)),
                                    identity_.limits);

  ChildSpec spec = hookSpec(argv_, req, as, own_fd.get(), own, deadline);
  if (cgroup) spec.cgroup_procs_fd = cgroup->procsFd();
  auto child = runChild(spec);
  // What it left running, setsid() or not, goes with its cgroup.
  std::string leftovers;
  if (cgroup) leftovers = cgroup->killAll();
  // A hook as uid 0 can write the service's cgroup files: move itself into the daemon's leaf,
  // out of the cgroup that was just killed, or make cgroups beside it. Whatever is there that is
  // not the daemon's is killed, and the result (logged at the dump's end) says what it was.
  auto sweep = ChildCgroup::sweepDelegated(identity_.paths, ::getpid());

  auto [result, error] = verdictOf(child, allowed, cgroup, leftovers, sweep, req.max_bytes);
  if (!as.note.empty()) error += (error.empty() ? "" : "; ") + as.note;

  // Closed to its user again before anything it left is looked at, then settled (walkLeft).
  if (other_user) ::fchmod(own_fd.get(), 0700);
  takeWhatItLeft(req, own_fd.get(), before, hook_uid, child, out, result, error);
  return done(result, std::move(error));
}

}  // namespace oomsentinel
