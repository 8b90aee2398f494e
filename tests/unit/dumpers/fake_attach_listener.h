// Tests of dumpers/: a listener of the test's own at a JVM's attach socket path
// (/tmp/.java_pid<pid>), speaking the HotSpot attach protocol's server side as a hostile or
// honest JVM would: it reads one request (five NULs) and answers as told. Shared by the JVM
// dumper's tests and its report's.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace oomsentinel::testing {

class FakeListener {
 public:
  using Answer = std::function<void(int fd, const std::atomic<bool>& stop)>;
  FakeListener(std::string path, Answer answer) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
             ::listen(fd_, 4) == 0;
    thread_ = std::thread([this, answer = std::move(answer)] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        ucred cred{};
        socklen_t len = sizeof cred;
        ::getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len);
        // The request ends with its fifth NUL: "1", "jcmd", the command line, "", "".
        std::string req;
        char buf[512];
        while (std::count(req.begin(), req.end(), '\0') < 5) {
          pollfd q{c, POLLIN, 0};
          if (::poll(&q, 1, 2000) <= 0) break;
          ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<std::size_t>(n));
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(req);
          peers_.push_back(cred);
        }
        answer(c, stop_);
        ::close(c);
      }
    });
  }
  ~FakeListener() {
    stop_ = true;
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<ucred> peers() {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<ucred> peers_;
  std::thread thread_;
};

inline bool sendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A listener that answers `reply`, then `more` again and again until it is stopped (an endless
// reply when `more` is not empty).
inline FakeListener::Answer answerWith(std::string reply, std::string more = "") {
  return [reply = std::move(reply), more = std::move(more)](int fd, const std::atomic<bool>& stop) {
    bool ok = sendAll(fd, reply);
    while (ok && !more.empty() && !stop) ok = sendAll(fd, more);
  };
}

}  // namespace oomsentinel::testing
