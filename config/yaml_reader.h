// config/: one YAML file -> typed, validated configuration.
// Private to config/ (included by config/*.cc only): reading typed values out of yaml-cpp nodes,
// each finding with file:line:column and the key path. The sections (config/loader.h) are built
// on it; nothing here knows a config key.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/http_client.h"

namespace oomsentinel::config_internal {

struct Pos {
  int line = 0;  // 1-based; 0 unknown
  int column = 0;
};

Pos posOf(const YAML::Mark& m);
Pos posOf(const YAML::Node& n);

// "a.b" from "a" and "b"; "a[2]" from "a" and 2.
std::string join(const std::string& path, const std::string& key);
std::string indexed(const std::string& path, std::size_t i);

bool contains(const std::vector<std::string>& v, const std::string& s);
std::string listNames(const std::vector<std::string>& v);
// A quoted scalar is a string even when it spells a number or a boolean.
bool isQuoted(const YAML::Node& n);
// At most 60 characters of `s`, for quoting a value back in a message.
std::string shortened(const std::string& s);
// What "expected X, got Y" says for Y.
std::string describe(const YAML::Node& n);
bool isNumber(std::string_view s);
std::string trimmed(const std::string& s);
// "unknown WHAT 'NAME'", with the likely meant one of `known`, or all of them.
std::string unknownName(const std::string& what, const std::string& name,
                        const std::vector<std::string>& known);

// One key of a map, with where it stands.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  std::string path;
};

const Entry* find(const std::vector<Entry>& entries, const std::string& key);

// Collects the findings of one config text and reads typed values; every read that fails has
// reported why and returns nullopt (or false).
class YamlReader {
 public:
  // `text` is kept line by line, so that an expression's error can point into its scalar.
  YamlReader(const std::string& text, std::string file);

  const std::string& file() const { return file_; }
  void error(Pos p, const std::string& path, std::string message);
  std::vector<ConfigError> takeErrors() { return std::move(errors_); }

  // yaml-cpp marks an empty value at the token after it, often on another line: point at its
  // key instead.
  Pos valuePos(const Entry& e) const;
  void typeError(const Entry& e, const std::string& expected);

  // The keys of a map, checking each against `known`. Unknown and repeated keys are reported and
  // left out. `meant` collects what the unknown keys were probably meant to be, so the caller
  // does not also report those keys as missing.
  std::vector<Entry> readMap(const YAML::Node& map, const std::string& path,
                             const std::vector<std::string>& known,
                             std::vector<std::string>* meant = nullptr);

  bool requireScalar(const Entry& e, const std::string& expected);
  std::optional<Duration> readDuration(const Entry& e);
  std::optional<Duration> readDurationAtLeast(const Entry& e, Duration min);
  std::optional<bool> readBool(const Entry& e);
  // A percentage or ratio in (0, 1].
  std::optional<double> readRatio(const Entry& e);
  std::optional<std::uint64_t> readBytes(const Entry& e);
  bool readUrl(const Entry& e, std::string& out, UrlSchemes schemes = UrlSchemes::kHttpOnly);
  // A target or rule name. Even a bad name is returned (after its error): it still counts for
  // duplicates and references, so one mistake is reported once.
  std::optional<std::string> readName(const Entry& e, const std::string& what);
  // Each item of a list of names, with its position; nullopt when it is not a list.
  std::optional<std::vector<std::pair<std::string, YAML::Node>>> readNameList(
      const Entry& e, const std::string& example);

  // The file column (1-based) of byte `offset` of a scalar's value, when the scalar stands on
  // one line and its text can be followed back to the source: plain, 'single' or "double"
  // quoted. nullopt for block and multi-line scalars, and whatever cannot be followed.
  std::optional<int> columnInScalar(const YAML::Node& n, std::size_t offset) const;

 private:
  std::string file_;
  std::vector<std::string> lines_;
  std::vector<ConfigError> errors_;
};

}  // namespace oomsentinel::config_internal
