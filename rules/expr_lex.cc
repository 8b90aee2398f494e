#include "rules/expr_lex.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/units.h"

namespace oomsentinel::expr_detail {
namespace {

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

bool Lexer::run(std::vector<Token>& out, ParseErr& err) {
  std::size_t i = 0;
  while (i < s_.size()) {
    char c = s_[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.column = i + 1;
    std::size_t start = i;
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i + 1])))) {
      // A number with its unit glued on: 85%, 10s, 64MiB, 1.5e3.
      while (i < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i])) || s_[i] == '.'))
        ++i;
      if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E') && i + 1 < s_.size() &&
          (std::isdigit(static_cast<unsigned char>(s_[i + 1])) ||
           ((s_[i + 1] == '-' || s_[i + 1] == '+') && i + 2 < s_.size() &&
            std::isdigit(static_cast<unsigned char>(s_[i + 2]))))) {
        i += 2;
        while (i < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i]))) ++i;
      }
      while (i < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[i])) || s_[i] == '%'))
        ++i;
      t.type = Token::T::kNumber;
    } else if (isIdentStart(c)) {
      while (i < s_.size() && isIdentChar(s_[i])) ++i;
      t.type = Token::T::kIdent;
    } else if (c == '(' || c == ')' || c == '[' || c == ']') {
      ++i;
      t.type = c == '('   ? Token::T::kLParen
               : c == ')' ? Token::T::kRParen
               : c == '[' ? Token::T::kLBracket
                          : Token::T::kRBracket;
    } else if (c == '>' || c == '<' || c == '=' || c == '!') {
      ++i;
      if (i < s_.size() && s_[i] == '=') ++i;
      std::string_view op = s_.substr(start, i - start);
      if (op == "=" || op == "!") {
        err = {t.column, op == "=" ? "use '==' to compare" : "use 'not' or '!='"};
        return false;
      }
      t.type = Token::T::kOp;
    } else if (c == '+' || c == '-' || c == '*' || c == '/') {
      ++i;
      t.type = Token::T::kOp;
    } else if (c == '&' || c == '|') {
      err = {t.column,
             std::string("use '") + (c == '&' ? "and" : "or") + "' instead of '" + c + "'"};
      return false;
    } else {
      err = {t.column, std::string("unexpected character '") + c + "'"};
      return false;
    }
    t.text = s_.substr(start, i - start);
    out.push_back(t);
  }
  Token end;
  end.column = s_.size() + 1;
  out.push_back(end);
  return true;
}

// Splits "85%" into 85 and "%"; returns the value in the rule language's units.
bool numberValue(const Token& t, double& value, ParseErr& err) {
  std::string_view s = t.text;
  std::size_t unit_at = 0;
  while (unit_at < s.size() && !std::isalpha(static_cast<unsigned char>(s[unit_at])) &&
         s[unit_at] != '%')
    ++unit_at;
  // An exponent's 'e' belongs to the number.
  if (unit_at < s.size() && (s[unit_at] == 'e' || s[unit_at] == 'E') && unit_at + 1 < s.size() &&
      (std::isdigit(static_cast<unsigned char>(s[unit_at + 1])) || s[unit_at + 1] == '-' ||
       s[unit_at + 1] == '+')) {
    ++unit_at;
    if (s[unit_at] == '-' || s[unit_at] == '+') ++unit_at;
    while (unit_at < s.size() && std::isdigit(static_cast<unsigned char>(s[unit_at]))) ++unit_at;
  }
  std::string num(s.substr(0, unit_at));
  std::string_view unit = s.substr(unit_at);
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (num.empty() || *end != '\0' || !std::isfinite(v)) {
    err = {t.column, "bad number '" + std::string(s) + "'"};
    return false;
  }
  if (unit.empty()) {
    value = v;
    return true;
  }
  if (unit == "%") {
    value = v / 100.0;
    return true;
  }
  if (auto d = parseDuration(s); d.ok()) {
    value = toSeconds(*d);
    return true;
  }
  if (unit != "B" && unit != "K" && unit != "M" && unit != "G" && unit != "T") {
    if (auto b = parseBytes(s); b.ok()) {
      value = static_cast<double>(*b);
      return true;
    }
  }
  err = {t.column + unit_at,
         "unknown unit '" + std::string(unit) + "' (use %, KiB, MiB, GiB, TiB, ms, s, m, h)"};
  return false;
}

}  // namespace oomsentinel::expr_detail
