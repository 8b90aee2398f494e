#include "collectors/runtime_endpoint.h"

#include "collectors/go_expvar.h"

namespace oomsentinel {

const char* runtimeFormatName(RuntimeFormat f) {
  return f == RuntimeFormat::kGoExpvar ? "go_expvar" : "metrics";
}

RuntimeFetcher::RuntimeFetcher()
    : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

RuntimeFetcher::~RuntimeFetcher() {
  work_.reset();
  io_.stop();
  thread_.join();
}

Result<std::size_t> mapRuntimePayload(const RuntimeEndpointSpec& spec, std::string_view body,
                                      Snapshot& out) {
  if (spec.format == RuntimeFormat::kGoExpvar) return mapGoExpvar(body, out);
  if (spec.mappings.empty()) return mapPromText(body, wellKnownPromMappings(), out);
  std::vector<PromMapping> all = spec.mappings;
  const auto& known = wellKnownPromMappings();
  all.insert(all.end(), known.begin(), known.end());
  return mapPromText(body, all, out);
}

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
  std::shared_ptr<Shared> sh = shared_;
  startHttpRequest(fetcher.io(), std::move(req), [sh](Result<HttpResponse> r) {
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
      } else {
        sh->scratch.clear();
        auto mapped = mapRuntimePayload(sh->spec, r->body, sh->scratch);
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
