#include "collectors/collector.h"

namespace oomsentinel {

SignalId KeyedSignals::idFor(std::size_t index, std::string_view key) {
  if (index < seen_.size() && seen_[index].first == key) return seen_[index].second;
  std::string name = prefix_;
  name += key;
  SignalId sid = internSignal(name);
  if (index >= seen_.size()) seen_.resize(index + 1);
  seen_[index] = {std::string(key), sid};
  return sid;
}

}  // namespace oomsentinel
