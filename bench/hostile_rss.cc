// bench/: benchmarks and their recorded results.
// bench_hostile_rss: the resident memory of the real `oomsentinel run` daemon while the targets it
// watches answer its runtime fetches (Prometheus /metrics, Go expvar, Go pprof) with hostile
// bodies: 4 MiB pages at the cap full of series and labels, 4 MiB expvar JSON (deep nesting, huge
// arrays, long strings), endless bodies (close-delimited, chunked forever, Content-Length 10 GiB),
// a byte a second, and pprof profiles far past the artifact cap when a dump fires; against a
// baseline of as many well-behaved targets, run in the same invocation. Issue 18's bound: the
// daemon's RSS stays under 64 MiB whatever a target answers. README.md has the recorded figures.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/daemon_bench.h"

namespace {

constexpr const char* kUsage =
    "usage: bench_hostile_rss --oomsentinel PATH [--targets N] [--seconds S] [--bound-mib M]\n"
    "                         [--scenarios a,b,...] [--csv FILE]\n"
    "Runs `oomsentinel run` once per scenario against N targets (default 12) served by a child\n"
    "process of this benchmark (every target is `pid:` of that child, with its own endpoint), for\n"
    "S seconds (default 15) after every endpoint was fetched once, sampling the daemon's\n"
    "/proc/PID/status (VmRSS, VmHWM) every 50 ms. Scenarios: baseline (small valid answers),\n"
    "prom (4 MiB /metrics pages), expvar (4 MiB expvar JSON), endless (no length, chunked\n"
    "forever, Content-Length: 10 GiB), drip (a byte a second), mixed (all of these at once), "
    "crowd\n"
    "(half 4 MiB answers, half small valid ones: are the small ones still read?), dump\n"
    "(a rule fires; /debug/pprof answers without end, cut at the artifact cap). --csv writes the\n"
    "RSS over time. Exit 0: every peak under the bound (default 64 MiB); 1: a peak over it;\n"
    "2: a setup failure (the daemon died, an endpoint was never fetched).\n";

using oomsentinel::bench::g_stop;
using oomsentinel::bench::monoNow;
using oomsentinel::bench::sleepFor;

// ---------------------------------------------------------------------------------------------
// What a target answers.

enum class Behaviour {
  kOkMetrics,       // a small valid Prometheus page
  kOkExpvar,        // a small valid expvar document
  kPromHuge,        // a Prometheus page of exactly the 4 MiB cap: many series, 16 labels each
  kExpvarHuge,      // 4 MiB of expvar JSON: 31 levels deep, huge arrays, long escaped strings
  kEndlessClose,    // 200, no Content-Length, Connection: close, and bytes without end
  kChunkedForever,  // 200, Transfer-Encoding: chunked, 64 KiB chunks without end
  kHugeLength,      // 200, Content-Length: 10 GiB, and bytes without end
  kDripBody,        // a valid header, then the body a byte a second
  kDripHeader,      // the status line and headers themselves a byte a second
  kPprofEndless,    // /debug/vars small and valid; /debug/pprof/* an endless 200
};

const char* behaviourName(Behaviour b) {
  switch (b) {
    case Behaviour::kOkMetrics:
      return "ok-metrics";
    case Behaviour::kOkExpvar:
      return "ok-expvar";
    case Behaviour::kPromHuge:
      return "prom-4MiB";
    case Behaviour::kExpvarHuge:
      return "expvar-4MiB";
    case Behaviour::kEndlessClose:
      return "endless-close";
    case Behaviour::kChunkedForever:
      return "chunked-forever";
    case Behaviour::kHugeLength:
      return "length-10GiB";
    case Behaviour::kDripBody:
      return "drip-body";
    case Behaviour::kDripHeader:
      return "drip-header";
    case Behaviour::kPprofEndless:
      return "pprof-endless";
  }
  return "?";
}

bool isExpvar(Behaviour b) {
  return b == Behaviour::kOkExpvar || b == Behaviour::kExpvarHuge || b == Behaviour::kPprofEndless;
}

bool isGood(Behaviour b) { return b == Behaviour::kOkMetrics || b == Behaviour::kOkExpvar; }

constexpr std::size_t kCap = 4 << 20;  // RuntimeEndpointSpec::max_bytes's default

std::string okMetrics() {
  return "# HELP go_memstats_heap_alloc_bytes Bytes allocated and still in use.\n"
         "# TYPE go_memstats_heap_alloc_bytes gauge\n"
         "go_memstats_heap_alloc_bytes 1.2345e+07\n"
         "# TYPE go_memstats_alloc_bytes_total counter\n"
         "go_memstats_alloc_bytes_total 9.87654e+08\n"
         "# TYPE go_gc_duration_seconds summary\n"
         "go_gc_duration_seconds{quantile=\"0.5\"} 0.0001\n"
         "go_gc_duration_seconds_sum 0.25\n"
         "go_gc_duration_seconds_count 1234\n"
         "go_memstats_gc_cpu_fraction 0.001\n";
}

std::string okExpvar() {
  return "{\"cmdline\":[\"/srv/app\"],\"memstats\":{\"Alloc\":12345678,\"TotalAlloc\":987654321,"
         "\"HeapAlloc\":12345678,\"HeapInuse\":14000000,\"HeapSys\":30000000,"
         "\"NextGC\":24000000,\"NumGC\":1234,\"PauseTotalNs\":250000000,"
         "\"GCCPUFraction\":0.001,\"Mallocs\":100000,\"Frees\":90000}}\n";
}

// Exactly `size` bytes of Prometheus text: HELP/TYPE lines, mapped families (so the parser
// matches and sums them) and unmapped ones, every sample with 16 labels of distinct values, and
// now and then a line with a 60 KiB label value (the parser refuses lines over 64 KiB).
std::string promHuge(std::size_t size) {
  std::string s;
  s.reserve(size);
  const char* families[] = {"go_memstats_heap_alloc_bytes", "jvm_memory_used_bytes",
                            "go_gc_duration_seconds_count", "app_cache_entries",
                            "nodejs_heap_size_used_bytes",  "http_requests_total"};
  std::string longv(60 << 10, 'v');  // under the parser's 64 KiB line cap
  for (std::size_t i = 0;; ++i) {
    std::string line;
    const char* f = families[i % std::size(families)];
    if (i % 50 == 0)
      line =
          std::string("# HELP ") + f + " A family with very many series.\n# TYPE " + f + " gauge\n";
    line += f;
    line += '{';
    if (std::string_view(f) == "jvm_memory_used_bytes") line += "area=\"heap\",";
    for (int l = 0; l < 16; ++l) {
      line += "label_" + std::to_string(l) + "=\"" + std::to_string(i * 16 + l);
      if (i % 997 == 0 && l == 0) line += longv;
      line += l == 15 ? "\"" : "\",";
    }
    line += "} " + std::to_string(i) + "\n";
    if (s.size() + line.size() + 3 > size) break;
    s += line;
  }
  // A comment pads the page to exactly `size` (shorter than the longest line above).
  s += "# ";
  s.append(size - s.size() - 1, 'p');
  s += '\n';
  return s;
}

// Exactly `size` bytes of valid expvar JSON.
std::string expvarHuge(std::size_t size) {
  std::string s =
      "{\"cmdline\":[\"/srv/app\"],\"memstats\":{\"HeapAlloc\":12345678,\"TotalAlloc\":987654321,"
      "\"NumGC\":1234,\"PauseTotalNs\":250000000,\"GCCPUFraction\":0.001,\"PauseNs\":[";
  for (int i = 0; i < 256; ++i) s += (i ? "," : "") + std::to_string(i * 1000);
  s += "],\"BySize\":[";
  for (int i = 0; i < 68; ++i)
    s += std::string(i ? "," : "") + "{\"Size\":" + std::to_string(i * 16) +
         ",\"Mallocs\":1,\"Frees\":1}";
  s += "]},\"deep\":";
  for (int i = 0; i < 31; ++i) s += i % 2 ? "{\"k\":" : "[";
  s += "0";
  for (int i = 30; i >= 0; --i) s += i % 2 ? "}" : "]";
  // A huge array of numbers, an array of many small objects, then one long string with escapes
  // padded so that the document ends exactly at `size`.
  s += ",\"numbers\":[";
  for (int i = 0; s.size() < size / 3; ++i) s += (i ? "," : "") + std::to_string(i * 7919);
  s += "],\"objects\":[";
  for (int i = 0; s.size() < 2 * size / 3; ++i)
    s += std::string(i ? "," : "") + "{\"name\":\"o" + std::to_string(i) + "\",\"v\":[1,2.5,null]}";
  s += "],\"text\":\"";
  const std::string tail = "\"}\n";
  const std::string piece = "\\\"\\u00e9\\n abcdefghij ";
  while (s.size() + piece.size() + tail.size() <= size) s += piece;
  while (s.size() + tail.size() < size) s += 'x';
  s += tail;
  return s;
}

// ---------------------------------------------------------------------------------------------
// The server: a child process with one listening socket per target, a thread per connection.

struct Counters {  // in memory shared with the child
  std::atomic<std::uint64_t> requests[64];
  std::atomic<std::uint64_t> bytes[64];
};

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct Pages {
  std::string ok_metrics = okMetrics(), ok_expvar = okExpvar();
  std::string prom = promHuge(kCap), expvar = expvarHuge(kCap);
  std::string junk = std::string(64 << 10, 'x');
};

void serveConnection(int fd, Behaviour b, const Pages& pages, Counters* counters, int index) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    req.append(buf, static_cast<std::size_t>(n));
  }
  counters->requests[index]++;
  std::string path;
  if (auto sp = req.find(' '); sp != std::string::npos)
    path = req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
  std::uint64_t sent = 0;
  auto send = [&](std::string_view d) {
    if (!sendAll(fd, d)) return false;
    sent += d.size();
    counters->bytes[index] += d.size();
    return true;
  };
  auto whole = [&](const std::string& body, const char* type) {
    send("HTTP/1.1 200 OK\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n");
    send(body);
  };
  // Odd targets send their 4 MiB close-delimited (no Content-Length): the reader cannot size its
  // buffer up front and grows it as the bytes come.
  auto closeDelimited = [&](const std::string& body, const char* type) {
    send("HTTP/1.1 200 OK\r\nContent-Type: " + std::string(type) + "\r\nConnection: close\r\n\r\n");
    send(body);
  };
  switch (b) {
    case Behaviour::kOkMetrics:
      whole(pages.ok_metrics, "text/plain");
      break;
    case Behaviour::kOkExpvar:
      whole(pages.ok_expvar, "application/json");
      break;
    case Behaviour::kPromHuge:
      if (index % 2)
        closeDelimited(pages.prom, "text/plain");
      else
        whole(pages.prom, "text/plain");
      break;
    case Behaviour::kExpvarHuge:
      if (index % 2)
        closeDelimited(pages.expvar, "application/json");
      else
        whole(pages.expvar, "application/json");
      break;
    case Behaviour::kEndlessClose:
      if (send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"))
        while (!g_stop && send(pages.junk)) {
        }
      break;
    case Behaviour::kChunkedForever:
      if (send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"))
        while (!g_stop && send("10000\r\n") && send(pages.junk) && send("\r\n")) {
        }
      break;
    case Behaviour::kHugeLength:
      if (send(
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10737418240\r\n\r\n"))
        while (!g_stop && send(pages.junk)) {
        }
      break;
    case Behaviour::kDripBody:
      if (send("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n"))
        while (!g_stop && send("x") && sleepFor(1)) {
        }
      break;
    case Behaviour::kDripHeader: {
      std::string_view head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: ";
      for (std::size_t i = 0; !g_stop; ++i)
        if (!send(i < head.size() ? head.substr(i, 1) : "y") || !sleepFor(1)) break;
      break;
    }
    case Behaviour::kPprofEndless:
      if (path.rfind("/debug/pprof/", 0) == 0) {
        if (send("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Connection: close\r\n\r\n"))
          while (!g_stop && send(pages.junk)) {
          }
      } else {
        whole(pages.ok_expvar, "application/json");
      }
      break;
  }
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

[[noreturn]] void serverMain(const std::vector<int>& listeners,
                             const std::vector<Behaviour>& behaviours, Counters* counters) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  static const Pages pages;
  std::vector<std::thread> acceptors;
  for (std::size_t i = 0; i < listeners.size(); ++i)
    acceptors.emplace_back([&, i] {
      for (;;) {
        int fd = ::accept4(listeners[i], nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::thread(serveConnection, fd, behaviours[i], std::cref(pages), counters,
                    static_cast<int>(i))
            .detach();
      }
    });
  for (auto& t : acceptors) t.join();
  ::_exit(0);
}

// ---------------------------------------------------------------------------------------------
// The daemon.

struct Memory {
  long rss_kib = -1, hwm_kib = -1;
};

Memory sampleMemory(pid_t pid) {
  Memory m;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kib = std::atol(line.c_str() + 6);
  }
  return m;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A warning's or error's message as grouped in the record of what the daemon made of the
// answers: the message and its error (or why) field, without what varies by target or by line.
std::string groupedMessage(std::string text) {
  // The target, its URL and the rest of the fields vary by target.
  std::string error;
  std::size_t e = text.find(" error=");
  if (e == std::string::npos) e = text.find(" why=");
  if (e != std::string::npos) {
    error = text.substr(e);
    if (std::size_t end = error.find(" stale_after="); end != std::string::npos) error.erase(end);
  }
  text = oomsentinel::bench::messageBeforeTarget(std::move(text)) + error;
  // URLs differ only by port: keep them out of the grouping.
  for (std::size_t p = text.find("127.0.0.1:"); p != std::string::npos;
       p = text.find("127.0.0.1:", p + 1)) {
    std::size_t e = p + 10;
    while (e < text.size() && std::isdigit(static_cast<unsigned char>(text[e]))) ++e;
    text.replace(p, e - p, "target");
  }
  // Figures (bytes held, ports) differ from line to line: group without them.
  std::string key;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool digit = std::isdigit(static_cast<unsigned char>(text[i]));
    if (!digit) {
      key += text[i];
    } else if (key.empty() || key.back() != 'N') {
      key += 'N';
    }
    if (digit)
      while (i + 1 < text.size() && (std::isdigit(static_cast<unsigned char>(text[i + 1])) ||
                                     (text[i + 1] == '.' && i + 2 < text.size() &&
                                      std::isdigit(static_cast<unsigned char>(text[i + 2])))))
        ++i;
  }
  if (key.size() > 300) key = key.substr(0, 300) + "...";
  return key;
}

struct Scenario {
  std::string name;
  std::string what;
  std::vector<Behaviour> rotation;  // target i behaves as rotation[i % size]
  bool dump = false;
};

struct Outcome {
  std::string name;
  int good_targets = 0, good_failures = 0;  // well-behaved targets, their logged failures
  long peak_kib = -1, start_kib = -1, end_kib = -1;
  std::vector<std::pair<double, long>> series;  // seconds since the window began, VmRSS KiB
  std::uint64_t requests = 0, bytes = 0;
  std::string log_summary, failure;
  int incidents = 0;
};

struct Options {
  std::string oomsentinel, csv;
  int targets = 12;
  double seconds = 15;
  double bound_mib = 64;
  std::vector<std::string> scenarios;
};

int countDirs(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_directory()) ++n;
  return n;
}

Outcome runScenario(const Options& opt, const Scenario& sc, const std::string& tmp) {
  Outcome out;
  out.name = sc.name;
  int n = sc.dump ? std::min(opt.targets, 4) : opt.targets;
  std::vector<int> listeners;
  std::vector<int> ports;
  std::vector<Behaviour> behaviours;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 128) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      out.failure = std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno);
      return out;
    }
    listeners.push_back(fd);
    ports.push_back(ntohs(a.sin_port));
    behaviours.push_back(sc.rotation[static_cast<std::size_t>(i) % sc.rotation.size()]);
  }
  auto* counters = static_cast<Counters*>(
      ::mmap(nullptr, sizeof(Counters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  new (counters) Counters{};
  pid_t server = ::fork();
  if (server == 0) serverMain(listeners, behaviours, counters);
  for (int fd : listeners) ::close(fd);

  std::string incidents = tmp + "/incidents-" + sc.name;
  std::filesystem::create_directories(incidents);
  std::ostringstream cfg;
  cfg << "poll: { interval: 100ms, events: false }\n";
  if (sc.dump)
    cfg << "dump: { dir: " << incidents
        << ", max_artifact_bytes: 64MiB, min_free: 0, timeout: 10s }\n";
  cfg << "targets:\n";
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "t%02d", i);
    std::string base = "http://127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(i)]);
    cfg << "  - name: " << name << "\n    pid: " << server << "\n";
    if (sc.dump)
      cfg << "    go: { pprof_url: " << base << ", profiles: [heap, \"goroutine?debug=2\"] }\n"
          << "    dumpers: [go_pprof]\n";
    else if (isExpvar(behaviours[static_cast<std::size_t>(i)]))
      cfg << "    go: { expvar_url: " << base << "/debug/vars }\n";
    else
      cfg << "    metrics_url: " << base << "/metrics\n";
    cfg << "    runtime: { interval: 100ms, timeout: 2s, stale_after: 5s }\n";
  }
  if (sc.dump)
    cfg << "rules:\n  - name: always\n    expr: heap_alloc_bytes > 0\n    cooldown: 1h\n"
        << "    actions: [dump]\n";
  else
    cfg << "rules: []\n";
  std::string cfg_path = tmp + "/" + sc.name + ".yaml";
  std::ofstream(cfg_path) << cfg.str();

  std::string log_path = tmp + "/" + sc.name + ".log";
  pid_t daemon = ::fork();
  if (daemon == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    int lf = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(lf, 1);
    ::dup2(lf, 2);
    ::execl(opt.oomsentinel.c_str(), opt.oomsentinel.c_str(), "run", "--config", cfg_path.c_str(),
            "--state-file", "none", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto exited = [&]() -> bool {
    int st;
    return ::waitpid(daemon, &st, WNOHANG) == daemon;
  };
  auto cleanup = [&] {
    ::kill(daemon, SIGTERM);
    double give_up = monoNow() + 5;
    int st;
    while (::waitpid(daemon, &st, WNOHANG) == 0 && monoNow() < give_up) sleepFor(0.05);
    if (::waitpid(daemon, &st, WNOHANG) == 0) {
      ::kill(daemon, SIGKILL);
      ::waitpid(daemon, &st, 0);
    }
    ::kill(server, SIGKILL);
    ::waitpid(server, &st, 0);
    for (int i = 0; i < n; ++i) {
      out.requests += counters->requests[i];
      out.bytes += counters->bytes[i];
    }
    ::munmap(counters, sizeof(Counters));
    std::string log = readFile(log_path);
    out.log_summary = oomsentinel::bench::summarizeLog(log, groupedMessage);
    // The failures of the well-behaved targets (the daemon logs each change of an endpoint's
    // error once, so this counts the times they went from answering to failing).
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      std::size_t t = line.find(" target=t");
      if (line.find("runtime endpoint failed") == std::string::npos || t == std::string::npos)
        continue;
      int i = std::atoi(line.c_str() + t + 9);
      if (i >= 0 && i < n && isGood(behaviours[static_cast<std::size_t>(i)])) ++out.good_failures;
    }
    for (Behaviour b : behaviours) out.good_targets += isGood(b);
    out.incidents = countDirs(incidents);
  };

  // Warm-up: until every endpoint was asked once (the pprof ones: every target's expvar).
  double give_up = monoNow() + 30;
  for (;;) {
    int asked = 0;
    for (int i = 0; i < n; ++i) asked += counters->requests[i] > 0;
    if (asked == n) break;
    if (exited() || monoNow() > give_up || g_stop) {
      out.failure = exited() ? "the daemon exited while starting"
                             : "not every endpoint was fetched within 30 s (" +
                                   std::to_string(asked) + " of " + std::to_string(n) + ")";
      cleanup();
      out.failure += "; its log:\n" + readFile(log_path).substr(0, 4000);
      return out;
    }
    sleepFor(0.05);
  }
  double start = monoNow();
  out.start_kib = sampleMemory(daemon).rss_kib;
  while (monoNow() - start < opt.seconds && !g_stop) {
    Memory m = sampleMemory(daemon);
    if (m.rss_kib < 0) {
      out.failure = "the daemon exited during the window";
      break;
    }
    out.series.emplace_back(monoNow() - start, m.rss_kib);
    out.peak_kib = std::max(out.peak_kib, m.hwm_kib);
    out.end_kib = m.rss_kib;
    sleepFor(0.05);
  }
  cleanup();
  return out;
}

std::vector<Scenario> allScenarios() {
  using B = Behaviour;
  return {
      {"baseline", "small valid /metrics and expvar answers", {B::kOkMetrics, B::kOkExpvar}},
      {"prom",
       "/metrics pages of exactly 4 MiB, 16 labels a series (half without a length)",
       {B::kPromHuge}},
      {"expvar", "expvar JSON of exactly 4 MiB, nested, arrays, escaped strings", {B::kExpvarHuge}},
      {"endless",
       "no length / chunked forever / Content-Length: 10 GiB",
       {B::kEndlessClose, B::kChunkedForever, B::kHugeLength}},
      {"drip", "a byte a second, in the body or in the header", {B::kDripBody, B::kDripHeader}},
      {"mixed",
       "every hostile answer above at once",
       {B::kPromHuge, B::kExpvarHuge, B::kEndlessClose, B::kChunkedForever, B::kHugeLength,
        B::kDripBody, B::kDripHeader}},
      {"crowd",
       "half the targets answer 4 MiB pages, half small valid ones",
       {B::kPromHuge, B::kOkMetrics, B::kExpvarHuge, B::kOkExpvar}},
      {"dump",
       "a rule fires: /debug/pprof answers without end, cut at a 64 MiB artifact cap",
       {B::kPprofEndless},
       true},
  };
}

std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (!v) break;
    ++i;
    if (a == "--oomsentinel") {
      o.oomsentinel = v;
    } else if (a == "--csv") {
      o.csv = v;
    } else if (a == "--targets") {
      o.targets = std::atoi(v);
      if (o.targets < 1 || o.targets > 64) return std::nullopt;
    } else if (a == "--seconds") {
      o.seconds = std::atof(v);
    } else if (a == "--bound-mib") {
      o.bound_mib = std::atof(v);
    } else if (a == "--scenarios") {
      std::stringstream ss(v);
      for (std::string s; std::getline(ss, s, ',');) o.scenarios.push_back(s);
    } else {
      return std::nullopt;
    }
  }
  if (o.oomsentinel.empty() || o.seconds <= 0 || o.bound_mib <= 0) return std::nullopt;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto opt = parseArgs(argc, argv);
  if (!opt) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = oomsentinel::bench::requestStop;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::vector<Scenario> chosen;
  for (const auto& s : allScenarios())
    if (opt->scenarios.empty() ||
        std::find(opt->scenarios.begin(), opt->scenarios.end(), s.name) != opt->scenarios.end())
      chosen.push_back(s);
  if (chosen.empty() || chosen.front().name != "baseline")
    chosen.insert(chosen.begin(), allScenarios().front());  // the ratio needs the baseline

  const char* tmp_env = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp_env && *tmp_env ? tmp_env : "/tmp") + "/hostile-rss-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 2;
  }
  std::string tmp = tmpl;

  std::printf(
      "oomsentinel: %s\n%d targets a scenario (dump: %d), window %.0f s after every "
      "endpoint was fetched once, runtime interval 100ms, timeout 2s, max_bytes 4MiB "
      "(default), VmRSS/VmHWM sampled every 50 ms; bound %.0f MiB\n\n",
      opt->oomsentinel.c_str(), opt->targets, std::min(opt->targets, 4), opt->seconds,
      opt->bound_mib);
  std::fflush(stdout);
  std::vector<Outcome> outcomes;
  for (const auto& sc : chosen) {
    std::string rotation;
    for (Behaviour b : sc.rotation)
      rotation += std::string(rotation.empty() ? "" : ", ") + behaviourName(b);
    std::printf("== %s: %s\n  targets in turn: %s\n", sc.name.c_str(), sc.what.c_str(),
                rotation.c_str());
    std::fflush(stdout);
    Outcome o = runScenario(*opt, sc, tmp);
    if (!o.failure.empty()) {
      std::printf("  FAILED: %s\n", o.failure.c_str());
    } else {
      std::printf(
          "  peak VmHWM %.1f MiB; VmRSS at window start %.1f, end %.1f MiB; %llu "
          "requests served, %.0f MiB sent%s\n",
          static_cast<double>(o.peak_kib) / 1024, static_cast<double>(o.start_kib) / 1024,
          static_cast<double>(o.end_kib) / 1024, static_cast<unsigned long long>(o.requests),
          static_cast<double>(o.bytes) / 1048576,
          sc.dump ? (", " + std::to_string(o.incidents) + " incidents").c_str() : "");
      if (o.good_targets > 0 && sc.name != "baseline")
        std::printf("  the %d well-behaved targets among them: %d failures logged\n",
                    o.good_targets, o.good_failures);
      // RSS over time, once a second.
      std::string line = "  VmRSS MiB each second:";
      double next = 0;
      for (auto [t, kib] : o.series)
        if (t >= next) {
          char b[16];
          std::snprintf(b, sizeof b, " %.1f", static_cast<double>(kib) / 1024);
          line += b;
          next += 1;
        }
      std::printf("%s\n", line.c_str());
    }
    if (!o.log_summary.empty()) std::printf("  the daemon's log:\n%s", o.log_summary.c_str());
    std::printf("\n");
    std::fflush(stdout);
    outcomes.push_back(std::move(o));
    if (g_stop) break;
  }
  std::filesystem::remove_all(tmp);

  if (!opt->csv.empty()) {
    std::ofstream csv(opt->csv);
    csv << "scenario,t_s,vmrss_kib\n";
    for (const auto& o : outcomes)
      for (auto [t, kib] : o.series) {
        char b[64];
        std::snprintf(b, sizeof b, "%.2f", t);
        csv << o.name << "," << b << "," << kib << "\n";
      }
  }

  int rc = 0;
  double base = static_cast<double>(outcomes.front().peak_kib);
  long worst = 0;
  std::printf(
      "| scenario | peak VmHWM (MiB) | / baseline | under %.0f MiB |\n|---|---:|---:|---|\n",
      opt->bound_mib);
  for (const auto& o : outcomes) {
    if (!o.failure.empty()) {
      std::printf("| %s | failed | | |\n", o.name.c_str());
      rc = std::max(rc, 2);
      continue;
    }
    bool under = static_cast<double>(o.peak_kib) < opt->bound_mib * 1024;
    if (!under) rc = std::max(rc, 1);
    if (o.name != "baseline") worst = std::max(worst, o.peak_kib);
    std::printf("| %s | %.1f | %.2fx | %s |\n", o.name.c_str(),
                static_cast<double>(o.peak_kib) / 1024, static_cast<double>(o.peak_kib) / base,
                under ? "yes" : "**NO**");
  }
  std::printf(
      "\nbaseline peak %.1f MiB, hostile peak (worst scenario) %.1f MiB, ratio %.2fx; "
      "bound %.0f MiB: %s\n",
      base / 1024, static_cast<double>(worst) / 1024, static_cast<double>(worst) / base,
      opt->bound_mib,
      rc == 0   ? "kept"
      : rc == 1 ? "BROKEN"
                : "not measured (a scenario failed)");
  return rc;
}
