#include "config/config.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <utility>

#include "config/loader.h"
#include "core/safe_text.h"

namespace oomsentinel {

std::string ConfigError::format() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

namespace config_internal {

namespace {

const std::vector<std::string> kTopKeys = {"poll", "targets", "rules",
                                           "dump", "alerts",  "discovery"};

// yaml-cpp before 0.8.1 (jbeder/yaml-cpp#1040) reports a stray ',' as one empty document after
// another, forever, and LoadAll appends each to its list until memory runs out. A first pass
// that only counts documents stops it: every real document takes at least one byte of text.
bool endsItsDocuments(const std::string& text) {
  struct Counter final : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } counter;
  std::istringstream in(text);
  YAML::Parser parser(in);
  for (std::size_t docs = 0; parser.HandleNextDocument(counter);)
    if (++docs > text.size() + 1) return false;
  return true;
}

}  // namespace

Loader::Loader(const std::string& text, std::string file) : YamlReader(text, std::move(file)) {}

ConfigLoad Loader::run(const std::string& text) {
  Config config;
  config.source = file();
  config.rules = defaultRules();
  config.rules_are_defaults = true;
  // YAML is Unicode text; yaml-cpp takes any bytes, and its printer then writes U+FFFD for
  // them, so a config with a stray byte would not print back as itself (found by fuzz_config).
  if (std::size_t bad = firstIllFormedUtf8(text); bad != std::string::npos) {
    std::size_t line_start = text.rfind('\n', bad);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    Pos p{static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n')) + 1,
          static_cast<int>(bad - line_start) + 1};
    error(p, "", "not UTF-8 text: a byte here starts no valid character");
    ConfigLoad out;
    out.errors = takeErrors();
    return out;
  }
  readDocuments(text, config);
  ConfigLoad out;
  out.errors = takeErrors();
  std::stable_sort(out.errors.begin(), out.errors.end(), [](const auto& a, const auto& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  if (out.errors.empty()) out.config = std::move(config);
  return out;
}

void Loader::readDocuments(const std::string& text, Config& config) {
  std::vector<YAML::Node> docs;
  try {
    if (!endsItsDocuments(text))
      throw YAML::ParserException(YAML::Mark::null_mark(), "unexpected ',' or other token");
    docs = YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    error(posOf(e.mark), "", "YAML syntax error: nested too deeply");
  } catch (const YAML::Exception& e) {
    // yaml-cpp stops at the first syntax error, so it is the only finding there is.
    error(posOf(e.mark), "", "YAML syntax error: " + e.msg);
  }
  try {
    // A second document is a second config, unless it is empty (a trailing '---').
    for (std::size_t i = 1; i < docs.size(); ++i)
      if (!docs[i].IsNull())
        error(posOf(docs[i]), "",
              "a config is one YAML document, this is document " + std::to_string(i + 1) +
                  " (remove the '---')");
    if (!docs.empty()) readTop(docs[0], config);
  } catch (const YAML::Exception& e) {
    // Not expected: reading only looks at nodes of the type it checked first.
    error(posOf(e.mark), "", std::string("internal error reading the YAML: ") + e.what());
  }
}

void Loader::readTop(const YAML::Node& root, Config& config) {
  if (root.IsNull()) return;  // an empty file: every default
  if (!root.IsMap()) {
    error(posOf(root), "",
          "expected a map with the keys " + listNames(kTopKeys) + ", got " + describe(root));
    return;
  }
  auto entries = readMap(root, "", kTopKeys);
  if (auto* e = find(entries, "poll")) readPoll(*e, config.poll);
  if (auto* e = find(entries, "targets")) readTargets(*e, config);
  if (auto* e = find(entries, "rules")) readRules(*e, config);
  if (auto* e = find(entries, "dump")) readDump(*e, config.dump);
  if (auto* e = find(entries, "alerts")) readAlerts(*e, config.alerts);
  if (auto* e = find(entries, "discovery")) readDiscovery(*e, config.discovery);
  checkTargetRefs();
}

void Loader::checkTargetRefs() {
  // A target that could not be read may be the one meant: say nothing rather than guess.
  if (targets_incomplete_) return;
  std::vector<std::string> names;
  for (const auto& [name, line] : target_names_) names.push_back(name);
  for (const auto& ref : target_refs_) {
    if (target_names_.count(ref.name)) continue;
    if (names.empty())
      error(ref.pos, ref.path,
            "unknown target '" + shortened(ref.name) + "' (the config defines no targets)");
    else
      error(ref.pos, ref.path, unknownName("target", ref.name, names));
  }
}

}  // namespace config_internal

ConfigLoad loadConfigText(const std::string& text, const std::string& source_name) {
  return config_internal::Loader(text, source_name).run(text);
}

ConfigLoad loadConfigFile(const std::string& path) {
  auto fail = [&](std::string message) {
    ConfigLoad out;
    out.errors.push_back({path, 0, 0, "", std::move(message)});
    return out;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return fail("larger than " + std::to_string(kMaxConfigBytes >> 20) +
                  " MiB: not a config file");
    }
  }
  ::close(fd);
  return loadConfigText(text, path);
}

}  // namespace oomsentinel
