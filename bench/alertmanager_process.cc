#include "bench/alertmanager_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace oomsentinel::bench {
namespace {

using namespace std::chrono_literals;

constexpr Duration kGiveUp = 10s;  // for readiness

// Interruption: SIGINT/SIGTERM/SIGHUP kill Alertmanager and remove what it was given ----

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};
// Plain data for the handler: only async-signal-safe calls may use it.
pid_t g_child = -1;
char g_files[6][4096] = {};  // unlinked then (directories: rmdir'ed), in this order

void cleanupFromSignal(int sig) {
  if (g_child > 0) {
    ::kill(g_child, SIGKILL);  // SIGKILL: it writes nothing more into the directory
    ::waitpid(g_child, nullptr, 0);
  }
  for (auto& f : g_files)
    if (f[0] != '\0' && ::unlink(f) != 0) ::rmdir(f);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

// One GET run to its end on `io`.
Result<HttpResponse> httpGet(boost::asio::io_context& io, const Url& url, std::size_t max_body) {
  HttpRequest req;
  req.url = url;
  req.timeout = 2s;
  req.max_body = max_body;
  std::optional<Result<HttpResponse>> out;
  io.restart();
  startHttpRequest(io, std::move(req), [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
  io.run();
  return std::move(*out);
}

int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string tail(const std::string& path, std::size_t max) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max ? "..." + text.substr(text.size() - max) : text;
}

Result<std::unique_ptr<Alertmanager>> Alertmanager::start(const std::string& binary, int port) {
  std::unique_ptr<Alertmanager> am(new Alertmanager());
  std::string tmpl = std::filesystem::temp_directory_path() / "oomsentinel-bench-alerts-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return makeError("cannot make a temporary directory", tmpl, errno);
  am->dir_ = tmpl;
  std::string config = am->dir_ + "/am.yml", data = am->dir_ + "/data", log = am->dir_ + "/am.log";
  // Alertmanager's storage holds these two files; the handler removes them and the directories.
  const std::string files[] = {config, log, data + "/nflog", data + "/silences", data, am->dir_};
  for (std::size_t i = 0; i < std::size(files); ++i) {
    if (files[i].size() >= sizeof g_files[i]) return makeError("path too long", files[i]);
    std::strcpy(g_files[i], files[i].c_str());
  }
  for (int sig : kCleanupSignals) ::signal(sig, cleanupFromSignal);
  {
    std::ofstream out(config);
    // group_wait 0: the bench looks at the API, not at notifications; the receiver sends none.
    out << "route: {receiver: sink, group_wait: 0s}\nreceivers: [{name: sink}]\n";
    if (!out) return makeError("cannot write", config, errno);
  }
  if (::mkdir(data.c_str(), 0700) != 0) return makeError("cannot mkdir", data, errno);
  am->port_ = port > 0 ? port : freeLoopbackPort();
  if (am->port_ < 0) return makeError("no free loopback port", "", errno);
  am->url_ = "http://127.0.0.1:" + std::to_string(am->port_);
  std::vector<std::string> argv = {binary, "--config.file=" + config, "--storage.path=" + data,
                                   "--web.listen-address=127.0.0.1:" + std::to_string(am->port_),
                                   "--cluster.listen-address="};
  // Everything the child needs is made before fork: after it only async-signal-safe calls.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) return makeError("cannot open", log, errno);
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int sig : kCleanupSignals) ::signal(sig, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a killed benchmark
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(log_fd);
  if (pid < 0) return makeError("cannot fork", "", errno);
  am->pid_ = g_child = pid;
  // Ready when /-/ready answers 200; an Alertmanager that exited (a port taken) says why in
  // its log.
  SystemClock clock;
  boost::asio::io_context io;
  auto ready = *Url::parse(am->url_ + "/-/ready");
  for (SteadyTime until = clock.steadyNow() + kGiveUp;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      am->pid_ = g_child = -1;
      return makeError("Alertmanager exited (" +
                           (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                              : "signal " + std::to_string(WTERMSIG(status))) +
                           ") before it was ready; its log:\n" + tail(log),
                       binary);
    }
    auto r = httpGet(io, ready);
    if (r.ok() && r->status == 200) break;
    if (clock.steadyNow() > until)
      return makeError("Alertmanager was not ready within 10 s (GET " + ready.str() + ": " +
                           (r.ok() ? "HTTP " + std::to_string(r->status) : r.error().describe()) +
                           "); its log:\n" + tail(log),
                       binary);
    std::this_thread::sleep_for(20ms);
  }
  return am;
}

Alertmanager::~Alertmanager() {
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : kCleanupSignals) sigaddset(&block, sig);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  g_child = -1;
  for (auto& f : g_files) f[0] = '\0';
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  for (int sig : kCleanupSignals) ::signal(sig, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace oomsentinel::bench
