#include "core/cgroup_delegation.h"

#include <sys/xattr.h>

namespace oomsentinel {

bool cgroupMarkedDelegated(const std::string& dir) {
  char value[8] = {};
  ssize_t n = ::getxattr(dir.c_str(), "user.delegate", value, sizeof value - 1);
  return n == 1 && value[0] == '1';
}

std::string delegatedServiceOfLeaf(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  auto slash = dir.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "";
  if (dir.substr(slash + 1) != kDaemonLeaf) return "";
  std::string service(dir.substr(0, slash));
  return cgroupMarkedDelegated(service) ? service : "";
}

}  // namespace oomsentinel
