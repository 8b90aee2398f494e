// daemon/: wiring and lifetime of the oomsentinel executable.
// A small argument reader: flags of the form --name VALUE or --name=VALUE, in order.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomsentinel {

// Thrown for a usage error; main() prints it with the subcommand's usage and exits 2.
struct UsageError {
  std::string message;
};

class Args {
 public:
  Args(std::vector<std::string> args) : args_(std::move(args)) {}  // NOLINT
  bool empty() const { return i_ >= args_.size(); }
  const std::string& peek() const { return args_[i_]; }
  std::string next() { return args_[i_++]; }
  // True (and consumed) when the next argument is `flag`; `value` receives its value.
  bool flag(std::string_view flag, std::optional<std::string>* value);
  bool flag(std::string_view flag) { return flag_no_value(flag); }

 private:
  bool flag_no_value(std::string_view flag);
  std::vector<std::string> args_;
  std::size_t i_ = 0;
};

}  // namespace oomsentinel
