#include "dumpers/jvm_dumper.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <utility>
#include <vector>

#include "core/units.h"
#include "dumpers/artifact.h"
#include "dumpers/child.h"

namespace oomsentinel {
namespace {

constexpr const char* kHistogram = "class_histogram.txt";
constexpr const char* kHeapDump = "heap.hprof";
// jcmd's other output: read for the reason of a failure, then removed. A stack trace of the
// attach API says nothing about the target.
constexpr const char* kScratchOut = ".jcmd.stdout";
constexpr const char* kScratchErr = ".jcmd.stderr";
constexpr std::string_view kHprofMagic = "JAVA PROFILE 1.0.";
// What is read back of jcmd's replies: their first lines say all we need.
constexpr std::size_t kReplyLimit = 64 * 1024;

const Clock& clock() {
  static const SystemClock c;
  return c;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Calls f(trimmed line) for each line until it returns true.
template <typename F>
void eachLine(std::string_view text, F f) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (f(trim(text.substr(0, nl)))) return;
    if (nl == std::string_view::npos) return;
    text.remove_prefix(nl + 1);
  }
}

// jcmd starts its output with "<pid>:".
bool isPidLine(std::string_view line) {
  if (line.size() < 2 || line.back() != ':') return false;
  line.remove_suffix(1);
  return std::all_of(line.begin(), line.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string firstLine(std::string_view text) {
  std::string out;
  eachLine(text, [&](std::string_view l) {
    if (l.empty()) return false;
    out = l;
    return true;
  });
  return out;
}

template <typename T>
bool parseNumber(std::string_view s, T& out, int base = 10) {
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<std::string> readHead(const std::string& path, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
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

bool sameDirectory(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

Result<std::uint64_t> freeBytes(const std::string& dir) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0) return makeError("cannot measure free space", dir, errno);
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

SteadyTime earliest(SteadyTime a, SteadyTime b) { return std::min(a, b); }

std::string ms(Duration d) {
  return formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(d));
}

// One jcmd run: stdout into dir/stdout_name, stderr read back and removed.
struct JcmdRun {
  Result<ChildResult> child = makeError("not run");
  std::string err;
};

JcmdRun runJcmd(const std::string& jcmd, pid_t pid, std::vector<std::string> args,
                const std::string& dir, const std::string& stdout_name, SteadyTime deadline,
                std::uint64_t max_bytes) {
  ChildSpec spec;
  spec.argv = {jcmd, std::to_string(pid)};
  for (auto& a : args) spec.argv.push_back(std::move(a));
  spec.stdout_path = joinPath(dir, stdout_name);
  spec.stderr_path = joinPath(dir, kScratchErr);
  spec.max_output_bytes = max_bytes;
  spec.deadline = deadline;
  JcmdRun run;
  run.child = runChild(spec);
  if (auto err = readHead(spec.stderr_path, kReplyLimit); err) run.err = std::move(*err);
  ::unlink(spec.stderr_path.c_str());
  return run;
}

enum class Step { kOk, kSkipped, kFailed, kTimedOut };

struct HeapDumpStep {
  Step step = Step::kFailed;
  std::string problem;
  bool deadline_hit = false;  // it ran out of the request's time, not only its own budget
  std::optional<Artifact> artifact;
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

// Takes the file the JVM wrote in its /tmp into the bundle: a rename when both are on one
// filesystem, since a heap dump can be gigabytes, else a copy. Only a plain file, with one link,
// owned by the JVM's user is taken: the JVM's user controls its /tmp, and we run as root.
Result<Artifact> takeIntoBundle(const std::string& src, const std::string& dir, uid_t jvm_euid,
                                std::uint64_t max_bytes, const HostPaths& paths) {
  std::string dest = joinPath(dir, kHeapDump);
  auto plainAndTheirs = [&](const struct stat& st) {
    return S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_uid == jvm_euid;
  };
  if (::renameat2(AT_FDCWD, src.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) == 0) {
    struct stat st;
    if (::lstat(dest.c_str(), &st) != 0 || !plainAndTheirs(st)) {
      ::unlink(dest.c_str());
      return makeError("not a plain file of the JVM's user; not taken", src);
    }
    // Ours from now on, like every other artifact.
    if (::chown(dest.c_str(), ::geteuid(), ::getegid()) != 0) {
      // Not root: it was ours already, or we could not have moved it.
    }
    return checkAndFinish(dir, max_bytes);
  }
  if (errno != EXDEV) {
    int e = errno;
    ::unlink(src.c_str());
    return makeError("cannot move the heap dump into the bundle", src, e);
  }
  int fd = ::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    ::unlink(src.c_str());
    return makeError("cannot open the heap dump", src, e);
  }
  struct stat st;
  Result<Artifact> copied = makeError("not a plain file of the JVM's user; not taken", src);
  // Through our descriptor, so that what is copied is the file just checked.
  if (::fstat(fd, &st) == 0 && plainAndTheirs(st))
    copied = copyArtifact(dir, kHeapDump, paths.proc(0, "fd/" + std::to_string(fd)), max_bytes);
  ::close(fd);
  ::unlink(src.c_str());
  if (!copied) return copied;
  return checkAndFinish(dir, max_bytes);
}

HeapDumpStep heapDump(const JvmDumpSpec& spec, const HostPaths& paths, const DumpRequest& req,
                      pid_t pid, const JvmProcessFacts& facts, SteadyTime req_deadline) {
  static std::atomic<unsigned> sequence{0};
  HeapDumpStep out;
  SteadyTime now = clock().steadyNow();
  SteadyTime deadline = earliest(now + spec.heap_dump_budget, req_deadline);
  out.deadline_hit = req_deadline <= now + spec.heap_dump_budget;
  if (deadline <= now) {
    out.step = Step::kSkipped;
    out.problem = "no time left before the dump's deadline";
    return out;
  }

  std::error_code ec;
  std::string dir = std::filesystem::absolute(req.dir, ec).string();
  if (ec) dir = req.dir;
  std::string jvm_root = paths.proc(pid, "root");
  struct stat dst {};
  bool jvm_can_write =
      ::stat(dir.c_str(), &dst) == 0 && (facts.euid == 0 || facts.euid == dst.st_uid);
  bool direct = jvm_can_write && sameDirectory(dir, joinPath(jvm_root, dir));
  std::string jvm_path, host_path;
  if (direct) {
    jvm_path = host_path = joinPath(dir, kHeapDump);
  } else {
    std::string file = "oomsentinel-" + std::to_string(pid) + "-" +
                       std::to_string(sequence.fetch_add(1)) + ".hprof";
    jvm_path = "/tmp/" + file;
    host_path = paths.proc(pid, "root/tmp/" + file);
  }

  struct stat existing;
  if (::lstat(joinPath(dir, kHeapDump).c_str(), &existing) == 0) {
    out.problem = "the bundle already has a " + std::string(kHeapDump);
    return out;
  }
  std::string jvm_dir = direct ? dir : paths.proc(pid, "root/tmp");
  std::vector<std::string> space_needed_in = {jvm_dir};
  struct stat jst;
  if (!direct && (::stat(jvm_dir.c_str(), &jst) != 0 || jst.st_dev != dst.st_dev))
    space_needed_in.push_back(dir);  // copied across file systems: it needs room twice
  for (const auto& d : space_needed_in) {
    auto free = freeBytes(d);
    if (!free) {
      out.problem = free.error().describe();
      return out;
    }
    if (*free < spec.heap_dump_min_free) {
      out.step = Step::kSkipped;
      out.problem = "only " + formatBytes(double(*free)) + " free in " + d + ", needs " +
                    formatBytes(double(spec.heap_dump_min_free));
      return out;
    }
  }

  if (clock().steadyNow() >= deadline) {
    out.step = Step::kTimedOut;
    out.problem = "had no time left after its checks";
    return out;
  }
  // A leftover of an earlier daemon that counted from 0 too would make the JVM refuse.
  if (!direct) ::unlink(host_path.c_str());
  auto run =
      runJcmd(spec.jcmd, pid, {"GC.heap_dump", jvm_path}, dir, kScratchOut, deadline, kReplyLimit);
  std::string reply;
  if (auto r = readHead(joinPath(dir, kScratchOut), kReplyLimit); r) reply = std::move(*r);
  ::unlink(joinPath(dir, kScratchOut).c_str());
  if (!run.child) {
    out.problem = "jcmd: " + run.child.error().describe();
    return out;
  }
  if (run.child->timed_out) {
    // The JVM goes on writing whatever happens to jcmd; unlinked, the file's space comes back
    // when the JVM closes it instead of staying behind in its /tmp or in our bundle.
    ::unlink(host_path.c_str());
    out.step = Step::kTimedOut;
    out.problem = "timed out after " + ms(deadline - now) +
                  " (jcmd was killed); the unfinished file was removed";
    return out;
  }
  if (auto problem = heapDumpProblem(reply, run.err)) {
    ::unlink(host_path.c_str());
    out.problem = *problem;
    if (run.child->term_signal != 0) out.problem = "jcmd " + run.child->describe();
    return out;
  }
  auto artifact = direct ? checkAndFinish(dir, req.max_bytes)
                         : takeIntoBundle(host_path, dir, facts.euid, req.max_bytes, paths);
  if (!artifact) {
    out.problem = artifact.error().describe();
    return out;
  }
  out.step = Step::kOk;
  out.artifact = std::move(*artifact);
  return out;
}

}  // namespace

Result<JvmProcessFacts> parseJvmProcessStatus(std::string_view status) {
  JvmProcessFacts f;
  bool have_uid = false;
  pid_t pid = 0;
  eachLine(status, [&](std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view key = line.substr(0, colon);
    auto values = fields(line.substr(colon + 1));
    if (values.empty()) return false;
    if (key == "Uid" && values.size() >= 2) {
      have_uid = parseNumber(values[1], f.euid);
    } else if (key == "Pid") {
      parseNumber(values[0], pid);
    } else if (key == "NSpid") {
      parseNumber(values.back(), f.nspid);
    } else if (key == "SigCgt") {
      std::uint64_t mask = 0;
      if (parseNumber(values[0], mask, 16)) f.catches_sigquit = (mask >> (SIGQUIT - 1)) & 1;
    }
    return false;
  });
  if (!have_uid) return makeError("no Uid line in the process status");
  if (f.nspid == 0) f.nspid = pid;  // kernels before 4.1 have no NSpid
  if (f.nspid == 0) return makeError("no Pid line in the process status");
  return f;
}

std::optional<std::uint64_t> parseStartTime(std::string_view stat) {
  // The command name (field 2) is in parentheses and may hold spaces and ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  auto rest = fields(stat.substr(close + 1));
  constexpr std::size_t kStartTime = 22 - 3;  // fields after the name start at field 3
  std::uint64_t v = 0;
  if (rest.size() <= kStartTime || !parseNumber(rest[kStartTime], v)) return std::nullopt;
  return v;
}

bool looksLikeClassHistogram(std::string_view out) {
  bool header = false;
  eachLine(out, [&](std::string_view l) {
    header = l.find("#instances") != std::string_view::npos &&
             l.find("#bytes") != std::string_view::npos;
    return header;
  });
  return header;
}

std::string jcmdReason(std::string_view out, std::string_view err) {
  std::string reason;
  eachLine(out, [&](std::string_view l) {
    if (l.empty() || isPidLine(l)) return false;
    reason = l;
    return true;
  });
  if (reason.empty()) reason = firstLine(err);
  return reason.empty() ? "jcmd said nothing" : reason;
}

std::optional<std::string> heapDumpProblem(std::string_view out, std::string_view err) {
  if (out.find("Heap dump file created") != std::string_view::npos) return std::nullopt;
  std::string reason;
  eachLine(out, [&](std::string_view l) {
    if (l.empty() || isPidLine(l) || l.starts_with("Dumping heap to")) return false;
    reason = l;
    return true;
  });
  if (reason.empty()) reason = firstLine(err);
  return reason.empty() ? "jcmd said nothing" : reason;
}

JvmDumper::JvmDumper(JvmDumpSpec spec, HostPaths paths)
    : spec_(std::move(spec)), paths_(std::move(paths)) {}

DumpOutcome JvmDumper::run(const DumpRequest& req) {
  SteadyTime start = clock().steadyNow();
  DumpOutcome out;
  out.dumper = name();
  auto done = [&](DumpResult r, std::string error) {
    out.result = r;
    out.error = std::move(error);
    out.took = clock().steadyNow() - start;
    return out;
  };
  if (!req.pid) return done(DumpResult::kSkipped, "no pid");
  if (!spec_.class_histogram && !spec_.heap_dump)
    return done(DumpResult::kSkipped, "neither the class histogram nor the heap dump is enabled");
  pid_t pid = *req.pid;
  std::string who = "pid " + std::to_string(pid);

  auto status = readHead(paths_.proc(pid, "status"), kReplyLimit);
  if (!status)
    return done(DumpResult::kFailed,
                status.error().isGone() ? who + ": no such process" : status.error().describe());
  auto facts = parseJvmProcessStatus(*status);
  if (!facts) return done(DumpResult::kFailed, who + ": " + facts.error().describe());
  if (req.pid_starttime != 0) {
    auto stat = readHead(paths_.proc(pid, "stat"), 4096);
    auto started = stat ? parseStartTime(*stat) : std::nullopt;
    if (!started || *started != req.pid_starttime)
      return done(DumpResult::kFailed,
                  who + " is no longer the process that was chosen (it ended; the pid was reused)");
  }
  // jcmd signals a process that has no attach socket yet; see the header.
  std::string socket = paths_.proc(pid, "root/tmp/.java_pid" + std::to_string(facts->nspid));
  struct stat sst;
  bool listening = ::stat(socket.c_str(), &sst) == 0 && S_ISSOCK(sst.st_mode);
  if (!listening && !facts->catches_sigquit)
    return done(DumpResult::kFailed,
                who +
                    " is not a JVM jcmd can attach to: it has no attach socket and does not "
                    "catch SIGQUIT (jcmd's SIGQUIT would kill it)");

  // A request without a deadline (the zero time point) is bounded by our own budgets alone.
  SteadyTime req_deadline = req.deadline == SteadyTime{} ? SteadyTime::max() : req.deadline;
  std::string notes;
  bool histogram_cut = false;
  if (spec_.class_histogram) {
    SteadyTime now = clock().steadyNow();
    SteadyTime deadline = earliest(now + spec_.command_timeout, req_deadline);
    if (deadline <= now)
      return done(DumpResult::kTimedOut, "no time left before the dump's deadline; not started");
    auto run = runJcmd(spec_.jcmd, pid, {"GC.class_histogram"}, req.dir, kHistogram, deadline,
                       req.max_bytes);
    std::string path = joinPath(req.dir, kHistogram);
    if (!run.child) {
      ::unlink(path.c_str());
      return done(DumpResult::kFailed, "jcmd: " + run.child.error().describe());
    }
    const ChildResult& child = *run.child;
    std::string head;
    if (auto h = readHead(path, kReplyLimit); h) head = std::move(*h);
    if (child.timed_out) {
      ::unlink(path.c_str());
      return done(DumpResult::kTimedOut, "jcmd GC.class_histogram " + child.describe());
    }
    // Cut at the size cap, it is still the top of a histogram: the classes that matter most.
    bool cut = child.output_cut && looksLikeClassHistogram(head);
    if (!cut && (child.exit_code != 0 || !looksLikeClassHistogram(head))) {
      ::unlink(path.c_str());
      std::string reason =
          child.term_signal != 0 || child.abandoned ? child.describe() : jcmdReason(head, run.err);
      return done(DumpResult::kFailed, "jcmd GC.class_histogram: " + reason);
    }
    auto a = finishArtifact(req.dir, kHistogram, req.max_bytes);
    if (!a) return done(DumpResult::kFailed, a.error().describe());
    a->truncated = a->truncated || child.stdout_cut;
    histogram_cut = a->truncated;
    out.artifacts.push_back(std::move(*a));
  }

  if (!spec_.heap_dump) {
    return done(histogram_cut ? DumpResult::kPartial : DumpResult::kOk,
                histogram_cut ? "the class histogram was cut at the size cap" : "");
  }
  HeapDumpStep hd = heapDump(spec_, paths_, req, pid, *facts, req_deadline);
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
