// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The JVM attach reply (dumpers/jvm_attach.h attachAndAsk): what a JVM's attach listener answers
// is the target's, and the daemon reads it in its dump thread. Each input is the whole answer of
// a listener of the harness's own (a socket in the scratch directory, which stands for the JVM's
// /tmp), read by attachAndAsk as the daemon reads it: the status line, then the body into 64 KiB
// of memory. The outcome must be coherent whatever the bytes: a body only with a status, never
// more than the cap, a reason whenever it is not ok. The status line's parser alone is checked on
// the input too.
#include "dumpers/jvm_attach.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "fuzz/scratch.h"

using namespace oomsentinel;

namespace {

// Accepts one connection per input, reads the request (its five NULs), answers the input and
// closes. The input (at most 64 KiB, scripts/fuzz) fits the socket's buffer: the write never
// waits for the reader.
struct FuzzAttachListener {
  int fd = -1;
  std::mutex mu;
  std::condition_variable cv;
  std::string answer;
  bool pending = false;

  FuzzAttachListener() {
    std::string path = fuzz::scratchDir() + "/.java_pid" + std::to_string(::getpid());
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) std::abort();
    std::copy(path.begin(), path.end(), addr.sun_path);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, 4) != 0)
      std::abort();
    std::thread([this] { serve(); }).detach();
  }
  void serve() {
    for (;;) {
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string req;
      char buf[2048];
      while (std::count(req.begin(), req.end(), '\0') < 5) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
      }
      std::string a;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return pending; });
        a = answer;
        pending = false;
      }
      for (std::size_t done = 0; done < a.size();) {
        ssize_t n = ::send(c, a.data() + done, a.size() - done, MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      ::close(c);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FuzzAttachListener* listener = new FuzzAttachListener;
  static const int tmp = ::open(fuzz::scratchDir().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  static const int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  if (tmp < 0 || self < 0) std::abort();
  std::string input(reinterpret_cast<const char*>(data), size);

  auto status = parseAttachStatus(input);
  if (status && (status->body > 11 || status->body > input.size())) std::abort();

  {
    std::lock_guard lock(listener->mu);
    listener->answer = input;
    listener->pending = true;
  }
  listener->cv.notify_one();
  AttachTarget target{tmp, self, ::getpid(), ::geteuid(), ::getegid(), false};
  AttachSink sink;  // into memory, 64 KiB
  static const SystemClock clock;
  AttachOutcome o = attachAndAsk(target, "GC.class_histogram", sink,
                                 clock.steadyNow() + std::chrono::seconds(5), clock);
  if (o.text.size() > sink.max_text || o.body_bytes != o.text.size()) std::abort();
  if (o.exit == kAttachOk || o.exit == kAttachRefused) {
    // A body only after a status line, and all of it or the cap.
    if (!status) std::abort();
    std::size_t body = input.size() - status->body;
    if (o.cut != (body > sink.max_text)) std::abort();
    if (o.text != input.substr(status->body, sink.max_text)) std::abort();
    if ((o.exit == kAttachOk) != (status->status == 0)) std::abort();
  } else {
    if (o.reason.empty() || !o.text.empty()) std::abort();
    if (o.exit == kAttachTimedOut) std::abort();  // the listener always answers and closes
  }
  return 0;
}
