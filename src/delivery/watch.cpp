// The dispatcher's watch over its endpoints: every exchange's outcome is counted per endpoint and
// minute (ops::EndpointWatch), an endpoint this hub reads that nothing was sent to for
// `watchers.interval` is probed (OPTIONS, no body, the hub's client certificate), and what was seen
// is written to the store every `watchers.flush_interval` (and at shutdown). A probe that finds the
// endpoint down opens an outage like a failed delivery does, one that finds it up ends it; probes
// never count towards pausing an endpoint nor resume a paused one.
#include "cjhub/delivery/dispatcher.hpp"

#include "cjhub/common/log.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/store/availability_repo.hpp"
#include "cjhub/store/session.hpp"

namespace cjhub::delivery {

namespace {

bool answered(const OutboundResult& r) { return r.error == TransportError::none; }

// An answer of the endpoint's own server that is not a failure of the server (408, 429, 5xx are):
// the endpoint is up, whatever it thinks of the request.
bool up_by_answer(const OutboundResult& r) {
  return answered(r) && r.status != 408 && r.status != 429 && r.status < 500;
}

}  // namespace

// An exchange's outcome, as availability sees it: 2xx up, an endpoint failure (judge()) down, any
// other answer (a 4xx refusing the message) neither. A name that does not resolve says nothing
// about the endpoint (the hub's DNS may be at fault) and is not counted.
void Dispatcher::observe(const store::Claimed& c, const OutboundResult& r, const Verdict& v) {
  if (r.error == TransportError::resolve) return;
  using Seen = ops::EndpointWatch::Seen;
  const Seen seen = v.kind == store::Completion::Kind::delivered ? Seen::up
                    : v.endpoint_failure                         ? Seen::down
                                                                 : Seen::other;
  watch_.attempt(c.endpoint_id, seen, std::chrono::system_clock::now() - r.elapsed,
                 answered(r) ? std::optional(r.elapsed) : std::nullopt);
}

void Dispatcher::send_probe(const store::EndpointRow& ep) {
  OutboundRequest req;
  req.method = "OPTIONS";
  req.url = ep.url;
  req.connect_timeout = config_.delivery.connect_timeout;
  req.timeout = std::chrono::milliseconds(ep.timeout_ms);
  req.headers = {{"Cjhub-Probe", "true"}};
  const auto id = ep.id;
  pool_->send(std::move(req), [this, id](OutboundResult r) {
    const auto at = std::chrono::system_clock::now() - r.elapsed;
    {
      std::lock_guard lock(mutex_);
      probing_.erase(id);
      if (r.error != TransportError::resolve) {
        const bool up = up_by_answer(r);
        std::string cause = answered(r) ? "HTTP " + std::to_string(r.status)
                                        : std::string(to_string(r.error)) + ": " + r.error_detail.substr(0, 300);
        probe_outcomes_.push_back({id, up, "probe: " + cause, at});
        watch_.probe(id, up, at, answered(r) ? std::optional(r.elapsed) : std::nullopt);
        metrics::registry().probes.add({up ? "up" : "down"});
      }
    }
    wake();
  });
}

// Step: record the probes' outcomes, probe the idle endpoints this hub reads, write what was seen
// when it is time (or now, at shutdown).
void Dispatcher::watch_endpoints(store::Session& db, LoopState& st, bool final_flush) {
  const auto& w = config_.watchers;
  const auto now = std::chrono::steady_clock::now();
  std::vector<ProbeOutcome> outcomes;
  {
    std::lock_guard lock(mutex_);
    outcomes.swap(probe_outcomes_);
  }
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    try {
      db.run([&](store::Connection& conn) { store::record_probe(conn, o.endpoint_id, o.up, o.cause, o.at); });
    } catch (...) {
      std::lock_guard lock(mutex_);  // kept, in order, for the next round
      probe_outcomes_.insert(probe_outcomes_.begin(), outcomes.begin() + static_cast<std::ptrdiff_t>(i), outcomes.end());
      throw;
    }
    if (!o.up) {
      log::get("delivery")->warn("endpoint {}: probe found it down ({})", o.endpoint_id, o.cause);
    }
  }
  if (!final_flush && !stopping_.load() && now - st.watched >= std::chrono::seconds(1)) {
    st.watched = now;
    std::vector<store::EndpointRow> due;
    {
      std::lock_guard lock(mutex_);
      std::vector<long long> held;
      for (const auto& [id, le] : log_) {
        // Busy endpoints are being watched by their own traffic.
        if (le.endpoint.id == 0 || le.leaving || in_flight_.count(id) || probing_.count(id)) continue;
        held.push_back(id);
      }
      for (const auto id : watch_.due_for_probe(held, now, w.interval)) {
        due.push_back(log_.at(id).endpoint);
        probing_.insert(id);
      }
    }
    for (const auto& ep : due) send_probe(ep);
  }
  if (!final_flush && now - st.flushed < w.flush_interval) return;
  st.flushed = now;
  auto buckets = watch_.take();
  if (buckets.empty()) return;
  try {
    db.run([&](store::Connection& conn) { store::record_buckets(conn, buckets); });
  } catch (...) {
    watch_.restore(buckets);
    throw;
  }
}

}  // namespace cjhub::delivery
