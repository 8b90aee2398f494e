// core/: the shared vocabulary of oomsentinel.
// Snapshot: what one target looked like at one tick: signal id -> value, and when.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
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

// Some of a snapshot's present signals as (id, value) pairs, and when: an entry of the
// dump.history ring. A Snapshot's storage spans every signal interned so far (a cgroup v1
// memory.stat alone interns about 70 stat_ keys, which the manifest leaves out): 200 targets'
// rings of 60 full Snapshots (about 1.1 KiB each) held some 12 MiB, filled over the first 10
// minutes, one entry per full read (issue 19's soak).
struct SparseSnapshot {
  WallTime wall{};
  std::vector<std::pair<SignalId, double>> signals;

  // Takes `s`'s present signals for which keep(id) holds. The storage is reused: copying into a
  // full ring's old entries does not allocate.
  template <typename Keep>
  void assign(const Snapshot& s, Keep&& keep) {
    wall = s.wall;
    signals.clear();
    s.forEach([&](SignalId id, double v) {
      if (keep(id)) signals.emplace_back(id, v);
    });
  }
  // What it holds on the heap, in bytes (its storage's capacity).
  std::size_t heapBytes() const { return signals.capacity() * sizeof(signals[0]); }
};

}  // namespace oomsentinel
