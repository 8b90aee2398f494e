#include "bench/daemon_bench.h"

#include <time.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace oomsentinel::bench {

volatile sig_atomic_t g_stop = 0;
void requestStop(int) { g_stop = 1; }

double monoNow() {
  timespec t;
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

bool sleepFor(double seconds) {
  double end = monoNow() + seconds;
  while (!g_stop) {
    double left = end - monoNow();
    if (left <= 0) return true;
    double step = std::min(left, 0.05);
    timespec t{static_cast<time_t>(step),
               static_cast<long>((step - static_cast<long>(step)) * 1e9)};
    ::nanosleep(&t, nullptr);
  }
  return false;
}

std::string summarizeLog(const std::string& log,
                         const std::function<std::string(std::string)>& message) {
  std::vector<std::pair<std::string, int>> seen;
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    start = end + 1;
    std::size_t level = line.find(" WARNING ");
    if (level == std::string::npos) level = line.find(" ERROR ");
    if (level == std::string::npos) continue;
    std::string text = message(line.substr(level + 1));
    auto it = std::find_if(seen.begin(), seen.end(), [&](auto& p) { return p.first == text; });
    if (it == seen.end())
      seen.emplace_back(text, 1);
    else
      ++it->second;
  }
  std::string out;
  for (const auto& [text, n] : seen) out += "    " + std::to_string(n) + " x " + text + "\n";
  return out;
}

std::string messageBeforeTarget(std::string text) {
  if (std::size_t t = text.find(" target="); t != std::string::npos) text.erase(t);
  return text;
}

}  // namespace oomsentinel::bench
