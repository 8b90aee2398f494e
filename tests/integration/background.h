// tests/integration: the real programs the end-to-end tests run beside oomsentinel (Debian's
// Alertmanager and Prometheus), and the plain HTTP GET the tests read their APIs with.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace oomsentinel::testing {

// argv started in the background, stdout and stderr to `log`; SIGTERM and reaped when it goes.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& log);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// The body of a 200 answer to GET url (2 s timeout); nullopt for anything else.
std::optional<std::string> httpGet(const std::string& url);

// Polls GET url every 50 ms until it answers 200, for at most `seconds`.
bool waitForHttp(const std::string& url, double seconds);

}  // namespace oomsentinel::testing
