// The rules: section (config/loader.h). A rule's expression is parsed here with the rule
// language's own parser (rules/expr.h), so check-config refuses exactly what the daemon would.
#include <algorithm>

#include "config/loader.h"
#include "rules/expr.h"

namespace oomsentinel::config_internal {

namespace {
const std::vector<std::string> kRuleKeys = {"name",     "expr",     "for",     "keep_firing_for",
                                            "cooldown", "severity", "actions", "targets"};
const std::vector<std::string> kSeverities = {"info", "warning", "critical"};
}  // namespace

void Loader::readRules(const Entry& e, Config& config) {
  config.rules_are_defaults = false;
  config.rules.clear();
  if (e.value.IsNull()) {
    error(valuePos(e), e.path,
          "empty: write 'rules: []' for no rules, or leave the key out for the built-in rules");
    return;
  }
  if (!e.value.IsSequence()) {
    typeError(e, "a list of rules");
    return;
  }
  std::map<std::string, int> names;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    if (auto r = readRule(e.value[i], indexed(e.path, i), names)) config.rules.push_back(*r);
  }
}

std::optional<RuleSpec> Loader::readRule(const YAML::Node& item, const std::string& path,
                                         std::map<std::string, int>& names) {
  if (!item.IsMap()) {
    error(posOf(item), path, "expected a map with a name and an expr, got " + describe(item));
    return std::nullopt;
  }
  std::vector<std::string> meant;
  auto entries = readMap(item, path, kRuleKeys, &meant);
  RuleSpec rule;
  rule.actions = {ActionKind::kLog};
  bool ok = true;
  if (const Entry* n = find(entries, "name")) {
    if (auto name = readName(*n, "rule")) {
      rule.name = *name;
      auto [first, inserted] = names.emplace(*name, posOf(n->value).line);
      if (!inserted) {
        error(valuePos(*n), n->path,
              "duplicate rule name '" + *name + "' (first at line " +
                  std::to_string(first->second) + ")");
        ok = false;
      }
    } else {
      ok = false;
    }
  } else {
    if (!contains(meant, "name")) error(posOf(item), path, "missing required key 'name'");
    ok = false;
  }
  if (const Entry* x = find(entries, "expr")) {
    ok = readExpr(*x, rule.expr) && ok;
  } else {
    if (!contains(meant, "expr")) error(posOf(item), path, "missing required key 'expr'");
    ok = false;
  }
  auto duration = [&](const char* key, Duration& out) {
    if (const Entry* d = find(entries, key)) {
      if (auto v = readDuration(*d))
        out = *v;
      else
        ok = false;
    }
  };
  duration("for", rule.for_duration);
  duration("keep_firing_for", rule.keep_firing_for);
  duration("cooldown", rule.cooldown);
  if (const Entry* s = find(entries, "severity")) ok = readSeverity(*s, rule.severity) && ok;
  if (const Entry* a = find(entries, "actions")) ok = readRuleActions(*a, rule) && ok;
  if (const Entry* t = find(entries, "targets")) ok = readRuleTargets(*t, rule) && ok;
  if (!ok) return std::nullopt;
  return rule;
}

bool Loader::readRuleActions(const Entry& a, RuleSpec& rule) {
  auto list = readNameList(a, "[log, alert]");
  rule.actions.clear();
  if (!list) return false;
  bool ok = true;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& [name, node] = (*list)[i];
    std::string ipath = indexed(a.path, i);
    std::optional<ActionKind> kind = parseActionKind(name);
    if (!kind) {
      error(posOf(node), ipath, unknownName("action", name, names(kActionKinds)));
      ok = false;
    } else if (std::find(rule.actions.begin(), rule.actions.end(), *kind) != rule.actions.end()) {
      error(posOf(node), ipath, "action '" + name + "' is listed twice");
      ok = false;
    } else {
      rule.actions.push_back(*kind);
    }
  }
  return ok;
}

// targets: the names are checked against the targets once all are read (checkTargetRefs).
bool Loader::readRuleTargets(const Entry& t, RuleSpec& rule) {
  auto list = readNameList(t, "[app, db]");
  if (!list) return false;
  bool ok = true;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& [name, node] = (*list)[i];
    target_refs_.push_back({name, posOf(node), indexed(t.path, i)});
    if (contains(rule.targets, name)) {
      error(posOf(node), indexed(t.path, i), "target '" + name + "' is listed twice");
      ok = false;
    } else {
      rule.targets.push_back(name);
    }
  }
  return ok;
}

bool Loader::readExpr(const Entry& e, std::string& out) {
  if (!requireScalar(e, "an expression such as 'working_set_ratio > 85%'")) return false;
  const std::string& text = e.value.Scalar();
  auto parsed = Expr::parse(text);
  if (const auto* err = std::get_if<ExprError>(&parsed)) {
    std::size_t offset = err->column > 0 ? err->column - 1 : 0;
    std::optional<int> col = columnInScalar(e.value, std::min(offset, text.size()));
    Pos p = posOf(e.value);
    std::string msg = err->message;
    if (col) {
      p.column = *col;
    } else {
      // A block or multi-line scalar: point at its start and say where inside it.
      msg += " (at column " + std::to_string(err->column) + " of the expression)";
    }
    error(p, e.path, msg);
    return false;
  }
  out = trimmed(text);
  return true;
}

bool Loader::readSeverity(const Entry& e, Severity& out) {
  if (!requireScalar(e, "one of info, warning, critical")) return false;
  const std::string& s = e.value.Scalar();
  static constexpr Severity kValues[] = {Severity::kInfo, Severity::kWarning, Severity::kCritical};
  for (std::size_t i = 0; i < kSeverities.size(); ++i)
    if (s == kSeverities[i]) {
      out = kValues[i];
      return true;
    }
  error(valuePos(e), e.path, unknownName("severity", s, kSeverities));
  return false;
}

}  // namespace oomsentinel::config_internal
