#include "bench/race/trial.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "core/http_client.h"

namespace oomsentinel::race {
namespace {

constexpr const char* kV1Root = "/sys/fs/cgroup/memory";
constexpr const char* kV2Root = "/sys/fs/cgroup";

double wallNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

bool writeFile(const std::string& path, const std::string& value, std::string* err) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok =
      fd >= 0 && ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  if (!ok && err) *err = "write " + value + " to " + path + ": " + std::strerror(errno);
  if (fd >= 0) ::close(fd);
  return ok;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// argv started with stdout and stderr to `log`; with `procs` set, moved into that cgroup first.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::string& procs = "") {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!procs.empty()) {
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
      ::close(fd);
    }
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

// The body of a 200 answer, or "" (2 s timeout).
std::string httpGet(const std::string& url) {
  auto u = Url::parse(url);
  if (!u) return "";
  boost::asio::io_context io;
  HttpRequest req;
  req.url = *u;
  req.timeout = std::chrono::seconds(2);
  std::string body;
  startHttpRequest(io, req, [&](Result<HttpResponse> r) {
    if (r.ok() && r->status == 200) body = r->body;
  });
  io.run();
  return body;
}

// Stops a process: SIGTERM, then SIGKILL after `grace`; reaped either way.
void stop(pid_t pid, int grace_ms) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < grace_ms / 10; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    sleepMs(10);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// "12.5ms", "1.2s", "850µs", "3m2s" (Go's time.Duration.String) in seconds; -1 if not one.
double parseGoDuration(const std::string& text) {
  double total = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    char* end = nullptr;
    double v = std::strtod(text.c_str() + i, &end);
    if (end == text.c_str() + i) return -1;
    i = static_cast<std::size_t>(end - text.c_str());
    std::size_t j = i;
    while (j < text.size() &&
           !(std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.'))
      ++j;
    std::string unit = text.substr(i, j - i);
    double scale = unit == "h"                      ? 3600
                   : unit == "m"                    ? 60
                   : unit == "s"                    ? 1
                   : unit == "ms"                   ? 1e-3
                   : (unit == "µs" || unit == "us") ? 1e-6
                   : unit == "ns"                   ? 1e-9
                                                    : -1;
    if (scale < 0) return -1;
    total += v * scale;
    any = true;
    i = j;
  }
  return any ? total : -1;
}

// Samples the cgroup's working set (usage - total_inactive_file) every millisecond.
struct Sampler {
  std::atomic<bool> stop{false};
  double crossed = 0, below = 0, peak = 0;  // below: crossed (threshold - 10% of the limit)
  void run(const std::string& dir, bool v2, double threshold_bytes, double limit) {
    const char* inactive_key = v2 ? "\ninactive_file " : "\ntotal_inactive_file ";
    std::size_t key_len = std::strlen(inactive_key);
    std::string usage_file = v2 ? "/memory.current" : "/memory.usage_in_bytes";
    int usage = ::open((dir + usage_file).c_str(), O_RDONLY | O_CLOEXEC);
    int stat = ::open((dir + "/memory.stat").c_str(), O_RDONLY | O_CLOEXEC);
    if (usage < 0 || stat < 0) return;
    char buf[8192];
    while (!stop.load()) {
      ssize_t n = ::pread(usage, buf, sizeof buf - 1, 0);
      double u = n > 0 ? (buf[n] = 0, std::strtod(buf, nullptr)) : 0;
      n = ::pread(stat, buf, sizeof buf - 1, 0);
      double inactive = 0;
      if (n > 0) {
        buf[n] = 0;
        if (const char* p = std::strstr(buf, inactive_key))
          inactive = std::strtod(p + key_len, nullptr);
      }
      double ws = std::max(0.0, u - inactive);
      if (below == 0 && ws >= threshold_bytes - 0.1 * limit) below = wallNow();
      if (crossed == 0 && ws >= threshold_bytes) crossed = wallNow();
      peak = std::max(peak, ws / limit);
      timespec d{0, 1'000'000};
      ::clock_nanosleep(CLOCK_MONOTONIC, 0, &d, nullptr);
    }
    ::close(usage);
    ::close(stat);
  }
};

const char* dumperOf(const std::string& runtime) {
  return runtime == "cpp" ? "gperftools" : runtime == "go" ? "go_pprof" : "jvm";
}

std::string pollYaml(const std::string& config) {
  // The defaults: 1s, 50ms above 70%, and the kernel's wake-ups (v1 thresholds at the rules'
  // levels, OOM notifier, host PSI).
  if (config == "adaptive" || config == "adaptive-throttle" || config.rfind("defaults", 0) == 0)
    return "";
  if (config == "adaptive-poll") return "poll: {events: false}\n";
  // A fixed poll stands for the peers that poll (oomd, holmes, the kubelet): no wake-ups.
  auto dash = config.rfind('-');
  std::string every = config.substr(dash + 1);  // "1s", "5s", "10s"
  return "poll: {interval: " + every + ", fast_interval: " + every + ", events: false}\n";
}

}  // namespace

double parseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  double frac = 0;
  if (*rest == '.') {
    char* end = nullptr;
    frac = std::strtod(rest, &end);
    rest = end;
  }
  double offset = 0;
  if (*rest == '+' || *rest == '-') {
    int h = 0, m = 0;
    if (std::sscanf(rest + 1, "%d:%d", &h, &m) == 2)
      offset = (h * 3600 + m * 60) * (*rest == '+' ? 1 : -1);
  }
  return static_cast<double>(::timegm(&tm)) + frac - offset;
}

TrialResult runTrial(const TrialSpec& spec, const Programs& programs) {
  TrialResult r;
  r.spec = spec;
  const std::string& work = spec.work_dir;
  std::filesystem::create_directories(work);
  std::string name = spec.runtime + "-" + std::to_string(static_cast<int>(spec.rate_mib)) + "-" +
                     spec.config + "-" + std::to_string(spec.index);
  std::string relative = "/oomsentinel-race-" + std::to_string(::getpid());
  std::string dir = std::string(spec.cgroup_v2 ? kV2Root : kV1Root) + relative;
  if (spec.cgroup_v2)
    writeFile(std::string(kV2Root) + "/cgroup.subtree_control", "+memory", nullptr);
  ::rmdir(dir.c_str());
  if (::mkdir(dir.c_str(), 0755) != 0) {
    r.note = "mkdir " + dir + ": " + std::strerror(errno);
    return r;
  }
  std::string err;
  std::string limit = std::to_string(spec.limit_bytes);
  if (!writeFile(dir + (spec.cgroup_v2 ? "/memory.max" : "/memory.limit_in_bytes"), limit, &err)) {
    r.note = err;
    ::rmdir(dir.c_str());
    return r;
  }
  if (spec.cgroup_v2)
    writeFile(dir + "/memory.swap.max", "0", nullptr);  // absent without swap accounting
  else if (::access((dir + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
    writeFile(dir + "/memory.memsw.limit_in_bytes", limit, nullptr);

  // The leaker: each runtime's example, prefilled to a bit over half the limit so that a slow
  // leak does not spend most of the trial far from the threshold.
  std::string rate = std::to_string(static_cast<int>(spec.rate_mib)) + "MiB/s";
  std::vector<std::string> leak;
  std::string target_yaml;
  bool inprocess = spec.config == "go-inprocess";
  if (spec.runtime == "cpp") {
    std::string prefix = work + "/cpp-heap";
    leak = {"/usr/bin/env",
            "HEAPPROFILE=" + prefix,
            "HEAPPROFILESIGNAL=12",
            programs.cpp_leak,
            "--rate",
            rate,
            "--prefill",
            "150MiB"};
    target_yaml = "    gperftools: {heap_prefix: " + prefix + ", signal: SIGUSR2}\n";
  } else if (spec.runtime == "go") {
    std::string addr = "127.0.0.1:" + std::to_string(freeLoopbackPort());
    leak = {programs.go_leak, "--listen", addr,        "--rate", rate,
            "--churn",        "0",        "--prefill", "140MiB"};
    if (inprocess) {
      leak.push_back("--self-profile");
      leak.push_back(work + "/self-profile");
      std::filesystem::create_directories(work + "/self-profile");
    }
    target_yaml = "    go: {pprof_url: 'http://" + addr + "', profiles: [heap]}\n";
  } else {
    // A maximum heap above the limit: the common misconfiguration that ends in the kernel's
    // kill rather than an OutOfMemoryError. A small young generation makes the old one grow
    // with each promotion; with the default sizing this JVM grows its heap in one ~55 MiB step
    // (from 75% to 97% of the limit), which no poll can split (bench/README.md).
    leak = {"/usr/bin/env",
            "JAVA_LEAK_OPTS=-Xms64m -Xmx2g -Xmn16m -XX:+UseSerialGC",
            programs.java_leak,
            "--rate",
            rate,
            "--chunk",
            "256KiB",
            "--prefill",
            "100MiB"};
    target_yaml = "    jvm: {perfdata: true, class_histogram: true}\n";
  }

  pid_t daemon = -1;
  int metrics_port = freeLoopbackPort();
  if (!inprocess) {
    std::string config =
        pollYaml(spec.config) + "dump: {dir: " + work +
        "/incidents, min_free: 0, timeout: 20s, throttle_records: " + work +
        "/throttle}\n"
        "alerts:\n  metrics: {listen: '127.0.0.1:" +
        std::to_string(metrics_port) + "'}\n" +
        (spec.alertmanager.empty()
             ? ""
             : "  alertmanager: {urls: ['" + spec.alertmanager + "'], resend_interval: 1m}\n") +
        "targets:\n  - name: " + name + "\n    cgroup: " + relative + "\n" + target_yaml +
        (spec.config == "adaptive-throttle" ? "    throttle_during_dump: {max_duration: 5s}\n"
                                            : "") +
        // "defaults": no rules of its own, the built-in ones (rules/defaults.cc) as shipped.
        (spec.config.rfind("defaults", 0) == 0
             ? std::string()
             : "rules:\n  - name: oom-imminent\n    expr: working_set_ratio > " +
                   std::to_string(static_cast<int>(std::lround(spec.threshold * 100))) +
                   "%\n    severity: critical\n    actions: [log, dump" +
                   (spec.alertmanager.empty() ? "" : ", alert") + "]\n");
    std::ofstream(work + "/config.yaml") << config;
    daemon = spawn({programs.oomsentinel, "run", "--config", work + "/config.yaml", "--state-file",
                    "none", "--log-format", "json"},
                   work + "/daemon.log");
    bool ready = false;
    for (int i = 0; i < 200 && !ready; ++i) {
      ready = !httpGet("http://127.0.0.1:" + std::to_string(metrics_port) + "/readyz").empty();
      if (!ready) sleepMs(50);
    }
    if (!ready) {
      r.note = "oomsentinel did not become ready: " + slurp(work + "/daemon.log").substr(0, 400);
      stop(daemon, 2000);
      ::rmdir(dir.c_str());
      return r;
    }
  }

  if (spec.config == "defaults-watched") {
    // The daemon has watched the quiet cgroup for longer than time_to_oom needs (a fit over at
    // least a fifth of its 10 s window) before the leak begins: a workload watched for a while,
    // not one that leaks from its first second (the "defaults" configuration).
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  if (!inprocess) {
    // The leak starts at a random phase of the daemon's slow tick (which began when it got
    // ready): otherwise every trial would meet the poll schedule at the same point, and a fixed
    // poll would look always lucky or always late.
    double slow = spec.config.rfind("adaptive", 0) == 0
                      ? 1.0
                      : std::atof(spec.config.c_str() + spec.config.rfind('-') + 1);
    std::random_device seed;
    std::uniform_real_distribution<double> phase(0, slow);
    std::this_thread::sleep_for(std::chrono::duration<double>(phase(seed)));
  }
  Sampler sampler;
  double limit_bytes = static_cast<double>(spec.limit_bytes);
  std::thread sampling(
      [&] { sampler.run(dir, spec.cgroup_v2, spec.threshold * limit_bytes, limit_bytes); });
  std::atomic<bool> am_stop{false};
  std::atomic<double> alerted{0};
  std::thread am_poll([&] {
    if (spec.alertmanager.empty() || inprocess) return;
    // The dump rule's alert only: as shipped, the built-in warnings (near-limit, fast-growth)
    // alert earlier.
    std::string url = spec.alertmanager + "/api/v2/alerts?filter=target%3D%22" + name +
                      "%22&filter=alertname%3D%22oom-imminent%22";
    while (!am_stop.load()) {
      std::string body = httpGet(url);
      auto j = nlohmann::json::parse(body, nullptr, false);
      if (j.is_array() && !j.empty()) {
        alerted = wallNow();
        return;
      }
      sleepMs(20);
    }
  });

  r.started = wallNow();
  pid_t leaker = spawn(leak, work + "/leaker.log", dir + "/cgroup.procs");
  int status = 0;
  double deadline = r.started + 120;
  while (wallNow() < deadline) {
    if (::waitpid(leaker, &status, WNOHANG) == leaker) {
      r.killed = wallNow();
      break;
    }
    timespec d{0, 1'000'000};
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &d, nullptr);
  }
  if (r.killed == 0) {
    ::kill(leaker, SIGKILL);
    ::waitpid(leaker, &status, 0);
    r.note = "the kernel did not kill the leaker within 120 s";
  } else {
    r.oom_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (!r.oom_killed)
      r.note = "the leaker ended without SIGKILL (status " + std::to_string(status) + ")";
  }
  sampler.stop = true;
  sampling.join();
  // An alert on its way when the kill came is still worth timing; a second is plenty.
  for (int i = 0; i < 50 && alerted.load() == 0 && !spec.alertmanager.empty() && !inprocess; ++i)
    sleepMs(20);
  am_stop = true;
  am_poll.join();
  r.alerted = alerted.load();
  r.crossed = sampler.crossed;
  if (sampler.below > 0 && sampler.crossed > sampler.below)
    r.achieved_mib_s = 0.1 * limit_bytes / (1 << 20) / (sampler.crossed - sampler.below);
  r.peak_ratio = sampler.peak;
  stop(daemon, 10000);

  if (inprocess) {
    // go-leak: "<RFC3339Nano> self-profile written kept=... num_gc=... path=<p> took=<d>"
    std::istringstream lines(slurp(work + "/leaker.log"));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(" self-profile written") == std::string::npos) continue;
      double at = parseRfc3339(line.substr(0, line.find(' ')));
      auto t = line.find(" took=");
      double took = t == std::string::npos
                        ? -1
                        : parseGoDuration(line.substr(t + 6, line.find(' ', t + 6) - t - 6));
      if (at > 0 && took >= 0) {
        r.published = at;
        r.fired = at - took;
        r.dumper_result = "ok";
      }
      break;
    }
    if (r.published == 0) {
      if (slurp(work + "/leaker.log").find("self-profile failed") != std::string::npos)
        r.dumper_result = "failed";
    }
  } else {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(work + "/incidents", ec)) {
      std::string base = e.path().filename().string();
      if (base.rfind(".partial", 0) == 0) continue;
      auto m = nlohmann::json::parse(slurp(e.path().string() + "/manifest.json"), nullptr, false);
      if (!m.is_object()) continue;
      double published = parseRfc3339(m.value("published_at", ""));
      if (r.published != 0 && published >= r.published) continue;
      r.published = published;
      r.fired = parseRfc3339(m.value("fired_at", ""));
      r.dumper_result = "(not run)";
      if (m.contains("dumps"))
        for (const auto& d : m["dumps"])
          if (d.value("dumper", "") == dumperOf(spec.runtime))
            r.dumper_result = d.value("result", "");
    }
    if (r.fired == 0) {
      // No bundle: the firing, if any, is in the log.
      std::istringstream lines(slurp(work + "/daemon.log"));
      for (std::string line; std::getline(lines, line);) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.value("msg", "") == "rule transition" &&
            j.value("rule", "") == "oom-imminent" && j.value("state", "") == "firing") {
          r.fired = parseRfc3339(j.value("time", ""));
          break;
        }
      }
    }
  }
  r.captured = r.oom_killed && r.published > 0 && r.published < r.killed && r.dumper_result == "ok";
  if (!r.captured && r.note.empty()) {
    auto ms = [](double s) { return std::to_string(static_cast<int>(std::lround(s * 1000))); };
    if (r.fired == 0 && r.crossed > 0 && r.killed > 0)
      r.note = "never fired: killed " + ms(r.killed - r.crossed) + " ms after the crossing";
    else if (r.fired == 0)
      r.note = "never fired";
    else if (r.fired >= r.killed)
      r.note = "fired " + ms(r.fired - r.killed) + " ms after the kill";
    else if (r.published == 0)
      r.note = "fired " + ms(r.killed - r.fired) + " ms before the kill; no bundle finished";
    else if (r.published >= r.killed)
      r.note = "published " + ms(r.published - r.killed) + " ms after the kill (" +
               r.dumper_result + ")";
    else
      r.note = "dumper " + r.dumper_result;
  }
  for (int i = 0; i < 200 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) sleepMs(20);
  return r;
}

}  // namespace oomsentinel::race
