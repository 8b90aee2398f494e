// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// Rule expressions (rules/expr.h): parsed from the config, then evaluated every tick. What
// parses is evaluated with every signal unknown, with values, and against bounds, so that the
// evaluator never reads a node the parser did not make.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/signal.h"
#include "core/snapshot.h"
#include "rules/expr.h"
#include "rules/history.h"

using namespace oomsentinel;

namespace {
class SomeBounds final : public SignalBounds {
 public:
  SignalBound bound(SignalId signal) const override {
    switch (signal % 3) {
      case 0:
        return {SignalBound::Kind::kAny};
      case 1:
        return {SignalBound::Kind::kAbsent};
      default:
        return {SignalBound::Kind::kRange, 0.5 * signal, 2.0 * signal + 1};
    }
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = Expr::parse(text);
  if (auto* err = std::get_if<ExprError>(&parsed)) {
    (void)err->render(text);
    return 0;
  }
  const Expr& expr = std::get<Expr>(parsed);
  History history(std::chrono::milliseconds(100));
  for (const auto& w : expr.windows()) history.require(w.signal, w.window);
  Snapshot empty;
  EvalContext ctx{&empty, &history, 0, {}};
  (void)expr.evaluate(ctx);
  // Values of every kind, the awkward ones included.
  static const double kValues[] = {0,
                                   1,
                                   -1,
                                   0.85,
                                   1e300,
                                   std::numeric_limits<double>::infinity(),
                                   std::numeric_limits<double>::quiet_NaN(),
                                   -0.0};
  Snapshot snap;
  for (SignalId i = 0; i < signalCount(); ++i) snap.set(i, kValues[i % std::size(kValues)]);
  for (int tick = 1; tick <= 3; ++tick) {
    history.append(snap, tick * 0.5);
    ctx = {&snap, &history, tick * 0.5, {tick * 10.0, tick != 2}};
    (void)expr.evaluate(ctx);
  }
  (void)expr.mayBeTrue(SomeBounds());
  (void)expr.levels();
  std::vector<std::pair<std::string, double>> known;
  std::vector<std::string> unknown;
  expr.lastValues(known, &unknown);
  return 0;
}
