#include "core/snapshot.h"

#include <algorithm>

namespace oomsentinel {

void Snapshot::clear() { std::fill(present_.begin(), present_.end(), 0); }

void Snapshot::set(SignalId sid, double value) {
  if (sid >= values_.size()) {
    // Grow to the registry's size at once so later ids rarely cause another growth.
    std::size_t n = std::max<std::size_t>(sid + 1, signalCount());
    values_.resize(n, 0.0);
    present_.resize(n, 0);
  }
  values_[sid] = value;
  present_[sid] = 1;
}

void Snapshot::erase(SignalId sid) {
  if (sid < present_.size()) present_[sid] = 0;
}

std::size_t Snapshot::size() const {
  return static_cast<std::size_t>(std::count(present_.begin(), present_.end(), 1));
}

}  // namespace oomsentinel
