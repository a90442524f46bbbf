#include "cjhub/audit/audit_log.hpp"

#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::audit {

std::string actor_of(const std::vector<std::string>& san_uris, const std::string& subject, const std::string& sha256) {
  std::string who = !san_uris.empty() ? san_uris.front() : subject;
  if (who.empty()) who = "(no certificate)";
  if (!sha256.empty()) who += " sha256:" + sha256.substr(0, 16);
  return who;
}

AuditLog::AuditLog(Settings s) : settings_(std::move(s)) {}

AuditLog::~AuditLog() { stop(std::chrono::steady_clock::now()); }

void AuditLog::start() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void AuditLog::stop(std::chrono::steady_clock::time_point deadline) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = deadline;
  }
  cv_.notify_all();
  thread_.join();
}

void AuditLog::record(store::AuditEvent e) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= settings_.queue_capacity) {
      stats_.dropped.fetch_add(1);
      return;
    }
    queue_.push_back(std::move(e));
  }
}

void AuditLog::run() {
  auto lg = log::get("audit");
  std::unique_ptr<pqxx::connection> conn;
  auto last_seal = std::chrono::steady_clock::time_point{};
  auto last_prune = std::chrono::steady_clock::now();  // not at start: the first run waits an interval
  auto last_complaint = std::chrono::steady_clock::time_point{};
  for (;;) {
    std::vector<store::AuditEvent> batch;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, settings_.flush_interval, [&] { return stopping_; });
      stopping = stopping_;
      while (!queue_.empty() && batch.size() < 5000) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const auto now = std::chrono::steady_clock::now();
    try {
      if (!conn) conn = store::connect(settings_.db_url, settings_.connect_timeout);
      if (!batch.empty()) {
        store::record_audit(*conn, batch);
        stats_.recorded.fetch_add(batch.size());
        batch.clear();
      }
      if (stopping || now - last_seal >= settings_.seal_interval) {
        std::size_t n = 0;
        while ((n = store::seal_audit(*conn, 5000)) > 0) {
          stats_.sealed.fetch_add(n);
          if (n < 5000) break;
        }
        last_seal = now;
      }
      if (!stopping && now - last_prune >= settings_.prune_interval) {
        const auto cutoff = rfc3339(now_utc() - settings_.retention);
        if (const auto n = store::prune_audit(*conn, cutoff); n > 0) {
          stats_.pruned.fetch_add(n);
          lg->info("audit retention removed {} record(s) received before {}", n, cutoff);
        }
        last_prune = now;
      }
    } catch (const std::exception& e) {
      stats_.failures.fetch_add(1);
      conn.reset();
      if (now - last_complaint > std::chrono::seconds(10)) {
        lg->warn("audit trail: database unavailable ({}); records wait in memory", e.what());
        last_complaint = now;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      // Put the batch back in front (order kept), within the queue's bounds.
      std::lock_guard lock(mutex_);
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        if (queue_.size() >= settings_.queue_capacity) {
          stats_.dropped.fetch_add(1);
          continue;
        }
        queue_.push_front(std::move(*it));
      }
    }
    if (stopping) {
      std::lock_guard lock(mutex_);
      if (queue_.empty() || std::chrono::steady_clock::now() >= deadline_) {
        if (!queue_.empty()) {
          lg->error("audit trail: {} record(s) could not be written before shutdown", queue_.size());
          stats_.dropped.fetch_add(queue_.size());
        }
        return;
      }
    }
  }
}

}  // namespace cjhub::audit
