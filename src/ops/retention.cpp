#include "cjhub/ops/retention.hpp"

#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/availability_repo.hpp"
#include "cjhub/store/retention_repo.hpp"
#include "cjhub/store/submitters_repo.hpp"

namespace cjhub::ops {

RetentionJob::RetentionJob(RetentionSettings s) : s_(std::move(s)) {}

RetentionJob::~RetentionJob() { stop(std::chrono::steady_clock::now()); }

void RetentionJob::start() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    name_this_thread("cjhub-retention");
    run();
  });
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    const auto n = [](const auto& v) { return static_cast<double>(v.load()); };
    out.push_back({"cjhub_retention_payloads_removed_total", "Payloads removed by retention (this process).",
                   "counter", "", n(stats_.payloads_removed)});
    out.push_back({"cjhub_retention_deliveries_removed_total",
                   "Finished deliveries deleted by retention (this process).", "counter", "",
                   n(stats_.deliveries_removed)});
    out.push_back({"cjhub_retention_failures_total", "Retention passes that failed.", "counter", "",
                   n(stats_.failures)});
  });
}

void RetentionJob::stop(std::chrono::steady_clock::time_point) {
  if (!thread_.joinable()) return;
  metrics_.reset();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool RetentionJob::once() {
  auto lg = log::get("ops");
  auto stopping = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  auto conn = store::connect(s_.db_url, s_.connect_timeout, std::chrono::seconds(60));
  if (!store::try_retention_lock(*conn)) return true;  // another hub is at it
  const auto now = now_utc();
  const auto payload_cutoff = rfc3339(now - s_.payload_after);
  const auto delivery_cutoff = rfc3339(now - s_.deliveries_after);
  std::size_t payloads = 0, deliveries = 0;
  for (std::size_t n = s_.batch; n == static_cast<std::size_t>(s_.batch) && !stopping();) {
    n = store::purge_payloads(*conn, payload_cutoff, s_.batch);
    payloads += n;
  }
  for (store::PruneResult r{static_cast<std::size_t>(s_.batch), 0}; r.scanned > 0 && !stopping();) {
    r = store::prune_deliveries(*conn, delivery_cutoff, s_.batch);
    deliveries += r.removed;
  }
  std::size_t answers = 0;  // the log's attempt records, as old as the deliveries just pruned
  for (std::size_t n = s_.batch; n == static_cast<std::size_t>(s_.batch) && !stopping();) {
    n = store::prune_log_answers(*conn, delivery_cutoff, s_.batch);
    answers += n;
  }
  std::size_t availability = 0;
  const auto& w = s_.watchers;
  for (std::size_t n = 1; n > 0 && !stopping();) {
    n = store::prune_availability(*conn, rfc3339(now - w.keep_minutes), rfc3339(now - w.keep_hours),
                                  rfc3339(now - w.keep_days), rfc3339(now - w.keep_outages), 10 * s_.batch);
    availability += n;
  }
  if (!stopping()) availability += store::prune_submitters(*conn, rfc3339(now - w.keep_submitter_days));
  for (std::size_t n = 1; n > 0 && !stopping();) {
    n = store::prune_component_minutes(*conn, rfc3339(now - w.keep_hours), 10 * s_.batch);
    availability += n;
  }
  store::retention_unlock(*conn);
  stats_.availability_rows_removed.fetch_add(availability);
  stats_.runs.fetch_add(1);
  stats_.payloads_removed.fetch_add(payloads);
  stats_.deliveries_removed.fetch_add(deliveries);
  if (payloads + deliveries + answers > 0) {
    lg->info("retention: {} payload(s) removed (received before {}), {} finished delivery(ies) and {} round(s) "
             "of attempt records deleted (before {})",
             payloads, payload_cutoff, deliveries, answers, delivery_cutoff);
  }
  if (availability > 0) lg->info("retention: {} availability row(s) (buckets, ended outages) deleted", availability);
  return !stopping();
}

void RetentionJob::run() {
  auto lg = log::get("ops");
  for (;;) {
    try {
      once();
    } catch (const std::exception& e) {
      stats_.failures.fetch_add(1);
      lg->warn("retention pass failed ({}); next pass in {} min", e.what(), s_.interval.count());
    }
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, s_.interval, [this] { return stopping_; })) return;
  }
}

}  // namespace cjhub::ops
