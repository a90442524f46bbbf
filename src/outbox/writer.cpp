#include "cjhub/outbox/writer.hpp"

#include <memory>

#include "cjhub/ops/metrics.hpp"


#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::outbox {

const char* to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::stored: return "stored";
    case Outcome::duplicate: return "duplicate";
    case Outcome::conflict: return "conflict";
    case Outcome::ack_unknown_reference: return "ack_unknown_reference";
    case Outcome::ack_not_addressed: return "ack_not_addressed";
    case Outcome::case_erased: return "case_erased";
    case Outcome::unavailable: return "unavailable";
    case Outcome::outcome_unknown: return "outcome_unknown";
    case Outcome::overloaded: return "overloaded";
    case Outcome::shutting_down: return "shutting_down";
    case Outcome::failed: return "failed";
  }
  return "?";
}

GroupCommitWriter::GroupCommitWriter(WriterSettings settings) : settings_(std::move(settings)) {}

GroupCommitWriter::~GroupCommitWriter() { stop(std::chrono::steady_clock::now()); }

void GroupCommitWriter::start() {
  {
    std::lock_guard lock(mutex_);
    accepting_ = true;
    stopping_ = false;
  }
  in_commit_.assign(settings_.writers, {});
  for (std::size_t i = 0; i < settings_.writers; ++i) threads_.emplace_back([this, i] {
    name_this_thread("cjhub-writer");
    run(i);
  });
  if (settings_.answer_within.count() > 0) {
    watchdog_ = std::thread([this] {
      name_this_thread("cjhub-writer-wd");
      watch();
    });
  }
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    const auto n = [](const std::atomic<std::uint64_t>& v) { return static_cast<double>(v.load()); };
    out.push_back({"cjhub_ingest_groups_total", "Transactions that stored groups of messages.", "counter", "",
                   n(stats_.groups)});
    out.push_back({"cjhub_ingest_messages_total", "Messages stored by the group-commit writers.", "counter", "",
                   n(stats_.messages)});
    out.push_back({"cjhub_ingest_largest_group", "Most messages stored in one transaction.", "gauge", "",
                   n(stats_.largest_group)});
    out.push_back({"cjhub_ingest_failures_total", "Groups that could not be stored (database errors).", "counter", "",
                   n(stats_.failures)});
    out.push_back({"cjhub_ingest_answered_before_commit_total",
                   "Messages answered outcome-unknown because their commit outlasted ingest.answer_within_ms.", "counter",
                   "", n(stats_.answered_before_commit)});
    out.push_back({"cjhub_ingest_queue_depth", "Validated messages waiting for COMMIT.", "gauge", "",
                   static_cast<double>(queued())});
  });
}

void GroupCommitWriter::stop(std::chrono::steady_clock::time_point deadline) {
  metrics_.reset();
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    stopping_ = true;
  }
  cv_.notify_all();
  watch_cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  if (watchdog_.joinable()) watchdog_.join();
  // Whatever could not be committed (no database while stopping) is answered, never dropped.
  FairQueue<Item> left;
  {
    std::lock_guard lock(mutex_);
    std::swap(left, queue_);
  }
  while (auto item = left.pop()) item->done({Outcome::shutting_down, {}});
  (void)deadline;
}

std::size_t GroupCommitWriter::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void GroupCommitWriter::submit(store::NewMessage msg, Completion answer) {
  // Answered once: by the writer, or first by the watchdog when the commit outlasts its time.
  Completion done = [once = std::make_shared<std::atomic<bool>>(false), answer = std::move(answer)](Result r) {
    if (!once->exchange(true)) answer(std::move(r));
  };
  Outcome refused = Outcome::stored;
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) {
      refused = Outcome::shutting_down;
    } else if (queue_.size() >= settings_.queue_capacity ||
               queue_.bytes() + msg.body.size() > settings_.queue_max_bytes) {
      refused = Outcome::overloaded;
    } else {
      const auto share = queue_.share_of(msg.sender_ori);
      const auto pct = settings_.agency_queue_share_percent;
      if ((share.items + 1) * 100 > settings_.queue_capacity * pct ||
          (share.bytes + msg.body.size()) * 100 > settings_.queue_max_bytes * pct) {
        refused = Outcome::overloaded;  // this agency's share is full; the others still have room
      } else {
        const auto sender = msg.sender_ori;
        const auto bytes = msg.body.size();
        queue_.push(sender, {std::move(msg), std::move(done)}, bytes);
      }
    }
  }
  if (refused != Outcome::stored) {
    done({refused, {}});
    return;
  }
  cv_.notify_one();
}

void GroupCommitWriter::run(std::size_t index) {
  auto lg = log::get("outbox");
  store::Session db(settings_.db_url, settings_.connect_timeout, settings_.statement_timeout);
  db.use_generic_plans();  // a group's statements take arrays: one plan each serves every group
  std::vector<Item> group;
  group.reserve(settings_.group_max_messages);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping and drained
      // Round-robin between agencies: another agency's burst queued ahead does not keep a
      // message out of the next group.
      while (!queue_.empty() && group.size() < settings_.group_max_messages) group.push_back(std::move(*queue_.pop()));
    }
    if (!db.connected()) {
      try {
        db.get();
        if (db.generation() > 1) lg->info("writer {} reconnected to the database", index);
      } catch (const std::exception& e) {
        // Answer at once (503) rather than hold requests while the database is away.
        lg->warn("writer {}: database unavailable, refusing {} message(s): {}", index, group.size(), e.what());
        for (auto& item : group) item.done({Outcome::unavailable, {}});
        group.clear();
        stats_.failures.fetch_add(1);
        db.back_off();
        continue;
      }
    }
    // Each message's wait until its group's transaction begins (a reconnection included; messages
    // refused above, with no database, began none).
    const auto began = std::chrono::steady_clock::now();
    for (const auto& item : group) {
      metrics::registry().ingest_queue_wait.observe(std::chrono::duration<double>(began - item.queued_at).count());
    }
    commit_group(db, index, group);
    group.clear();
  }
}

void GroupCommitWriter::watch() {
  auto lg = log::get("outbox");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    std::vector<Completion> late;
    for (std::size_t i = 0; i < in_commit_.size(); ++i) {
      auto& c = in_commit_[i];
      if (c.answers.empty() || c.answered || now - c.since < settings_.answer_within) continue;
      c.answered = true;
      lg->warn("writer {}: the commit of {} message(s) has not returned after {} ms (is the synchronous standby "
               "gone?); answered outcome-unknown, the commit goes on",
               i, c.answers.size(), settings_.answer_within.count());
      late.insert(late.end(), c.answers.begin(), c.answers.end());
    }
    if (late.empty()) continue;
    // Answered outside the lock: an answer runs the request's own completion.
    lock.unlock();
    stats_.answered_before_commit.fetch_add(late.size());
    for (auto& a : late) a({Outcome::outcome_unknown, {}});
    lock.lock();
  }
}

void GroupCommitWriter::commit_group(store::Session& db, std::size_t index, std::vector<Item>& group, int attempt) {
  auto lg = log::get("outbox");
  std::vector<const store::NewMessage*> batch;
  batch.reserve(group.size());
  for (const auto& item : group) batch.push_back(&item.msg);
  if (settings_.answer_within.count() > 0) {
    std::lock_guard lock(mutex_);
    auto& c = in_commit_[index];
    c.since = std::chrono::steady_clock::now();
    c.answered = false;
    c.answers.clear();
    for (const auto& item : group) c.answers.push_back(item.done);
  }
  struct Done {  // the group leaves the watchdog's view however the commit ends
    GroupCommitWriter& w;
    std::size_t index;
    ~Done() {
      if (w.settings_.answer_within.count() == 0) return;
      std::lock_guard lock(w.mutex_);
      w.in_commit_[index].answers.clear();
    }
  } done_watching{*this, index};
  try {
    // Its commit's success becomes a 202 for each message of the group.
    const auto began = std::chrono::steady_clock::now();
    const auto results =
        db.run([&](store::Connection& conn) { return store::store_group(conn, batch, settings_.erasure).results; });
    metrics::registry().ingest_commit.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    stats_.groups.fetch_add(1);
    metrics::registry().group_size.observe(static_cast<double>(group.size()));
    stats_.messages.fetch_add(group.size());
    auto largest = stats_.largest_group.load();
    while (group.size() > largest && !stats_.largest_group.compare_exchange_weak(largest, group.size())) {
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
      const auto& r = results[i];
      Outcome o = Outcome::conflict;
      switch (r.status) {
        case store::InsertStatus::inserted: o = Outcome::stored; break;
        case store::InsertStatus::duplicate: o = Outcome::duplicate; break;
        case store::InsertStatus::conflict: o = Outcome::conflict; break;
        case store::InsertStatus::ack_unknown_reference: o = Outcome::ack_unknown_reference; break;
        case store::InsertStatus::ack_not_addressed: o = Outcome::ack_not_addressed; break;
        case store::InsertStatus::case_erased: o = Outcome::case_erased; break;
      }
      log::debug(lg,
                 {{"message_id", r.message_id}, {"request_id", group[i].msg.request_id},
                  {"agency", group[i].msg.sender_ori}},
                 "{} {}", r.type, to_string(o));
      group[i].done({o, r});
    }
  } catch (const store::DbOutcomeUnknown& e) {
    lg->error("commit outcome unknown for {} message(s): {}", group.size(), e.what());
    stats_.failures.fetch_add(1);
    for (auto& item : group) item.done({Outcome::outcome_unknown, {}});
  } catch (const store::DbUnavailable& e) {
    lg->warn("database lost while storing {} message(s): {}", group.size(), e.what());
    stats_.failures.fetch_add(1);
    for (auto& item : group) item.done({Outcome::unavailable, {}});
  } catch (const store::DbRetryable& e) {
    if (attempt < 3) {
      // Deadlock or serialization failure: the transaction was rolled back; try the group again.
      lg->warn("group of {} rolled back ({}); retrying", group.size(), e.state);
      return commit_group(db, index, group, attempt + 1);
    }
    stats_.failures.fetch_add(1);
    fail_group(db, index, group, e);
  } catch (const std::exception& e) {
    stats_.failures.fetch_add(1);
    fail_group(db, index, group, e);
  }
}

void GroupCommitWriter::fail_group(store::Session& db, std::size_t index, std::vector<Item>& group,
                                   const std::exception& e) {
  auto lg = log::get("outbox");
  {
    if (group.size() > 1) {
      // One bad row must not sink its neighbours: store each on its own.
      lg->warn("group of {} failed ({}); storing one by one", group.size(), e.what());
      for (auto& item : group) {
        std::vector<Item> one;
        one.push_back(std::move(item));
        if (!db.connected()) {
          one.front().done({Outcome::unavailable, {}});
          continue;
        }
        commit_group(db, index, one);
      }
      return;
    }
    const auto& msg = group.front().msg;
    log::error(lg, {{"message_id", msg.id.str()}, {"request_id", msg.request_id}, {"agency", msg.sender_ori}},
               "message {} from {} could not be stored: {}", msg.id.str(), msg.sender_ori, e.what());
    group.front().done({Outcome::failed, {}});
  }
}

}  // namespace cjhub::outbox
