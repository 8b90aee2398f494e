#include "collectors/runtime_endpoint.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "collectors/go_expvar.h"
#include "core/units.h"

namespace oomsentinel {

const char* runtimeFormatName(RuntimeFormat f) {
  return f == RuntimeFormat::kGoExpvar ? "go_expvar" : "metrics";
}

bool RuntimeBodyBudget::resize(std::size_t& held, std::size_t want) {
  std::lock_guard lock(mu_);
  std::size_t limit = want <= kSmall ? limit_ : limit_ - limit_ / 8;
  if (want > held && used_ + (want - held) > limit && used_ > held) return false;
  used_ = used_ - held + want;
  held = want;
  peak_ = std::max(peak_, used_);
  return true;
}

std::size_t RuntimeBodyBudget::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

std::size_t RuntimeBodyBudget::peak() const {
  std::lock_guard lock(mu_);
  return peak_;
}

struct RuntimeFetcher::Loop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
};

RuntimeFetcher::RuntimeFetcher(std::size_t body_budget)
    : budget_(std::make_shared<RuntimeBodyBudget>(body_budget)),
      loop_(std::make_unique<Loop>()),
      thread_([this] { loop_->io.run(); }) {}

RuntimeFetcher::~RuntimeFetcher() {
  loop_->work.reset();
  loop_->io.stop();
  thread_.join();
}

boost::asio::io_context& RuntimeFetcher::io() { return loop_->io; }

Result<std::size_t> mapRuntimePayload(const RuntimeEndpointSpec& spec, std::string_view body,
                                      Snapshot& out) {
  if (spec.format == RuntimeFormat::kGoExpvar) return mapGoExpvar(body, out);
  if (spec.mappings.empty()) return mapPromText(body, wellKnownPromMappings(), out);
  std::vector<PromMapping> all = spec.mappings;
  const auto& known = wellKnownPromMappings();
  all.insert(all.end(), known.begin(), known.end());
  return mapPromText(body, all, out);
}

namespace {

// A 2xx body as it arrives, its capacity counted in the fetcher's budget. The buffer grows by
// doubling, up to the endpoint's cap; while it moves, the old and the new one are both counted.
class BudgetedBody {
 public:
  BudgetedBody(std::shared_ptr<RuntimeBodyBudget> budget, std::size_t cap)
      : budget_(std::move(budget)), cap_(cap) {}
  ~BudgetedBody() { release(); }
  BudgetedBody(const BudgetedBody&) = delete;
  BudgetedBody& operator=(const BudgetedBody&) = delete;

  Status append(std::string_view piece) {
    std::size_t need = text_.size() + piece.size();
    if (need > text_.capacity()) {
      std::size_t grow =
          std::max(need, std::min(cap_, std::max<std::size_t>(2 * text_.capacity(), 64 << 10)));
      if (!budget_->resize(held_, held_ + grow))
        return makeError("the bodies of other runtime endpoints already hold " +
                         formatBytes(static_cast<double>(budget_->used() - held_)) + " of " +
                         formatBytes(static_cast<double>(budget_->limit())) +
                         "; this one is dropped at " +
                         formatBytes(static_cast<double>(text_.size())) +
                         " and fetched again at its next interval");
      text_.reserve(grow);
      budget_->resize(held_, text_.capacity());
    }
    text_.append(piece);
    return Ok{};
  }
  std::string_view text() const { return text_; }
  // Frees the buffer (not merely empties it) and returns its share.
  void release() {
    std::string().swap(text_);
    budget_->resize(held_, 0);
  }

 private:
  std::shared_ptr<RuntimeBodyBudget> budget_;
  std::size_t cap_;
  std::size_t held_ = 0;
  std::string text_;
};

}  // namespace

struct RuntimeEndpoint::Shared {
  RuntimeEndpointSpec spec;
  const Clock* clock = nullptr;
  std::mutex mu;
  std::vector<std::pair<SignalId, double>> values;
  std::optional<SteadyTime> fetched_at;
  std::optional<Duration> last_took;
  std::optional<SteadyTime> next_due;
  bool in_flight = false;
  std::string last_error;
  bool error_changed = false;
  std::uint64_t errors = 0, fetches = 0;
  Snapshot scratch;  // only the io thread uses it
};

RuntimeEndpoint::RuntimeEndpoint(RuntimeEndpointSpec spec, const Clock& clock)
    : spec_(std::move(spec)), clock_(clock), shared_(std::make_shared<Shared>()) {
  shared_->spec = spec_;
  shared_->clock = &clock_;
}

void RuntimeEndpoint::poll(RuntimeFetcher& fetcher) {
  SteadyTime now = clock_.steadyNow();
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->in_flight) return;
    if (shared_->next_due && now < *shared_->next_due) return;
    shared_->in_flight = true;
    shared_->next_due = now + spec_.interval;
    ++shared_->fetches;
  }
  HttpRequest req;
  req.url = spec_.url;
  req.timeout = spec_.timeout;
  req.max_body = spec_.max_bytes;
  if (spec_.format == RuntimeFormat::kPromText)
    req.headers.emplace_back("Accept", "text/plain;version=0.0.4");
  // The body grows in the fetcher's budget as it arrives, not in a buffer of its own.
  auto body = std::make_shared<BudgetedBody>(fetcher.sharedBodyBudget(), spec_.max_bytes);
  req.body_sink = [body](std::string_view piece) { return body->append(piece); };
  std::shared_ptr<Shared> sh = shared_;
  startHttpRequest(fetcher.io(), std::move(req), [sh, body](Result<HttpResponse> r) {
    // On the fetcher's thread: parse outside the lock, then publish.
    std::string error;
    std::optional<Duration> took;
    if (!r.ok()) {
      error = r.error().describe();
    } else {
      took = r->took;
      if (r->status < 200 || r->status > 299) {
        std::string excerpt = r->body.substr(0, 200);
        for (char& c : excerpt)
          if (c == '\n' || c == '\r') c = ' ';
        error = "GET " + sh->spec.url.str() + ": HTTP " + std::to_string(r->status) + " " +
                r->reason + (excerpt.empty() ? "" : ": " + excerpt);
      } else if (r->truncated) {
        error = "GET " + sh->spec.url.str() + ": the response body is larger than the " +
                formatBytes(static_cast<double>(sh->spec.max_bytes)) + " cap";
      } else {
        sh->scratch.clear();
        auto mapped = mapRuntimePayload(sh->spec, body->text(), sh->scratch);
        if (!mapped.ok())
          error = "GET " + sh->spec.url.str() + ": " + mapped.error().describe();
        else if (*mapped == 0)
          error =
              "GET " + sh->spec.url.str() + ": the payload has none of the " +
              std::string(sh->spec.format == RuntimeFormat::kGoExpvar ? "memstats fields"
                                                                      : "mapped metric families") +
              " oomsentinel reads";
      }
    }
    body->release();
    SteadyTime now = sh->clock->steadyNow();
    std::lock_guard lock(sh->mu);
    sh->in_flight = false;
    sh->last_took = took;
    if (error.empty()) {
      sh->values.clear();
      sh->scratch.forEach([&](SignalId id, double v) { sh->values.emplace_back(id, v); });
      sh->fetched_at = now;
    } else {
      ++sh->errors;
    }
    if (error != sh->last_error) {
      sh->last_error = std::move(error);
      sh->error_changed = true;
    }
  });
}

std::optional<Duration> RuntimeEndpoint::merge(Snapshot& out) const {
  SteadyTime now = clock_.steadyNow();
  std::lock_guard lock(shared_->mu);
  if (!shared_->fetched_at) return std::nullopt;
  Duration age = now - *shared_->fetched_at;
  if (age > spec_.stale_after) return std::nullopt;
  for (const auto& [id, v] : shared_->values)
    if (!out.has(id)) out.set(id, v);
  return age;
}

RuntimeEndpointState RuntimeEndpoint::state() const {
  SteadyTime now = clock_.steadyNow();
  std::lock_guard lock(shared_->mu);
  RuntimeEndpointState s;
  s.has_values = shared_->fetched_at.has_value();
  s.signals = shared_->values.size();
  if (shared_->fetched_at) {
    s.age = now - *shared_->fetched_at;
    s.stale = *s.age > spec_.stale_after;
  }
  s.last_took = shared_->last_took;
  s.last_error = shared_->last_error;
  s.errors = shared_->errors;
  s.fetches = shared_->fetches;
  s.in_flight = shared_->in_flight;
  return s;
}

bool RuntimeEndpoint::takeErrorChange(std::string* error) {
  std::lock_guard lock(shared_->mu);
  if (!shared_->error_changed) return false;
  shared_->error_changed = false;
  if (error) *error = shared_->last_error;
  return true;
}

}  // namespace oomsentinel
