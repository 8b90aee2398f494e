#include "rules/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/units.h"
#include "rules/history.h"

namespace oomsentinel {

using Kind = Expr::Node::Kind;

std::string ExprError::render(std::string_view text, std::string_view indent) const {
  std::string out(indent);
  out += text;
  out += '\n';
  out += indent;
  out += std::string(column > 0 ? column - 1 : 0, ' ');
  out += "^ ";
  out += message;
  return out;
}

const char* windowFnName(WindowFn f) {
  switch (f) {
    case WindowFn::kRate:
      return "rate";
    case WindowFn::kDeriv:
      return "deriv";
    case WindowFn::kDelta:
      return "delta";
    case WindowFn::kAvgOver:
      return "avg_over";
    case WindowFn::kMaxOver:
      return "max_over";
    case WindowFn::kMinOver:
      return "min_over";
  }
  return "?";
}

namespace {

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

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

struct ParseErr {
  std::size_t column;
  std::string message;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  // Splits everything up front; an unexpected character is an error at its column.
  bool run(std::vector<Token>& out, ParseErr& err) {
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

 private:
  std::string_view s_;
};

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

}  // namespace

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

Num Expr::evalNum(std::uint32_t i, const EvalContext& ctx) const {
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kNumber:
      return {n.number, true};
    case Kind::kSignal: {
      auto v = ctx.snapshot->get(n.signal);
      n.last = v ? Num{*v, true} : Num{};
      return n.last;
    }
    case Kind::kWindow:
      n.last = ctx.history ? ctx.history->apply(n.fn, n.signal, n.window_seconds, ctx.now_seconds)
                           : Num{};
      return n.last;
    case Kind::kTimeToOom:
      n.last = ctx.time_to_oom;
      return n.last;
    case Kind::kNeg: {
      Num a = evalNum(n.a, ctx);
      return {-a.value, a.known};
    }
    case Kind::kAdd:
    case Kind::kSub:
    case Kind::kMul:
    case Kind::kDiv: {
      Num a = evalNum(n.a, ctx), b = evalNum(n.b, ctx);
      if (!a.known || !b.known) return {};
      double r = n.kind == Kind::kAdd   ? a.value + b.value
                 : n.kind == Kind::kSub ? a.value - b.value
                 : n.kind == Kind::kMul ? a.value * b.value
                                        : a.value / b.value;
      // x/0 is unknown rather than an infinity that would compare as true.
      if (n.kind == Kind::kDiv && b.value == 0) return {};
      return {r, true};
    }
    default:
      return {};
  }
}

Truth Expr::evalBool(std::uint32_t i, const EvalContext& ctx) const {
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kAnd: {
      Truth a = evalBool(n.a, ctx), b = evalBool(n.b, ctx);
      if (a == Truth::kFalse || b == Truth::kFalse) return Truth::kFalse;
      if (a == Truth::kTrue && b == Truth::kTrue) return Truth::kTrue;
      return Truth::kUnknown;
    }
    case Kind::kOr: {
      Truth a = evalBool(n.a, ctx), b = evalBool(n.b, ctx);
      if (a == Truth::kTrue || b == Truth::kTrue) return Truth::kTrue;
      if (a == Truth::kFalse && b == Truth::kFalse) return Truth::kFalse;
      return Truth::kUnknown;
    }
    case Kind::kNot: {
      Truth a = evalBool(n.a, ctx);
      return a == Truth::kUnknown ? a : (a == Truth::kTrue ? Truth::kFalse : Truth::kTrue);
    }
    case Kind::kLt:
    case Kind::kLe:
    case Kind::kGt:
    case Kind::kGe:
    case Kind::kEq:
    case Kind::kNe: {
      Num a = evalNum(n.a, ctx), b = evalNum(n.b, ctx);
      if (!a.known || !b.known || std::isnan(a.value) || std::isnan(b.value))
        return Truth::kUnknown;
      bool r = n.kind == Kind::kLt   ? a.value < b.value
               : n.kind == Kind::kLe ? a.value <= b.value
               : n.kind == Kind::kGt ? a.value > b.value
               : n.kind == Kind::kGe ? a.value >= b.value
               : n.kind == Kind::kEq ? a.value == b.value
                                     : a.value != b.value;
      return r ? Truth::kTrue : Truth::kFalse;
    }
    default:
      return Truth::kUnknown;
  }
}

SignalBound Expr::rangeOf(std::uint32_t i, const SignalBounds& b) const {
  using K = SignalBound::Kind;
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kNumber:
      return {K::kRange, n.number, n.number};
    case Kind::kSignal:
      return b.bound(n.signal);
    case Kind::kNeg: {
      SignalBound a = rangeOf(n.a, b);
      if (a.kind != K::kRange) return a;
      return {K::kRange, -a.hi, -a.lo};
    }
    case Kind::kAdd:
    case Kind::kSub:
    case Kind::kMul:
    case Kind::kDiv: {
      SignalBound x = rangeOf(n.a, b), y = rangeOf(n.b, b);
      if (x.kind == K::kAbsent || y.kind == K::kAbsent) return {K::kAbsent};
      if (x.kind == K::kAny || y.kind == K::kAny) return {};
      if (n.kind == Kind::kAdd) return {K::kRange, x.lo + y.lo, x.hi + y.hi};
      if (n.kind == Kind::kSub) return {K::kRange, x.lo - y.hi, x.hi - y.lo};
      return {};  // products and quotients: not worth the sign cases
    }
    default:
      return {};  // window functions, time_to_oom: history, not a reading
  }
}

Expr::Possible Expr::possible(std::uint32_t i, const SignalBounds& b) const {
  using K = SignalBound::Kind;
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kAnd: {
      Possible x = possible(n.a, b), y = possible(n.b, b);
      return {x.can_true && y.can_true, x.can_false || y.can_false};
    }
    case Kind::kOr: {
      Possible x = possible(n.a, b), y = possible(n.b, b);
      return {x.can_true || y.can_true, x.can_false && y.can_false};
    }
    case Kind::kNot: {
      Possible x = possible(n.a, b);
      return {x.can_false, x.can_true};
    }
    case Kind::kLt:
    case Kind::kLe:
    case Kind::kGt:
    case Kind::kGe:
    case Kind::kEq:
    case Kind::kNe: {
      SignalBound x = rangeOf(n.a, b), y = rangeOf(n.b, b);
      // An absent signal makes the comparison unknown: neither true nor false.
      if (x.kind == K::kAbsent || y.kind == K::kAbsent) return {false, false};
      if (x.kind == K::kAny || y.kind == K::kAny) return {};
      const bool overlap = x.lo <= y.hi && y.lo <= x.hi;
      const bool single = x.lo == x.hi && y.lo == y.hi && x.lo == y.lo;
      switch (n.kind) {
        case Kind::kGt:
          return {x.hi > y.lo, x.lo <= y.hi};
        case Kind::kGe:
          return {x.hi >= y.lo, x.lo < y.hi};
        case Kind::kLt:
          return {x.lo < y.hi, x.hi >= y.lo};
        case Kind::kLe:
          return {x.lo <= y.hi, x.hi > y.lo};
        case Kind::kEq:
          return {overlap, !single};
        default:
          return {!single, overlap};
      }
    }
    default:
      return {};
  }
}

bool Expr::uses(SignalId signal) const {
  return std::any_of(nodes_.begin(), nodes_.end(), [&](const Node& n) {
    return (n.kind == Node::Kind::kSignal || n.kind == Node::Kind::kWindow) && n.signal == signal;
  });
}

std::vector<std::pair<SignalId, double>> Expr::levels() const {
  std::vector<std::pair<SignalId, double>> out;
  for (const Node& n : nodes_) {
    if (n.kind < Node::Kind::kLt || n.kind > Node::Kind::kNe) continue;
    const Node& a = nodes_[n.a];
    const Node& b = nodes_[n.b];
    if (a.kind == Node::Kind::kSignal && b.kind == Node::Kind::kNumber)
      out.emplace_back(a.signal, b.number);
    else if (b.kind == Node::Kind::kSignal && a.kind == Node::Kind::kNumber)
      out.emplace_back(b.signal, a.number);
  }
  return out;
}

bool Expr::mayBeTrue(const SignalBounds& bounds) const { return possible(root_, bounds).can_true; }

Truth Expr::evaluate(const EvalContext& ctx) const {
  // Leaves not reached this time (short-circuit is not used, so all are) keep no stale value.
  return evalBool(root_, ctx);
}

void Expr::lastValues(std::vector<std::pair<std::string, double>>& known,
                      std::vector<std::string>* unknown) const {
  // A signal written twice in one expression is reported once.
  forEachLeaf([&](const std::string& label, Num v) {
    if (v.known) {
      for (const auto& k : known)
        if (k.first == label) return;
      known.emplace_back(label, v.value);
    } else if (unknown) {
      for (const auto& u : *unknown)
        if (u == label) return;
      unknown->push_back(label);
    }
  });
}

}  // namespace oomsentinel
