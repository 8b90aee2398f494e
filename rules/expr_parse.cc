#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/units.h"
#include "rules/expr.h"
#include "rules/expr_lex.h"

// The rule language's parser: tokens (expr_lex.cc) into Expr's tree of nodes.
namespace oomsentinel {

using expr_detail::kMaxNesting;
using expr_detail::kMaxTreeDepth;
using expr_detail::Lexer;
using expr_detail::numberValue;
using expr_detail::ParseErr;
using expr_detail::Token;
using Kind = Expr::Node::Kind;

class ExprParser {
 public:
  ExprParser(std::string_view text, Expr& e) : text_(text), e_(e) {}

  bool run(ParseErr& err) {
    if (!Lexer(text_).run(toks_, err)) return false;
    if (toks_.size() == 1) {
      err = {1, "empty expression"};
      return false;
    }
    std::uint32_t root = 0;
    bool is_bool = false;
    if (!parseOr(root, is_bool, err)) return false;
    if (peek().type != Token::T::kEnd) {
      err = {peek().column, "unexpected '" + std::string(peek().text) + "'"};
      return false;
    }
    if (!is_bool) {
      err = {1, "the expression is a number, not a condition: compare it, e.g. '... > 80%'"};
      return false;
    }
    // Children come before their parents in nodes_: one pass finds every node's depth.
    std::vector<std::uint32_t> depth(e_.nodes_.size(), 1);
    for (std::size_t i = 0; i < e_.nodes_.size(); ++i) {
      const Expr::Node& n = e_.nodes_[i];
      const bool leaf = n.kind == Kind::kNumber || n.kind == Kind::kSignal ||
                        n.kind == Kind::kWindow || n.kind == Kind::kTimeToOom;
      const bool unary = n.kind == Kind::kNeg || n.kind == Kind::kNot;
      if (!leaf) depth[i] = depth[n.a] + 1;
      if (!leaf && !unary) depth[i] = std::max(depth[i], depth[n.b] + 1);
      if (depth[i] > kMaxTreeDepth) {
        err = {1, "the expression is too long: more than " + std::to_string(kMaxTreeDepth) +
                      " operations deep"};
        return false;
      }
    }
    e_.root_ = root;
    return true;
  }

 private:
  const Token& peek() const { return toks_[pos_]; }
  const Token& take() { return toks_[pos_++]; }
  bool isWord(const Token& t, std::string_view w) const {
    return t.type == Token::T::kIdent && t.text == w;
  }

  std::uint32_t add(Expr::Node n) {
    e_.nodes_.push_back(std::move(n));
    return static_cast<std::uint32_t>(e_.nodes_.size() - 1);
  }
  std::uint32_t binary(Kind k, std::uint32_t a, std::uint32_t b) {
    Expr::Node n;
    n.kind = k;
    n.a = a;
    n.b = b;
    return add(std::move(n));
  }

  // Enters one level of nesting at `column`; false (with the error) when that is one too many.
  bool nest(std::size_t column, ParseErr& err) {
    if (++nesting_ <= kMaxNesting) return true;
    err = {column, "nested too deeply (more than " + std::to_string(kMaxNesting) + " levels)"};
    return false;
  }

  bool needBool(bool is_bool, std::size_t column, std::string_view op, ParseErr& err) {
    if (is_bool) return true;
    err = {column, "'" + std::string(op) + "' needs a condition here, not a number"};
    return false;
  }
  bool needNum(bool is_bool, std::size_t column, std::string_view op, ParseErr& err) {
    if (!is_bool) return true;
    err = {column, "'" + std::string(op) + "' needs a number here, not a condition"};
    return false;
  }

  bool parseOr(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    std::size_t col = peek().column;
    if (!parseAnd(out, is_bool, err)) return false;
    while (isWord(peek(), "or")) {
      if (!needBool(is_bool, col, "or", err)) return false;
      take();
      col = peek().column;
      std::uint32_t rhs;
      bool rb;
      if (!parseAnd(rhs, rb, err)) return false;
      if (!needBool(rb, col, "or", err)) return false;
      out = binary(Kind::kOr, out, rhs);
    }
    return true;
  }

  bool parseAnd(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    std::size_t col = peek().column;
    if (!parseNot(out, is_bool, err)) return false;
    while (isWord(peek(), "and")) {
      if (!needBool(is_bool, col, "and", err)) return false;
      take();
      col = peek().column;
      std::uint32_t rhs;
      bool rb;
      if (!parseNot(rhs, rb, err)) return false;
      if (!needBool(rb, col, "and", err)) return false;
      out = binary(Kind::kAnd, out, rhs);
    }
    return true;
  }

  bool parseNot(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    if (isWord(peek(), "not")) {
      if (!nest(take().column, err)) return false;
      std::size_t col = peek().column;
      std::uint32_t inner;
      bool ib;
      if (!parseNot(inner, ib, err)) return false;
      --nesting_;
      if (!needBool(ib, col, "not", err)) return false;
      out = binary(Kind::kNot, inner, 0);
      is_bool = true;
      return true;
    }
    return parseCmp(out, is_bool, err);
  }

  bool parseCmp(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    std::size_t col = peek().column;
    if (!parseSum(out, is_bool, err)) return false;
    const Token& t = peek();
    if (t.type != Token::T::kOp) return true;
    Kind k;
    if (t.text == "<")
      k = Kind::kLt;
    else if (t.text == "<=")
      k = Kind::kLe;
    else if (t.text == ">")
      k = Kind::kGt;
    else if (t.text == ">=")
      k = Kind::kGe;
    else if (t.text == "==")
      k = Kind::kEq;
    else if (t.text == "!=")
      k = Kind::kNe;
    else
      return true;
    std::string op(t.text);
    if (!needNum(is_bool, col, op, err)) return false;
    take();
    col = peek().column;
    std::uint32_t rhs;
    bool rb;
    if (!parseSum(rhs, rb, err)) return false;
    if (!needNum(rb, col, op, err)) return false;
    if (peek().type == Token::T::kOp && (peek().text[0] == '<' || peek().text[0] == '>' ||
                                         peek().text == "==" || peek().text == "!=")) {
      err = {peek().column, "comparisons do not chain: use 'and'"};
      return false;
    }
    out = binary(k, out, rhs);
    is_bool = true;
    return true;
  }

  bool parseSum(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    std::size_t col = peek().column;
    if (!parseTerm(out, is_bool, err)) return false;
    while (peek().type == Token::T::kOp && (peek().text == "+" || peek().text == "-")) {
      std::string op(take().text);
      if (!needNum(is_bool, col, op, err)) return false;
      col = peek().column;
      std::uint32_t rhs;
      bool rb;
      if (!parseTerm(rhs, rb, err)) return false;
      if (!needNum(rb, col, op, err)) return false;
      out = binary(op == "+" ? Kind::kAdd : Kind::kSub, out, rhs);
    }
    return true;
  }

  bool parseTerm(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    std::size_t col = peek().column;
    if (!parseUnary(out, is_bool, err)) return false;
    while (peek().type == Token::T::kOp && (peek().text == "*" || peek().text == "/")) {
      std::string op(take().text);
      if (!needNum(is_bool, col, op, err)) return false;
      col = peek().column;
      std::uint32_t rhs;
      bool rb;
      if (!parseUnary(rhs, rb, err)) return false;
      if (!needNum(rb, col, op, err)) return false;
      out = binary(op == "*" ? Kind::kMul : Kind::kDiv, out, rhs);
    }
    return true;
  }

  bool parseUnary(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    if (peek().type == Token::T::kOp && peek().text == "-") {
      if (!nest(take().column, err)) return false;
      std::size_t col = peek().column;
      std::uint32_t inner;
      bool ib;
      if (!parseUnary(inner, ib, err)) return false;
      --nesting_;
      if (!needNum(ib, col, "-", err)) return false;
      out = binary(Kind::kNeg, inner, 0);
      is_bool = false;
      return true;
    }
    return parsePrimary(out, is_bool, err);
  }

  bool parsePrimary(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    const Token& t = peek();
    switch (t.type) {
      case Token::T::kNumber: {
        Expr::Node n;
        n.kind = Kind::kNumber;
        if (!numberValue(t, n.number, err)) return false;
        take();
        out = add(std::move(n));
        is_bool = false;
        return true;
      }
      case Token::T::kLParen: {
        if (!nest(take().column, err)) return false;
        if (!parseOr(out, is_bool, err)) return false;
        --nesting_;
        if (peek().type != Token::T::kRParen) {
          err = {peek().column,
                 "expected ')' to close the '(' at column " + std::to_string(t.column)};
          return false;
        }
        take();
        return true;
      }
      case Token::T::kIdent:
        return parseIdent(out, is_bool, err);
      case Token::T::kEnd:
        err = {t.column, "expression ends too early"};
        return false;
      default:
        err = {t.column, "unexpected '" + std::string(t.text) + "'"};
        return false;
    }
  }

  bool parseIdent(std::uint32_t& out, bool& is_bool, ParseErr& err) {
    const Token& t = take();
    is_bool = false;
    if (t.text == "and" || t.text == "or" || t.text == "not") {
      err = {t.column, "'" + std::string(t.text) + "' needs a condition before it"};
      return false;
    }
    static constexpr std::pair<std::string_view, WindowFn> kFns[] = {
        {"rate", WindowFn::kRate},        {"deriv", WindowFn::kDeriv},
        {"delta", WindowFn::kDelta},      {"avg_over", WindowFn::kAvgOver},
        {"max_over", WindowFn::kMaxOver}, {"min_over", WindowFn::kMinOver}};
    for (auto [name, fn] : kFns) {
      if (t.text != name) continue;
      return parseWindow(t, fn, out, err);
    }
    if (peek().type == Token::T::kLParen) {
      err = {t.column, "unknown function '" + std::string(t.text) +
                           "' (rate, deriv, delta, avg_over, max_over, min_over)"};
      return false;
    }
    Expr::Node n;
    n.label = std::string(t.text);
    if (t.text == "time_to_oom") {
      n.kind = Kind::kTimeToOom;
      e_.uses_tto_ = true;
    } else {
      n.kind = Kind::kSignal;
      n.signal = internSignal(t.text);
    }
    out = add(std::move(n));
    return true;
  }

  bool parseWindow(const Token& fn_tok, WindowFn fn, std::uint32_t& out, ParseErr& err) {
    std::string usage = std::string(fn_tok.text) + "(signal[window]), e.g. " +
                        std::string(fn_tok.text) + "(pgmajfault[10s])";
    if (peek().type != Token::T::kLParen) {
      err = {peek().column, "expected '(' after " + std::string(fn_tok.text) + ": " + usage};
      return false;
    }
    take();
    const Token& sig = peek();
    if (sig.type != Token::T::kIdent || sig.text == "time_to_oom") {
      err = {sig.column, "expected a signal name: " + usage};
      return false;
    }
    take();
    if (peek().type != Token::T::kLBracket) {
      err = {peek().column, "expected '[window]' after the signal: " + usage};
      return false;
    }
    take();
    const Token& win = peek();
    auto d = parseDuration(win.text);
    if (win.type != Token::T::kNumber || !d.ok()) {
      err = {win.column, "expected a window duration such as 10s: " + usage};
      return false;
    }
    if (*d < std::chrono::milliseconds(100) || *d > std::chrono::hours(1)) {
      err = {win.column, "window must be between 100ms and 1h"};
      return false;
    }
    take();
    if (peek().type != Token::T::kRBracket) {
      err = {peek().column, "expected ']'"};
      return false;
    }
    take();
    if (peek().type != Token::T::kRParen) {
      err = {peek().column, "expected ')'"};
      return false;
    }
    take();
    Expr::Node n;
    n.kind = Kind::kWindow;
    n.fn = fn;
    n.signal = internSignal(sig.text);
    n.window_seconds = toSeconds(*d);
    n.label =
        std::string(fn_tok.text) + "(" + std::string(sig.text) + "[" + std::string(win.text) + "])";
    e_.windows_.push_back({n.signal, *d});
    out = add(std::move(n));
    return true;
  }

  std::string_view text_;
  Expr& e_;
  std::vector<Token> toks_;
  std::size_t pos_ = 0;
  int nesting_ = 0;
};

std::variant<Expr, ExprError> Expr::parse(std::string_view text) {
  Expr e;
  e.text_ = std::string(text);
  ExprParser p(e.text_, e);
  ParseErr err{0, {}};
  if (!p.run(err)) return ExprError{err.column, err.message};
  return e;
}

}  // namespace oomsentinel
