#include "dumpers/jvm_dumper.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <utility>
#include <vector>

#include "core/owned_fd.h"
#include "core/target_fs.h"
#include "core/units.h"
#include "dumpers/artifact.h"
#include "dumpers/child.h"
#include "dumpers/jvm_attach.h"

namespace oomsentinel {
namespace {

constexpr const char* kHistogram = "class_histogram.txt";
constexpr const char* kHeapDump = "heap.hprof";
constexpr std::string_view kHprofMagic = "JAVA PROFILE 1.0.";
// jcmd's other output (its stderr, and its stdout when that is a reply, not the histogram) goes
// through a pipe, read while it runs, for the reason of a failure: no file, so no disk of ours for
// the target's binary to fill, and the first lines say all we need. More stops it.
constexpr std::size_t kReplyLimit = 64 * 1024;

const Clock& jvmDumperClock() {
  static const SystemClock c;
  return c;
}

Result<std::string> readHead(const std::string& path, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return makeError("cannot open", path, errno);
  std::string out(limit, '\0');
  std::size_t got = 0;
  while (got < limit) {
    ssize_t n = ::read(fd, out.data() + got, limit - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return makeError("cannot read", path, e);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

// True when the JVM, resolving `dir` in its own root, reaches the very directory we see there.
bool jvmSeesSameDirectory(const TargetFs& root, const std::string& dir) {
  struct stat ours, theirs;
  auto fd = root.openDir(dir);
  return fd && ::stat(dir.c_str(), &ours) == 0 && ::fstat(fd->get(), &theirs) == 0 &&
         ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

Result<std::uint64_t> freeBytes(int dir_fd, const std::string& shown) {
  struct statvfs vfs;
  if (::fstatvfs(dir_fd, &vfs) != 0) return makeError("cannot measure free space", shown, errno);
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

// The process behind `pid`, held: what jcmd's namespaces are taken from and what is checked
// against the pid's start time, so that a recycled pid is never entered nor dumped.
struct HeldJvm {
  OwnedFd pidfd;
  TargetFs root;
  OwnedFd tmp;       // its /tmp, as it resolves it
  std::string jcmd;  // the program, as a path in the JVM's file system
};

// The JDK's jcmd beside the JVM's own java: the one that exists in its mount namespace, of the
// JVM's own version. A JRE has none, and the error says so.
Result<std::string> jcmdBesideJava(const HostPaths& paths, pid_t pid) {
  char buf[4096];
  std::string exe_link = paths.proc(pid, "exe");
  ssize_t n = ::readlink(exe_link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return makeError("cannot read the JVM's executable", exe_link, errno);
  std::string exe(buf, static_cast<std::size_t>(n));
  auto slash = exe.rfind('/');
  if (exe.front() != '/' || slash == std::string::npos)
    return makeError("the JVM's executable has no usable path", exe_link, EINVAL);
  return exe.substr(0, slash + 1) + "jcmd";
}

SteadyTime earliest(SteadyTime a, SteadyTime b) { return std::min(a, b); }

// Who asked the JVM, in messages.
const char* asker(const JvmDumpSpec& spec) {
  return spec.attach == JvmAttach::kDirect ? "attach" : "jcmd";
}

// Why a run that ended (not timed out) failed, in one line.
std::string failureReason(const JvmDumpSpec& spec, const ChildResult& child, std::string_view out,
                          std::string_view err) {
  if (child.term_signal != 0 || child.abandoned) return child.describe();
  if (spec.attach == JvmAttach::kJcmd) return jcmdReason(out, err);
  if (child.exit_code == kAttachRefused) {
    std::string_view line = out.substr(0, out.find('\n'));
    return "the JVM refused it: " + std::string(line.empty() ? "(no reason given)" : line);
  }
  if (child.exit_code == kAttachOk) return jcmdReason(out, err);  // a reply that is no histogram
  return std::string(err.substr(0, err.find('\n')));
}

std::string ms(Duration d) {
  return formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(d));
}

// jcmd's own cgroup (under Delegate=yes, beside the daemon's leaf): everything it starts ends with
// it, and what it uses is charged there, capped, not to the service as a whole, where it would
// count against the daemon's MemoryHigh (which slows every process of the service) and MemoryMax.
// jcmd is a JVM: 45 MiB peak measured (JDK 17, GC.class_histogram); 64 MiB leaves it room, and
// past that the OOM is its cgroup's (memory.oom.group: all of it), never the daemon's. Its threads
// count as pids: a JVM starts a few dozen on a big host; 512 only stops a fork bomb. The binary is
// the target's (beside its java), so all of this is a bound on code the target chose.
constexpr ChildCgroupLimits kJcmdLimits{64ull << 20, 512};

// One jcmd run: stdout into `stdout_file` (the histogram, in the bundle) or, when that is empty,
// into `out` through a pipe; stderr through a pipe into `err`.
struct JcmdRun {
  Result<ChildResult> child = makeError("not run");
  std::string out, err;
  // What its cgroup's killAll could not do (something of it still runs, or the cgroup stays).
  std::string leftovers;
};

// The direct exchange (JvmAttach::kDirect, jvm_attach.h) on this thread: no child, no cgroup.
// Its outcome in a jcmd run's terms (exit status: the AttachExit; stderr: its reason).
JcmdRun runDirect(const HeldJvm& jvm, const JvmProcessFacts& facts,
                  const std::vector<std::string>& args, const std::string& stdout_file,
                  SteadyTime deadline, std::uint64_t max_bytes) {
  JcmdRun run;
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
  OwnedFd file;
  if (!stdout_file.empty()) {
    // Ours, 0600, in the bundle's root-only folders: made before the thread takes the JVM's ids.
    file = OwnedFd(
        ::open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (file.get() < 0) {
      run.child = makeError("cannot create the reply's file", stdout_file, errno);
      return run;
    }
  }
  // The listener is started only in a process that survives SIGQUIT (holdJvm checked).
  AttachTarget target{jvm.tmp.get(), jvm.pidfd.get(), facts.nspid,
                      facts.euid,    facts.egid,      facts.catches_sigquit};
  AttachSink sink{file.get(), max_bytes, kReplyLimit};
  AttachOutcome o = attachAndAsk(target, line, sink, deadline, jvmDumperClock());
  ChildResult c;
  c.exit_code = o.exit;
  c.timed_out = o.exit == kAttachTimedOut;
  c.output_cut = c.stdout_cut = o.cut;
  c.took = o.took;
  run.out = std::move(o.text);
  run.err = o.reason;
  run.child = std::move(c);
  return run;
}

// jcmd runs inside the JVM's mount and pid namespaces and root, as the JVM's user, with no
// capabilities and a clean environment: it then reaches exactly what the JVM's user reaches, its
// /tmp is the JVM's (a /tmp that is a symlink leads where the JVM's own lookups lead, not into
// the host) and the pid it is given is the JVM's pid there.
JcmdRun runJcmd(const HostPaths& paths, const JvmDumpSpec& jspec, const HeldJvm& jvm,
                const JvmProcessFacts& facts, std::vector<std::string> args,
                const std::string& stdout_file, SteadyTime deadline, std::uint64_t max_bytes) {
  if (jspec.attach == JvmAttach::kDirect)
    return runDirect(jvm, facts, args, stdout_file, deadline, max_bytes);
  static std::atomic<unsigned> sequence{0};
  // Without one (not root, a read-only cgroupfs) its process group is all that is killed, as
  // before: jcmd is still stopped at its deadline.
  auto cgroup = ChildCgroup::create(paths,
                                    "oomsentinel-jcmd-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(sequence.fetch_add(1)),
                                    kJcmdLimits);
  ChildSpec spec;
  spec.argv = {jvm.jcmd, std::to_string(facts.nspid)};
  spec.join_pidfd = jvm.pidfd.get();
  spec.root_fd = jvm.root.fd();
  spec.uid = facts.euid;
  spec.gid = facts.egid;
  spec.no_capabilities = true;
  spec.clean_environment = true;
  for (auto& a : args) spec.argv.push_back(std::move(a));
  // The histogram's file is made by us, 0600, in the bundle's root-only folders, before jcmd
  // starts (runChild), and reaches it only as its descriptor 1: jcmd runs chrooted in the JVM's
  // root, as the JVM's user, and cannot name it.
  spec.stdout_path = stdout_file;
  if (stdout_file.empty()) spec.capture_stdout_bytes = kReplyLimit;
  spec.capture_stderr_bytes = kReplyLimit;
  spec.max_output_bytes = max_bytes;
  spec.deadline = deadline;
  if (cgroup) spec.cgroup_procs_fd = cgroup->procsFd();
  JcmdRun run;
  run.child = runChild(spec);
  // What it left running (a daemon it forked, setsid() or not) goes with its cgroup.
  if (cgroup) run.leftovers = cgroup->killAll();
  if (run.child) {
    run.out = std::move(run.child->stdout_text);
    run.err = std::move(run.child->stderr_text);
  }
  return run;
}

enum class Step { kOk, kSkipped, kFailed, kTimedOut };

struct HeapDumpStep {
  Step step = Step::kFailed;
  std::string problem;
  bool deadline_hit = false;  // it ran out of the request's time, not only its own budget
  std::optional<Artifact> artifact;
  std::string leftovers;  // JcmdRun::leftovers
};

Result<Artifact> checkAndFinish(const std::string& dir, std::uint64_t max_bytes) {
  std::string path = joinPath(dir, kHeapDump);
  auto head = readHead(path, kHprofMagic.size());
  if (!head) return head.error();
  if (*head != kHprofMagic) {
    ::unlink(path.c_str());
    return makeError("the JVM's file is not an HPROF heap dump", path);
  }
  return finishArtifact(dir, kHeapDump, max_bytes);
}

// Takes the file the JVM wrote in its /tmp into the bundle by a copy (sparse-aware, capped). Only a
// plain file, with one link, owned by the JVM's user is taken: the JVM's user controls its /tmp,
// and we run as root. Every step is relative to the /tmp descriptor taken through the door, never a
// path under <proc>/<pid>/root, so a /tmp swapped for a symlink meanwhile leads nowhere else.
Result<Artifact> takeIntoBundle(int tmp_fd, const std::string& file, const std::string& shown,
                                const std::string& dir, uid_t jvm_euid, std::uint64_t max_bytes) {
  auto plainAndTheirs = [&](const struct stat& st) {
    return S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_uid == jvm_euid;
  };
  // Never a rename: the JVM owns the file, keeps a descriptor on it and answers jcmd itself, so
  // a renamed inode (or a directory put at that name) would stay the JVM's to change inside the
  // bundle after it was hashed. A copy of a checked regular file, then the JVM's file removed.
  TargetFileRules rules;
  rules.owner = jvm_euid;
  auto fd = openTargetFileAt(tmp_fd, file, rules, shown);
  if (!fd) {
    ::unlinkat(tmp_fd, file.c_str(), 0);
    return fd.error();
  }
  struct stat st;
  Result<Artifact> copied = makeError("not a plain file of the JVM's user; not taken", shown);
  // Through our descriptor, so that what is copied is the file just checked.
  if (::fstat(fd->get(), &st) == 0 && plainAndTheirs(st))
    copied = copyArtifactFromFd(dir, kHeapDump, fd->get(), max_bytes);
  ::unlinkat(tmp_fd, file.c_str(), 0);
  if (!copied) return copied;
  return checkAndFinish(dir, max_bytes);
}

// Where the JVM writes its heap dump.
struct DumpPlace {
  std::string dir;       // the bundle, as an absolute path
  dev_t dev = 0;         // the bundle's device; 0 when it cannot be told
  bool direct = false;   // straight into the bundle: the JVM can write there and sees it
  std::string jvm_path;  // the file, as the JVM names it
  std::string file;      // not direct: the file's name in the JVM's /tmp, copied in after
};

DumpPlace placeFor(const HeldJvm& jvm, const DumpRequest& req, pid_t pid,
                   const JvmProcessFacts& facts) {
  static std::atomic<unsigned> sequence{0};
  DumpPlace p;
  std::error_code ec;
  p.dir = std::filesystem::absolute(req.dir, ec).string();
  if (ec) p.dir = req.dir;
  struct stat dst {};
  bool jvm_can_write =
      ::stat(p.dir.c_str(), &dst) == 0 && (facts.euid == 0 || facts.euid == dst.st_uid);
  p.dev = dst.st_dev;
  p.direct = jvm_can_write && jvmSeesSameDirectory(jvm.root, p.dir);
  if (p.direct) {
    p.jvm_path = joinPath(p.dir, kHeapDump);
  } else {
    p.file = "oomsentinel-" + std::to_string(pid) + "-" + std::to_string(sequence.fetch_add(1)) +
             ".hprof";
    p.jvm_path = "/tmp/" + p.file;
  }
  return p;
}

// Whether there is heap_dump_min_free where the JVM writes its dump (the bundle, or its /tmp and
// then the bundle too when that is another file system); `out` says why not.
bool enoughSpace(const JvmDumpSpec& spec, const HeldJvm& jvm, int bundle_fd, const std::string& dir,
                 dev_t bundle_dev, bool direct, HeapDumpStep& out) {
  std::vector<std::pair<int, std::string>> space_needed_in = {
      direct ? std::make_pair(bundle_fd, dir)
             : std::make_pair(jvm.tmp.get(), jvm.root.where() + ":/tmp")};
  struct stat jst;
  if (!direct && (::fstat(jvm.tmp.get(), &jst) != 0 || jst.st_dev != bundle_dev))
    space_needed_in.emplace_back(bundle_fd, dir);  // copied across file systems: twice
  for (const auto& [fd, d] : space_needed_in) {
    auto free = freeBytes(fd, d);
    if (!free) {
      out.problem = free.error().describe();
      return false;
    }
    if (*free < spec.heap_dump_min_free) {
      out.step = Step::kSkipped;
      out.problem = "only " + formatBytes(double(*free)) + " free in " + d + ", needs " +
                    formatBytes(double(spec.heap_dump_min_free));
      return false;
    }
  }

  return true;
}

// Nothing when GC.heap_dump's run says the file was written, else why not. The direct child says
// how the JVM answered by its status; jcmd says it in its output only.
std::optional<std::string> heapDumpReplyProblem(const JvmDumpSpec& spec, const ChildResult& child,
                                                std::string_view reply, std::string_view err) {
  std::optional<std::string> problem = spec.attach == JvmAttach::kDirect && child.exit_code != 0
                                           ? failureReason(spec, child, reply, err)
                                           : heapDumpProblem(reply, err);
  if (problem && child.term_signal != 0) problem = asker(spec) + (" " + child.describe());
  return problem;
}

HeapDumpStep heapDump(const HostPaths& paths, const JvmDumpSpec& spec, const HeldJvm& jvm,
                      const DumpRequest& req, pid_t pid, const JvmProcessFacts& facts,
                      SteadyTime req_deadline) {
  HeapDumpStep out;
  SteadyTime now = jvmDumperClock().steadyNow();
  SteadyTime deadline = earliest(now + spec.heap_dump_budget, req_deadline);
  out.deadline_hit = req_deadline <= now + spec.heap_dump_budget;
  if (deadline <= now) {
    out.step = Step::kSkipped;
    out.problem = "no time left before the dump's deadline";
    return out;
  }

  DumpPlace place = placeFor(jvm, req, pid, facts);
  const std::string& dir = place.dir;
  const bool direct = place.direct;
  const std::string &jvm_path = place.jvm_path, &file = place.file;
  const std::string shown = jvm.root.where() + ":" + jvm_path;
  // Removes the JVM's file (nothing when it wrote into the bundle: the caller's to clean).
  auto removeTheirs = [&] {
    if (direct)
      ::unlink(jvm_path.c_str());
    else
      ::unlinkat(jvm.tmp.get(), file.c_str(), 0);
  };

  struct stat existing;
  if (::lstat(joinPath(dir, kHeapDump).c_str(), &existing) == 0) {
    out.problem = "the bundle already has a " + std::string(kHeapDump);
    return out;
  }
  OwnedFd bundle_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (bundle_fd.get() < 0) {
    out.problem = makeError("cannot open the bundle", dir, errno).describe();
    return out;
  }
  if (!enoughSpace(spec, jvm, bundle_fd.get(), dir, place.dev, direct, out)) return out;

  if (jvmDumperClock().steadyNow() >= deadline) {
    out.step = Step::kTimedOut;
    out.problem = "had no time left after its checks";
    return out;
  }
  // A leftover of an earlier daemon that counted from 0 too would make the JVM refuse.
  if (!direct) ::unlinkat(jvm.tmp.get(), file.c_str(), 0);
  auto run = runJcmd(paths, spec, jvm, facts, {"GC.heap_dump", jvm_path}, "", deadline, 0);
  out.leftovers = run.leftovers;
  const std::string& reply = run.out;
  if (!run.child) {
    out.problem = std::string(asker(spec)) + ": " + run.child.error().describe();
    return out;
  }
  if (run.child->timed_out) {
    // The JVM goes on writing whatever happens to jcmd; unlinked, the file's space comes back
    // when the JVM closes it instead of staying behind in its /tmp or in our bundle.
    removeTheirs();
    out.step = Step::kTimedOut;
    out.problem = "timed out after " + ms(deadline - now) +
                  (spec.attach == JvmAttach::kDirect ? " (the connection was closed)"
                                                     : " (jcmd was killed)") +
                  "; the unfinished file was removed";
    return out;
  }
  if (auto problem = heapDumpReplyProblem(spec, *run.child, reply, run.err)) {
    removeTheirs();
    out.problem = *problem;
    return out;
  }
  auto artifact = direct
                      ? checkAndFinish(dir, req.max_bytes)
                      : takeIntoBundle(jvm.tmp.get(), file, shown, dir, facts.euid, req.max_bytes);
  if (!artifact) {
    out.problem = artifact.error().describe();
    return out;
  }
  out.step = Step::kOk;
  out.artifact = std::move(*artifact);
  return out;
}

// The JVM of `pid` held for jcmd (its pidfd, root, /tmp and jcmd) once it is known to be the
// process chosen and one jcmd can attach to; nullopt with `why` when not. `facts` is what its
// status says.
std::optional<HeldJvm> holdJvm(const HostPaths& paths, const JvmDumpSpec& spec,
                               const DumpRequest& req, pid_t pid, JvmProcessFacts& facts,
                               std::string& why) {
  auto fail = [&](std::string reason) {
    why = std::move(reason);
    return std::optional<HeldJvm>();
  };
  std::string who = "pid " + std::to_string(pid);

  // Held first: if the start time below still matches, this descriptor is that process, and
  // jcmd's namespaces and root come from it, not from a number that may have been reused.
  OwnedFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0)
    return fail(errno == ESRCH ? who + ": no such process"
                               : makeError("cannot hold the process", who, errno).describe());
  auto status = readHead(paths.proc(pid, "status"), kReplyLimit);
  if (!status)
    return fail(status.error().isGone() ? who + ": no such process" : status.error().describe());
  auto parsed = parseJvmProcessStatus(*status);
  if (!parsed) return fail(who + ": " + parsed.error().describe());
  facts = std::move(*parsed);
  auto stat = readHead(paths.proc(pid, "stat"), 4096);
  std::uint64_t started = 0;  // 0: unknown
  if (auto s = stat ? parseStartTime(*stat) : std::nullopt) started = *s;
  if (req.pid_starttime != 0 && started != req.pid_starttime)
    return fail(who + " is no longer the process that was chosen (it ended; the pid was reused)");
  auto root = TargetFs::open(paths, pid, pidfd.get(), TargetAnchor::kRoot);
  if (!root) return fail(root.error().describe());
  // The JVM's /tmp as the JVM resolves it: a symlink there stays inside its root.
  auto tmp = root->openDir("/tmp");
  if (!tmp) return fail(tmp.error().describe());
  // jcmd signals a process that has no attach socket yet; see the header.
  std::string socket = ".java_pid" + std::to_string(facts.nspid);
  struct stat sst;
  bool listening = ::fstatat(tmp->get(), socket.c_str(), &sst, AT_SYMLINK_NOFOLLOW) == 0 &&
                   S_ISSOCK(sst.st_mode);
  bool stale = listening && !facts.catches_sigquit && started != 0 &&
               attachSocketIsStale(paths, sst.st_mtim, started);
  if ((!listening || stale) && !facts.catches_sigquit)
    return fail(who + " is not a JVM jcmd can attach to: it has no attach socket" +
                (stale ? " (/tmp/" + socket + " is older than it: an earlier process's)" : "") +
                " and does not catch SIGQUIT (jcmd's SIGQUIT would kill it)");
  std::string jcmd = spec.jcmd;
  if (jcmd.empty() && spec.attach == JvmAttach::kJcmd) {
    auto beside = jcmdBesideJava(paths, pid);
    if (!beside) return fail("jcmd: " + beside.error().describe());
    jcmd = std::move(*beside);
  }
  return HeldJvm{std::move(pidfd), std::move(*root), std::move(*tmp), std::move(jcmd)};
}

// The class histogram's step: its artifact, or how the whole dump ends (`end`).
struct HistogramStep {
  std::optional<std::pair<DumpResult, std::string>> end;
  std::optional<Artifact> artifact;
  std::string leftovers;  // JcmdRun::leftovers
};

HistogramStep classHistogram(const HostPaths& paths, const JvmDumpSpec& spec, const HeldJvm& jvm,
                             const JvmProcessFacts& facts, const DumpRequest& req,
                             SteadyTime req_deadline) {
  HistogramStep out;
  auto end = [&](DumpResult r, std::string why) {
    out.end = std::make_pair(r, std::move(why));
    return std::move(out);
  };
  SteadyTime now = jvmDumperClock().steadyNow();
  SteadyTime deadline = earliest(now + spec.command_timeout, req_deadline);
  if (deadline <= now)
    return end(DumpResult::kTimedOut, "no time left before the dump's deadline; not started");
  std::vector<std::string> args = {"GC.class_histogram"};
  if (spec.class_histogram_all) args.push_back("-all");
  auto run = runJcmd(paths, spec, jvm, facts, args, joinPath(req.dir, kHistogram), deadline,
                     req.max_bytes);
  const std::string who = std::string(asker(spec)) + " GC.class_histogram";
  out.leftovers = run.leftovers;
  std::string path = joinPath(req.dir, kHistogram);
  if (!run.child) {
    ::unlink(path.c_str());
    return end(DumpResult::kFailed, std::string(asker(spec)) + ": " + run.child.error().describe());
  }
  const ChildResult& child = *run.child;
  std::string head;
  if (auto h = readHead(path, kReplyLimit); h) head = std::move(*h);
  if (child.timed_out) {
    ::unlink(path.c_str());
    return end(DumpResult::kTimedOut,
               who + " " +
                   (spec.attach == JvmAttach::kDirect ? "timed out after " + ms(child.took) + ": " +
                                                            run.err + "; the connection was closed"
                                                      : child.describe()));
  }
  // Cut at the size cap, it is still the top of a histogram: the classes that matter most.
  bool cut = child.output_cut && looksLikeClassHistogram(head);
  if (!cut && (child.exit_code != 0 || !looksLikeClassHistogram(head))) {
    ::unlink(path.c_str());
    return end(DumpResult::kFailed, who + ": " + failureReason(spec, child, head, run.err));
  }
  auto a = finishArtifact(req.dir, kHistogram, req.max_bytes);
  if (!a) return end(DumpResult::kFailed, a.error().describe());
  a->truncated = a->truncated || child.stdout_cut;
  out.artifact = std::move(*a);
  return out;
}

}  // namespace

JvmDumper::JvmDumper(JvmDumpSpec spec, HostPaths paths)
    : spec_(std::move(spec)), paths_(std::move(paths)) {}

DumpOutcome JvmDumper::capture(const DumpRequest& req) {
  SteadyTime start = jvmDumperClock().steadyNow();
  DumpOutcome out;
  out.dumper = name();
  // What jcmd's cgroups could not be rid of: said in the result, whatever else it says.
  std::string leftovers;
  auto done = [&](DumpResult r, std::string error) {
    out.result = r;
    out.error = std::move(error);
    if (!leftovers.empty()) {
      out.error += out.error.empty() ? "" : "; ";
      out.error += "of jcmd's cgroup, " + leftovers;
    }
    out.took = jvmDumperClock().steadyNow() - start;
    return out;
  };
  if (!req.pid) return done(DumpResult::kSkipped, "no pid");
  if (!spec_.class_histogram && !spec_.heap_dump)
    return done(DumpResult::kSkipped, "neither the class histogram nor the heap dump is enabled");
  pid_t pid = *req.pid;

  JvmProcessFacts facts;
  std::string why;
  std::optional<HeldJvm> held = holdJvm(paths_, spec_, req, pid, facts, why);
  if (!held) return done(DumpResult::kFailed, why);
  const HeldJvm& jvm = *held;

  // A request without a deadline (the zero time point) is bounded by our own budgets alone.
  SteadyTime req_deadline = req.deadline == SteadyTime{} ? SteadyTime::max() : req.deadline;
  std::string notes;
  bool histogram_cut = false;
  if (spec_.class_histogram) {
    HistogramStep h = classHistogram(paths_, spec_, jvm, facts, req, req_deadline);
    leftovers = h.leftovers;
    if (h.end) return done(h.end->first, std::move(h.end->second));
    histogram_cut = h.artifact->truncated;
    out.artifacts.push_back(std::move(*h.artifact));
  }

  if (!spec_.heap_dump) {
    return done(histogram_cut ? DumpResult::kPartial : DumpResult::kOk,
                histogram_cut ? "the class histogram was cut at the size cap" : "");
  }
  HeapDumpStep hd = heapDump(paths_, spec_, jvm, req, pid, facts, req_deadline);
  if (!hd.leftovers.empty()) leftovers += (leftovers.empty() ? "" : "; ") + hd.leftovers;
  if (hd.artifact) out.artifacts.push_back(std::move(*hd.artifact));
  if (histogram_cut) notes = "the class histogram was cut at the size cap";
  auto note = [&](const std::string& s) { return notes.empty() ? s : notes + "; " + s; };
  bool have_histogram = spec_.class_histogram;
  switch (hd.step) {
    case Step::kOk:
      return done(histogram_cut ? DumpResult::kPartial : DumpResult::kOk, notes);
    case Step::kSkipped:
      return done(have_histogram ? DumpResult::kPartial : DumpResult::kSkipped,
                  note("heap dump skipped: " + hd.problem));
    case Step::kFailed:
      return done(have_histogram ? DumpResult::kPartial : DumpResult::kFailed,
                  note("heap dump failed: " + hd.problem));
    case Step::kTimedOut:
      return done(have_histogram && !hd.deadline_hit ? DumpResult::kPartial : DumpResult::kTimedOut,
                  note("heap dump " + hd.problem));
  }
  return done(DumpResult::kFailed, "unreachable");
}

}  // namespace oomsentinel
