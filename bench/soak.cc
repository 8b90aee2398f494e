// bench/: benchmarks and their recorded results.
// bench_soak: issue 19's soak. The real daemon (`oomsentinel run`) for --minutes against
// --cgroups real cgroup v1 children found by a `cgroup_glob` selector, with churn (children
// removed and made every few seconds), leaking processes in a few children (rules fire and
// resolve, the proc dumper runs under storm control, now and then a real OOM kill), Debian's
// Alertmanager stopped and started, and SIGHUP reloads. Every --sample-seconds it samples the
// daemon's RSS, fds and CPU from /proc and its /metrics (the tick lateness histogram), and writes
// soak.md, soak.svg and soak.csv (bench/README.md). Exits 0 when every goal is met, 1 when one
// is missed (the verdict says which and by how much), 2 when the soak could not run or was
// interrupted.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/alertmanager_process.h"
#include "bench/daemon_bench.h"
#include "bench/soak_report.h"
#include "core/host_paths.h"

namespace oomsentinel::bench {
namespace {

constexpr long long kLimitBytes = 64ll << 20;  // every child's memory.limit_in_bytes
constexpr int kPerMinute = 2;                  // dump.per_minute: storm control engages

struct Options {
  std::string oomsentinel, alertmanager = "/usr/bin/prometheus-alertmanager", out = ".",
                           name = "soak", commit = "unknown";
  double minutes = 60, churn_per_minute = 20;
  int cgroups = 200, leakers = 4, sample_s = 10;
};

bool parseOptions(int argc, char** argv, Options& o) {
  const std::pair<const char*, std::string*> texts[] = {{"--oomsentinel", &o.oomsentinel},
                                                        {"--alertmanager", &o.alertmanager},
                                                        {"--out", &o.out},
                                                        {"--name", &o.name},
                                                        {"--commit", &o.commit}};
  const std::pair<const char*, double*> reals[] = {{"--minutes", &o.minutes},
                                                   {"--churn-per-minute", &o.churn_per_minute}};
  const std::pair<const char*, int*> ints[] = {
      {"--cgroups", &o.cgroups}, {"--leakers", &o.leakers}, {"--sample-seconds", &o.sample_s}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    bool known = false;
    for (auto [flag, to] : texts)
      if (a == flag) *to = v, known = true;
    for (auto [flag, to] : reals)
      if (a == flag) *to = std::atof(v.c_str()), known = true;
    for (auto [flag, to] : ints)
      if (a == flag) *to = std::atoi(v.c_str()), known = true;
    if (!known) return false;
  }
  return argc % 2 == 1 && !o.oomsentinel.empty() && o.minutes > 0 && o.cgroups > o.leakers &&
         o.leakers >= 0 && o.sample_s > 0 && o.churn_per_minute >= 0;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool writeText(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

// The entries of a directory but . and .. (only directories when `dirs_only`).
std::vector<std::string> listNames(const std::string& dir, bool dirs_only) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.' && (!dirs_only || e->d_type == DT_DIR)) names.push_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

// The first three fields of /proc/loadavg.
std::string loadAverage() {
  std::istringstream in(readText(HostPaths().procFile("loadavg")));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

void installStopHandlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, requestStop);
}

// A child with PR_SET_PDEATHSIG, its output into `log` (or nowhere).
pid_t spawn(std::vector<std::string> argv, const std::string& log) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t self = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != self) _exit(127);
  std::FILE* f = std::freopen(log.empty() ? "/dev/null" : log.c_str(), "w", stdout);
  if (f) ::dup2(::fileno(stdout), 2);
  ::execv(args[0], args.data());
  _exit(127);
}

// SIGTERM, then SIGKILL after `grace` seconds; the wait status.
int stopProcess(pid_t pid, double grace) {
  int status = 0;
  ::kill(pid, SIGTERM);
  for (double end = monoNow() + grace; monoNow() < end; sleepFor(0.02))
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return status;
}

// The soak's cgroups: <v1 memory root>/oomsentinel-soak-<pid>/<child>, each with a 64 MiB limit.
class Tree {
 public:
  explicit Tree(std::string parent) : parent_(std::move(parent)) {}
  ~Tree() { removeAll(); }
  const std::string& parent() const { return parent_; }
  bool make() { return ::mkdir(parent_.c_str(), 0755) == 0; }
  bool add(const std::string& name) {
    std::string dir = parent_ + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0) return false;
    return writeText(dir + "/memory.limit_in_bytes", std::to_string(kLimitBytes));
  }
  // Kills what is in it, then rmdir (EBUSY for a moment while an exited task is uncharged).
  bool remove(const std::string& name) {
    std::string dir = parent_ + "/" + name;
    std::istringstream procs(readText(dir + "/cgroup.procs"));
    for (long pid; procs >> pid;)
      if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
    for (int i = 0; i < 100; ++i, sleepFor(0.02))
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    return false;
  }
  std::vector<std::string> children() const { return listNames(parent_, true); }
  void removeAll() {
    for (const auto& c : children()) remove(c);
    ::rmdir(parent_.c_str());
  }

 private:
  std::string parent_;
};

// A leaker: a forked child that touches memory in 2 MiB steps every 300 ms up to about 90% of
// the limit (the rule fires), holds 4 s and exits (it resolves); every third cycle it goes on
// past the limit and the kernel kills it.
struct Leaker {
  std::string name;
  pid_t pid = -1;
  double next_start = 0;
  int cycles = 0, oom_kills = 0;
};

[[noreturn]] void leakerChild(int ready_fd, std::size_t target) {
  char c;
  if (::read(ready_fd, &c, 1) != 1) _exit(1);  // moved into its cgroup first
  constexpr std::size_t kStep = 2 << 20;
  void* mem = ::mmap(nullptr, target, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) _exit(1);
  for (std::size_t off = 0; off < target; off += kStep) {
    std::memset(static_cast<char*>(mem) + off, 1, std::min(kStep, target - off));
    timespec t{0, 300'000'000};
    ::nanosleep(&t, nullptr);
  }
  timespec hold{4, 0};
  ::nanosleep(&hold, nullptr);
  _exit(0);
}

bool startLeaker(Tree& tree, Leaker& l) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  std::size_t target = l.cycles % 3 == 2 ? kLimitBytes * 5 / 4 : kLimitBytes * 9 / 10;
  pid_t self = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self) _exit(1);
    ::close(fds[1]);
    leakerChild(fds[0], target);
  }
  ::close(fds[0]);
  bool moved =
      pid > 0 && writeText(tree.parent() + "/" + l.name + "/cgroup.procs", std::to_string(pid));
  if (pid > 0 && moved) (void)!::write(fds[1], "g", 1);
  ::close(fds[1]);
  if (pid > 0 && !moved) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
  }
  l.pid = pid;
  ++l.cycles;
  return pid > 0;
}

class Soak {
 public:
  explicit Soak(Options o)
      : o_(std::move(o)),
        tree_(joinPath(joinPath(HostPaths().cgroupRoot(), "memory"),
                       "oomsentinel-soak-" + std::to_string(::getpid()))),
        total_s_(o_.minutes * 60),
        am_period_(std::min(600.0, total_s_ / 6)),
        reload_period_(am_period_ / 2),
        am_down_(std::clamp(am_period_ / 10, 5.0, 30.0)),
        churn_s_(o_.churn_per_minute > 0 ? 60 / o_.churn_per_minute : 0) {
    run_.warmup_s = std::min(300.0, total_s_ / 5);
    run_.sample_s = o_.sample_s;
  }
  ~Soak() { cleanup(); }
  int main();

 private:
  bool setUp();
  std::string config() const;
  bool startDaemon();
  void step(double now);
  void churn();
  void tendLeakers(double now);
  void tendAlertmanager(double now);
  SoakSample sample(double now);
  int finish();
  void cleanup();

  Options o_;
  Tree tree_;
  double total_s_, am_period_, reload_period_, am_down_, churn_s_;
  std::string tmp_, daemon_log_;
  int metrics_port_ = -1, am_port_ = -1;
  pid_t daemon_ = -1;
  int daemon_status_ = 0;
  bool daemon_died_ = false;
  std::unique_ptr<Alertmanager> am_;
  std::vector<Leaker> leakers_;
  std::vector<std::string> churnable_;
  std::vector<SoakSample> samples_;
  SoakRun run_;
  boost::asio::io_context io_;
  std::mt19937 rng_{12345};
  int next_child_ = 0, churned_ = 0, churn_failed_ = 0, am_restarts_ = 0, am_failed_ = 0,
      reloads_sent_ = 0;
  double t0_ = 0, next_churn_ = 0, next_am_ = 0, am_back_at_ = -1, next_reload_ = 0,
         next_sample_ = 0, load_start_ = 0;
  std::string load_start_text_;
};

bool Soak::setUp() {
  std::string tmpl = std::filesystem::temp_directory_path() / "oomsentinel-soak-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return false;
  tmp_ = tmpl;
  daemon_log_ = tmp_ + "/daemon.log";
  if (!tree_.make()) {
    std::fprintf(stderr, "bench_soak: cannot mkdir %s: %s\n", tree_.parent().c_str(),
                 std::strerror(errno));
    return false;
  }
  for (int i = 0; i < o_.cgroups; ++i) {
    char name[32];
    bool leaker = i < o_.leakers;
    std::snprintf(name, sizeof name, leaker ? "leak%02d" : "c%05d", leaker ? i : next_child_++);
    if (!tree_.add(name)) {
      std::fprintf(stderr, "bench_soak: cannot make the cgroup %s/%s: %s\n", tree_.parent().c_str(),
                   name, std::strerror(errno));
      return false;
    }
    if (leaker)
      leakers_.push_back({name, -1, 5.0 + 3 * i});
    else
      churnable_.push_back(name);
  }
  auto am = Alertmanager::start(o_.alertmanager);
  installStopHandlers();  // Alertmanager::start put its own in place
  if (!am.ok()) {
    std::fprintf(stderr, "bench_soak: %s\n", am.error().describe().c_str());
    return false;
  }
  am_ = std::move(*am);
  am_port_ = am_->port();
  return startDaemon();
}

std::string Soak::config() const {
  std::string rel = tree_.parent().substr(tree_.parent().rfind('/') + 1);
  return "poll: {interval: 1s}\n"
         "dump: {dir: " +
         tmp_ + "/incidents, min_free: 0, per_minute: " + std::to_string(kPerMinute) +
         ", target_cooldown: 1m, max_incidents: 20, " + "throttle_records: " + tmp_ +
         "/throttle}\n" +
         "alerts:\n  metrics: {listen: '127.0.0.1:" + std::to_string(metrics_port_) + "'}\n" +
         "  alertmanager: {urls: ['http://127.0.0.1:" + std::to_string(am_port_) +
         "'], resend_interval: 1m}\n" + "targets:\n  - {name: soak, cgroup_glob: '" + rel +
         "/*', proc: {}}\n" +
         "rules:\n  - name: soak-leak\n    expr: working_set_ratio > 80%\n"
         "    severity: critical\n    actions: [log, dump, alert]\n";
}

bool Soak::startDaemon() {
  metrics_port_ = freeLoopbackPort();
  if (!writeText(tmp_ + "/config.yaml", config())) return false;
  daemon_ =
      spawn({o_.oomsentinel, "run", "--config", tmp_ + "/config.yaml", "--state-file", "none"},
            daemon_log_);
  auto ready = *Url::parse("http://127.0.0.1:" + std::to_string(metrics_port_) + "/readyz");
  for (double end = monoNow() + 30; monoNow() < end && !g_stop;) {
    if (::waitpid(daemon_, &daemon_status_, WNOHANG) == daemon_) {
      daemon_ = -1;
      break;
    }
    if (auto r = httpGet(io_, ready); r.ok() && r->status == 200) return true;
    sleepFor(0.1);
  }
  std::fprintf(stderr, "bench_soak: the daemon was not ready within 30 s; its log:\n%s\n",
               tail(daemon_log_).c_str());
  return false;
}

void Soak::churn() {
  if (churnable_.empty()) return;
  std::size_t i = std::uniform_int_distribution<std::size_t>(0, churnable_.size() - 1)(rng_);
  if (!tree_.remove(churnable_[i])) {
    ++churn_failed_;
    return;
  }
  char name[32];
  std::snprintf(name, sizeof name, "c%05d", next_child_++);
  if (tree_.add(name)) {
    churnable_[i] = name;
    ++churned_;
  } else {
    churnable_.erase(churnable_.begin() + static_cast<long>(i));
    ++churn_failed_;
  }
}

void Soak::tendLeakers(double now) {
  for (auto& l : leakers_) {
    int status = 0;
    if (l.pid > 0 && ::waitpid(l.pid, &status, WNOHANG) == l.pid) {
      if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++l.oom_kills;
      l.pid = -1;
      l.next_start = now + std::uniform_real_distribution<double>(5, 15)(rng_);
    }
    if (l.pid < 0 && now >= l.next_start) startLeaker(tree_, l);
  }
}

void Soak::tendAlertmanager(double now) {
  if (am_ && now >= next_am_) {
    am_.reset();  // SIGTERM, waited for; its files removed
    installStopHandlers();
    am_back_at_ = now + am_down_;
    next_am_ += am_period_;
  }
  if (!am_ && am_back_at_ >= 0 && now >= am_back_at_) {
    auto am = Alertmanager::start(o_.alertmanager, am_port_);
    installStopHandlers();
    if (am.ok()) {
      am_ = std::move(*am);
      ++am_restarts_;
      am_back_at_ = -1;
    } else {
      ++am_failed_;
      std::fprintf(stderr, "bench_soak: Alertmanager did not start again: %s\n",
                   am.error().describe().c_str());
      am_back_at_ = now + 5;
    }
  }
}

SoakSample Soak::sample(double now) {
  SoakSample s;
  s.t = now;
  HostPaths host;
  std::istringstream status(readText(host.proc(daemon_, "status")));
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atof(line.c_str() + 6);
  s.fds = static_cast<double>(listNames(host.proc(daemon_, "fd"), false).size());
  std::string stat = readText(host.proc(daemon_, "stat"));
  if (auto paren = stat.rfind(')'); paren != std::string::npos) {
    std::istringstream fields(stat.substr(paren + 2));
    std::string f;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i)  // state is field 3, utime 14, stime 15
      if (i == 14)
        utime = std::atof(f.c_str());
      else if (i == 15)
        stime = std::atof(f.c_str());
    s.cpu_s = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  auto url = *Url::parse("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  if (auto r = httpGet(io_, url, 64 << 20); r.ok() && r->status == 200)
    s.scraped = readMetrics(r->body, s);
  s.load1 = std::atof(readText(host.procFile("loadavg")).c_str());
  s.cgroups = static_cast<int>(tree_.children().size());
  s.am_up = static_cast<bool>(am_);
  for (const auto& l : leakers_) s.leakers_alive += l.pid > 0;
  return s;
}

void Soak::step(double now) {
  if (churn_s_ > 0 && now >= next_churn_) {
    churn();
    next_churn_ += churn_s_;
  }
  tendLeakers(now);
  tendAlertmanager(now);
  if (now >= next_reload_) {
    ::kill(daemon_, SIGHUP);
    ++reloads_sent_;
    next_reload_ += reload_period_;
  }
  if (now >= next_sample_) {
    samples_.push_back(sample(now));
    const SoakSample& s = samples_.back();
    double p99 = samples_.size() > 1 ? lateP99Ms(samples_[samples_.size() - 2], s) : NAN;
    std::fprintf(stderr,
                 "bench_soak: %6.0f s  RSS %.2f MiB  fds %.0f  CPU %.2f s  targets %.0f  "
                 "p99 %.1f ms  firings %.0f  incidents %.0f  load %.2f\n",
                 s.t, s.rss_kib / 1024, s.fds, s.cpu_s, s.targets, p99, s.firings,
                 s.incidents_published, s.load1);
    next_sample_ += o_.sample_s;
  }
}

}  // namespace
}  // namespace oomsentinel::bench

namespace oomsentinel::bench {
namespace {

void Soak::cleanup() {
  for (auto& l : leakers_)
    if (l.pid > 0) {
      ::kill(l.pid, SIGKILL);
      ::waitpid(l.pid, nullptr, 0);
      l.pid = -1;
    }
  if (daemon_ > 0) daemon_status_ = stopProcess(daemon_, 10), daemon_ = -1;
  am_.reset();
  installStopHandlers();
  tree_.removeAll();
  std::error_code ec;
  if (!tmp_.empty()) std::filesystem::remove_all(tmp_, ec);
}

int Soak::finish() {
  bool interrupted = g_stop;
  double ended = monoNow() - t0_;
  int oom_kills = 0, cycles = 0;
  for (const auto& l : leakers_) oom_kills += l.oom_kills, cycles += l.cycles;
  bool died = daemon_died_;
  if (daemon_ > 0) daemon_status_ = stopProcess(daemon_, 10), daemon_ = -1;
  bool clean_exit = WIFEXITED(daemon_status_) && WEXITSTATUS(daemon_status_) == 0;
  // Transitions name their target and figures in the text: "rule R on <target>: a -> b [...]".
  run_.warnings = summarizeLog(readText(daemon_log_), [](std::string text) {
    text = messageBeforeTarget(std::move(text));
    std::size_t on = text.find(" on "), colon = text.find(": ", on), fig = text.find(" [", colon);
    if (on != std::string::npos && colon != std::string::npos && fig != std::string::npos)
      text = text.substr(0, on) + " on <target>" + text.substr(colon, fig - colon);
    return text;
  });
  char b[1024];
  std::snprintf(b, sizeof b,
                "- bench_soak --minutes %g --cgroups %d --churn-per-minute %g --leakers %d "
                "--sample-seconds %d; commit %s\n"
                "- the daemon: `oomsentinel run`, poll interval 1 s (fast 50 ms above 70%%, "
                "kernel wake-ups on), one `cgroup_glob` selector over the %d children of %s "
                "(64 MiB limit each, discovery every 5 s), rule `working_set_ratio > 80%%` -> "
                "log, dump (proc dumper), alert; dump.per_minute %d, target_cooldown 1m\n"
                "- warm-up (excluded from the RSS and fds goals): %.0f s; Alertmanager stopped "
                "every %.0f s for %.0f s; SIGHUP every %.0f s\n",
                o_.minutes, o_.cgroups, o_.churn_per_minute, o_.leakers, o_.sample_s,
                o_.commit.c_str(), o_.cgroups, tree_.parent().c_str(), kPerMinute, run_.warmup_s,
                am_period_, am_down_, reload_period_);
  run_.params = b;
  run_.machine = describeMachine(samples_, load_start_text_, loadAverage());
  const SoakSample last = samples_.empty() ? SoakSample{} : samples_.back();
  std::snprintf(b, sizeof b,
                "- %.0f s run%s; %zu samples\n"
                "- churn: %d children removed and made anew (%d failed)\n"
                "- leakers: %d cycles, %d ended by the kernel's OOM killer; %.0f rule firings\n"
                "- incidents: %.0f published, %.0f skipped (oomsentinel_incidents_total; storm "
                "control and cooldown log \"dump not started\", below), %.0f "
                "failed; dumps %.0f ok, %.0f not ok; at most %.0f bundles begun in a 60 s "
                "window\n"
                "- Alertmanager: %d restarts (%d failed starts); notifications %.0f sent, %.0f "
                "errors\n"
                "- reloads: %d SIGHUP sent, %.0f ok, %.0f failed\n"
                "- the daemon: %s\n",
                ended, interrupted ? " (interrupted)" : "", samples_.size(), churned_,
                churn_failed_, cycles, oom_kills, last.firings, last.incidents_published,
                last.incidents_skipped, last.incidents_failed, last.dumps_ok, last.dumps_failed,
                maxBundlesPerMinute(samples_, o_.sample_s), am_restarts_, am_failed_, last.am_sent,
                last.am_errors, reloads_sent_, last.reloads_ok, last.reloads_failed,
                died ? "EXITED during the run"
                     : (clean_exit ? "exited 0 on SIGTERM" : "did not exit cleanly on SIGTERM"));
  run_.events = b;
  if (samples_.size() < 2) {
    std::fprintf(stderr, "bench_soak: fewer than 2 samples; nothing written\n");
    return 2;
  }
  SoakVerdict v = judge(samples_, run_);
  auto missed = [&](const std::string& why) { v.ok = false, v.text += "MISSED: " + why + "\n"; };
  if (died || !clean_exit)
    missed("the daemon " +
           std::string(died ? "exited during the run" : "did not exit 0 on SIGTERM"));
  if (double most = maxBundlesPerMinute(samples_, o_.sample_s); most > kPerMinute + 1)
    missed("storm control: " + std::to_string(static_cast<int>(most)) +
           " bundles in a 60 s window (dump.per_minute " + std::to_string(kPerMinute) + ")");
  if (last.firings < 1 || last.incidents_published < 1)
    missed("the soak exercised too little: no rule firing or no published incident");
  if (reloads_sent_ > 0 && last.reloads_ok < 1) missed("no SIGHUP reload succeeded");
  if (interrupted) missed("interrupted before the end");
  std::filesystem::create_directories(o_.out);
  std::string base = o_.out + "/" + o_.name;
  writeText(base + ".md", soakMarkdown(samples_, run_, v));
  writeText(base + ".svg", soakSvg(samples_, run_));
  writeText(base + ".csv", soakCsv(samples_));
  std::printf("%s%s", v.ok ? "bench_soak: every goal met\n" : "bench_soak: a goal was missed\n",
              v.text.c_str());
  std::fflush(stdout);
  return interrupted ? 2 : (v.ok ? 0 : 1);  // an interrupted run is not a result
}

int Soak::main() {
  installStopHandlers();
  load_start_text_ = loadAverage();
  if (!setUp()) return 2;
  t0_ = monoNow();
  next_churn_ = churn_s_;
  next_am_ = am_period_;
  next_reload_ = reload_period_ * 0.75;  // not at an Alertmanager restart
  while (!g_stop) {
    double now = monoNow() - t0_;
    if (now >= total_s_ && next_sample_ > total_s_) break;  // the last sample taken at the end
    if (::waitpid(daemon_, &daemon_status_, WNOHANG) == daemon_) {
      daemon_ = -1;
      daemon_died_ = true;
      std::fprintf(stderr, "bench_soak: the daemon exited; its log:\n%s\n",
                   tail(daemon_log_).c_str());
      break;
    }
    step(now);
    sleepFor(0.05);
  }
  return finish();
}

}  // namespace
}  // namespace oomsentinel::bench

int main(int argc, char** argv) {
  using namespace oomsentinel::bench;
  Options o;
  if (!parseOptions(argc, argv, o) || ::geteuid() != 0) {
    std::fprintf(stderr,
                 "usage (as root): bench_soak --oomsentinel PATH [--minutes 60] "
                 "[--cgroups 200] [--churn-per-minute 20] [--leakers 4] "
                 "[--sample-seconds 10] [--alertmanager PATH] [--out DIR] [--name soak] "
                 "[--commit TEXT]\n");
    return 2;
  }
  Soak soak(o);
  return soak.main();
}
