// tests/: what the analysis room's tests share.
// PprofBuilder: a pprof profile written with the generated classes (analysis/pprof_profile.pb.h)
// and gzipped, as Go would serve it, so each test states its stacks in a few lines.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analysis/pprof_profile.pb.h"

namespace oomsentinel::pprof_test {

// gzip of `raw` (one member, as Go writes it).
inline std::string gzip(const std::string& raw) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, raw.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class PprofBuilder {
 public:
  // Go's heap sample types, in Go's order.
  PprofBuilder() {
    p_.add_string_table("");
    for (const char* t : {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"}) {
      auto* vt = p_.add_sample_type();
      vt->set_type(str(t));
      vt->set_unit(str(std::string(t).ends_with("space") ? "bytes" : "count"));
    }
  }

  std::int64_t str(const std::string& s) {
    auto [it, added] = strings_.emplace(s, p_.string_table_size());
    if (added) p_.add_string_table(s);
    return it->second;
  }

  std::uint64_t function(const std::string& name, const std::string& file = "main.go") {
    auto key = name + "\n" + file;
    if (auto it = functions_.find(key); it != functions_.end()) return it->second;
    auto* f = p_.add_function();
    f->set_id(static_cast<std::uint64_t>(p_.function_size()));
    f->set_name(str(name));
    f->set_system_name(str(name));
    f->set_filename(str(file));
    functions_[key] = f->id();
    return f->id();
  }

  // A location of (function, line) pairs, innermost first (more than one: inlined).
  std::uint64_t location(const std::vector<std::pair<std::string, std::int64_t>>& lines) {
    auto* l = p_.add_location();
    l->set_id(static_cast<std::uint64_t>(p_.location_size()) + 100);
    l->set_address(0x400000 + l->id());
    for (const auto& [fn, line] : lines) {
      auto* ln = l->add_line();
      ln->set_function_id(function(fn));
      ln->set_line(line);
    }
    return l->id();
  }

  // One sample: the stack (location ids, leaf first), in-use and allocated bytes.
  pprof::Sample& sample(const std::vector<std::uint64_t>& stack, std::int64_t inuse,
                        std::int64_t alloc = -1) {
    auto* s = p_.add_sample();
    for (auto id : stack) s->add_location_id(id);
    if (alloc < 0) alloc = inuse;
    for (std::int64_t v : {alloc / 64, alloc, inuse / 64, inuse}) s->add_value(v);
    return *s;
  }

  // A one-frame-per-location stack: {"leaf", 10}, {"caller", 20}, ...
  std::vector<std::uint64_t> stack(
      const std::vector<std::pair<std::string, std::int64_t>>& frames) {
    std::vector<std::uint64_t> ids;
    for (const auto& f : frames) ids.push_back(location({f}));
    return ids;
  }

  pprof::Profile& profile() { return p_; }
  std::string raw() const { return p_.SerializeAsString(); }
  std::string gz() const { return gzip(raw()); }

 private:
  pprof::Profile p_;
  std::map<std::string, std::int64_t> strings_;
  std::map<std::string, std::uint64_t> functions_;
};

}  // namespace oomsentinel::pprof_test
