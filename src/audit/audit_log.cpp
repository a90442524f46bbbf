#include "cjhub/audit/audit_log.hpp"

#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/session.hpp"

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
  thread_ = std::thread([this] {
    name_this_thread("cjhub-audit");
    run();
  });
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    const auto n = [](const auto& v) { return static_cast<double>(v.load()); };
    out.push_back({"cjhub_audit_records_queued_total", "Audit records written from the queue (refusals, admin).",
                   "counter", "", n(stats_.recorded)});
    out.push_back({"cjhub_audit_records_dropped_total",
                   "Audit records lost (queue full or database away too long).", "counter", "", n(stats_.dropped)});
    out.push_back({"cjhub_audit_records_sealed_total", "Audit records sealed onto the hash chain by this process.",
                   "counter", "", n(stats_.sealed)});
    out.push_back({"cjhub_audit_failures_total", "Audit trail database rounds that failed.", "counter", "",
                   n(stats_.failures)});
  });
}

void AuditLog::stop(std::chrono::steady_clock::time_point deadline) {
  if (!thread_.joinable()) return;
  metrics_.reset();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = deadline;
  }
  cv_.notify_all();
  thread_.join();
}

namespace {

// "10.1.2.3:51514" -> "10.1.2.3", "[::1]:443" -> "[::1]": a peer reconnecting from new ports is
// one peer.
std::string peer_host(const std::string& source) {
  const auto colon = source.rfind(':');
  if (colon == std::string::npos || colon + 1 == source.size()) return source;
  if (source.find_first_not_of("0123456789", colon + 1) != std::string::npos) return source;
  if (source.find(':') != colon && source.front() != '[') return source;  // a bare IPv6 address
  return source.substr(0, colon);
}

bool is_refusal(const store::AuditEvent& e) { return e.outcome.rfind("refused:", 0) == 0; }

}  // namespace

void AuditLog::record(store::AuditEvent e) {
  std::lock_guard lock(mutex_);
  if (!is_refusal(e)) {
    if (queue_.size() >= settings_.queue_capacity) {
      stats_.dropped.fetch_add(1);
      return;
    }
    queue_.push_back(std::move(e));
    return;
  }
  std::string key = e.action;
  for (const auto* part : {&e.outcome, &e.ori, &e.actor}) (key += '\x1f') += *part;
  (key += '\x1f') += peer_host(e.source);
  if (const auto it = window_.find(key); it != window_.end()) {
    ++it->second.more;
    stats_.aggregated.fetch_add(1);
    return;
  }
  if (window_.size() >= settings_.max_refusal_keys) {
    ++unitemised_;
    stats_.aggregated.fetch_add(1);
    return;
  }
  window_.emplace(std::move(key), RefusalCount{e, 0});
  refusal_queue_.push_back(std::move(e));
}

void AuditLog::close_window(std::vector<store::AuditEvent>& out) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - window_start_);
  for (auto& [key, count] : window_) {
    if (count.more == 0) continue;
    auto e = count.first;
    e.object.clear();
    e.source = peer_host(e.source);
    e.detail = std::to_string(count.more) + " more refusal(s) like this from " + e.source + " in the last " +
               std::to_string(seconds.count()) + " s";
    out.push_back(std::move(e));
  }
  if (unitemised_ > 0) {
    out.push_back({"hub", "", "audit", "refusals-not-itemised", "", "",
                   std::to_string(unitemised_) + " refusal(s) beyond " + std::to_string(settings_.max_refusal_keys) +
                       " distinct peers and reasons in the last " + std::to_string(seconds.count()) + " s"});
  }
  window_.clear();
  unitemised_ = 0;
  window_start_ = std::chrono::steady_clock::now();
}

void AuditLog::run() {
  auto lg = log::get("audit");
  store::Session db(settings_.db_url, settings_.connect_timeout);
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
      while (!refusal_queue_.empty() && batch.size() < 10000) {
        batch.push_back(std::move(refusal_queue_.front()));
        refusal_queue_.pop_front();
      }
      if (stopping || std::chrono::steady_clock::now() - window_start_ >= settings_.aggregate_interval) {
        close_window(batch);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    try {
      if (!batch.empty()) {
        db.run([&](store::Connection& c) { store::record_audit(c, batch); });
        stats_.recorded.fetch_add(batch.size());
        batch.clear();
      }
      if (stopping || now - last_seal >= settings_.seal_interval) {
        std::size_t n = 0;
        while ((n = db.run([](store::Connection& c) { return store::seal_audit(c, 5000); })) > 0) {
          stats_.sealed.fetch_add(n);
          if (n < 5000) break;
        }
        last_seal = now;
      }
      if (!stopping && now - last_prune >= settings_.prune_interval) {
        const auto cutoff = rfc3339(now_utc() - settings_.retention);
        if (const auto n = db.run([&](store::Connection& c) { return store::prune_audit(c, cutoff); }); n > 0) {
          stats_.pruned.fetch_add(n);
          lg->info("audit retention removed {} record(s) received before {}", n, cutoff);
        }
        last_prune = now;
      }
    } catch (const std::exception& e) {
      stats_.failures.fetch_add(1);
      if (now - last_complaint > std::chrono::seconds(10)) {
        lg->warn("audit trail: database unavailable ({}); records wait in memory", e.what());
        last_complaint = now;
      }
      db.back_off();
      // Put the batch back in front (order kept), each event in its own queue and within its
      // bounds: refusals waiting never take the place of a state change.
      std::lock_guard lock(mutex_);
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        const bool refusal = is_refusal(*it) || it->outcome == "refusals-not-itemised";
        auto& q = refusal ? refusal_queue_ : queue_;
        if (q.size() >= (refusal ? 2 * settings_.max_refusal_keys : settings_.queue_capacity)) {
          stats_.dropped.fetch_add(1);
          continue;
        }
        q.push_front(std::move(*it));
      }
    }
    if (stopping) {
      std::lock_guard lock(mutex_);
      const auto left = queue_.size() + refusal_queue_.size();
      if (left == 0 || std::chrono::steady_clock::now() >= deadline_) {
        if (left > 0) {
          lg->error("audit trail: {} record(s) could not be written before shutdown", left);
          stats_.dropped.fetch_add(left);
        }
        return;
      }
    }
  }
}

}  // namespace cjhub::audit
