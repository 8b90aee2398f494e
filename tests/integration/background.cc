#include "tests/integration/background.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "core/http_client.h"

namespace oomsentinel::testing {

Background::Background(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(a[0], a.data());
    _exit(127);
  }
}

Background::~Background() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::optional<std::string> httpGet(const std::string& url) {
  auto parsed = Url::parse(url);
  if (!parsed) return std::nullopt;
  boost::asio::io_context io;
  HttpRequest req;
  req.url = *parsed;
  req.timeout = std::chrono::seconds(2);
  std::optional<std::string> body;
  startHttpRequest(io, req, [&](Result<HttpResponse> r) {
    if (r.ok() && r->status == 200) body = r->body;
  });
  io.run();
  return body;
}

bool waitForHttp(const std::string& url, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (httpGet(url)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace oomsentinel::testing
