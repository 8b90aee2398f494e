#include "tests/support/http_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace oomsentinel::testing {

ServerStep ServerStep::reply(int status, const std::string& body, const std::string& content_type) {
  ServerStep s;
  s.raw = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
          body;
  return s;
}

HttpTestServer::HttpTestServer(std::vector<ServerStep> script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("bind/listen failed");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  thread_ = std::thread([this] { serve(); });
}

HttpTestServer::~HttpTestServer() {
  (void)!::write(stop_pipe_[1], "x", 1);
  thread_.join();
  for (auto& t : handlers_) t.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

std::string HttpTestServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<std::string> HttpTestServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void HttpTestServer::setScript(std::vector<ServerStep> script) {
  std::lock_guard lock(mu_);
  script_ = std::move(script);
}

void HttpTestServer::serve() {
  std::size_t next = 0;
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    ServerStep step;
    {
      std::lock_guard lock(mu_);
      step = script_.empty() ? ServerStep::reply(200, "")
                             : script_[std::min(next, script_.size() - 1)];
      ++next;
    }
    handlers_.emplace_back([this, fd, step] {
      handle(fd, step);
      ::close(fd);
    });
  }
}

void HttpTestServer::handle(int fd, const ServerStep& step) {
  // Read until the end of the headers, plus a Content-Length body when there is one.
  std::string req;
  char buf[4096];
  std::size_t want = std::string::npos;
  while (want == std::string::npos || req.size() < want) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, 2000) <= 0 || p[1].revents) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    req.append(buf, static_cast<std::size_t>(n));
    std::size_t end = req.find("\r\n\r\n");
    if (end != std::string::npos && want == std::string::npos) {
      want = end + 4;
      std::size_t cl = req.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) want += std::stoul(req.substr(cl + 16));
    }
  }
  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
  }
  switch (step.kind) {
    case ServerStep::Kind::kReply:
      (void)!::write(fd, step.raw.data(), step.raw.size());
      break;
    case ServerStep::Kind::kHang: {
      pollfd p = {stop_pipe_[0], POLLIN, 0};
      ::poll(&p, 1, -1);
      break;
    }
    case ServerStep::Kind::kTrickle:
      for (char c : step.raw) {
        if (::write(fd, &c, 1) != 1) break;
        pollfd p = {stop_pipe_[0], POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(step.delay.count())) > 0) break;
      }
      break;
    case ServerStep::Kind::kClose:
      break;
  }
}

}  // namespace oomsentinel::testing
