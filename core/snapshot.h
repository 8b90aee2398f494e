// core/: the shared vocabulary of oomsentinel.
// Snapshot: what one target looked like at one tick: signal id -> value, and when.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/clock.h"
#include "core/signal.h"

namespace oomsentinel {

class Snapshot {
 public:
  SteadyTime steady{};
  WallTime wall{};

  // Marks every signal absent; keeps the storage so a reused snapshot does not allocate.
  void clear();
  void set(SignalId sid, double value);
  void set(Sig s, double value) { set(id(s), value); }
  void erase(SignalId sid);
  bool has(SignalId sid) const { return sid < present_.size() && present_[sid]; }
  bool has(Sig s) const { return has(id(s)); }
  std::optional<double> get(SignalId sid) const {
    if (!has(sid)) return std::nullopt;
    return values_[sid];
  }
  std::optional<double> get(Sig s) const { return get(id(s)); }
  std::size_t size() const;  // signals present

  // Calls f(SignalId, double) for every present signal in id order.
  template <typename F>
  void forEach(F&& f) const {
    for (SignalId i = 0; i < present_.size(); ++i)
      if (present_[i]) f(i, values_[i]);
  }

 private:
  std::vector<double> values_;
  std::vector<std::uint8_t> present_;
};

}  // namespace oomsentinel
