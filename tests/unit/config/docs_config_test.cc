// The docs stay true to the loader: every key config/ accepts is in docs/configuration.md and in
// config/oomsentinel.example.yaml. The keys are not a list kept here: they are asked of the
// loader itself, which answers an unknown key with every key it knows at that place
// ("unknown key 'x' (expected one of: a, b, c)"), section by section, so a key added to the
// loader and left out of the docs fails this test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

// A key no version will have, and that is far from every real one (no "did you mean").
constexpr char kProbe[] = "qqqzzzprobe";

// The keys the loader lists at `where` (a key path such as "targets[0].go"), given the text
// that puts a map holding only the probe key there; nullopt when that place is not a map of
// known keys.
std::optional<std::vector<std::string>> keysAt(const std::string& text, const std::string& where) {
  const std::string path = where.empty() ? kProbe : where + "." + kProbe;
  const std::string marker = "(expected one of: ";
  for (const ConfigError& e : loadConfigText(text, "probe.yaml").errors) {
    if (e.key_path != path) continue;
    auto at = e.message.find(marker);
    if (e.message.rfind("unknown key", 0) != 0 || at == std::string::npos) continue;
    std::string list = e.message.substr(at + marker.size());
    list = list.substr(0, list.rfind(')'));
    std::vector<std::string> keys;
    for (std::size_t from = 0;;) {
      std::size_t comma = list.find(", ", from);
      keys.push_back(list.substr(from, comma - from));
      if (comma == std::string::npos) break;
      from = comma + 2;
    }
    return keys;
  }
  return std::nullopt;
}

// Every key path the loader accepts, written as the docs write them: "poll.interval",
// "targets[].go.pprof_url" ("[]": an item of a list).
std::vector<std::string> acceptedKeys() {
  std::vector<std::string> out;
  // wrap(inner): the whole config text with `inner` (a flow map) at the place being probed.
  std::function<void(const std::function<std::string(const std::string&)>&, const std::string&,
                     const std::string&)>
      walk = [&](const auto& wrap, const std::string& error_path, const std::string& doc_path) {
        auto keys = keysAt(wrap(std::string("{") + kProbe + ": 1}"), error_path);
        if (!keys) return;
        for (const std::string& k : *keys) {
          const std::string doc = doc_path.empty() ? k : doc_path + "." + k;
          const std::string err = error_path.empty() ? k : error_path + "." + k;
          out.push_back(doc);
          // The key's value as a map, or as a list of maps; either may be a section of its own.
          auto as_map = [wrap, k](const std::string& inner) {
            return wrap("{" + k + ": " + inner + "}");
          };
          auto as_list = [wrap, k](const std::string& inner) {
            return wrap("{" + k + ": [" + inner + "]}");
          };
          const std::string probe = std::string("{") + kProbe + ": 1}";
          if (keysAt(as_map(probe), err))
            walk(as_map, err, doc);
          else if (keysAt(as_list(probe), err + "[0]"))
            walk(as_list, err + "[0]", doc + "[]");
        }
      };
  walk([](const std::string& inner) { return inner; }, "", "");
  return out;
}

std::string read(const std::string& relative) {
  return testing::slurp(std::string(OOMSENTINEL_SOURCE_DIR) + "/" + relative);
}

// `name:` as a YAML key (commented out or not): not the tail of a longer name.
std::size_t findKey(const std::string& text, const std::string& name, std::size_t from) {
  const std::string needle = name + ":";
  for (std::size_t at = text.find(needle, from); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    char before = at == 0 ? ' ' : text[at - 1];
    if (!std::isalnum(static_cast<unsigned char>(before)) && before != '_') return at;
  }
  return std::string::npos;
}

TEST(DocsConfig, TheLoaderIsAskedForItsKeys) {
  // The probe itself must work, or every test below would pass on nothing: a key at each depth.
  std::vector<std::string> keys = acceptedKeys();
  std::set<std::string> set(keys.begin(), keys.end());
  for (const char* k : {"poll.interval", "targets[].name", "targets[].go.pprof_url", "rules[].expr",
                        "alerts.alertmanager.tls.ca_file", "dump.dir"})
    EXPECT_TRUE(set.contains(k)) << k;
  EXPECT_GT(keys.size(), 80u);
  EXPECT_EQ(keys.size(), set.size());
}

TEST(DocsConfig, EveryKeyIsInConfigurationMd) {
  const std::string doc = read("docs/configuration.md");
  ASSERT_FALSE(doc.empty());
  for (const std::string& key : acceptedKeys())
    EXPECT_THAT(doc, HasSubstr("`" + key + "`"))
        << "docs/configuration.md does not describe `" << key << "`";
}

TEST(DocsConfig, EveryKeyIsInTheExample) {
  // Each component of a key's path as a YAML key, in order: `alerts:`, then `alertmanager:`,
  // then `tls:`, then `ca_file:`. Keys that exclude each other (a target's kinds) are shown
  // commented out.
  const std::string text = read("config/oomsentinel.example.yaml");
  ASSERT_FALSE(text.empty());
  for (const std::string& key : acceptedKeys()) {
    std::size_t at = 0;
    std::size_t from = 0;
    while (at != std::string::npos && from <= key.size()) {
      std::size_t dot = key.find('.', from);
      std::string part = key.substr(from, dot == std::string::npos ? dot : dot - from);
      if (part.ends_with("[]")) part.resize(part.size() - 2);
      at = findKey(text, part, at);
      from = dot == std::string::npos ? key.size() + 1 : dot + 1;
    }
    EXPECT_NE(at, std::string::npos)
        << "config/oomsentinel.example.yaml does not show `" << key << "`";
  }
}

}  // namespace
}  // namespace oomsentinel
