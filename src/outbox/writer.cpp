#include "cjhub/outbox/writer.hpp"

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
  for (std::size_t i = 0; i < settings_.writers; ++i) threads_.emplace_back([this, i] {
    name_this_thread("cjhub-writer");
    run(i);
  });
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
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
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

void GroupCommitWriter::submit(store::NewMessage msg, Completion done) {
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
    commit_group(db, group);
    group.clear();
  }
}

void GroupCommitWriter::commit_group(store::Session& db, std::vector<Item>& group, int attempt) {
  auto lg = log::get("outbox");
  std::vector<const store::NewMessage*> batch;
  batch.reserve(group.size());
  for (const auto& item : group) batch.push_back(&item.msg);
  try {
    // Its commit's success becomes a 202 for each message of the group.
    const auto results =
        db.run([&](store::Connection& conn) { return store::store_group(conn, batch, settings_.erasure).results; });
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
      lg->debug("message {} type={} sender={} {}", r.message_id, r.type, group[i].msg.sender_ori, to_string(o));
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
      return commit_group(db, group, attempt + 1);
    }
    stats_.failures.fetch_add(1);
    fail_group(db, group, e);
  } catch (const std::exception& e) {
    stats_.failures.fetch_add(1);
    fail_group(db, group, e);
  }
}

void GroupCommitWriter::fail_group(store::Session& db, std::vector<Item>& group, const std::exception& e) {
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
        commit_group(db, one);
      }
      return;
    }
    lg->error("message {} from {} could not be stored: {}", group.front().msg.id.str(),
              group.front().msg.sender_ori, e.what());
    group.front().done({Outcome::failed, {}});
  }
}

}  // namespace cjhub::outbox
