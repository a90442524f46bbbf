// Group commit: accepted messages from every connection queue here; a writer thread takes
// whatever is waiting (up to group_max_messages), stores it in ONE transaction and only then
// reports each message's result. Nothing is acknowledged before COMMIT returns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/outbox/fair_queue.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/session.hpp"

namespace cjhub::outbox {

enum class Outcome {
  stored,           // committed now
  duplicate,        // an earlier message with the same idempotency key and body: its result
  conflict,         // same idempotency key, different body
  ack_unknown_reference,  // acknowledges a message the hub does not know (nothing stored)
  ack_not_addressed,      // acknowledges a message not delivered to this agency (nothing stored)
  case_erased,            // about a case erased by operation of law (policy: reject; nothing stored)
  unavailable,      // the database cannot be reached (nothing stored)
  outcome_unknown,  // COMMIT sent, result unknown: retry with the same idempotency key
  overloaded,       // the queue is full (nothing stored)
  shutting_down,    // the hub is stopping (nothing stored)
  failed,           // an unexpected database error (nothing stored; logged)
};
const char* to_string(Outcome o) noexcept;

struct Result {
  Outcome outcome = Outcome::failed;
  store::InsertResult stored;  // for stored and duplicate (and conflict: the existing message)
};

using Completion = std::function<void(Result)>;

// The seam between the request handlers and the store (tests substitute their own).
class IngestQueue {
 public:
  virtual ~IngestQueue() = default;
  // Thread-safe. `done` is called exactly once, on a writer thread (or inline when refused).
  virtual void submit(store::NewMessage msg, Completion done) = 0;
};

struct WriterSettings {
  std::string db_url;
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t group_max_messages = 128;
  std::size_t queue_capacity = 8192;
  std::size_t writers = 1;
  std::size_t queue_max_bytes = 256u << 20;
  std::chrono::milliseconds statement_timeout{30000};
  store::ErasurePolicy erasure;
  // The most of the queue (in messages and in bytes) one sending agency may hold, in percent:
  // one agency's flood leaves room for the others.
  unsigned agency_queue_share_percent = 50;
  // A group whose commit has not returned after this long (a synchronous standby lost under
  // Patroni's strict synchronous mode, a stalled disk) is answered outcome-unknown at once; the
  // commit goes on, and the client's retry with the same key finds what it became. 0: never.
  std::chrono::milliseconds answer_within{10000};
};

struct WriterStats {
  std::atomic<std::uint64_t> groups{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> largest_group{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> answered_before_commit{0};  // messages answered outcome-unknown by the watchdog
};

class GroupCommitWriter final : public Component, public IngestQueue {
 public:
  explicit GroupCommitWriter(WriterSettings settings);
  ~GroupCommitWriter() override;

  std::string name() const override { return "outbox-writer"; }
  void start() override;
  // Refuses new submissions, commits everything already queued (until the deadline), then joins.
  void stop(std::chrono::steady_clock::time_point deadline) override;

  void submit(store::NewMessage msg, Completion done) override;

  const WriterStats& stats() const { return stats_; }
  std::size_t queued() const;

 private:
  struct Item {
    store::NewMessage msg;
    Completion done;
    std::chrono::steady_clock::time_point queued_at = std::chrono::steady_clock::now();
  };
  // A group in its commit, seen by the watchdog: when it began, and its messages' answers.
  struct InCommit {
    std::chrono::steady_clock::time_point since{};
    std::vector<Completion> answers;
    bool answered = false;
  };
  void run(std::size_t index);
  void watch();
  void commit_group(store::Session& db, std::size_t index, std::vector<Item>& group, int attempt = 0);
  void fail_group(store::Session& db, std::size_t index, std::vector<Item>& group, const std::exception& e);

  WriterSettings settings_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  FairQueue<Item> queue_;  // one FIFO per agency, taken round-robin into groups
  bool accepting_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::vector<InCommit> in_commit_;  // one per writer thread, under mutex_
  std::thread watchdog_;
  std::condition_variable watch_cv_;  // the watchdog's own: cv_'s notify_one must reach a writer
  WriterStats stats_;
  metrics::CollectorRegistration metrics_;
};

}  // namespace cjhub::outbox
