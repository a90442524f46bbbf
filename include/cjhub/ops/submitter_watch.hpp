// Submitter telemetry: every submission's outcome counted per agency, day and outcome in memory
// (from the I/O threads, where the request is answered) and added to the store every
// `watchers.flush_interval_s` by this component's thread, with each agency's latest accepted
// submission; what silence detection and the scorecard read (store/submitters_repo.hpp). While the
// database is away the counts wait in memory (bounded; the oldest days go first).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/store/submitters_repo.hpp"

namespace cjhub::ops {

class SubmitterWatch final : public Component {
 public:
  SubmitterWatch(std::string db_url, std::chrono::milliseconds connect_timeout,
                 std::chrono::seconds flush_interval, std::size_t max_rows = 100000);
  ~SubmitterWatch() override;
  std::string name() const override { return "submitter-watch"; }
  void start() override;
  // Flushes what was counted (one try), then stops.
  void stop(std::chrono::steady_clock::time_point deadline) override;

  // One submission of `ori` with `outcome` (accepted, duplicate, refused:<problem>) at `at`, made
  // with a client certificate valid until `certificate_not_after` (Unix seconds; 0: unknown).
  void count(const std::string& ori, const std::string& outcome, std::chrono::system_clock::time_point at,
             std::int64_t certificate_not_after = 0);

  // What was counted since the last take, in key order; restore() puts a batch back after a failed
  // flush (merged with what came since).
  std::vector<store::SubmissionCount> take();
  void restore(const std::vector<store::SubmissionCount>& counts);
  std::uint64_t dropped() const { return dropped_.load(); }
  std::uint64_t flush_failures() const { return flush_failures_.load(); }

 private:
  void run();
  bool flush();  // false when the store refused it (kept for the next one)
  void trim();   // mu_ held

  std::string db_url_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::seconds flush_interval_;
  std::size_t max_rows_;
  mutable std::mutex mu_;
  std::map<std::tuple<std::int64_t, std::string, std::string>, store::SubmissionCount> counts_;  // (day, ori, outcome)
  std::atomic<std::uint64_t> dropped_{0}, flush_failures_{0};
  std::mutex run_mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cjhub::ops
