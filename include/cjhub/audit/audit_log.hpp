// The hub's audit trail: events that are not part of a database transaction of their own
// (refusals that store nothing, authorization failures, administrative actions) queue here and
// are written in batches; the same thread seals every new record onto the hash chain and removes
// records past the retention period. Events that change stored state (an accepted submission, a
// delivery attempt, an erasure) are written by the transaction that makes the change.
//
// Refusals (outcome "refused:...") are aggregated so that a flood cannot flood the trail: per
// window (`aggregate_interval`), the first refusal of each (action, outcome, agency, actor, peer
// address) is recorded as it is, the others are counted and recorded as one summary when the
// window closes. At most `max_refusal_keys` distinct refusals are itemised per window; beyond,
// they are counted in one record. Refusals travel apart from the other events, so they never take
// the place of a state change in the queue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/store/audit_repo.hpp"

namespace cjhub::audit {

// Anything that records audit events (the seam tests replace).
class Recorder {
 public:
  virtual ~Recorder() = default;
  // Never blocks; thread-safe.
  virtual void record(store::AuditEvent e) = 0;
};

struct Settings {
  std::string db_url;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds flush_interval{200};
  std::chrono::milliseconds seal_interval{1000};
  std::chrono::hours retention{24 * 400};  // CJIS AU-11: at least one year
  std::chrono::minutes prune_interval{360};
  std::size_t queue_capacity = 100000;  // events other than refusals waiting to be written
  std::chrono::milliseconds aggregate_interval{60000};
  std::size_t max_refusal_keys = 10000;
};

struct Stats {
  std::atomic<std::uint64_t> recorded{0};  // queued events written
  std::atomic<std::uint64_t> dropped{0};   // queued events lost (queue full or database gone too long)
  std::atomic<std::uint64_t> aggregated{0};  // refusals counted in a summary instead of itemised
  std::atomic<std::uint64_t> sealed{0};    // records sealed onto the chain (by this process)
  std::atomic<std::uint64_t> pruned{0};
  std::atomic<std::uint64_t> failures{0};
};

// A certificate's identity as the audit trail names it.
std::string actor_of(const std::vector<std::string>& san_uris, const std::string& subject, const std::string& sha256);

class AuditLog final : public Component, public Recorder {
 public:
  explicit AuditLog(Settings s);
  ~AuditLog() override;
  std::string name() const override { return "audit"; }
  void start() override;
  // Writes what is queued and seals it before returning (within the deadline).
  void stop(std::chrono::steady_clock::time_point deadline) override;
  void record(store::AuditEvent e) override;
  const Stats& stats() const { return stats_; }

 private:
  void run();
  // Moves the window's counts into summary events (called with mutex_ held).
  void close_window(std::vector<store::AuditEvent>& out);

  struct RefusalCount {
    store::AuditEvent first;
    std::uint64_t more = 0;
  };

  Settings settings_;
  Stats stats_;
  metrics::CollectorRegistration metrics_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<store::AuditEvent> queue_;           // everything but refusals
  std::deque<store::AuditEvent> refusal_queue_;   // the first refusal of each key in the window
  std::map<std::string, RefusalCount> window_;    // key -> its count in the window
  std::uint64_t unitemised_ = 0;                  // refusals beyond max_refusal_keys in the window
  std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  std::thread thread_;
};

}  // namespace cjhub::audit
