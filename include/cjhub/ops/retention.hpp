// Keeps the hot tables small: every `retention.interval_minutes` one hub (an advisory lock) removes
// the payloads nothing needs any more and deletes old finished deliveries, in small batches so
// ingest and delivery are not held up, and the availability buckets and ended outages older than
// `watchers.*_days`.
#pragma once

#include "cjhub/config/config.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/ops/metrics.hpp"

namespace cjhub::ops {

struct RetentionSettings {
  std::string db_url;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::hours payload_after{24 * 30};
  std::chrono::hours deliveries_after{24 * 90};
  std::chrono::minutes interval{60};
  long long batch = 1000;
  config::Watchers watchers;  // how long availability buckets and ended outages are kept
};

struct RetentionStats {
  std::atomic<std::uint64_t> runs{0};
  std::atomic<std::uint64_t> payloads_removed{0};
  std::atomic<std::uint64_t> deliveries_removed{0};
  std::atomic<std::uint64_t> availability_rows_removed{0};
  std::atomic<std::uint64_t> failures{0};
};

class RetentionJob final : public Component {
 public:
  explicit RetentionJob(RetentionSettings s);
  ~RetentionJob() override;
  std::string name() const override { return "retention"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  const RetentionStats& stats() const { return stats_; }

 private:
  void run();
  bool once();  // one pass; false when stopping interrupted it
  RetentionSettings s_;
  RetentionStats stats_;
  metrics::CollectorRegistration metrics_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cjhub::ops
