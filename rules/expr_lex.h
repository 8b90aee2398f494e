// rules/: the rule language's tokens (expr.h); private to rules/. The lexer and the number
// reader in expr_lex.cc, the parser that uses them in expr_parse.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace oomsentinel::expr_detail {

// Parsing recurses once per '(' / 'not' / unary '-', evaluation once per level of the tree (a
// chain `a + b + c ...` is as deep as it is long). Far beyond anything a person writes, these
// limits keep a pathological expression (or a fuzzer's) from overflowing the stack.
constexpr int kMaxNesting = 64;
constexpr std::uint32_t kMaxTreeDepth = 256;

struct Token {
  enum class T { kEnd, kNumber, kIdent, kOp, kLParen, kRParen, kLBracket, kRBracket };
  T type = T::kEnd;
  std::string_view text;
  std::size_t column = 0;  // 1-based
};

struct ParseErr {
  std::size_t column;
  std::string message;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  // Splits everything up front; an unexpected character is an error at its column.
  bool run(std::vector<Token>& out, ParseErr& err);

 private:
  std::string_view s_;
};

// Splits "85%" into 85 and "%"; returns the value in the rule language's units.
bool numberValue(const Token& t, double& value, ParseErr& err);

}  // namespace oomsentinel::expr_detail
