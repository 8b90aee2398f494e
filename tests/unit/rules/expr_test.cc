// Expr: parsing (operators, precedence, units, type checks, error messages with their caret)
// and evaluation with Kleene logic over absent signals.
#include "rules/expr.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/signal.h"
#include "core/snapshot.h"
#include "rules/history.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;

using testing::kInf;

Expr mustParse(std::string_view text) {
  auto r = Expr::parse(text);
  if (auto* err = std::get_if<ExprError>(&r)) {
    ADD_FAILURE() << "'" << text << "' did not parse:\n" << err->render(text);
    return Expr();
  }
  return std::get<Expr>(std::move(r));
}

ExprError mustFail(std::string_view text) {
  auto r = Expr::parse(text);
  if (auto* err = std::get_if<ExprError>(&r)) return *err;
  ADD_FAILURE() << "'" << text << "' parsed, but should not have";
  return ExprError{};
}

Truth eval(std::string_view text, const Snapshot& snap, Num tto = {},
           const History* history = nullptr, double now = 0) {
  auto r = Expr::parse(text);
  if (auto* err = std::get_if<ExprError>(&r)) {
    ADD_FAILURE() << "'" << text.substr(0, 200) << "' did not parse:\n"
                  << err->message << " at column " << err->column;
    return Truth::kUnknown;
  }
  EvalContext ctx{&snap, history, now, tto};
  return std::get<Expr>(r).evaluate(ctx);
}

const char* truthName(Truth t) {
  switch (t) {
    case Truth::kFalse:
      return "false";
    case Truth::kTrue:
      return "true";
    case Truth::kUnknown:
      return "unknown";
  }
  return "?";
}

// A snapshot with a few well-known signals and the test's own names.
class ExprEval : public ::testing::Test {
 protected:
  ExprEval() {
    snap.set(Sig::kUsageBytes, 800.0 * 1024 * 1024);
    snap.set(Sig::kLimitBytes, 1024.0 * 1024 * 1024);
    snap.set(Sig::kWorkingSetRatio, 0.9);
    snap.set(internSignal("two"), 2);
    snap.set(internSignal("three"), 3);
    snap.set(internSignal("zero"), 0);
  }
  void expectTruth(std::string_view text, Truth want, Num tto = {}) {
    Truth got = eval(text, snap, tto);
    EXPECT_EQ(got, want) << "'" << text << "' is " << truthName(got) << ", expected "
                         << truthName(want);
  }
  Snapshot snap;
};

// ---------------------------------------------------------------------------------------------
// Operators

TEST_F(ExprEval, EveryComparisonOperator) {
  struct Case {
    const char* text;
    Truth want;
  } cases[] = {
      {"two < 3", Truth::kTrue},   {"two < 2", Truth::kFalse},  {"two < 1", Truth::kFalse},
      {"two <= 3", Truth::kTrue},  {"two <= 2", Truth::kTrue},  {"two <= 1", Truth::kFalse},
      {"two > 3", Truth::kFalse},  {"two > 2", Truth::kFalse},  {"two > 1", Truth::kTrue},
      {"two >= 3", Truth::kFalse}, {"two >= 2", Truth::kTrue},  {"two >= 1", Truth::kTrue},
      {"two == 3", Truth::kFalse}, {"two == 2", Truth::kTrue},  {"two == 1", Truth::kFalse},
      {"two != 3", Truth::kTrue},  {"two != 2", Truth::kFalse}, {"two != 1", Truth::kTrue},
  };
  for (const auto& c : cases) expectTruth(c.text, c.want);
}

TEST_F(ExprEval, ArithmeticAndItsPrecedence) {
  expectTruth("two + three == 5", Truth::kTrue);
  expectTruth("two - three == -1", Truth::kTrue);
  expectTruth("two * three == 6", Truth::kTrue);
  expectTruth("three / two == 1.5", Truth::kTrue);
  // * and / bind tighter than + and -.
  expectTruth("1 + two * three == 7", Truth::kTrue);
  expectTruth("three - 6 / two == 0", Truth::kTrue);
  expectTruth("(1 + two) * three == 9", Truth::kTrue);
  // Left associative.
  expectTruth("10 - 4 - 3 == 3", Truth::kTrue);
  expectTruth("24 / 4 / 2 == 3", Truth::kTrue);
  // Unary minus.
  expectTruth("-two + 5 == 3", Truth::kTrue);
  expectTruth("- -two == 2", Truth::kTrue);
  expectTruth("two * -three == -6", Truth::kTrue);
  // Arithmetic binds tighter than comparison: usage / limit = 0.78125.
  expectTruth("usage_bytes / limit_bytes > 78%", Truth::kTrue);
  expectTruth("usage_bytes / limit_bytes > 79%", Truth::kFalse);
  expectTruth("limit_bytes - usage_bytes == 224MiB", Truth::kTrue);
}

TEST_F(ExprEval, AndBindsTighterThanOr) {
  // and-first: true or (true and false) = true; or-first would be (true or true) and false.
  expectTruth("1 > 0 or 1 > 0 and 1 < 0", Truth::kTrue);
  // and-first: (false and true) or true = true; or-first would be false and (true or true).
  expectTruth("1 < 0 and 1 > 0 or 1 > 0", Truth::kTrue);
  expectTruth("(1 > 0 or 1 > 0) and 1 < 0", Truth::kFalse);
  expectTruth("1 < 0 and (1 > 0 or 1 > 0)", Truth::kFalse);
}

TEST_F(ExprEval, NotBindsLooserThanComparisonAndTighterThanAndOr) {
  expectTruth("not two > 3", Truth::kTrue);
  expectTruth("not two < 3", Truth::kFalse);
  // (not true) or true = true; not (true or true) would be false.
  expectTruth("not 1 > 0 or 1 > 0", Truth::kTrue);
  // (not false) and false = false... and not (false and false) would be true.
  expectTruth("not 1 < 0 and 1 < 0", Truth::kFalse);
  expectTruth("not (1 > 0 and 1 < 0)", Truth::kTrue);
  expectTruth("not not two == 2", Truth::kTrue);
  expectTruth("not not not two == 2", Truth::kFalse);
}

TEST_F(ExprEval, WhitespaceIsOptional) {
  expectTruth("two*three==6 and(two<3)", Truth::kTrue);
  expectTruth("(two>1)and(three>2)or(1<0)", Truth::kTrue);
  expectTruth("-two*-three==6", Truth::kTrue);
}

// ---------------------------------------------------------------------------------------------
// Units

class ExprUnits : public ::testing::TestWithParam<std::pair<const char*, double>> {};

TEST_P(ExprUnits, LiteralHasItsValueInBaseUnits) {
  auto [literal, value] = GetParam();
  Snapshot s;
  SignalId probe = internSignal("probe");
  s.set(probe, value);
  std::string text = std::string("probe == ") + literal;
  EXPECT_EQ(eval(text, s), Truth::kTrue) << text << " with probe = " << value;
  s.set(probe, std::nextafter(value, kInf));
  EXPECT_EQ(eval(text, s), Truth::kFalse) << text << " with probe just above " << value;
}

INSTANTIATE_TEST_SUITE_P(
    Expr, ExprUnits,
    ::testing::Values(std::pair{"85%", 0.85}, std::pair{"100%", 1.0}, std::pair{"0.5%", 0.005},
                      std::pair{"64MiB", 64.0 * 1024 * 1024}, std::pair{"1.5GiB", 1610612736.0},
                      std::pair{"4KiB", 4096.0}, std::pair{"2TiB", 2199023255552.0},
                      std::pair{"10s", 10.0}, std::pair{"50ms", 0.05}, std::pair{"2m", 120.0},
                      std::pair{"1.5h", 5400.0}, std::pair{"250us", 0.00025},
                      std::pair{"100ns", 1e-7}, std::pair{"42", 42.0}, std::pair{"0.25", 0.25},
                      std::pair{".5", 0.5}, std::pair{"1e3", 1000.0}, std::pair{"2.5e-1", 0.25}));

TEST(Expr, UnitsCompareAcrossSignals) {
  Snapshot s;
  s.set(Sig::kWorkingSetRatio, 0.86);
  s.set(Sig::kUsageBytes, 65.0 * 1024 * 1024);
  EXPECT_EQ(eval("working_set_ratio > 85%", s), Truth::kTrue);
  EXPECT_EQ(eval("working_set_ratio > 87%", s), Truth::kFalse);
  EXPECT_EQ(eval("usage_bytes > 64MiB", s), Truth::kTrue);
  EXPECT_EQ(eval("usage_bytes > 66MiB", s), Truth::kFalse);
  EXPECT_EQ(eval("time_to_oom < 10s", s, Num{9.5, true}), Truth::kTrue);
  EXPECT_EQ(eval("time_to_oom < 10s", s, Num{10.5, true}), Truth::kFalse);
}

// ---------------------------------------------------------------------------------------------
// Kleene logic: an absent signal is unknown, never zero

TEST_F(ExprEval, AbsentSignalMakesComparisonUnknown) {
  expectTruth("missing_signal > 1", Truth::kUnknown);
  expectTruth("missing_signal == 0", Truth::kUnknown);  // absent is not a made-up zero
  expectTruth("missing_signal != 0", Truth::kUnknown);
  expectTruth("1 < missing_signal", Truth::kUnknown);
  expectTruth("missing_signal + 1 > 0", Truth::kUnknown);
  expectTruth("two * missing_signal >= 0", Truth::kUnknown);
  expectTruth("-missing_signal < 0", Truth::kUnknown);
}

TEST_F(ExprEval, KleeneOrAndNot) {
  // unknown or true = true, in either order.
  expectTruth("missing_signal > 1 or two == 2", Truth::kTrue);
  expectTruth("two == 2 or missing_signal > 1", Truth::kTrue);
  // unknown or false = unknown.
  expectTruth("missing_signal > 1 or two == 3", Truth::kUnknown);
  expectTruth("two == 3 or missing_signal > 1", Truth::kUnknown);
  // unknown and false = false, in either order.
  expectTruth("missing_signal > 1 and two == 3", Truth::kFalse);
  expectTruth("two == 3 and missing_signal > 1", Truth::kFalse);
  // unknown and true = unknown.
  expectTruth("missing_signal > 1 and two == 2", Truth::kUnknown);
  expectTruth("two == 2 and missing_signal > 1", Truth::kUnknown);
  // not unknown = unknown.
  expectTruth("not missing_signal > 1", Truth::kUnknown);
  expectTruth("not (missing_signal > 1 or two == 3)", Truth::kUnknown);
  expectTruth("not (missing_signal > 1 and two == 3)", Truth::kTrue);
  // unknown or unknown, unknown and unknown.
  expectTruth("missing_signal > 1 or other_missing > 1", Truth::kUnknown);
  expectTruth("missing_signal > 1 and other_missing > 1", Truth::kUnknown);
}

TEST_F(ExprEval, DivisionByZeroIsUnknown) {
  expectTruth("two / zero > 1", Truth::kUnknown);
  expectTruth("two / zero < 1", Truth::kUnknown);
  expectTruth("two / 0 > 0", Truth::kUnknown);
  expectTruth("zero / zero == 0", Truth::kUnknown);
  expectTruth("-two / (three - three) < 0", Truth::kUnknown);
  expectTruth("not two / zero > 1", Truth::kUnknown);
  expectTruth("two / zero > 1 or two == 2", Truth::kTrue);
  expectTruth("two / zero > 1 and two == 3", Truth::kFalse);
  // Dividing zero by something is fine.
  expectTruth("zero / two == 0", Truth::kTrue);
}

TEST_F(ExprEval, NanIsUnknownAndInfinityCompares) {
  snap.set(internSignal("nan_signal"), std::nan(""));
  expectTruth("nan_signal > 1", Truth::kUnknown);
  expectTruth("nan_signal != 1", Truth::kUnknown);
  // time_to_oom is +Inf for a target that is not growing: never below a threshold.
  expectTruth("time_to_oom < 10s", Truth::kFalse, Num{kInf, true});
  expectTruth("time_to_oom > 1h", Truth::kTrue, Num{kInf, true});
  // Unknown time_to_oom (too few samples).
  expectTruth("time_to_oom < 10s", Truth::kUnknown, Num{});
  expectTruth("time_to_oom < 10s or working_set_ratio > 85%", Truth::kTrue, Num{});
  expectTruth("time_to_oom < 10s or working_set_ratio > 95%", Truth::kUnknown, Num{});
}

// ---------------------------------------------------------------------------------------------
// Window functions, windows() and usesTimeToOom()

TEST(Expr, WindowsListsEverySeriesAndItsWindow) {
  Expr e = mustParse("rate(pgscan[10s]) > 1 and max_over(working_set_bytes[2m]) > 0");
  ASSERT_EQ(e.windows().size(), 2u);
  EXPECT_EQ(e.windows()[0].signal, id(Sig::kPgscan));
  EXPECT_EQ(e.windows()[0].window, 10s);
  EXPECT_EQ(e.windows()[1].signal, id(Sig::kWorkingSetBytes));
  EXPECT_EQ(e.windows()[1].window, 2min);
  EXPECT_FALSE(e.usesTimeToOom());

  Expr plain = mustParse("working_set_ratio > 85%");
  EXPECT_TRUE(plain.windows().empty());
  EXPECT_FALSE(plain.usesTimeToOom());

  Expr all = mustParse(
      "deriv(usage_bytes[100ms]) > 0 or delta(pgfault[1h]) > 0 or avg_over(psi_some_avg10[30s]) > "
      "1 or min_over(rss_bytes[500ms]) > 0");
  ASSERT_EQ(all.windows().size(), 4u);
  EXPECT_EQ(all.windows()[0].signal, id(Sig::kUsageBytes));
  EXPECT_EQ(all.windows()[0].window, 100ms);
  EXPECT_EQ(all.windows()[1].signal, id(Sig::kPgfault));
  EXPECT_EQ(all.windows()[1].window, 1h);
  EXPECT_EQ(all.windows()[2].window, 30s);
  EXPECT_EQ(all.windows()[3].signal, id(Sig::kRssBytes));
  EXPECT_EQ(all.windows()[3].window, 500ms);
}

TEST(Expr, UsesTimeToOom) {
  EXPECT_TRUE(mustParse("time_to_oom < 10s").usesTimeToOom());
  EXPECT_TRUE(mustParse("working_set_ratio > 95% or not time_to_oom > 1m").usesTimeToOom());
  // The signal the engine writes is a plain signal, not the prediction itself.
  EXPECT_FALSE(mustParse("time_to_oom_seconds < 10").usesTimeToOom());
  EXPECT_FALSE(mustParse("working_set_ratio > 95%").usesTimeToOom());
}

TEST(Expr, WindowFunctionsReadTheHistory) {
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  for (int t = 0; t <= 10; ++t) {
    Snapshot s;
    s.set(Sig::kPgscan, 100.0 * t);
    h.append(s, t);
  }
  Snapshot now;
  EXPECT_EQ(eval("rate(pgscan[10s]) == 100", now, {}, &h, 10), Truth::kTrue);
  EXPECT_EQ(eval("delta(pgscan[10s]) == 1000", now, {}, &h, 10), Truth::kTrue);
  EXPECT_EQ(eval("max_over(pgscan[10s]) == 1000", now, {}, &h, 10), Truth::kTrue);
  EXPECT_EQ(eval("min_over(pgscan[5s]) == 500", now, {}, &h, 10), Truth::kTrue);
  EXPECT_EQ(eval("avg_over(pgscan[10s]) == 500", now, {}, &h, 10), Truth::kTrue);
  EXPECT_EQ(
      eval("deriv(pgscan[10s]) > 99.999999 and deriv(pgscan[10s]) < 100.000001", now, {}, &h, 10),
      Truth::kTrue);
  // A series the history does not keep, and no history at all: unknown.
  EXPECT_EQ(eval("rate(pgfault[10s]) > 0", now, {}, &h, 10), Truth::kUnknown);
  EXPECT_EQ(eval("rate(pgscan[10s]) > 0", now, {}, nullptr, 10), Truth::kUnknown);
}

TEST(Expr, LastValuesReportsLeavesKnownAndUnknown) {
  auto parsed = Expr::parse(
      "working_set_ratio > 85% and (missing_signal > 1 or rate(pgscan[10s]) > 5) or time_to_oom "
      "< 10s");
  ASSERT_TRUE(std::holds_alternative<Expr>(parsed));
  const Expr& e = std::get<Expr>(parsed);
  Snapshot s;
  s.set(Sig::kWorkingSetRatio, 0.9);
  History h(1s);
  h.require(id(Sig::kPgscan), 10s);
  for (int t = 0; t <= 2; ++t) {
    Snapshot p;
    p.set(Sig::kPgscan, 10.0 * t);
    h.append(p, t);
  }
  EvalContext ctx{&s, &h, 2, Num{42, true}};
  EXPECT_EQ(e.evaluate(ctx), Truth::kTrue);
  std::vector<std::pair<std::string, double>> known;
  std::vector<std::string> unknown;
  e.lastValues(known, &unknown);
  std::vector<std::pair<std::string, double>> want_known = {
      {"working_set_ratio", 0.9}, {"rate(pgscan[10s])", 10.0}, {"time_to_oom", 42.0}};
  EXPECT_EQ(known, want_known);
  EXPECT_EQ(unknown, std::vector<std::string>{"missing_signal"});

  // A later evaluation with other values replaces them; nothing stale stays behind.
  Snapshot s2;
  s2.set(internSignal("missing_signal"), 3);
  EvalContext ctx2{&s2, nullptr, 2, Num{}};
  EXPECT_EQ(e.evaluate(ctx2), Truth::kUnknown);
  known.clear();
  unknown.clear();
  e.lastValues(known, &unknown);
  EXPECT_EQ(known, (std::vector<std::pair<std::string, double>>{{"missing_signal", 3.0}}));
  EXPECT_EQ(unknown,
            (std::vector<std::string>{"working_set_ratio", "rate(pgscan[10s])", "time_to_oom"}));
}

TEST(Expr, KeepsItsText) {
  EXPECT_EQ(mustParse("  working_set_ratio>85% ").text(), "  working_set_ratio>85% ");
}

// ---------------------------------------------------------------------------------------------
// Errors: the message, the column, and the caret under it

struct ErrorCase {
  const char* text;
  std::size_t column;
  const char* message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << "'" << c.text << "'"; }

class ExprErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ExprErrors, MessageAndColumn) {
  const ErrorCase& c = GetParam();
  ExprError err = mustFail(c.text);
  EXPECT_EQ(err.message, c.message) << c.text;
  EXPECT_EQ(err.column, c.column) << c.text << "\n" << err.render(c.text);
}

INSTANTIATE_TEST_SUITE_P(
    Syntax, ExprErrors,
    ::testing::Values(
        ErrorCase{"foo(usage_bytes) > 1", 1,
                  "unknown function 'foo' (rate, deriv, delta, avg_over, max_over, min_over)"},
        ErrorCase{"usage_ratio > 0.5 and Rate(pgscan[10s]) > 1", 23,
                  "unknown function 'Rate' (rate, deriv, delta, avg_over, max_over, min_over)"},
        ErrorCase{"(working_set_ratio > 85%", 25, "expected ')' to close the '(' at column 1"},
        ErrorCase{"usage_ratio > 0.5 or (pgscan > 1 and (pgfault > 2)", 51,
                  "expected ')' to close the '(' at column 22"},
        ErrorCase{"rate(pgscan) > 10", 12,
                  "expected '[window]' after the signal: rate(signal[window]), e.g. "
                  "rate(pgmajfault[10s])"},
        ErrorCase{"rate(pgscan[10]) > 10", 13,
                  "expected a window duration such as 10s: rate(signal[window]), e.g. "
                  "rate(pgmajfault[10s])"},
        ErrorCase{"deriv(time_to_oom[10s]) > 0", 7,
                  "expected a signal name: deriv(signal[window]), e.g. deriv(pgmajfault[10s])"},
        ErrorCase{"rate > 1", 6,
                  "expected '(' after rate: rate(signal[window]), e.g. rate(pgmajfault[10s])"},
        ErrorCase{"rate(pgscan[10s) > 1", 16, "expected ']'"},
        ErrorCase{"rate(pgscan[10s] > 1", 18, "expected ')'"},
        ErrorCase{"usage_bytes > 10parsecs", 17,
                  "unknown unit 'parsecs' (use %, KiB, MiB, GiB, TiB, ms, s, m, h)"},
        ErrorCase{"usage_bytes > 1.2.3", 15, "bad number '1.2.3'"},
        ErrorCase{"usage_bytes = 64MiB", 13, "use '==' to compare"},
        ErrorCase{"usage_ratio > 0.5 && pgscan > 0", 19, "use 'and' instead of '&'"},
        ErrorCase{"usage_ratio > 0.5 || pgscan > 0", 19, "use 'or' instead of '|'"},
        ErrorCase{"!(usage_ratio > 0.5)", 1, "use 'not' or '!='"},
        ErrorCase{"0.5 < usage_ratio < 0.9", 19, "comparisons do not chain: use 'and'"},
        ErrorCase{"usage_ratio == 1 != 0", 18, "comparisons do not chain: use 'and'"},
        ErrorCase{"", 1, "empty expression"}, ErrorCase{"   ", 1, "empty expression"},
        ErrorCase{"usage_ratio > 0.5 usage_bytes", 19, "unexpected 'usage_bytes'"},
        ErrorCase{"usage_ratio > 0.5)", 18, "unexpected ')'"},
        ErrorCase{"usage_ratio > 0.5 # comment", 19, "unexpected character '#'"},
        ErrorCase{"usage_ratio >", 14, "expression ends too early"},
        ErrorCase{"and usage_ratio > 1", 1, "'and' needs a condition before it"},
        ErrorCase{"rate(pgscan[2h]) > 1", 13, "window must be between 100ms and 1h"},
        ErrorCase{"max_over(usage_bytes[50ms]) > 1", 22, "window must be between 100ms and 1h"},
        ErrorCase{"rate(pgscan[61m]) > 1", 13, "window must be between 100ms and 1h"}));

INSTANTIATE_TEST_SUITE_P(
    Types, ExprErrors,
    ::testing::Values(
        ErrorCase{"42", 1,
                  "the expression is a number, not a condition: compare it, e.g. '... > 80%'"},
        ErrorCase{"usage_bytes / limit_bytes", 1,
                  "the expression is a number, not a condition: compare it, e.g. '... > 80%'"},
        ErrorCase{"usage_bytes and pgscan > 1", 1, "'and' needs a condition here, not a number"},
        ErrorCase{"pgscan > 1 and usage_bytes", 16, "'and' needs a condition here, not a number"},
        ErrorCase{"pgscan > 1 or usage_bytes", 15, "'or' needs a condition here, not a number"},
        ErrorCase{"usage_bytes or pgscan > 1", 1, "'or' needs a condition here, not a number"},
        ErrorCase{"not usage_bytes", 5, "'not' needs a condition here, not a number"},
        ErrorCase{"(usage_ratio > 0.5) * 2", 1, "'*' needs a number here, not a condition"},
        ErrorCase{"2 + (usage_ratio > 0.5)", 5, "'+' needs a number here, not a condition"},
        ErrorCase{"(pgscan > 1) > 0", 1, "'>' needs a number here, not a condition"},
        ErrorCase{"usage_bytes > (pgscan > 1)", 15, "'>' needs a number here, not a condition"},
        ErrorCase{"-(pgscan > 1) < 0", 2, "'-' needs a number here, not a condition"}));

TEST(ExprErrorRender, CaretUnderTheColumn) {
  struct Golden {
    const char* text;
    const char* rendered;
  } goldens[] = {
      {"foo(usage_bytes) > 1",
       "  foo(usage_bytes) > 1\n"
       "  ^ unknown function 'foo' (rate, deriv, delta, avg_over, max_over, min_over)"},
      {"(working_set_ratio > 85%",
       "  (working_set_ratio > 85%\n"
       "                          ^ expected ')' to close the '(' at column 1"},
      {"rate(pgscan) > 10",
       "  rate(pgscan) > 10\n"
       "             ^ expected '[window]' after the signal: rate(signal[window]), e.g. "
       "rate(pgmajfault[10s])"},
      {"usage_bytes > 10parsecs",
       "  usage_bytes > 10parsecs\n"
       "                  ^ unknown unit 'parsecs' (use %, KiB, MiB, GiB, TiB, ms, s, m, h)"},
      {"usage_bytes = 64MiB",
       "  usage_bytes = 64MiB\n"
       "              ^ use '==' to compare"},
      {"usage_ratio > 0.5 && pgscan > 0",
       "  usage_ratio > 0.5 && pgscan > 0\n"
       "                    ^ use 'and' instead of '&'"},
      {"0.5 < usage_ratio < 0.9",
       "  0.5 < usage_ratio < 0.9\n"
       "                    ^ comparisons do not chain: use 'and'"},
      {"",
       "  \n"
       "  ^ empty expression"},
      {"usage_ratio > 0.5 usage_bytes",
       "  usage_ratio > 0.5 usage_bytes\n"
       "                    ^ unexpected 'usage_bytes'"},
      {"rate(pgscan[2h]) > 1",
       "  rate(pgscan[2h]) > 1\n"
       "              ^ window must be between 100ms and 1h"},
  };
  for (const auto& g : goldens) {
    ExprError err = mustFail(g.text);
    EXPECT_EQ(err.render(g.text), g.rendered) << "for '" << g.text << "'";
  }
}

TEST(ExprErrorRender, CustomIndent) {
  ExprError err = mustFail("usage_bytes = 1");
  EXPECT_EQ(err.render("usage_bytes = 1", "    "),
            "    usage_bytes = 1\n"
            "                ^ use '==' to compare");
}

TEST(Expr, WindowBoundsAreInclusive) {
  mustParse("rate(pgscan[100ms]) > 1");
  mustParse("rate(pgscan[1h]) > 1");
  mustParse("rate(pgscan[60m]) > 1");
  mustParse("rate(pgscan[3600s]) > 1");
  mustFail("rate(pgscan[99ms]) > 1");
  mustFail("rate(pgscan[3601s]) > 1");
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ExprLimits, NestingFarBeyondPeopleIsAnErrorNotAStackOverflow) {
  mustParse(repeat("(", 64) + "usage_ratio > 0.5" + repeat(")", 64));
  mustParse(repeat("not ", 64) + "usage_ratio > 0.5");
  ExprError e = mustFail(repeat("(", 65) + "usage_ratio > 0.5" + repeat(")", 65));
  EXPECT_EQ(e.column, 65u);
  EXPECT_EQ(e.message, "nested too deeply (more than 64 levels)");
  // What a fuzzer would try: each stops at the 65th level.
  e = mustFail(repeat("(", 100000) + "x > 1" + repeat(")", 100000));
  EXPECT_EQ(e.column, 65u);
  e = mustFail(repeat("not ", 100000) + "x > 1");
  EXPECT_EQ(e.column, 64u * 4 + 1);
  EXPECT_EQ(e.message, "nested too deeply (more than 64 levels)");
  e = mustFail(repeat("-", 100000) + "x > 1");
  EXPECT_EQ(e.column, 65u);
}

TEST(ExprLimits, NestingThatClosesAgainDoesNotAddUp) {
  Snapshot s;
  s.set(internSignal("x"), 1);
  EXPECT_EQ(eval(repeat("(x > 1) or ", 100) + "x == 1", s), Truth::kTrue);
  EXPECT_EQ(eval(repeat("not x > 1 and ", 100) + "x == 1", s), Truth::kTrue);
  EXPECT_EQ(eval(repeat("-x + ", 100) + "x == -99", s), Truth::kTrue);
}

TEST(ExprLimits, LongChainsAreCappedBecauseEvaluationRecursesThroughThem) {
  Snapshot s;
  s.set(internSignal("x"), 1);
  // 250 additions and the comparison: 251 levels, within the limit, and evaluated right.
  EXPECT_EQ(eval("x" + repeat(" + x", 250) + " == 251", s), Truth::kTrue);
  ExprError e = mustFail("x" + repeat(" + x", 300) + " > 1");
  EXPECT_EQ(e.column, 1u);
  EXPECT_EQ(e.message, "the expression is too long: more than 256 operations deep");
  e = mustFail("x > 1" + repeat(" or x > 1", 300000));
  EXPECT_EQ(e.message, "the expression is too long: more than 256 operations deep");
  // Depth through right-hand operands counts too: x * (x * (... (x + x + ... + x))).
  std::string deep = "x" + repeat(" + x", 240);
  for (int i = 0; i < 20; ++i) deep = "x * (" + deep + ")";
  e = mustFail(deep + " > 1");
  EXPECT_EQ(e.message, "the expression is too long: more than 256 operations deep");
}

TEST(Expr, ByteUnitsWithoutIAreRejected) {
  // "M" would read as mega to some and mebi to others (and "m" is minutes): say MiB.
  ExprError err = mustFail("usage_bytes > 64M");
  EXPECT_EQ(err.column, 17u);
  EXPECT_EQ(err.message, "unknown unit 'M' (use %, KiB, MiB, GiB, TiB, ms, s, m, h)");
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

TEST(ExprLastValues, ASignalWrittenTwiceIsReportedOnce) {
  auto parsed =
      Expr::parse("(time_to_oom < 10s and working_set_ratio > 70%) or working_set_ratio > 95%");
  ASSERT_TRUE(std::holds_alternative<Expr>(parsed));
  const Expr& e = std::get<Expr>(parsed);
  Snapshot s;
  s.set(Sig::kWorkingSetRatio, 0.8);
  EvalContext ctx{&s, nullptr, 0, Num{5, true}};
  EXPECT_EQ(e.evaluate(ctx), Truth::kTrue);
  std::vector<std::pair<std::string, double>> known;
  std::vector<std::string> unknown;
  e.lastValues(known, &unknown);
  ASSERT_EQ(known.size(), 2u);
  EXPECT_EQ(known[0].first, "time_to_oom");
  EXPECT_EQ(known[1].first, "working_set_ratio");
  EXPECT_TRUE(unknown.empty());
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

using Level = std::pair<SignalId, double>;

std::vector<Level> levelsOf(std::string_view text) {
  auto r = Expr::parse(text);
  if (auto* err = std::get_if<ExprError>(&r)) {
    ADD_FAILURE() << err->render(text);
    return {};
  }
  return std::get<Expr>(r).levels();
}

// The levels the kernel can be asked to watch: a bare signal against a number, either side.
TEST(ExprLevels, EachComparisonOfASignalWithANumber) {
  EXPECT_EQ(levelsOf("working_set_ratio > 85%"),
            (std::vector<Level>{{id(Sig::kWorkingSetRatio), 0.85}}));
  EXPECT_EQ(levelsOf("200MiB < usage_bytes"),
            (std::vector<Level>{{id(Sig::kUsageBytes), 200.0 * (1 << 20)}}));
  auto both = levelsOf("(time_to_oom < 10s and working_set_ratio > 70%) or usage_ratio >= 95%");
  EXPECT_EQ(both,
            (std::vector<Level>{{id(Sig::kWorkingSetRatio), 0.70}, {id(Sig::kUsageRatio), 0.95}}));
  // Not a level: arithmetic on the signal, a window function, two signals.
  EXPECT_TRUE(levelsOf("usage_bytes / 2 > 100MiB").empty());
  EXPECT_TRUE(levelsOf("rate(usage_bytes[10s]) > 10MiB").empty());
  EXPECT_TRUE(levelsOf("usage_bytes > limit_bytes").empty());
}

// Which signals an expression reads: what the daemon asks the kernel to notify (vmpressure).
TEST(ExprUses, BareSignalsAndWindowFunctionsCountNotOthers) {
  auto uses = [](std::string_view text, Sig s) {
    auto r = Expr::parse(text);
    if (auto* err = std::get_if<ExprError>(&r)) {
      ADD_FAILURE() << err->render(text);
      return false;
    }
    return std::get<Expr>(r).uses(id(s));
  };
  EXPECT_TRUE(uses("vmpressure_critical > 0", Sig::kVmpressureCritical));
  EXPECT_TRUE(
      uses("rate(vmpressure_medium[10s]) > 1 and usage_ratio > 50%", Sig::kVmpressureMedium));
  EXPECT_TRUE(uses("usage_ratio > 50%", Sig::kUsageRatio));
  EXPECT_FALSE(uses("rate(vmpressure_medium[10s]) > 1", Sig::kVmpressureCritical));
  EXPECT_FALSE(uses("time_to_oom < 10s", Sig::kVmpressureLow));
}

}  // namespace
}  // namespace oomsentinel
