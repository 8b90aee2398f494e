// alerts/: what the two halves of alertmanager.h share; private to alerts/. The payload (labels,
// annotations, the JSON POSTed) is in alertmanager_payload.cc, the notifier (spec, queue, thread,
// delivery) in alertmanager.cc.
#pragma once

#include <string_view>

namespace oomsentinel::alertmanager_detail {

inline bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

inline bool isReservedLabel(std::string_view name) {
  return name == "alertname" || name == "severity" || name == "target";
}

}  // namespace oomsentinel::alertmanager_detail
