#include "cjhub/ops/submitter_watch.hpp"

#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::ops {

SubmitterWatch::SubmitterWatch(std::string db_url, std::chrono::milliseconds connect_timeout,
                               std::chrono::seconds flush_interval, std::size_t max_rows)
    : db_url_(std::move(db_url)),
      connect_timeout_(connect_timeout),
      flush_interval_(flush_interval),
      max_rows_(max_rows) {}

SubmitterWatch::~SubmitterWatch() { stop(std::chrono::steady_clock::now()); }

void SubmitterWatch::start() {
  {
    std::lock_guard lock(run_mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    name_this_thread("cjhub-submitters");
    run();
  });
}

void SubmitterWatch::stop(std::chrono::steady_clock::time_point) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(run_mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SubmitterWatch::count(const std::string& ori, const std::string& outcome,
                           std::chrono::system_clock::time_point at, std::int64_t certificate_not_after) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const std::int64_t day = secs - ((secs % 86400) + 86400) % 86400;
  std::lock_guard lock(mu_);
  auto [it, fresh] = counts_.try_emplace({day, ori, outcome});
  auto& c = it->second;
  if (fresh) {
    c.ori = ori;
    c.day = day;
    c.outcome = outcome;
  }
  ++c.n;
  if (outcome == "accepted" && (!c.last_accepted || *c.last_accepted < at)) {
    c.last_accepted = at;
    c.certificate_not_after = certificate_not_after;
  }
  trim();
}

std::vector<store::SubmissionCount> SubmitterWatch::take() {
  std::lock_guard lock(mu_);
  std::vector<store::SubmissionCount> out;
  out.reserve(counts_.size());
  for (auto& [key, c] : counts_) out.push_back(std::move(c));
  counts_.clear();
  return out;
}

void SubmitterWatch::restore(const std::vector<store::SubmissionCount>& counts) {
  std::lock_guard lock(mu_);
  for (const auto& c : counts) {
    auto [it, fresh] = counts_.try_emplace({c.day, c.ori, c.outcome}, c);
    if (fresh) continue;
    it->second.n += c.n;
    if (c.last_accepted && (!it->second.last_accepted || *it->second.last_accepted < *c.last_accepted)) {
      it->second.last_accepted = c.last_accepted;
      it->second.certificate_not_after = c.certificate_not_after;
    }
  }
  trim();
}

void SubmitterWatch::trim() {
  while (counts_.size() > max_rows_) {
    counts_.erase(counts_.begin());  // the oldest day's
    dropped_.fetch_add(1);
  }
}

bool SubmitterWatch::flush() {
  auto counts = take();
  if (counts.empty()) return true;
  try {
    auto conn = store::connect(db_url_, connect_timeout_, std::chrono::seconds(30));
    store::record_submissions(*conn, counts);
    return true;
  } catch (const std::exception& e) {
    restore(counts);
    flush_failures_.fetch_add(1);
    log::get("ops")->warn("submitter counts not written ({}); kept for the next try", e.what());
    return false;
  }
}

void SubmitterWatch::run() {
  for (;;) {
    {
      std::unique_lock lock(run_mutex_);
      if (cv_.wait_for(lock, flush_interval_, [this] { return stopping_; })) break;
    }
    flush();
  }
  flush();  // what came in since the last flush
}

}  // namespace cjhub::ops
