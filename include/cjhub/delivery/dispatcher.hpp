// The dispatcher: reads the log of each endpoint whose cursor it leases (in batches, each body read
// once for all its endpoints) and claims the deliveries that are rows (retries, what queues behind
// them, owed acknowledgements; FOR UPDATE SKIP LOCKED under a lease that outlasts the HTTP
// exchange); sends through the client pool within each endpoint's concurrency limit, strictly in
// order within a case; and records the outcomes: delivered (answers recorded, the cursor moved once
// a second), retry with backoff, dead letter, and the acknowledgements recipients return in a 2xx
// body. Several hubs may dispatch from one database.
//
// Threads: one database thread (reads, claims, completions, LISTEN cjhub_deliveries) and
// `delivery.threads` I/O threads for the client pool.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/delivery/body_cache.hpp"
#include "cjhub/delivery/endpoint_log.hpp"
#include "cjhub/delivery/http_client.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/ops/endpoint_watch.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/log_repo.hpp"
#include "cjhub/validation/schema_holder.hpp"

namespace cjhub::store {
class Session;
}

namespace cjhub::delivery {

struct DispatcherStats {
  std::atomic<std::uint64_t> claimed{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> dead{0};
  std::atomic<std::uint64_t> acks_in_response{0};
  std::atomic<std::uint64_t> leases_released{0};
  std::atomic<std::uint64_t> rounds{0};
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> last_round_unix_ms{0};
  std::atomic<std::int64_t> last_loop_unix_ms{0};  // the database thread went round (also when a round failed)
};

// What an endpoint's answer means for the delivery (the delivery policy, free of I/O).
struct Verdict {
  store::Completion::Kind kind = store::Completion::Kind::retry;
  bool endpoint_failure = false;
  std::chrono::milliseconds delay{0};
  std::string error;
};
Verdict judge(const OutboundResult& r, int attempt, const config::Delivery& policy, double jitter_draw);

class Dispatcher final : public Component {
 public:
  Dispatcher(const config::Config& config, validation::SchemaHolder& schemas,
             identity::Directory& directory);
  ~Dispatcher() override;

  std::string name() const override { return "dispatcher"; }
  void start() override;
  // Stops claiming, lets sends in flight finish until the deadline, records their outcomes and
  // releases this process's remaining leases.
  void stop(std::chrono::steady_clock::time_point deadline) override;

  const DispatcherStats& stats() const { return stats_; }
  const std::string& instance_id() const { return instance_id_; }
  bool running() const { return running_.load(); }

  // New outbound connections use the client certificate, key and CA files read again now;
  // throws (naming the file) and keeps the current ones on error.
  void reload_tls();

 private:
  // The database thread's own state between rounds.
  struct LoopState {
    std::vector<store::EndpointRow> endpoints;
    std::chrono::steady_clock::time_point endpoints_loaded{}, leases_checked{}, last_full_scan{};
    std::uint64_t generation = 0;  // of the session the endpoints were read on
    int completion_failures = 0;
    bool notified = true;  // something may be due: claim in this round
    std::chrono::steady_clock::time_point cursors_leased{};
    BodyCache bodies{kBodyCacheBytes};  // bodies read for one endpoint, for the others
    std::chrono::steady_clock::time_point watched{}, flushed{std::chrono::steady_clock::now()};
  };
  static constexpr std::size_t kBodyCacheBytes = 16u << 20;
  // Payload bytes one read of an endpoint's log brings at most (at least one entry), and that may
  // wait to be sent there: with large documents (attachments) memory stays bounded by these and
  // the endpoints' max_in_flight, not by claim_batch.
  static constexpr std::size_t kLogReadBytes = 8u << 20;
  // How often a held cursor's lease is renewed (the lease is this much longer than an exchange
  // needs): each renewal rewrites the cursor's row, a version no vacuum may remove while a long
  // snapshot (a backup) lives.
  static constexpr std::chrono::milliseconds kRenewLeaseEvery{2000};
  void db_loop();
  void finish_at_shutdown(store::Session& db);
  void lease_log_endpoints(store::Session& db, LoopState& st);
  void read_log(store::Session& db, LoopState& st, bool notified);
  // `last`: the hub stops; every stored cursor moves to where this hub finished.
  void record_log_rounds(store::Session& db, LoopState& st, bool last = false);
  // Sends what is ready within each endpoint's capacity, or only `endpoint_id`'s (the db thread
  // after a read; an I/O thread for the endpoint whose exchange ended).
  void pump_log(std::optional<long long> endpoint_id = std::nullopt);
  bool log_has_room(const EndpointLog& le) const;  // mutex_ held
  void finish_log(const store::Claimed& c, const Verdict& v, const OutboundResult& r,
                  std::shared_ptr<const store::NewMessage> ack);
  void record_outcomes(store::Session& db, LoopState& st);
  void refresh_endpoints_and_leases(store::Session& db, LoopState& st);
  void claim_and_send(store::Session& db, LoopState& st);
  void suppress(store::Claimed c);
  void wait_for_work(store::Session& db, LoopState& st);
  void send(store::Claimed c, const store::EndpointRow& ep);
  void finish(const store::Claimed& c, const OutboundResult& r);
  // Queues the completion of one attempt for the database thread.
  void record(const store::Claimed& c, const OutboundResult& r, const Verdict& v,
              std::shared_ptr<const store::NewMessage> ack);
  std::shared_ptr<const store::NewMessage> accept_ack(const store::Claimed& c, const OutboundResult& r);
  void wake();
  // Watching the endpoints (watch.cpp): probes of idle ones and what was seen, written per minute.
  void watch_endpoints(store::Session& db, LoopState& st, bool final_flush = false);
  void send_probe(const store::EndpointRow& ep);
  void observe(const store::Claimed& c, const OutboundResult& r, const Verdict& v);

  const config::Config& config_;
  validation::SchemaHolder& schemas_;
  identity::Directory& directory_;
  std::string instance_id_;
  DispatcherStats stats_;

  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<HttpClientPool> pool_;
  std::unique_ptr<boost::asio::thread_pool> ack_pool_;  // validates acknowledgements found in answers
  std::vector<std::thread> io_threads_;
  std::thread db_thread_;
  int wake_pipe_[2] = {-1, -1};

  std::mutex mutex_;  // guards completions_ and in_flight_
  std::vector<store::Completion> completions_;
  std::map<long long, int> in_flight_;  // per endpoint
  std::uint64_t log_epochs_ = 0;          // readings of endpoint logs begun (guarded by mutex_)
  std::map<long long, EndpointLog> log_;  // the endpoints whose log this hub reads (under their cursors' leases)
  struct ProbeOutcome {
    long long endpoint_id = 0;
    bool up = false;
    std::string cause;
    std::chrono::system_clock::time_point at;
  };
  std::vector<ProbeOutcome> probe_outcomes_;  // answered, not yet recorded (guarded by mutex_)
  std::set<long long> probing_;               // endpoints with a probe in flight (guarded by mutex_)
  ops::EndpointWatch watch_;
  // Claim cursor per endpoint (db thread only): the latest due time claimed, in microseconds.
  std::map<long long, long long> claim_cursor_;
  static constexpr long long kClaimCursorMarginUs = 10LL * 1000 * 1000;
  static constexpr std::chrono::seconds kClaimFullScanEvery{5};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  metrics::CollectorRegistration metrics_;
  std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace cjhub::delivery
