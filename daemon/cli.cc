#include "daemon/cli.h"

namespace oomsentinel {

bool Args::flag(std::string_view name, std::optional<std::string>* value) {
  if (empty()) return false;
  const std::string& a = args_[i_];
  if (a == name) {
    if (i_ + 1 >= args_.size()) throw UsageError{std::string(name) + " needs a value"};
    *value = args_[i_ + 1];
    i_ += 2;
    return true;
  }
  if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
    *value = a.substr(name.size() + 1);
    ++i_;
    return true;
  }
  return false;
}

bool Args::flag_no_value(std::string_view name) {
  if (empty() || args_[i_] != name) return false;
  ++i_;
  return true;
}

}  // namespace oomsentinel
