// bench/: benchmarks and their recorded results.
// bench_overhead: what `oomsentinel run` itself costs, CPU seconds per second and RSS, watching
// 1, 100 and 1000 real cgroups at a fixed tick, against a bare reader of the same files at the
// same interval run in the same window, with earlyoom and oomd as footprint references.
// README.md has what it measures and the recorded figures.

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/daemon_bench.h"
#include "collectors/control_file.h"
#include "collectors/layout.h"
#include "core/host_paths.h"
#include "core/result.h"

namespace oomsentinel::bench {
namespace {

constexpr const char* kUsage =
    "usage: bench_overhead --oomsentinel PATH [--cgroups 1,100,1000] [--intervals 1000:20,100:10]\n"
    "                      [--warmup S] [--every K] [--earlyoom PATH] [--oomd PATH]\n"
    "       bench_overhead --cleanup\n"
    "Measures `oomsentinel run` watching N cgroups made here (children of\n"
    "oomsentinel-bench-overhead/ in the memory hierarchy, v1 or v2; a sleeping process in every\n"
    "K-th, default 50) at fixed intervals (MS:WINDOW_S pairs), CPU seconds per second over the\n"
    "window after a warm-up and RSS, against a bare reader of the files the daemon holds (one\n"
    "pread each per interval) run in the same window. --earlyoom runs earlyoom (Debian's unit\n"
    "arguments, -r 3600, plus --dryrun) and --oomd runs oomd (cgroup v2 only, --interval 1,\n"
    "watching every bench cgroup) in the window of the largest N at the 1 s interval.\n"
    "Needs root. --cleanup removes what an interrupted run left. Exit 1 on a setup failure.\n";

constexpr std::string_view kParentName = "oomsentinel-bench-overhead";
constexpr long long kLimitBytes = 256LL << 20;
constexpr std::size_t kSleeperTouch = 1 << 20;
// The targets.
constexpr double kTargetRssMiB = 8;
constexpr double kTargetCpuAt1000 = 0.02;

struct Interval {
  long ms = 0;
  double window_s = 0;
};

struct Options {
  std::string oomsentinel, earlyoom, oomd;
  std::vector<int> cgroups{1, 100, 1000};
  std::vector<Interval> intervals{{1000, 20}, {100, 10}};
  double warmup_s = 3;
  int every = 50;
  bool cleanup_only = false;
};

std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  auto bad = [](const std::string& why) {
    std::fprintf(stderr, "bench_overhead: %s\n%s", why.c_str(), kUsage);
    return std::nullopt;
  };
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find(',', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--cleanup") {
      o.cleanup_only = true;
    } else if (!value) {
      return bad("bad argument " + a);
    } else if (a == "--oomsentinel" || a == "--earlyoom" || a == "--oomd") {
      (a == "--oomsentinel" ? o.oomsentinel : a == "--earlyoom" ? o.earlyoom : o.oomd) = value;
      ++i;
    } else if (a == "--cgroups") {
      o.cgroups.clear();
      for (const auto& n : split(value)) {
        int v = std::atoi(n.c_str());
        if (v <= 0 || v > 9999) return bad("--cgroups takes numbers from 1 to 9999");
        o.cgroups.push_back(v);
      }
      ++i;
    } else if (a == "--intervals") {
      o.intervals.clear();
      for (const auto& p : split(value)) {
        Interval iv;
        if (std::sscanf(p.c_str(), "%ld:%lf", &iv.ms, &iv.window_s) != 2 || iv.ms < 10 ||
            iv.window_s <= 0)
          return bad("--intervals takes MS:WINDOW_SECONDS pairs, MS >= 10");
        o.intervals.push_back(iv);
      }
      ++i;
    } else if (a == "--warmup" || a == "--every") {
      double v = std::atof(value);
      if (v <= 0) return bad(a + " needs a positive number");
      if (a == "--warmup")
        o.warmup_s = v;
      else
        o.every = static_cast<int>(v);
      ++i;
    } else {
      return bad("bad argument " + a);
    }
  }
  if (!o.cleanup_only && o.oomsentinel.empty()) return bad("--oomsentinel PATH is needed");
  return o;
}

Status writeFile(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("cannot open", path, errno);
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  int e = errno;
  ::close(fd);
  if (!ok) return makeError("cannot write " + std::string(value.substr(0, 40)), path, e);
  return Ok{};
}

std::vector<std::string> listDir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// ---------------------------------------------------------------------------------------------
// The cgroups: <memory root>/oomsentinel-bench-overhead/cNNNN, each with a limit, a sleeping
// process (1 MiB touched) in every K-th.

std::string childName(int i) {
  char b[16];
  std::snprintf(b, sizeof b, "c%04d", i);
  return b;
}

// Removes the tree, killing what is left in it first: only our sleepers ever live there (a run
// that was SIGKILLed has its sleepers killed by PR_SET_PDEATHSIG, but not its directories).
void removeTree(const std::string& parent) {
  if (!fileExists(parent)) return;
  for (const auto& name : listDir(parent)) {
    std::string dir = joinPath(parent, name);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (auto procs = readWholeFile(joinPath(dir, "cgroup.procs")); procs) {
      const char* p = procs->c_str();
      char* end = nullptr;
      for (long pid; (pid = std::strtol(p, &end, 10)), end != p; p = end)
        if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    // The kernel finishes uncharging an exited task asynchronously: rmdir is EBUSY briefly.
    for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) sleepFor(0.02);
  }
  ::rmdir(parent.c_str());
}

class Tree {
 public:
  Tree(CgroupVersion version, std::string root)
      : version_(version), parent_(joinPath(root, kParentName)) {}
  ~Tree() { destroy(); }

  Status create(int count, int every) {
    removeTree(parent_);
    if (::mkdir(parent_.c_str(), 0755) != 0) return makeError("cannot mkdir", parent_, errno);
    made_ = true;
    if (version_ == CgroupVersion::kV2)
      if (auto st = writeFile(joinPath(parent_, "cgroup.subtree_control"), "+memory"); !st)
        return st;
    std::string limit = std::to_string(kLimitBytes);
    for (int i = 0; i < count; ++i) {
      std::string dir = joinPath(parent_, childName(i));
      if (::mkdir(dir.c_str(), 0755) != 0) return makeError("cannot mkdir", dir, errno);
      std::string file = version_ == CgroupVersion::kV2 ? "memory.max" : "memory.limit_in_bytes";
      if (auto st = writeFile(joinPath(dir, file), limit); !st) return st;
      if (i % every == 0)
        if (auto st = addSleeper(joinPath(dir, "cgroup.procs")); !st) return st;
    }
    return Ok{};
  }

  void destroy() {
    for (pid_t p : sleepers_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    sleepers_.clear();
    if (made_) removeTree(parent_);
    made_ = false;
  }

  std::size_t sleepers() const { return sleepers_.size(); }
  const std::string& parent() const { return parent_; }

 private:
  Status addSleeper(const std::string& procs) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return makeError("cannot make a pipe", "", errno);
    pid_t parent_pid = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      // Only async-signal-safe calls: joins the cgroup, charges 1 MiB, says so, sleeps.
      ::signal(SIGINT, SIG_IGN);  // the terminal's ^C is for the benchmark, which kills us
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent_pid) _exit(1);
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
      ::close(fd);
      void* p = ::mmap(nullptr, kSleeperTouch, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
      if (p == MAP_FAILED) _exit(125);
      std::memset(p, 1, kSleeperTouch);
      if (::write(ready[1], "r", 1) != 1) _exit(124);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    if (pid < 0) {
      ::close(ready[0]);
      return makeError("cannot fork", "", errno);
    }
    sleepers_.push_back(pid);
    char c;
    ssize_t n;
    while ((n = ::read(ready[0], &c, 1)) < 0 && errno == EINTR && !g_stop) {
    }
    ::close(ready[0]);
    if (n != 1) return makeError("a sleeping process could not join its cgroup", procs);
    return Ok{};
  }

  CgroupVersion version_;
  std::string parent_;
  bool made_ = false;
  std::vector<pid_t> sleepers_;
};

// ---------------------------------------------------------------------------------------------
// Processes under measurement.

class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  Status start(std::string name, const std::vector<std::string>& argv, std::string log) {
    name_ = std::move(name);
    log_ = std::move(log);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return makeError("cannot open", log_, errno);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent_pid = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a killed benchmark
      if (::getppid() != parent_pid) _exit(127);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execv(args[0], args.data());
      _exit(127);
    }
    int e = errno;
    ::close(out);
    if (in >= 0) ::close(in);
    if (pid < 0) return makeError("cannot fork", "", e);
    pid_ = pid;
    return Ok{};
  }

  // The exit status when it has ended (then pid() is -1), else nullopt.
  std::optional<int> exited() {
    if (pid_ < 0) return status_;
    int ws;
    if (::waitpid(pid_, &ws, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      return status_;
    }
    return std::nullopt;
  }

  // SIGTERM, then SIGKILL after 5 s; the exit status (143 or 137 for the signals).
  int stop() {
    if (pid_ < 0) return status_;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 250 && !exited(); ++i) {
      timespec t{0, 20'000'000};
      ::nanosleep(&t, nullptr);
    }
    if (pid_ >= 0) {
      ::kill(pid_, SIGKILL);
      int ws;
      ::waitpid(pid_, &ws, 0);
      pid_ = -1;
      status_ = 137;
    }
    return status_;
  }

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  std::string logTail(std::size_t bytes = 1500) const {
    auto text = readWholeFile(log_);
    if (!text) return "(no log)";
    return text->size() > bytes ? "..." + text->substr(text->size() - bytes) : *text;
  }
  std::string log() const {
    auto text = readWholeFile(log_);
    return text ? *text : std::string();
  }

 private:
  std::string name_, log_;
  pid_t pid_ = -1;
  int status_ = -1;
};

struct CpuSample {
  double clock_s = 0;  // the process CPU clock: all threads, live and gone, in ns
  double stat_s = 0;   // /proc/PID/stat utime + stime, in clock ticks
  double wall_s = 0;
};

Result<CpuSample> sampleCpu(pid_t pid) {
  CpuSample s;
  s.wall_s = monoNow();
  clockid_t cid;
  timespec t;
  if (::clock_getcpuclockid(pid, &cid) != 0 || ::clock_gettime(cid, &t) != 0)
    return makeError("cannot read the CPU clock of pid " + std::to_string(pid), "", errno);
  s.clock_s = static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  std::string path = HostPaths().proc(pid, "stat");
  auto text = readWholeFile(path);
  if (!text) return text.error();
  // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
  std::size_t close = text->rfind(')');
  if (close == std::string::npos) return makeError("unexpected text", path);
  const char* p = text->c_str() + close + 2;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) != 2)
    return makeError("unexpected text", path);
  s.stat_s = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return s;
}

struct Memory {
  double rss_kib = 0, hwm_kib = 0;
  double anon_kib = 0, file_kib = 0;  // VmRSS's private anonymous and file-backed parts
  int threads = 0;
};

Memory sampleMemory(pid_t pid) {
  Memory m;
  auto text = readWholeFile(HostPaths().proc(pid, "status"));
  if (!text) return m;
  auto field = [&](std::string_view key) -> double {
    std::size_t at = text->find(key);
    return at == std::string::npos ? 0 : std::atof(text->c_str() + at + key.size());
  };
  m.rss_kib = field("\nVmRSS:");
  m.hwm_kib = field("\nVmHWM:");
  m.anon_kib = field("\nRssAnon:");
  m.file_kib = field("\nRssFile:");
  m.threads = static_cast<int>(field("\nThreads:"));
  return m;
}

// The kernel files a process holds open: under the cgroup root or procfs. For the daemon these
// are its collectors' held files, so the bare reader reads exactly what it reads.
std::vector<std::string> heldKernelFiles(pid_t pid, const std::string& cgroup_root) {
  std::vector<std::string> files;
  std::string fd_dir = HostPaths().proc(pid, "fd");
  std::string proc_prefix = HostPaths().procRoot() + "/";
  for (const auto& fd : listDir(fd_dir)) {
    char buf[4096];
    std::string link = joinPath(fd_dir, fd);
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) continue;
    std::string target(buf, static_cast<std::size_t>(n));
    if (target.rfind(cgroup_root + "/", 0) == 0 || target.rfind(proc_prefix, 0) == 0)
      files.push_back(target);
  }
  std::sort(files.begin(), files.end());
  return files;
}

// How many of the bench cgroups the process holds a file of.
std::size_t cgroupsHeld(const std::vector<std::string>& files, const std::string& parent) {
  std::vector<std::string> dirs;
  for (const auto& f : files)
    if (f.rfind(parent + "/", 0) == 0) {
      std::size_t slash = f.find('/', parent.size() + 1);
      if (slash != std::string::npos) dirs.push_back(f.substr(0, slash));
    }
  std::sort(dirs.begin(), dirs.end());
  return static_cast<std::size_t>(std::unique(dirs.begin(), dirs.end()) - dirs.begin());
}

std::size_t countFds(pid_t pid) { return listDir(HostPaths().proc(pid, "fd")).size(); }

// ---------------------------------------------------------------------------------------------
// The bare reader: `bench_overhead --reader INTERVAL_NS LIST`. Opens every file in LIST and,
// every interval, reads each with one pread at offset 0 into a 64 KiB buffer, nothing else. A
// process of its own so that its CPU clock and RSS are measured exactly as the daemon's.

int readerMain(long long interval_ns, const char* list_path) {
  auto list = readWholeFile(list_path);
  if (!list) {
    std::fprintf(stderr, "reader: %s\n", list.error().describe().c_str());
    return 1;
  }
  std::vector<int> fds;
  std::size_t start = 0;
  while (start < list->size()) {
    std::size_t end = list->find('\n', start);
    if (end == std::string::npos) end = list->size();
    std::string path = list->substr(start, end - start);
    start = end + 1;
    if (path.empty()) continue;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "reader: cannot open %s: %s\n", path.c_str(), std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  static char buf[64 << 10];
  timespec next;
  ::clock_gettime(CLOCK_MONOTONIC, &next);
  for (;;) {
    for (int fd : fds)
      if (::pread(fd, buf, sizeof buf, 0) < 0) return 1;
    next.tv_nsec += interval_ns % 1'000'000'000;
    next.tv_sec += interval_ns / 1'000'000'000 + next.tv_nsec / 1'000'000'000;
    next.tv_nsec %= 1'000'000'000;
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR) {
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One configuration: N cgroups at one interval.

struct Figures {
  bool ran = false;
  double rss_start_kib = 0;  // VmRSS when the window began
  std::string why_not;       // when it did not run
  double cpu_per_s = 0, stat_cpu_per_s = 0;
  Memory mem;
  std::size_t fds = 0, files = 0;
};

struct Config {
  int n = 0;
  Interval interval;
  Figures daemon, reader;
  std::vector<std::pair<std::string, Figures>> references;
  std::vector<std::string> held;  // the kernel files the daemon holds, read by the bare reader
  int warnings = 0, errors = 0;
  std::string log_summary;
  int daemon_exit = -1;
};

std::string durationText(long ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string daemonConfig(int n, long ms) {
  std::string iv = durationText(ms);
  // fast_interval equal to interval: the adaptive tick has nothing to switch to.
  std::string y =
      "poll:\n  interval: " + iv + "\n  fast_interval: " + iv + "\n  fast_above: 100%\ntargets:\n";
  for (int i = 0; i < n; ++i)
    y += "  - name: " + childName(i) + "\n    cgroup: " + std::string(kParentName) + "/" +
         childName(i) + "\n";
  return y;
}

std::string oomdConfig() {
  std::string cg = std::string(kParentName) + "/*";
  return "{\"rulesets\": [{\n"
         "  \"name\": \"bench cgroups\",\n"
         "  \"detectors\": [\n"
         "    [\"memory pressure above 80 for 30s\", {\"name\": \"pressure_above\", \"args\": "
         "{\"cgroup\": \"" +
         cg +
         "\", \"resource\": \"memory\", \"threshold\": \"80\", \"duration\": \"30\"}}],\n"
         "    [\"memory above 90% for 30s\", {\"name\": \"memory_above\", \"args\": "
         "{\"cgroup\": \"" +
         cg +
         "\", \"threshold\": \"90%\", \"duration\": \"30\"}}]\n"
         "  ],\n"
         "  \"actions\": [{\"name\": \"kill_by_memory_size_or_growth\", \"args\": "
         "{\"cgroup\": \"" +
         cg + "\", \"dry\": \"true\"}}]\n}]}\n";
}

int countLines(const std::string& log, std::string_view word) {
  int n = 0;
  for (std::size_t at = 0; (at = log.find(word, at)) != std::string::npos; at += word.size()) ++n;
  return n;
}

struct Reference {
  std::string name;
  std::vector<std::string> argv;
};

class Bench {
 public:
  Bench(const Options& opt, CgroupLayout layout, std::string tmp)
      : opt_(opt), layout_(std::move(layout)), tmp_(std::move(tmp)) {}

  Status measure(Config& c, const std::vector<Reference>& refs) {
    std::string cfg = joinPath(tmp_, "oomsentinel-" + std::to_string(c.n) + ".yaml");
    if (auto st = writeFile(cfg, daemonConfig(c.n, c.interval.ms)); !st) return st;
    Child daemon;
    if (auto st = daemon.start("oomsentinel",
                               {opt_.oomsentinel, "run", "--config", cfg, "--state-file", "none"},
                               joinPath(tmp_, "oomsentinel.log"));
        !st)
      return st;
    std::vector<Child> others(refs.size());
    for (std::size_t i = 0; i < refs.size(); ++i)
      if (auto st =
              others[i].start(refs[i].name, refs[i].argv, joinPath(tmp_, refs[i].name + ".log"));
          !st)
        return st;

    // Warm-up: until the daemon holds a file of every target, then a few ticks more.
    double interval_s = static_cast<double>(c.interval.ms) / 1000;
    double give_up = monoNow() + 30;
    std::string parent = joinPath(layout_.memory_root, kParentName);
    while (cgroupsHeld(heldKernelFiles(daemon.pid(), layout_.memory_root), parent) <
           static_cast<std::size_t>(c.n)) {
      if (auto rc = daemon.exited())
        return makeError("oomsentinel exited with status " + std::to_string(*rc) +
                         " while starting; its log:\n" + daemon.logTail());
      if (monoNow() > give_up)
        return makeError("oomsentinel did not open the files of all " + std::to_string(c.n) +
                         " cgroups within 30 s; its log:\n" + daemon.logTail());
      if (!sleepFor(0.1)) return makeError("interrupted");
    }
    if (!sleepFor(std::max(opt_.warmup_s, 3 * interval_s))) return makeError("interrupted");

    std::vector<std::string> files = heldKernelFiles(daemon.pid(), layout_.memory_root);
    c.held = files;
    std::string list_path = joinPath(tmp_, "files-" + std::to_string(c.n) + ".txt");
    std::string list;
    for (const auto& f : files) list += f + "\n";
    if (auto st = writeFile(list_path, list); !st) return st;
    Child reader;
    if (auto st = reader.start(
            "bare reads", {self_, "--reader", std::to_string(c.interval.ms * 1'000'000), list_path},
            joinPath(tmp_, "reader.log"));
        !st)
      return st;
    if (!sleepFor(std::max(1.0, 2 * interval_s))) return makeError("interrupted");

    // The window: every process sampled at its start and end.
    std::vector<Child*> all{&daemon, &reader};
    for (auto& o : others) all.push_back(&o);
    std::vector<std::optional<CpuSample>> t0(all.size()), t1(all.size());
    std::vector<double> rss0(all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
      if (!all[i]->exited())
        if (auto s = sampleCpu(all[i]->pid()); s) {
          t0[i] = *s;
          rss0[i] = sampleMemory(all[i]->pid()).rss_kib;
        }
    if (!sleepFor(c.interval.window_s)) return makeError("interrupted");
    std::vector<Figures> figs(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      Figures& f = figs[i];
      auto rc = all[i]->exited();
      auto s = rc ? Result<CpuSample>(makeError("")) : sampleCpu(all[i]->pid());
      if (rc || !t0[i] || !s) {
        f.why_not = "exited with status " + std::to_string(rc.value_or(-1)) +
                    " before the window ended; its output: " + all[i]->logTail(600);
        continue;
      }
      t1[i] = *s;
      double wall = t1[i]->wall_s - t0[i]->wall_s;
      f.ran = true;
      f.cpu_per_s = (t1[i]->clock_s - t0[i]->clock_s) / wall;
      f.stat_cpu_per_s = (t1[i]->stat_s - t0[i]->stat_s) / wall;
      f.mem = sampleMemory(all[i]->pid());
      f.rss_start_kib = rss0[i];
      f.fds = countFds(all[i]->pid());
      f.files = heldKernelFiles(all[i]->pid(), layout_.memory_root).size();
    }
    reader.stop();
    for (auto& o : others) o.stop();
    c.daemon_exit = daemon.stop();
    c.daemon = figs[0];
    c.reader = figs[1];
    for (std::size_t i = 0; i < refs.size(); ++i)
      c.references.emplace_back(refs[i].name, figs[2 + i]);
    std::string log = daemon.log();
    c.warnings = countLines(log, " WARNING ");
    c.errors = countLines(log, " ERROR ");
    if (!c.daemon.ran) return makeError("oomsentinel " + c.daemon.why_not);
    if (!c.reader.ran) return makeError("the bare reader " + c.reader.why_not);
    c.log_summary = summarizeLog(log, messageBeforeTarget);
    if (c.errors > 0)
      std::printf("  oomsentinel logged %d errors; its log ends:\n%s\n", c.errors,
                  daemon.logTail().c_str());
    return Ok{};
  }

  void setSelf(std::string self) { self_ = std::move(self); }

 private:
  const Options& opt_;
  CgroupLayout layout_;
  std::string tmp_, self_;
};

std::string pct(double cpu_per_s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f%%", cpu_per_s * 100);
  return b;
}

std::string mib(double kib) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", kib / 1024);
  return b;
}

void printConfig(const Config& c) {
  const Figures& d = c.daemon;
  const Figures& r = c.reader;
  double ticks_per_s = 1000.0 / static_cast<double>(c.interval.ms);
  std::printf("== %d cgroups, interval %s, window %.0f s\n", c.n,
              durationText(c.interval.ms).c_str(), c.interval.window_s);
  std::printf("  %-14s CPU %s of a core (stat %s), %.1f us per tick, %.3f us per target per tick\n",
              "oomsentinel", pct(d.cpu_per_s).c_str(), pct(d.stat_cpu_per_s).c_str(),
              d.cpu_per_s / ticks_per_s * 1e6, d.cpu_per_s / ticks_per_s / c.n * 1e6);
  std::printf(
      "  %-14s VmRSS %s MiB (RssAnon %s, RssFile %s; %s at the window's start), VmHWM %s MiB, %d "
      "threads, %zu fds (%zu kernel files)\n",
      "", mib(d.mem.rss_kib).c_str(), mib(d.mem.anon_kib).c_str(), mib(d.mem.file_kib).c_str(),
      mib(d.rss_start_kib).c_str(), mib(d.mem.hwm_kib).c_str(), d.mem.threads, d.fds, d.files);
  if (c.n == 1) {
    std::string held;
    for (const auto& f : c.held) held += (held.empty() ? "" : " ") + f;
    std::printf("  %-14s files held (the bare reader's list): %s\n", "", held.c_str());
  }
  std::printf(
      "  %-14s CPU %s of a core (stat %s), %.1f us per tick, VmRSS %s MiB (RssAnon %s), %zu "
      "files\n",
      "bare reads", pct(r.cpu_per_s).c_str(), pct(r.stat_cpu_per_s).c_str(),
      r.cpu_per_s / ticks_per_s * 1e6, mib(r.mem.rss_kib).c_str(), mib(r.mem.anon_kib).c_str(),
      r.files);
  std::printf("  %-14s %.2fx the bare reads\n", "ratio", d.cpu_per_s / r.cpu_per_s);
  for (const auto& [name, f] : c.references) {
    if (f.ran)
      std::printf(
          "  %-14s CPU %s of a core (stat %s), VmRSS %s MiB (RssAnon %s, RssFile %s), VmHWM %s "
          "MiB, %d threads, %zu fds\n",
          name.c_str(), pct(f.cpu_per_s).c_str(), pct(f.stat_cpu_per_s).c_str(),
          mib(f.mem.rss_kib).c_str(), mib(f.mem.anon_kib).c_str(), mib(f.mem.file_kib).c_str(),
          mib(f.mem.hwm_kib).c_str(), f.mem.threads, f.fds);
    else
      std::printf("  %-14s did not run: %s\n", name.c_str(), f.why_not.c_str());
  }
  std::printf("  oomsentinel exit status after SIGTERM: %d; log: %d warnings, %d errors\n%s",
              c.daemon_exit, c.warnings, c.errors, c.log_summary.c_str());
  std::fflush(stdout);
}

void printSummary(const std::vector<Config>& configs) {
  std::printf("\n== summary (CPU as %% of one core: the process CPU clock over the window)\n");
  std::printf(
      "| cgroups | interval | files held | oomsentinel CPU | bare reads CPU | ratio | us per "
      "target "
      "per tick | VmRSS MiB | RssAnon MiB | VmHWM MiB |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& c : configs) {
    double ticks_per_s = 1000.0 / static_cast<double>(c.interval.ms);
    std::printf("| %d | %s | %zu | %s | %s | %.2fx | %.3f | %s | %s | %s |\n", c.n,
                durationText(c.interval.ms).c_str(), c.held.size(), pct(c.daemon.cpu_per_s).c_str(),
                pct(c.reader.cpu_per_s).c_str(), c.daemon.cpu_per_s / c.reader.cpu_per_s,
                c.daemon.cpu_per_s / ticks_per_s / c.n * 1e6, mib(c.daemon.mem.rss_kib).c_str(),
                mib(c.daemon.mem.anon_kib).c_str(), mib(c.daemon.mem.hwm_kib).c_str());
  }
  for (const auto& c : configs)
    for (const auto& [name, f] : c.references)
      if (f.ran)
        std::printf("| %s (in the window of %d at %s) | | | %s | | | | %s | %s | %s |\n",
                    name.c_str(), c.n, durationText(c.interval.ms).c_str(),
                    pct(f.cpu_per_s).c_str(), mib(f.mem.rss_kib).c_str(),
                    mib(f.mem.anon_kib).c_str(), mib(f.mem.hwm_kib).c_str());

  // The targets, each where this run has the configuration it names.
  std::printf("\n== targets\n");
  for (const auto& c : configs)
    if (c.n == 1)
      std::printf(
          "  RSS under %.0f MiB with one target (%s): VmRSS %s MiB (RssAnon %s), VmHWM %s MiB: "
          "%s\n",
          kTargetRssMiB, durationText(c.interval.ms).c_str(), mib(c.daemon.mem.rss_kib).c_str(),
          mib(c.daemon.mem.anon_kib).c_str(), mib(c.daemon.mem.hwm_kib).c_str(),
          c.daemon.mem.rss_kib < kTargetRssMiB * 1024 ? "met" : "NOT met");
  for (const auto& c : configs)
    if (c.n == 1000 && c.interval.ms == 1000)
      std::printf("  1000 targets at 1 s under %.0f%% of one core: %s: %s\n",
                  kTargetCpuAt1000 * 100, pct(c.daemon.cpu_per_s).c_str(),
                  c.daemon.cpu_per_s < kTargetCpuAt1000 ? "met" : "NOT met");
  // Linear: the CPU added per target is the same from the smallest N to the middle one as from
  // the middle one to the largest, within 1.5x either way.
  std::vector<long> intervals;
  for (const auto& c : configs)
    if (std::find(intervals.begin(), intervals.end(), c.interval.ms) == intervals.end())
      intervals.push_back(c.interval.ms);
  for (long ms : intervals) {
    std::vector<const Config*> at;
    for (const auto& c : configs)
      if (c.interval.ms == ms) at.push_back(&c);
    std::sort(at.begin(), at.end(), [](auto* a, auto* b) { return a->n < b->n; });
    if (at.size() < 3) continue;
    double ticks = 1000.0 / static_cast<double>(ms);
    auto per_target = [&](const Config* a, const Config* b) {
      return (b->daemon.cpu_per_s - a->daemon.cpu_per_s) / (b->n - a->n) / ticks * 1e6;
    };
    double low = per_target(at[0], at[1]), high = per_target(at[1], at.back());
    double r = high / low;
    std::printf(
        "  cost linear in targets (%s): added per target per tick %.3f us from %d to %d, "
        "%.3f us from %d to %d (%.2fx; linear within 1.5x either way): %s\n",
        durationText(ms).c_str(), low, at[0]->n, at[1]->n, high, at[1]->n, at.back()->n, r,
        r <= 1.5 && r >= 1 / 1.5 ? "met" : "NOT met");
  }
}

int run(const Options& opt) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "bench_overhead: needs root (it makes cgroups)\n");
    return 1;
  }
  auto layout = detectLayout(HostPaths());
  if (!layout || layout->memory_version == CgroupVersion::kNone) {
    std::fprintf(stderr, "bench_overhead: no cgroup memory controller here: %s\n",
                 layout ? layout->why_none.c_str() : layout.error().describe().c_str());
    return 1;
  }
  Tree tree(layout->memory_version, layout->memory_root);
  if (opt.cleanup_only) {
    tree.destroy();
    removeTree(tree.parent());
    return 0;
  }
  struct sigaction sa {};
  sa.sa_handler = requestStop;  // no SA_RESTART: a blocked read returns and we clean up
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);

  if (::access(opt.oomsentinel.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "bench_overhead: %s is not an executable\n", opt.oomsentinel.c_str());
    return 1;
  }
  char self[4096];
  ssize_t self_len = ::readlink(HostPaths().proc(0, "exe").c_str(), self, sizeof self - 1);
  if (self_len <= 0) {
    std::fprintf(stderr, "bench_overhead: cannot find its own executable\n");
    return 1;
  }
  const char* tmp_env = std::getenv("TMPDIR");
  std::string tmp = joinPath(tmp_env && *tmp_env ? tmp_env : "/tmp", "oomsentinel-overhead-XXXXXX");
  if (!::mkdtemp(tmp.data())) {
    std::fprintf(stderr, "bench_overhead: mkdtemp %s: %s\n", tmp.c_str(), std::strerror(errno));
    return 1;
  }

  int max_n = *std::max_element(opt.cgroups.begin(), opt.cgroups.end());
  std::vector<Reference> refs;
  std::string refs_note;
  if (!opt.earlyoom.empty()) refs.push_back({"earlyoom", {opt.earlyoom, "-r", "3600", "--dryrun"}});
  if (!opt.oomd.empty()) {
    if (layout->memory_version != CgroupVersion::kV2) {
      refs_note =
          "oomd: not run: it needs cgroup v2 with the memory controller, and this "
          "host's memory controller is on cgroup v1 (" +
          layout->memory_root + ")";
    } else {
      std::string cfg = joinPath(tmp, "oomd.json");
      std::string run_dir = joinPath(tmp, "oomd-run");
      if (!writeFile(cfg, oomdConfig()) || ::mkdir(run_dir.c_str(), 0700) != 0) {
        std::fprintf(stderr, "bench_overhead: cannot write oomd's config in %s\n", tmp.c_str());
        return 1;
      }
      refs.push_back(
          {"oomd",
           {opt.oomd, "--interval", "1", "--config", cfg, "--runtime-dir", run_dir,
            "--kmsg-override", joinPath(tmp, "oomd-kmsg"), "--cgroup-fs", layout->memory_root}});
    }
  }

  std::printf("bench_overhead: cgroup %s (%s) at %s\n", cgroupVersionName(layout->memory_version),
              layoutKindName(layout->kind), layout->memory_root.c_str());
  // The daemon holds about 10 descriptors per cgroup target and does not raise its own limit,
  // so at the usual soft limit of 1024 it cannot open the files of about 100 targets. Everything
  // started here inherits the hard limit instead; the output says what it was.
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  rlim_t soft = nofile.rlim_cur;
  nofile.rlim_cur = nofile.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  std::printf(
      "  open files limit (RLIMIT_NOFILE) for everything started here: soft %llu raised to "
      "the hard limit %llu\n",
      static_cast<unsigned long long>(soft), static_cast<unsigned long long>(nofile.rlim_max));
  int status = 0;
  {
    double t = monoNow();
    auto st = tree.create(max_n, opt.every);
    if (!st) {
      std::fprintf(stderr, "bench_overhead: setting up the cgroups: %s\n",
                   st.error().describe().c_str());
      status = 1;
    } else {
      std::printf(
          "  %d cgroups %s/c0000.., limit %lld MiB each, a sleeping process (1 MiB touched) in "
          "every %d-th (%zu in all), made in %.2f s\n",
          max_n, tree.parent().c_str(), kLimitBytes >> 20, opt.every, tree.sleepers(),
          monoNow() - t);
      std::printf("  oomsentinel: %s\n", opt.oomsentinel.c_str());
      if (!refs_note.empty()) std::printf("  %s\n", refs_note.c_str());
      std::fflush(stdout);
    }
    Bench bench(opt, *layout, tmp);
    bench.setSelf(std::string(self, static_cast<std::size_t>(self_len)));
    std::vector<Config> configs;
    // The references join the window of the largest N at the first 1 s interval (oomd cannot
    // tick faster), or the first interval when there is none.
    long ref_ms = opt.intervals.front().ms;
    for (const auto& iv : opt.intervals)
      if (iv.ms == 1000) ref_ms = 1000;
    bool refs_done = false;
    for (const auto& iv : opt.intervals) {
      for (int n : opt.cgroups) {
        if (status != 0) break;
        Config c;
        c.n = n;
        c.interval = iv;
        bool with_refs = !refs_done && n == max_n && iv.ms == ref_ms;
        auto st2 = bench.measure(c, with_refs ? refs : std::vector<Reference>{});
        if (!st2) {
          std::fprintf(stderr, "bench_overhead: %d cgroups at %s: %s\n", n,
                       durationText(iv.ms).c_str(), st2.error().describe().c_str());
          status = 1;
          break;
        }
        refs_done = refs_done || with_refs;
        printConfig(c);
        configs.push_back(std::move(c));
      }
    }
    if (status == 0) printSummary(configs);
  }
  tree.destroy();
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  if (g_stop) {
    std::fprintf(stderr, "bench_overhead: interrupted; the cgroups are removed\n");
    return 130;
  }
  return status;
}

}  // namespace
}  // namespace oomsentinel::bench

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--reader")
    return oomsentinel::bench::readerMain(std::atoll(argv[2]), argv[3]);
  auto opt = oomsentinel::bench::parseArgs(argc, argv);
  if (!opt) return 2;
  return oomsentinel::bench::run(*opt);
}
