// dumpers/: capturing evidence while the process is still alive.
// A published bundle read back whole for `oomsentinel incidents show`: its manifest's every field
// (incident_manifest.cc writes them) and a small file of it. The bundle's contents came partly
// from a hostile target, so every read is bounded and every count capped.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/owned_fd.h"
#include "dumpers/incident_store.h"
#include "dumpers/incident_store_internal.h"

namespace oomsentinel {
namespace {

using nlohmann::json;
// Named one by one, and Fd not at all (incident_detail::Fd below): the sanitizer builds compile
// dumpers/ as unity batches, where this anonymous namespace is child.cc's too, whose Fd is
// another.
using incident_detail::kManifest;
using incident_detail::kMaxManifestBytes;
using incident_detail::parseBoundedJson;
using incident_detail::parseIsoTime;
using incident_detail::readSmallFileAt;

// No real manifest comes near these (history is at most 10000 samples of some 30 signals,
// config/load_dump.cc): past them the rest is not kept, so a made-up manifest costs no more.
constexpr std::size_t kMaxSamples = 10000, kMaxSignals = 512, kMaxEntries = 10000;
constexpr std::size_t kMaxText = 64u << 10;

// What is kept of a name in a bundle: a bundle's own name, never a path out of the directory.
bool isBundleName(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// A relative path inside the bundle: no empty, "." or ".." part, so it never climbs out.
bool staysInside(std::string_view file) {
  if (file.empty() || file.find('\0') != std::string_view::npos) return false;
  for (std::size_t start = 0;;) {
    std::size_t end = file.find('/', start);
    std::string_view part = file.substr(start, end == std::string_view::npos ? end : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>().substr(0, kMaxText);
}

// A manifest writes a non-finite value as a string ("NaN", "+Inf", "-Inf").
std::optional<double> number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

std::vector<std::pair<std::string, double>> signals(const json& j) {
  std::vector<std::pair<std::string, double>> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (out.size() >= kMaxSignals) break;
    if (auto x = number(v)) out.emplace_back(k.substr(0, kMaxText), *x);
  }
  return out;
}

void readHistory(const json& m, IncidentDetail& d) {
  auto it = m.find("history");
  if (it == m.end() || !it->is_array()) return;
  for (const auto& s : *it) {
    if (d.history.size() >= kMaxSamples) break;
    if (!s.is_object()) continue;
    auto t = parseIsoTime(text(s, "time"));
    if (!t) continue;
    IncidentInfo::Sample sample;
    sample.time = *t;
    if (auto sig = s.find("signals"); sig != s.end()) sample.signals = signals(*sig);
    d.history.push_back(std::move(sample));
  }
}

void readFiles(const json& m, int bundle_fd, IncidentDetail& d) {
  auto it = m.find("artifacts");
  if (it == m.end() || !it->is_array()) return;
  for (const auto& a : *it) {
    if (d.files.size() >= kMaxEntries) break;
    if (!a.is_object()) continue;
    IncidentDetail::File f;
    f.dumper = text(a, "dumper");
    f.file = text(a, "file");
    f.sha256 = text(a, "sha256");
    f.truncated_by = text(a, "truncated_by");
    if (auto b = a.find("bytes"); b != a.end() && b->is_number_unsigned())
      f.bytes = b->get<std::uint64_t>();
    if (auto t = a.find("truncated"); t != a.end() && t->is_boolean()) f.truncated = t->get<bool>();
    // A path that climbs out of the bundle is not looked at; the last part is never followed.
    struct stat st;
    f.present = staysInside(f.file) &&
                ::fstatat(bundle_fd, f.file.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG(st.st_mode);
    d.files.push_back(std::move(f));
  }
}

void readDumps(const json& m, IncidentDetail& d) {
  auto it = m.find("dumps");
  if (it == m.end() || !it->is_array()) return;
  for (const auto& o : *it) {
    if (d.dumps.size() >= kMaxEntries) break;
    if (!o.is_object()) continue;
    IncidentDetail::Dump dump;
    dump.dumper = text(o, "dumper");
    dump.result = text(o, "result");
    dump.error = text(o, "error");
    if (auto t = o.find("took_seconds"); t != o.end())
      dump.took_seconds = number(*t).value_or(std::numeric_limits<double>::quiet_NaN());
    d.dumps.push_back(std::move(dump));
  }
}

// The bundle's directory, opened without following a symlink in its place.
Result<OwnedFd> openBundle(const std::string& dir, const std::string& name) {
  if (!isBundleName(name))
    return makeError("is not a bundle's name (hidden, or holds '/')", dir + "/" + name, EINVAL);
  incident_detail::Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.fd < 0) return makeError("cannot read", dir, errno);
  int b = ::openat(dfd.fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (b < 0) return makeError("cannot open the bundle", dir + "/" + name, errno);
  return OwnedFd(b);
}

}  // namespace

Result<IncidentDetail> IncidentStore::detail(const std::string& dir, const std::string& name) {
  auto bundle = openBundle(dir, name);
  if (!bundle) return bundle.error();
  const std::string path = dir + "/" + name + "/" + kManifest;
  auto body = readSmallFileAt(bundle->get(), kManifest, kMaxManifestBytes, path);
  if (!body) return body.error();
  json m = parseBoundedJson(*body);
  if (m.is_discarded()) return makeError("is not valid JSON", path);
  if (!m.is_object()) return makeError("is not a JSON object", path);
  IncidentDetail d;
  d.expr = text(m, "expr");
  if (auto it = m.find("labels"); it != m.end() && it->is_object())
    for (const auto& [k, v] : it->items()) {
      if (d.labels.size() >= kMaxSignals) break;
      if (v.is_string())
        d.labels.emplace_back(k.substr(0, kMaxText), v.get<std::string>().substr(0, kMaxText));
    }
  if (auto it = m.find("values"); it != m.end()) d.values = signals(*it);
  readHistory(m, d);
  readFiles(m, bundle->get(), d);
  readDumps(m, d);
  return d;
}

Result<std::string> IncidentStore::readBundleFile(const std::string& dir, const std::string& name,
                                                  const std::string& file, std::size_t max) {
  if (!isBundleName(file))
    return makeError("is not a file of the bundle's top directory", file, EINVAL);
  auto bundle = openBundle(dir, name);
  if (!bundle) return bundle.error();
  return readSmallFileAt(bundle->get(), file, max, dir + "/" + name + "/" + file);
}

}  // namespace oomsentinel
