// bench/: benchmarks and their recorded results.
// bench_jvm_capture: what a JVM class histogram costs from the daemon's side, and which part of it
// can be cut (issue 23: the JVM lost the OOM race at 200 MiB/s, its jcmd GC.class_histogram
// taking ~400 ms from firing to bundle). On real JVMs of examples/java-leak, prefilled and
// leaking slowly (with churn, so that the heap holds garbage too), N trials of each, every pair
// in the same run with its rounds interleaved:
//   (a) the first attach to a fresh JVM (no attach listener yet: .attach_pid + SIGQUIT, and
//       the wait for /tmp/.java_pid<pid>) against a later attach, by jcmd and by the attach
//       protocol spoken directly (which shows what the JVM's side of the handshake costs);
//   (b) GC.class_histogram (a full GC first: live objects only) against GC.class_histogram -all
//       (no GC: unreachable objects counted too), both by jcmd and directly;
//   (c) jcmd VM.version against the same command over the attach protocol spoken directly: what
//       starting jcmd (itself a JVM) costs;
//   (d) the daemon's own JvmDumper::run (a class histogram into a bundle directory: the pidfd,
//       for jcmd its namespaces, root, user and cgroup; direct: from this thread) attach: jcmd
//       against attach: direct, with and without -all, and direct on a fresh JVM (its first
//       attach).
// It runs as root against the JVM directly (a benchmark, not the daemon: no namespaces, no uid
// change). README.md has the recorded figures.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "dumpers/jvm_dumper.h"

extern char** environ;

namespace {

constexpr const char* kUsage =
    "usage: bench_jvm_capture [--java-leak PATH] [--jcmd PATH] [--trials N] [--prefill MiB]\n"
    "                         [--xmx MiB] [--churn MiB/s] [--chunk KiB] [--csv FILE]\n"
    "Starts examples/java-leak (JAVA_LEAK_OPTS=-Xmx<xmx>m; --prefill MiB (default 300) at once\n"
    "in --chunk KiB arrays (default 16), then 1 MiB/s with --churn MiB/s (default 20) of\n"
    "garbage) and times, N trials each (default 12), interleaved:\n"
    "(a) the first attach to a fresh JVM (a JVM per trial) against a later one, by jcmd and by\n"
    "the attach protocol spoken directly; (b) GC.class_histogram against -all; (c) jcmd\n"
    "VM.version against the same command spoken directly; (d) JvmDumper::run with attach: jcmd\n"
    "against direct (and -all), and direct as the first attach. Prints a Markdown report; --csv\n"
    "writes every sample (series,trial,ms). Root needed (it attaches as the JVM's user: root).\n";

double monoMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "bench_jvm_capture: %s\n", why.c_str());
  std::exit(2);
}

struct Options {
  std::string java_leak = OOMSENTINEL_JAVA_LEAK;
  std::string jcmd;  // empty: beside the JVM's java
  int trials = 12;
  int prefill_mib = 300;
  int xmx_mib = 1024;
  int churn_mib = 20;
  int chunk_kib = 16;
  std::string csv;
};

// One running java-leak, its stdout read until its "hold"-less steady state ("prefilled").
struct Jvm {
  pid_t pid = -1;
  std::string log;
};

Jvm startJvm(const Options& o) {
  char log[] = "/tmp/bench-jvm-capture-XXXXXX";
  int fd = ::mkstemp(log);
  if (fd < 0) die("mkstemp");
  Jvm j;
  j.log = log;
  std::string opts = "JAVA_LEAK_OPTS=-Xmx" + std::to_string(o.xmx_mib) + "m";
  std::vector<std::string> args = {o.java_leak,
                                   "--rate",
                                   "1MiB/s",
                                   "--prefill",
                                   std::to_string(o.prefill_mib) + "MiB",
                                   "--chunk",
                                   std::to_string(o.chunk_kib) + "KiB",
                                   "--churn",
                                   std::to_string(o.churn_mib) + "MiB/s"};
  j.pid = ::fork();
  if (j.pid < 0) die("fork");
  if (j.pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::chdir("/tmp");
    ::putenv(opts.data());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fd);
  double until = monoMs() + 30000;
  while (monoMs() < until) {
    std::ifstream in(j.log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    if (text.find(" prefilled ") != std::string::npos) {
      ::usleep(300 * 1000);  // its churn and JIT settle a little
      return j;
    }
    ::usleep(10 * 1000);
  }
  die("java-leak did not say 'prefilled' within 30 s (see " + j.log + ")");
}

void stopJvm(Jvm& j) {
  if (j.pid <= 0) return;
  ::kill(j.pid, SIGKILL);
  ::waitpid(j.pid, nullptr, 0);
  ::unlink(j.log.c_str());
  std::string sock = "/tmp/.java_pid" + std::to_string(j.pid);
  ::unlink(sock.c_str());
  j.pid = -1;
}

std::string jcmdBeside(pid_t pid) {
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) die("readlink " + link);
  std::string exe(buf, static_cast<std::size_t>(n));
  return exe.substr(0, exe.rfind('/') + 1) + "jcmd";
}

// jcmd <pid> <command...>, its stdout into a file; the wall time in ms, and the output checked.
double timeJcmd(const std::string& jcmd, pid_t pid, const std::vector<std::string>& command,
                const std::string& expect) {
  char out[] = "/tmp/bench-jvm-capture-out-XXXXXX";
  int fd = ::mkstemp(out);
  if (fd < 0) die("mkstemp");
  std::vector<std::string> args = {jcmd, std::to_string(pid)};
  args.insert(args.end(), command.begin(), command.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  double t0 = monoMs();
  pid_t child;
  if (posix_spawn(&child, argv[0], &fa, nullptr, argv.data(), environ) != 0) die("spawn jcmd");
  int status = 0;
  ::waitpid(child, &status, 0);
  double took = monoMs() - t0;
  posix_spawn_file_actions_destroy(&fa);
  ::close(fd);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ::unlink(out);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.find(expect) == std::string::npos)
    die("jcmd " + command[0] + " failed: " + text.substr(0, 300));
  return took;
}

// The HotSpot attach protocol (version 1) on /tmp/.java_pid<pid>: "1\0", the operation "jcmd\0",
// three arguments each ended by "\0" (the command line, then two empty), then the reply: the
// status as a decimal line, the command's output, EOF.
std::string speak(pid_t pid, const std::string& command) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/.java_pid%d", pid);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die(std::string("connect: ") + std::strerror(errno));
  std::string req("1\0jcmd\0", 7);
  req += command;
  req.append("\0\0\0", 3);
  if (::write(s, req.data(), req.size()) != static_cast<ssize_t>(req.size())) die("write");
  std::string reply;
  char buf[65536];
  for (;;) {
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 30000) != 1) die("the JVM did not answer within 30 s");
    ssize_t n = ::read(s, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read");
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(s);
  return reply;
}

double timeSpeak(pid_t pid, const std::string& command, const std::string& expect) {
  double t0 = monoMs();
  std::string reply = speak(pid, command);
  double took = monoMs() - t0;
  if (reply.rfind("0\n", 0) != 0 || reply.find(expect) == std::string::npos)
    die("direct " + command + " failed: " + reply.substr(0, 300));
  return took;
}

// What jcmd does when there is no socket yet, done here with a 1 ms poll: .attach_pid<pid> in the
// JVM's cwd, SIGQUIT, wait for the socket; then the command.
double timeFirstSpeak(pid_t pid, const std::string& command, const std::string& expect) {
  double t0 = monoMs();
  std::string trigger = "/proc/" + std::to_string(pid) + "/cwd/.attach_pid" + std::to_string(pid);
  int fd = ::open(trigger.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) die("cannot create " + trigger);
  ::close(fd);
  ::kill(pid, SIGQUIT);
  std::string sock = "/tmp/.java_pid" + std::to_string(pid);
  struct stat st;
  while (::stat(sock.c_str(), &st) != 0) {
    if (monoMs() - t0 > 10000) die("no attach socket 10 s after SIGQUIT");
    ::usleep(1000);
  }
  timeSpeak(pid, command, expect);
  double took = monoMs() - t0;
  ::unlink(trigger.c_str());
  return took;
}

// One JvmDumper::run, as the daemon runs it (the bench is root), into a fresh directory.
double timeDumper(pid_t pid, oomsentinel::JvmAttach attach, bool all) {
  char dir[] = "/tmp/bench-jvm-capture-bundle-XXXXXX";
  if (::mkdtemp(dir) == nullptr) die("mkdtemp");
  oomsentinel::JvmDumpSpec spec;
  spec.attach = attach;
  spec.class_histogram_all = all;
  oomsentinel::DumpRequest req;
  req.target = "bench";
  req.rule = "bench";
  req.pid = pid;
  req.dir = dir;
  req.deadline = oomsentinel::SystemClock().steadyNow() + std::chrono::seconds(30);
  req.max_bytes = 64 << 20;
  double t0 = monoMs();
  auto out = oomsentinel::JvmDumper(spec).run(req);
  double took = monoMs() - t0;
  std::string hist = std::string(dir) + "/class_histogram.txt";
  ::unlink(hist.c_str());
  ::rmdir(dir);
  if (out.result != oomsentinel::DumpResult::kOk) die("JvmDumper: " + out.error);
  return took;
}

struct Series {
  std::vector<double> ms;
  double median() const {
    auto v = ms;
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  double min() const { return *std::min_element(ms.begin(), ms.end()); }
  double max() const { return *std::max_element(ms.begin(), ms.end()); }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--java-leak")
      o.java_leak = next();
    else if (a == "--jcmd")
      o.jcmd = next();
    else if (a == "--trials")
      o.trials = std::atoi(next().c_str());
    else if (a == "--prefill")
      o.prefill_mib = std::atoi(next().c_str());
    else if (a == "--xmx")
      o.xmx_mib = std::atoi(next().c_str());
    else if (a == "--churn")
      o.churn_mib = std::atoi(next().c_str());
    else if (a == "--chunk")
      o.chunk_kib = std::atoi(next().c_str());
    else if (a == "--csv")
      o.csv = next();
    else {
      std::fputs(kUsage, a == "--help" ? stdout : stderr);
      return a == "--help" ? 0 : 2;
    }
  }
  if (o.java_leak.empty()) die("no java-leak (built without a JDK 17?)");
  if (::geteuid() != 0) die("needs root");
  if (o.trials < 1) die("--trials must be >= 1");

  // Keyed by name, in the order they are printed.
  std::vector<std::string> order;
  std::map<std::string, Series> s;
  auto add = [&](const std::string& name, double v) {
    if (!s.count(name)) order.push_back(name);
    s[name].ms.push_back(v);
  };
  const std::string kVersion = "JDK ";
  const std::string kHist = "#instances";

  // (a) and (c): a fresh JVM per trial. Odd trials attach first by jcmd, even ones directly, so
  // that each first attach is measured a third of the trials; then later attaches of both.
  std::string jcmd = o.jcmd;
  for (int t = 0; t < o.trials; ++t) {
    Jvm j = startJvm(o);
    if (jcmd.empty()) jcmd = jcmdBeside(j.pid);
    if (t % 3 == 0) {
      add("a1 first attach, jcmd VM.version", timeJcmd(jcmd, j.pid, {"VM.version"}, kVersion));
    } else if (t % 3 == 2) {
      add("a3 first attach, JvmDumper direct GC.class_histogram",
          timeDumper(j.pid, oomsentinel::JvmAttach::kDirect, false));
    } else {
      add("a2 first attach, direct VM.version (1 ms poll)",
          timeFirstSpeak(j.pid, "VM.version", kVersion));
    }
    for (int r = 0; r < 2; ++r) {  // interleaved, each starting in turn
      bool jfirst = (t + r) % 2 == 0;
      for (int k = 0; k < 2; ++k) {
        if ((k == 0) == jfirst)
          add("c1 later attach, jcmd VM.version", timeJcmd(jcmd, j.pid, {"VM.version"}, kVersion));
        else
          add("c2 later attach, direct VM.version", timeSpeak(j.pid, "VM.version", kVersion));
      }
    }
    stopJvm(j);
    std::fprintf(stderr, "trial %d/%d (fresh JVM) done\n", t + 1, o.trials);
  }

  // (b): one JVM, listener started; the four histogram variants in rotating order.
  {
    Jvm j = startJvm(o);
    timeFirstSpeak(j.pid, "VM.version", kVersion);  // its listener started, not measured
    for (int t = 0; t < o.trials; ++t) {
      for (int k = 0; k < 4; ++k) {
        switch ((t + k) % 4) {
          case 0:
            add("b1 jcmd GC.class_histogram", timeJcmd(jcmd, j.pid, {"GC.class_histogram"}, kHist));
            break;
          case 1:
            add("b2 jcmd GC.class_histogram -all",
                timeJcmd(jcmd, j.pid, {"GC.class_histogram", "-all"}, kHist));
            break;
          case 2:
            add("b3 direct GC.class_histogram", timeSpeak(j.pid, "GC.class_histogram", kHist));
            break;
          case 3:
            add("b4 direct GC.class_histogram -all",
                timeSpeak(j.pid, "GC.class_histogram -all", kHist));
            break;
        }
      }
      // (d): the dumper, as the daemon runs it.
      for (int k = 0; k < 3; ++k) {
        switch ((t + k) % 3) {
          case 0:
            add("d1 JvmDumper attach: jcmd",
                timeDumper(j.pid, oomsentinel::JvmAttach::kJcmd, false));
            break;
          case 1:
            add("d2 JvmDumper attach: direct",
                timeDumper(j.pid, oomsentinel::JvmAttach::kDirect, false));
            break;
          case 2:
            add("d3 JvmDumper attach: direct, class_histogram_all",
                timeDumper(j.pid, oomsentinel::JvmAttach::kDirect, true));
            break;
        }
      }
      std::fprintf(stderr, "histogram round %d/%d done\n", t + 1, o.trials);
    }
    stopJvm(j);
  }

  std::printf("| series | n | median ms | min ms | max ms |\n|---|---:|---:|---:|---:|\n");
  for (const auto& name : order) {
    const Series& x = s[name];
    std::printf("| %s | %zu | %.1f | %.1f | %.1f |\n", name.c_str(), x.ms.size(), x.median(),
                x.min(), x.max());
  }
  auto ratio = [&](const char* what, const std::string& a, const std::string& b) {
    std::printf("| %s | %.1f / %.1f | %.2fx |\n", what, s[a].median(), s[b].median(),
                s[a].median() / s[b].median());
  };
  std::printf("\n| ratio of medians | ms / ms | ratio |\n|---|---:|---:|\n");
  ratio("first jcmd attach / later jcmd attach", "a1 first attach, jcmd VM.version",
        "c1 later attach, jcmd VM.version");
  ratio("first direct attach / later direct attach",
        "a2 first attach, direct VM.version (1 ms poll)", "c2 later attach, direct VM.version");
  ratio("jcmd VM.version / direct VM.version (jcmd's start-up)", "c1 later attach, jcmd VM.version",
        "c2 later attach, direct VM.version");
  ratio("jcmd GC.class_histogram / jcmd -all", "b1 jcmd GC.class_histogram",
        "b2 jcmd GC.class_histogram -all");
  ratio("direct GC.class_histogram / direct -all", "b3 direct GC.class_histogram",
        "b4 direct GC.class_histogram -all");
  ratio("jcmd GC.class_histogram / direct GC.class_histogram", "b1 jcmd GC.class_histogram",
        "b3 direct GC.class_histogram");
  ratio("jcmd GC.class_histogram / direct -all", "b1 jcmd GC.class_histogram",
        "b4 direct GC.class_histogram -all");
  ratio("JvmDumper jcmd / JvmDumper direct", "d1 JvmDumper attach: jcmd",
        "d2 JvmDumper attach: direct");
  ratio("JvmDumper direct / JvmDumper direct -all", "d2 JvmDumper attach: direct",
        "d3 JvmDumper attach: direct, class_histogram_all");
  ratio("JvmDumper direct, first attach / later",
        "a3 first attach, JvmDumper direct GC.class_histogram", "d2 JvmDumper attach: direct");

  if (!o.csv.empty()) {
    std::FILE* f = std::fopen(o.csv.c_str(), "w");
    if (!f) die("cannot write " + o.csv);
    std::fprintf(f, "series,trial,ms\n");
    for (const auto& name : order)
      for (std::size_t i = 0; i < s[name].ms.size(); ++i)
        std::fprintf(f, "%s,%zu,%.3f\n", name.c_str(), i, s[name].ms[i]);
    std::fclose(f);
  }
  return 0;
}
