// analysis/: what a bundle's raw evidence says, read from hostile input.
// The Go heap profile's bytes to a pprof::Profile: inflate (bounded), count (bounded), parse.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <zlib.h>

#include <cstdint>
#include <limits>

#include "analysis/go_heap_internal.h"

namespace oomsentinel::go_heap_detail {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kDelimited = 2;

// A running count of one kind of element, against its limit.
struct Count {
  const char* what;
  std::size_t limit;
  std::size_t n = 0;
  bool add(std::size_t k = 1) {
    n += k;
    return n <= limit;
  }
};

// Reads a length and narrows `in` to it; false when it runs past what is left (the count pass
// always has a limit pushed, so BytesUntilLimit is what is left of the enclosing message).
bool enter(CodedInputStream& in, CodedInputStream::Limit& limit) {
  std::uint32_t len = 0;
  if (!in.ReadVarint32(&len) || static_cast<std::int64_t>(len) > in.BytesUntilLimit()) return false;
  limit = in.PushLimit(static_cast<int>(len));
  return true;
}

// Walks one repeated scalar field, packed (wire type 2) or not (wire type 0), counting its
// elements.
bool countScalars(CodedInputStream& in, std::uint32_t wire, Count& c) {
  std::uint64_t v = 0;
  if (wire == kVarint) return in.ReadVarint64(&v) && c.add();
  CodedInputStream::Limit limit;
  if (!enter(in, limit)) return false;
  bool ok = true;
  while (ok && in.BytesUntilLimit() > 0) ok = in.ReadVarint64(&v) && c.add();
  in.PopLimit(limit);
  return ok;
}

struct Counts {
  Count samples, sample_locations, values, labels, locations, lines, functions, mappings,
      sample_types, strings;
  explicit Counts(const HeapProfileLimits& l)
      : samples{"samples", l.max_samples},
        sample_locations{"sample location ids", l.max_sample_locations},
        values{"values", l.max_values},
        labels{"labels", l.max_labels},
        locations{"locations", l.max_locations},
        lines{"lines", l.max_lines},
        functions{"functions", l.max_functions},
        mappings{"mappings", l.max_mappings},
        sample_types{"sample types", l.max_sample_types},
        strings{"strings", l.max_strings} {}
  const Count* over() const {
    for (const Count* c : {&samples, &sample_locations, &values, &labels, &locations, &lines,
                           &functions, &mappings, &sample_types, &strings})
      if (c->n > c->limit) return c;
    return nullptr;
  }
};

// Inside one length-delimited message: `field(number, wire)` handles (reads) a field it knows
// and returns false on bad input; every other field is skipped.
template <typename F>
bool walkMessage(CodedInputStream& in, F field) {
  CodedInputStream::Limit limit;
  if (!enter(in, limit)) return false;
  bool ok = true;
  while (ok && in.BytesUntilLimit() > 0) {
    std::uint32_t tag = in.ReadTag();
    if (tag == 0) {
      ok = false;
      break;
    }
    int handled = field(tag >> 3, tag & 7u);
    if (handled < 0) ok = false;
    if (handled == 0) ok = WireFormatLite::SkipField(&in, tag);
  }
  in.PopLimit(limit);
  return ok;
}

// 1: handled, 0: not this field (skip it), -1: bad input or a limit passed.
int sampleField(CodedInputStream& in, std::uint32_t number, std::uint32_t wire, Counts& c) {
  bool scalar = wire == kVarint || wire == kDelimited;
  if (number == 1 && scalar) return countScalars(in, wire, c.sample_locations) ? 1 : -1;
  if (number == 2 && scalar) return countScalars(in, wire, c.values) ? 1 : -1;
  if (number == 3 && wire == kDelimited) return c.labels.add() ? 0 : -1;
  return 0;
}

int locationField(std::uint32_t number, std::uint32_t wire, Counts& c) {
  if (number == 4 && wire == kDelimited) return c.lines.add() ? 0 : -1;
  return 0;
}

int profileField(CodedInputStream& in, std::uint32_t number, std::uint32_t wire, Counts& c) {
  if (number == 13 && (wire == kVarint || wire == kDelimited))
    return countScalars(in, wire, c.values) ? 1 : -1;
  if (wire != kDelimited) return 0;
  switch (number) {
    case 1:
      return c.sample_types.add() ? 0 : -1;
    case 2:
      if (!c.samples.add()) return -1;
      return walkMessage(in,
                         [&](std::uint32_t n, std::uint32_t w) { return sampleField(in, n, w, c); })
                 ? 1
                 : -1;
    case 3:
      return c.mappings.add() ? 0 : -1;
    case 4:
      if (!c.locations.add()) return -1;
      return walkMessage(in,
                         [&](std::uint32_t n, std::uint32_t w) { return locationField(n, w, c); })
                 ? 1
                 : -1;
    case 5:
      return c.functions.add() ? 0 : -1;
    case 6:
      return c.strings.add() ? 0 : -1;
    default:
      return 0;
  }
}

}  // namespace

Result<std::string> gunzipBounded(std::string_view gz, std::size_t max_out) {
  z_stream zs{};
  // 16 + MAX_WBITS: a gzip header and trailer, nothing else (pprof's files are gzip).
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return makeError("zlib: inflateInit2 failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  std::size_t left = gz.size();
  int rc = Z_OK;
  char chunk[64 * 1024];
  std::string why;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0) {
      if (left == 0) {
        why = "gzip stream cut short";
        break;
      }
      zs.avail_in = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
      left -= zs.avail_in;
    }
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      why = std::string("not a gzip stream or a corrupt one (zlib: ") +
            (zs.msg != nullptr ? zs.msg : "error " + std::to_string(rc)) + ")";
      break;
    }
    std::size_t got = sizeof chunk - zs.avail_out;
    if (out.size() + got > max_out) {
      why = "more than " + std::to_string(max_out) + " bytes once decompressed";
      break;
    }
    out.append(chunk, got);
  }
  inflateEnd(&zs);
  if (!why.empty()) return makeError(why);
  // A second gzip member or bytes after the first are not read: Go writes one member.
  return out;
}

Status checkCounts(std::string_view raw, const HeapProfileLimits& limits) {
  if (raw.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return makeError("profile too large");
  CodedInputStream in(reinterpret_cast<const std::uint8_t*>(raw.data()),
                      static_cast<int>(raw.size()));
  in.PushLimit(static_cast<int>(raw.size()));
  Counts c(limits);
  bool ok = true;
  while (ok) {
    std::uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end, or a bad tag the parse will name
    int handled = profileField(in, tag >> 3, tag & 7u, c);
    if (handled < 0) ok = false;
    if (handled == 0) ok = WireFormatLite::SkipField(&in, tag);
  }
  if (const Count* over = c.over())
    return makeError("more than " + std::to_string(over->limit) + " " + over->what);
  if (!ok) return makeError("not a pprof profile (bad protobuf wire format)");
  return Ok{};
}

Status decodeProfile(std::string_view gz, const HeapProfileLimits& limits, pprof::Profile& out) {
  if (gz.size() > limits.max_compressed)
    return makeError("more than " + std::to_string(limits.max_compressed) + " bytes compressed");
  auto raw = gunzipBounded(gz, limits.max_decompressed);
  if (!raw) return raw.error();
  if (auto counted = checkCounts(*raw, limits); !counted) return counted.error();
  if (!out.ParseFromString(*raw)) return makeError("not a pprof profile (protobuf parse failed)");
  return Ok{};
}

}  // namespace oomsentinel::go_heap_detail
