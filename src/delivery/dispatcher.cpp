#include "cjhub/delivery/dispatcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <cmath>
#include <random>

#include "cjhub/intake/admission.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/session.hpp"

namespace cjhub::delivery {

namespace {

bool is_retryable_status(unsigned s) { return s == 408 || s == 429 || s >= 500; }

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "host";
  return buf;
}

}  // namespace

Verdict judge(const OutboundResult& r, int attempt, const config::Delivery& policy, double jitter_draw) {
  using Kind = store::Completion::Kind;
  Verdict v;
  if (r.error == TransportError::none && r.status >= 200 && r.status < 300) {
    v.kind = Kind::delivered;
    return v;
  }
  if (r.error == TransportError::bad_url) {
    v.kind = Kind::dead;
    v.error = "bad endpoint URL";
    return v;
  }
  const bool transport = r.error != TransportError::none;
  if (!transport && !is_retryable_status(r.status)) {
    // Other 4xx (and anything else a receiver should not send): retrying cannot help.
    v.kind = Kind::dead;
    v.error = "HTTP " + std::to_string(r.status) + " (not retryable)";
    return v;
  }
  v.kind = Kind::retry;
  // A name that does not resolve is a failure of the hub's side of the path (its DNS servers) as
  // often as of the endpoint: retried with backoff, never counted towards pausing the endpoint.
  v.endpoint_failure = r.error != TransportError::resolve;
  v.error = transport ? std::string(to_string(r.error)) + ": " + r.error_detail.substr(0, 300)
                      : "HTTP " + std::to_string(r.status);
  // Exponential backoff with jitter; a Retry-After from the endpoint wins (capped).
  double delay = static_cast<double>(policy.backoff_initial.count()) *
                 std::pow(static_cast<double>(policy.backoff_multiplier), std::max(0, attempt - 1));
  delay = std::min(delay, static_cast<double>(policy.backoff_max.count()));
  const double spread = static_cast<double>(policy.jitter_percent) / 100.0;
  delay *= 1.0 + spread * (2.0 * jitter_draw - 1.0);
  if (r.retry_after) {
    delay = static_cast<double>(std::min(*r.retry_after, policy.max_retry_after).count()) * 1000.0;
  }
  v.delay = std::chrono::milliseconds(static_cast<long long>(std::max(0.0, delay)));
  return v;
}

Dispatcher::Dispatcher(const config::Config& config, validation::SchemaHolder& schemas,
                       identity::Directory& directory)
    : config_(config), schemas_(schemas), directory_(directory) {
  instance_id_ = host_name() + ":" + std::to_string(::getpid()) + ":" + Uuid::v7().str().substr(24);
}

Dispatcher::~Dispatcher() { stop(std::chrono::steady_clock::now()); }

void Dispatcher::start() {
  const auto& d = config_.delivery;
  pool_ = std::make_unique<HttpClientPool>(ioc_, ClientTls{d.client_cert, d.client_key, d.ca_bundle},
                                           d.max_answer_bytes, std::chrono::seconds(30),
                                           ResolverOptions{d.dns.servers, d.dns.timeout, d.dns.max_ttl, d.dns.stale_for});
  // Acknowledgements found in answers are validated here, not on the I/O threads, so one large
  // answer does not hold up the other endpoints' exchanges.
  ack_pool_ = std::make_unique<boost::asio::thread_pool>(2);
  work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
      ioc_.get_executor());
  for (std::size_t i = 0; i < d.threads; ++i) {
    io_threads_.emplace_back([this] {
      name_this_thread("cjhub-delivery");
      ioc_.run();
    });
  }
  if (::pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  stopping_ = false;
  running_ = true;
  db_thread_ = std::thread([this] {
    name_this_thread("cjhub-dispatch");
    db_loop();
  });
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    const auto n = [](const auto& v) { return static_cast<double>(v.load()); };
    out.push_back({"cjhub_deliveries_in_flight", "Deliveries being sent by this process.", "gauge", "",
                   std::max(0.0, n(stats_.in_flight))});
    out.push_back({"cjhub_acknowledgements_in_answers_total", "Acknowledgements returned in delivery answers.",
                   "counter", "", n(stats_.acks_in_response)});
    out.push_back({"cjhub_leases_released_total", "Leases of stopped processes taken back (rows and endpoint logs).",
                   "counter", "", n(stats_.leases_released)});
    out.push_back({"cjhub_dispatcher_rounds_total", "Dispatcher rounds (reads, claims and outcomes).", "counter", "",
                   n(stats_.rounds)});
  });
  log::get("delivery")->info("dispatcher {} started", instance_id_);
}

void Dispatcher::reload_tls() {
  const auto& d = config_.delivery;
  if (pool_) pool_->reload_tls(ClientTls{d.client_cert, d.client_key, d.ca_bundle});
}

void Dispatcher::wake() {
  if (wake_pipe_[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] auto n = ::write(wake_pipe_[1], &b, 1);
  }
}

void Dispatcher::stop(std::chrono::steady_clock::time_point deadline) {
  if (!db_thread_.joinable()) return;
  metrics_.reset();
  deadline_ = deadline;
  stopping_ = true;
  wake();
  db_thread_.join();
  if (ack_pool_) ack_pool_->join();
  ack_pool_.reset();
  if (pool_) pool_->close_idle();
  work_.reset();
  ioc_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  pool_.reset();
  for (int& fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  running_ = false;
  log::get("delivery")->info("dispatcher {} stopped", instance_id_);
}

void Dispatcher::send(store::Claimed c, const store::EndpointRow& ep) {
  OutboundRequest req;
  req.url = ep.url;
  req.connect_timeout = config_.delivery.connect_timeout;
  req.timeout = std::chrono::milliseconds(ep.timeout_ms);
  req.headers = {{"Cjhub-Message-Id", c.message_id},
                 {"Cjhub-Delivery-Id", c.delivery_id},
                 {"Cjhub-Attempt", std::to_string(c.attempt)},
                 {"Cjhub-Message-Type", c.message_type},
                 {"Cjhub-Sender-Ori", c.sender_ori},
                 {"Cjhub-Ack-Required", c.ack_required ? "true" : "false"}};
  if (!c.case_key.empty()) req.headers.emplace_back("Cjhub-Case-Key", c.case_key);
  if (!c.request_id.empty()) req.headers.emplace_back("X-Request-Id", c.request_id);
  c.endpoint_name = ep.name;
  req.body = std::move(*c.body);
  c.body.reset();
  pool_->send(std::move(req), [this, c = std::move(c)](OutboundResult r) { finish(c, r); });
}

void Dispatcher::finish(const store::Claimed& c, const OutboundResult& r) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  const auto v = judge(r, c.attempt, config_.delivery, draw);
  auto lg = log::get("delivery");
  auto& m = metrics::registry();
  m.delivery_latency.observe(static_cast<double>(r.elapsed.count()) / 1e6);
  m.deliveries.add({v.kind == store::Completion::Kind::delivered ? "delivered"
                    : v.kind == store::Completion::Kind::retry   ? "retry"
                                                                 : "dead"});
  observe(c, r, v);
  // The ids of the attempt, as fields (docs/operations.md, "Logs").
  const auto status = r.error == TransportError::none ? static_cast<int>(r.status) : 0;
  if (v.kind == store::Completion::Kind::delivered) {
    log::debug(lg,
               {{"delivery_id", c.delivery_id}, {"message_id", c.message_id}, {"request_id", c.request_id},
                {"agency", c.recipient_ori}, {"endpoint", c.endpoint_name}, {"attempt", c.attempt}, {"status", status}},
               "delivered (attempt {}, HTTP {})", c.attempt, status);
  } else {
    log::info(lg,
              {{"delivery_id", c.delivery_id}, {"message_id", c.message_id}, {"request_id", c.request_id},
               {"agency", c.recipient_ori}, {"endpoint", c.endpoint_name}, {"attempt", c.attempt}, {"status", status}},
              "delivery attempt {} failed: {}{}", c.attempt, v.error,
              v.kind == store::Completion::Kind::dead ? "; no retry" : "");
  }
  if (c.log_seq > 0) {
    if (v.kind == store::Completion::Kind::delivered && !r.body.empty() && ack_pool_) {
      boost::asio::post(*ack_pool_, [this, c, r, v] { finish_log(c, v, r, accept_ack(c, r)); });
      return;
    }
    finish_log(c, v, r, nullptr);
    return;
  }
  if (v.kind == store::Completion::Kind::delivered && !r.body.empty() && ack_pool_) {
    boost::asio::post(*ack_pool_, [this, c, r, v] { record(c, r, v, accept_ack(c, r)); });
    return;
  }
  record(c, r, v, nullptr);
}

void Dispatcher::record(const store::Claimed& c, const OutboundResult& r, const Verdict& v,
                        std::shared_ptr<const store::NewMessage> ack) {
  store::Completion done;
  done.kind = v.kind;
  done.delivery_id = c.delivery_id;
  done.endpoint_id = c.endpoint_id;
  done.case_key = c.case_key;
  done.message_id = c.message_id;
  done.sender_ori = c.sender_ori;
  done.recipient_ori = c.recipient_ori;
  if (r.error == TransportError::none) done.http_status = static_cast<int>(r.status);
  done.error = v.error;
  done.retry_delay = v.delay;
  done.endpoint_failure = v.endpoint_failure;
  done.attempted_at = std::chrono::system_clock::now() - r.elapsed;
  done.took = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed);
  done.ack = std::move(ack);
  {
    std::lock_guard lock(mutex_);
    completions_.push_back(std::move(done));
    if (--in_flight_[c.endpoint_id] <= 0) in_flight_.erase(c.endpoint_id);
  }
  stats_.in_flight.fetch_sub(1);
  wake();
}

// A recipient may acknowledge in the 2xx body: admitted exactly as if it had POSTed it, then
// stored with the delivery's outcome.
std::shared_ptr<const store::NewMessage> Dispatcher::accept_ack(const store::Claimed& c, const OutboundResult& r) {
  auto ct = r.content_type.substr(0, r.content_type.find(';'));
  for (auto& ch : ct) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ct != "application/xml" && ct != "text/xml" && !ct.ends_with("+xml")) return nullptr;
  const auto agency = directory_.current()->find(c.recipient_ori);
  if (!agency) {
    log::warn(log::get("delivery"),
              {{"delivery_id", c.delivery_id}, {"message_id", c.message_id}, {"agency", c.recipient_ori},
               {"endpoint", c.endpoint_name}},
              "delivery {}: acknowledgement in the answer ignored: {} is not an active agency", c.delivery_id,
              c.recipient_ori);
    return nullptr;
  }
  auto admitted = intake::admit(config_, schemas_, *agency, r.body, "", now_utc());
  auto lg = log::get("delivery");
  if (auto* refusal = std::get_if<intake::Refusal>(&admitted)) {
    log::warn(lg,
              {{"delivery_id", c.delivery_id}, {"message_id", c.message_id}, {"agency", c.recipient_ori},
               {"endpoint", c.endpoint_name}},
              "delivery {}: the response body from {} is not an acceptable acknowledgement ({})", c.delivery_id,
              c.recipient_ori, intake::info(refusal->problem).slug);
    return nullptr;
  }
  auto msg = std::move(std::get<store::NewMessage>(admitted));
  if (msg.ack_ref.empty()) return nullptr;  // a valid message, but not an acknowledgement
  stats_.acks_in_response.fetch_add(1);
  return std::make_shared<const store::NewMessage>(std::move(msg));
}

// The database thread: one round after another, each a sequence of named steps, until stop()
// and the sends in flight are done.
void Dispatcher::db_loop() {
  auto lg = log::get("delivery");
  store::Session db(config_.database.url, config_.database.connect_timeout, config_.database.statement_timeout,
                    {"cjhub_deliveries"});
  LoopState st;
  for (;;) {
    stats_.last_loop_unix_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    if (stopping_.load() && (stats_.in_flight.load() == 0 || std::chrono::steady_clock::now() >= deadline_)) {
      finish_at_shutdown(db);
      return;
    }
    try {
      db.get();
      if (db.generation() != st.generation) {  // (re)connected: LISTEN again, read everything again
        st.generation = db.generation();
        st.endpoints_loaded = {};
        st.bodies.clear();
      }
      if (db.take_notified()) st.notified = true;
      record_outcomes(db, st);
      record_log_rounds(db, st);
      watch_endpoints(db, st);
      refresh_endpoints_and_leases(db, st);
      if (!stopping_.load()) {
        lease_log_endpoints(db, st);
        const bool notified = st.notified;
        if (notified) claim_and_send(db, st);
        read_log(db, st, notified);
        pump_log();
      }
      stats_.rounds.fetch_add(1);
      stats_.last_round_unix_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
    } catch (const std::exception& e) {
      lg->warn("dispatcher database round failed ({}); retrying", e.what());
      db.reset();
      db.back_off([this] { return stopping_.load(); });
      continue;
    }
    wait_for_work(db, st);
  }
}

// Leaves nothing leased to this process: the outcomes still queued are recorded, the rest of its
// leases released.
void Dispatcher::finish_at_shutdown(store::Session& db) {
  auto lg = log::get("delivery");
  std::vector<store::Completion> last;
  {
    std::lock_guard lock(mutex_);
    last.swap(completions_);
  }
  try {
    LoopState st;
    record_log_rounds(db, st, true);
    watch_endpoints(db, st, true);
    db.run([&](store::Connection& conn) { store::release_cursors(conn, instance_id_); });
    const auto released = db.run([&](store::Connection& conn) {
      store::complete(conn, last, instance_id_, config_.delivery.pause_after_failures);
      return store::release_leases_of(conn, instance_id_);
    });
    if (released > 0) lg->info("released {} lease(s) at shutdown", released);
  } catch (const std::exception& e) {
    lg->warn("could not record the last outcomes at shutdown ({}); their leases will expire", e.what());
  }
}

// Step 1: the outcomes the sends queued, in one completion transaction. On failure they are kept
// for the next round (a lost connection is retried; a deadlock too), up to a bound.
void Dispatcher::record_outcomes(store::Session& db, LoopState& st) {
  auto lg = log::get("delivery");
  const auto& d = config_.delivery;
  std::vector<store::Completion> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(completions_);
  }
  if (batch.empty()) return;
  try {
    const auto results = db.run([&](store::Connection& conn) {
      return store::complete(conn, batch, instance_id_, d.pause_after_failures);
    });
    for (const auto& res : results) {
      if (res.state == "delivered" || res.state == "acknowledged" || res.state == "rejected") {
        stats_.delivered.fetch_add(1);
      }
      if (res.state == "pending") stats_.retried.fetch_add(1);
      if (res.state == "dead") stats_.dead.fetch_add(1);
      if (res.state == "dead") {
        log::warn(lg, {{"delivery_id", res.delivery_id}},
                  "delivery {} is a dead letter: it waits for an operator's replay", res.delivery_id);
      }
      if (!res.ack_outcome.empty() && res.ack_outcome != "stored") {
        log::warn(lg, {{"delivery_id", res.delivery_id}}, "delivery {}: acknowledgement in the answer {}",
                  res.delivery_id, res.ack_outcome);
      }
      if (res.endpoint_paused_now) {
        log::warn(lg, {{"delivery_id", res.delivery_id}},
                  "endpoint of delivery {} paused after {} consecutive failures; its backlog waits "
                  "in order until an operator resumes it",
                  res.delivery_id, d.pause_after_failures);
      }
    }
    st.completion_failures = 0;
    st.notified = true;  // capacity was freed and lanes may have moved on
  } catch (...) {
    std::lock_guard lock(mutex_);
    completions_.insert(completions_.end(), batch.begin(), batch.end());
    if (++st.completion_failures > 5) {
      lg->error("dropping {} delivery outcome(s) after repeated failures; their leases will expire",
                completions_.size());
      completions_.clear();
      st.completion_failures = 0;
    }
    throw;
  }
}

// Step 2: the endpoints (paused or changed ones) every second, and the expired leases of hubs
// that stopped while sending every two.
void Dispatcher::refresh_endpoints_and_leases(store::Session& db, LoopState& st) {
  const auto now = std::chrono::steady_clock::now();
  if (now - st.endpoints_loaded > std::chrono::seconds(1)) {
    st.endpoints = db.run([](store::Connection& conn) { return store::load_endpoints(conn); });
    st.endpoints_loaded = now;
  }
  if (now - st.leases_checked > std::chrono::seconds(2)) {
    if (const auto n = db.run([](store::Connection& conn) { return store::release_expired_leases(conn); }); n > 0) {
      stats_.leases_released.fetch_add(n);
      log::get("delivery")->warn("released {} expired lease(s) (a hub stopped while sending)", n);
      st.notified = true;
    }
    st.leases_checked = now;
  }
}

// Step 3: claim what is due within each endpoint's free capacity, and send it.
void Dispatcher::claim_and_send(store::Session& db, LoopState& st) {
  const auto& d = config_.delivery;
  const auto now = std::chrono::steady_clock::now();
  st.notified = false;
  const bool full_scan = now - st.last_full_scan >= kClaimFullScanEvery;
  std::vector<store::ClaimRequest> requests;
  {
    std::lock_guard lock(mutex_);
    for (const auto& ep : st.endpoints) {
      if (ep.paused) continue;
      const int busy = in_flight_.count(ep.id) ? in_flight_[ep.id] : 0;
      const int free = ep.max_in_flight - busy;
      // The lease outlasts the whole exchange (DNS, connect, handshake, request, answer) with
      // room to record the outcome, so no other dispatcher sends it while this one still may.
      const int lease_ms = static_cast<int>(d.dns.timeout.count() + d.connect_timeout.count()) +
                           ep.timeout_ms + std::max(2000, ep.timeout_ms);
      // From a little before the newest delivery this process claimed (transactions that
      // were open meanwhile may commit deliveries due slightly earlier); every few seconds
      // from the start of the queue, which finds anything else.
      long long after = 0;
      if (!full_scan) {
        if (const auto it = claim_cursor_.find(ep.id); it != claim_cursor_.end()) {
          after = it->second - kClaimCursorMarginUs;
        }
      }
      if (free > 0) {
        requests.push_back({ep.id, std::min<int>(free, static_cast<int>(d.claim_batch)), lease_ms, after});
      }
    }
  }
  auto claimed = db.run([&](store::Connection& conn) { return store::claim(conn, requests, instance_id_); });
  if (full_scan) st.last_full_scan = now;
  for (const auto& c : claimed) {
    auto& cur = claim_cursor_[c.endpoint_id];
    cur = std::max(cur, c.due_at_us);
  }
  if (!claimed.empty()) {
    stats_.claimed.fetch_add(claimed.size());
    st.notified = true;  // there may be more
  }
  for (auto& c : claimed) {
    const auto ep = std::find_if(st.endpoints.begin(), st.endpoints.end(),
                                 [&](const store::EndpointRow& e) { return e.id == c.endpoint_id; });
    {
      std::lock_guard lock(mutex_);
      ++in_flight_[c.endpoint_id];
    }
    stats_.in_flight.fetch_add(1);
    if (!c.body || ep == st.endpoints.end()) {
      suppress(std::move(c));
      continue;
    }
    send(std::move(c), *ep);
  }
}

// A claimed delivery that must never be sent: its payload was removed (erased case) or its
// endpoint is gone.
void Dispatcher::suppress(store::Claimed c) {
  metrics::registry().deliveries.add({"suppressed"});
  log::info(log::get("delivery"),
            {{"delivery_id", c.delivery_id}, {"message_id", c.message_id}, {"request_id", c.request_id},
             {"agency", c.recipient_ori}, {"endpoint_id", c.endpoint_id}},
            "delivery suppressed unsent: {}",
            c.body ? "its endpoint is gone" : "its payload was removed (erased case)");
  store::Completion sup;
  sup.kind = store::Completion::Kind::suppressed;
  sup.delivery_id = c.delivery_id;
  sup.endpoint_id = c.endpoint_id;
  sup.case_key = c.case_key;
  sup.message_id = c.message_id;
  sup.recipient_ori = c.recipient_ori;
  sup.error = "payload removed (erased case) or endpoint gone";
  std::lock_guard lock(mutex_);
  completions_.push_back(std::move(sup));
  if (--in_flight_[c.endpoint_id] <= 0) in_flight_.erase(c.endpoint_id);
  stats_.in_flight.fetch_sub(1);
}

// Step 4: wait for a NOTIFY, an outcome (the wake pipe), or the poll interval (a backstop: poll
// anyway).
void Dispatcher::wait_for_work(store::Session& db, LoopState& st) {
  auto timeout = config_.delivery.poll_interval;
  {
    std::lock_guard lock(mutex_);
    if (!completions_.empty() || st.notified) return;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [id, le] : log_) {
      if (!le.outcomes.empty()) return;
      const auto busy = in_flight_.count(id) ? in_flight_.at(id) : 0;
      if (le.endpoint.id == 0 || le.endpoint.paused || busy >= le.endpoint.max_in_flight) continue;
      if (!le.ready.empty() || (le.more && log_has_room(le))) return;  // something to send or to read
      const auto at = le.leaving || !log_has_room(le) ? std::nullopt : le.next_read(config_.delivery.read_log_every);
      if (at) {  // a read held back: not beyond its time
        if (*at <= now) return;
        timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(*at - now));
      }
    }
  }
  try {
    const auto woken = db.wait(timeout, wake_pipe_[0]);
    if (woken == store::Session::Woken::timeout) st.notified = true;
    if (woken == store::Session::Woken::other_fd) {
      char buf[256];
      while (::read(wake_pipe_[0], buf, sizeof buf) > 0) {
      }
    }
    if (db.take_notified()) st.notified = true;
  } catch (const std::exception& e) {
    log::get("delivery")->warn("dispatcher lost its database connection ({})", e.what());
  }
}


// --- the log ---------------------------------------------------------------------------------

// Step: hold the cursors of the endpoints this hub reads (looked at every 250 ms: each lease renewed
// once it has run kRenewLeaseEvery, free ones taken up to this hub's share, extra ones given back
// once nothing of theirs is open).
void Dispatcher::lease_log_endpoints(store::Session& db, LoopState& st) {
  const auto now = std::chrono::steady_clock::now();
  if (now - st.cursors_leased < std::chrono::milliseconds(250)) return;
  st.cursors_leased = now;
  const auto& d = config_.delivery;
  int longest = 0;
  for (const auto& ep : st.endpoints) longest = std::max(longest, ep.timeout_ms);
  // Outlasts the longest exchange, with room to record it, however long ago it was last renewed.
  const int renew_every_ms = static_cast<int>(kRenewLeaseEvery.count());
  const int lease_ms = static_cast<int>(d.dns.timeout.count() + d.connect_timeout.count()) + longest +
                       std::max(2000, longest) + renew_every_ms;
  std::vector<long long> reading;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, le] : log_) reading.push_back(id);
  }
  const auto leases = db.run([&](store::Connection& conn) {
    return store::lease_cursors(conn, instance_id_, lease_ms, 1000, renew_every_ms, reading);
  });
  if (!leases.taken_over.empty()) {
    log::get("delivery")->warn("released the lease(s) of {} endpoint log(s) held by a hub that stopped ({}); "
                               "sending again what it had not recorded",
                               leases.taken_over.size(), leases.taken_over.front());
    stats_.leases_released.fetch_add(leases.taken_over.size());
  }
  std::vector<long long> release;
  {
  std::lock_guard lock(mutex_);
  std::set<long long> ids;
  for (const auto& l : leases.held) {
    ids.insert(l.endpoint_id);
    const auto ep = std::find_if(st.endpoints.begin(), st.endpoints.end(),
                                 [&](const store::EndpointRow& e) { return e.id == l.endpoint_id; });
    auto [it, fresh] = log_.try_emplace(l.endpoint_id);
    if (fresh) {
      it->second.epoch = ++log_epochs_;
      it->second.position = l.position;
      it->second.stored = l.position;
      it->second.read_through = l.position;
      it->second.done.insert(l.done.begin(), l.done.end());
    }
    if (ep != st.endpoints.end()) it->second.endpoint = *ep;
  }
  // A cursor this hub no longer holds: another hub reads it now (outcomes still in flight here
  // are dropped; that hub sends those entries again).
  for (auto it = log_.begin(); it != log_.end();) {
    it = ids.count(it->first) ? std::next(it) : log_.erase(it);
  }
  // Beyond the share (another hub started): the highest endpoint ids stop reading, and go back
  // once nothing of theirs is open or unrecorded.
  int keep = leases.share;
  for (auto& [id, le] : log_) {
    le.leaving = keep-- <= 0;
    if (le.leaving && le.idle()) release.push_back(id);
  }
  for (const auto id : release) log_.erase(id);
  }
  if (!release.empty()) {
    db.run([&](store::Connection& conn) { store::release_cursors(conn, instance_id_, release); });
  }
}

bool Dispatcher::log_has_room(const EndpointLog& le) const {
  return le.has_room(config_.delivery.claim_batch, kLogReadBytes);
}

// Step: read each leased endpoint's log after what was read, while it has room: on the clock of
// `delivery.read_log_every_ms` while it keeps up with the log (EndpointLog::may_read), at once
// while it catches up.
void Dispatcher::read_log(store::Session& db, LoopState& st, bool notified) {
  const auto& d = config_.delivery;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<long long, long long>> todo;  // endpoint, read from
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, le] : log_) {
      if (le.endpoint.id == 0 || le.endpoint.paused || le.leaving) continue;
      const auto busy = in_flight_.count(id) ? in_flight_.at(id) : 0;
      if (log_has_room(le) && busy <= le.endpoint.max_in_flight && le.may_read(notified, now, d.read_log_every)) {
        todo.emplace_back(id, le.read_through);
      }
    }
  }
  for (const auto& next : todo) {
    const long long id = next.first, from = next.second;  // named: lambdas may not capture bindings in C++20
    auto batch = db.run([&](store::Connection& conn) {
      return store::read_log(conn, id, instance_id_, from, static_cast<int>(d.claim_batch), 50000,
                             [&](long long seq) { return st.bodies.contains(seq); }, kLogReadBytes);
    });
    // Bodies another endpoint's read brought are taken from the cache first (before the new ones
    // make room in it), then the new ones are kept for the endpoints still to read them.
    for (auto& e : batch.entries) {
      if (e.body_held) e.body = st.bodies.get(e.seq);
    }
    for (const auto& e : batch.entries) {
      if (e.body && !e.body_held) st.bodies.put(e.seq, *e.body);
    }
    std::lock_guard lock(mutex_);
    const auto it = log_.find(id);
    if (it == log_.end() || it->second.read_through != from) continue;  // lost meanwhile
    if (batch.lease_lost) {
      log_.erase(it);  // another hub reads it now
      continue;
    }
    auto& le = it->second;
    le.was_read(batch.read_through > from, now);
    le.more = batch.full || batch.entries.size() >= d.claim_batch;
    le.read_through = std::max(le.read_through, batch.read_through);
    stats_.claimed.fetch_add(batch.entries.size());
    for (auto& e : batch.entries) {
      if (!le.done.count(e.seq)) le.take(std::move(e));  // finished before a restart: not again
    }
  }
}

// Sends what is ready, within each endpoint's capacity (the db thread after a read, for every
// endpoint; an I/O thread after an exchange ends, for its endpoint only; the sends leave the lock).
void Dispatcher::pump_log(std::optional<long long> endpoint_id) {
  std::vector<std::pair<store::Claimed, store::EndpointRow>> out;
  {
    std::lock_guard lock(mutex_);
    const auto pump = [&](long long id, EndpointLog& le) {
      if (le.endpoint.id == 0 || le.endpoint.paused) return;
      auto& busy = in_flight_[id];
      while (!le.ready.empty() && busy < le.endpoint.max_in_flight) {
        auto e = le.pop_ready();
        store::Claimed c;
        c.delivery_id = store::log_delivery_id(id, e.seq);
        c.message_id = e.message_id;
        c.endpoint_id = id;
        c.attempt = 1;
        c.case_key = e.case_key;
        c.message_type = e.message_type;
        c.sender_ori = e.sender_ori;
        c.recipient_ori = le.endpoint.ori;
        c.body = std::move(e.body);
        c.log_seq = e.seq;
        c.log_epoch = le.epoch;
        c.subscription_id = e.subscription_id;
        c.request_id = std::move(e.request_id);
        ++busy;
        stats_.in_flight.fetch_add(1);
        out.emplace_back(std::move(c), le.endpoint);
      }
      if (busy == 0) in_flight_.erase(id);
    };
    if (endpoint_id) {
      if (const auto it = log_.find(*endpoint_id); it != log_.end()) pump(it->first, it->second);
    } else {
      for (auto& [id, le] : log_) pump(id, le);
    }
  }
  for (auto& [c, ep] : out) send(std::move(c), ep);
}

// An entry's exchange ended (an I/O thread): its outcome waits for the endpoint's next round, and
// its case's next entry waits for that round to commit.
void Dispatcher::finish_log(const store::Claimed& c, const Verdict& v, const OutboundResult& r,
                            std::shared_ptr<const store::NewMessage> ack) {
  {
    std::lock_guard lock(mutex_);
    if (--in_flight_[c.endpoint_id] <= 0) in_flight_.erase(c.endpoint_id);
    stats_.in_flight.fetch_sub(1);
    const auto it = log_.find(c.endpoint_id);
    if (it != log_.end() && it->second.epoch == c.log_epoch) {
      store::LogOutcome o;
      o.kind = v.kind == store::Completion::Kind::delivered ? store::LogOutcome::Kind::delivered
               : v.kind == store::Completion::Kind::retry   ? store::LogOutcome::Kind::retry
                                                             : store::LogOutcome::Kind::dead;
      o.seq = c.log_seq;
      o.message_id = c.message_id;
      o.case_key = c.case_key;
      o.subscription_id = c.subscription_id;
      if (r.error == TransportError::none) o.http_status = static_cast<int>(r.status);
      o.error = v.error;
      o.delay = v.delay;
      o.endpoint_failure = v.endpoint_failure;
      o.attempted_at = std::chrono::system_clock::now() - r.elapsed;
      o.took = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed);
      o.ack = std::move(ack);
      o.sender_ori = c.sender_ori;
      if (o.kind == store::LogOutcome::Kind::delivered) stats_.delivered.fetch_add(1);
      if (o.kind == store::LogOutcome::Kind::retry) stats_.retried.fetch_add(1);
      if (o.kind == store::LogOutcome::Kind::dead) stats_.dead.fetch_add(1);
      it->second.finished(std::move(o));
    }
  }
  // A slot is free: what is ready (cases with nothing in flight or unrecorded) goes now, not after
  // the database thread's next round.
  if (!stopping_.load()) pump_log(c.endpoint_id);
  wake();
}

// Step: each endpoint's finished entries in one transaction; the stored cursor moves to the
// low-water mark (everything before the first entry still open) once every
// `delivery.move_cursor_every_ms`, and the rounds between finish their entries by their answers.
// A lost lease drops the endpoint's state.
void Dispatcher::record_log_rounds(store::Session& db, LoopState&, bool last) {
  auto lg = log::get("delivery");
  RoundRecording how;
  how.now = std::chrono::steady_clock::now();
  how.move_every = last ? std::chrono::milliseconds(0) : config_.delivery.move_cursor_every;
  how.complete = [&](const store::LogRound& r) {
    return db.run([&](store::Connection& conn) {
      return store::complete_log(conn, instance_id_, r, config_.delivery.pause_after_failures);
    });
  };
  how.without_payload = [&](const std::vector<std::string>& ids) {
    return db.run([&](store::Connection& conn) { return store::without_payload(conn, ids); });
  };
  how.on_lease_lost = [&](long long endpoint_id) {
    log::warn(lg, {{"endpoint_id", endpoint_id}},
              "endpoint {}: the log's lease passed to another hub; it sends what was open here again", endpoint_id);
  };
  how.on_recorded = [&](const store::LogRound& r, const store::LogRoundResult& res) {
    for (const auto& a : res.acknowledged) {
      if (!a.ack_outcome.empty() && a.ack_outcome != "stored") {
        log::warn(lg, {{"delivery_id", a.delivery_id}, {"endpoint_id", r.endpoint_id}},
                  "delivery {}: acknowledgement in the answer {}", a.delivery_id, a.ack_outcome);
      }
    }
    if (res.endpoint_paused_now) {
      log::warn(lg, {{"endpoint_id", r.endpoint_id}, {"agency", r.recipient_ori}},
                "endpoint {} paused after {} consecutive failures; its backlog waits in order until an operator "
                "resumes it",
                r.endpoint_id, config_.delivery.pause_after_failures);
    }
  };
  record_rounds(log_, mutex_, how);
}

}  // namespace cjhub::delivery
