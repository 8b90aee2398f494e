#include "bench/log_summary.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace oomsentinel::bench {

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
