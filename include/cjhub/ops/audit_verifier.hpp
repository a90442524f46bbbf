// Checks the audit trail's hash chain while the hub runs: every `audit.verify_interval_s` the most
// recent blocks (at most `audit.verify_records` records) are verified like `cjhub audit verify`
// does for the whole chain, and the outcome is exported for alerting
// (cjhub_audit_verification_failures, cjhub_audit_verification_last_success_timestamp_seconds,
// cjhub_audit_verifications_total). The cost of a pass is bounded by the record budget, not by
// the size of the trail; the whole chain stays `cjhub audit verify`'s job.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/ops/metrics.hpp"

namespace cjhub::ops {

struct AuditVerifierSettings {
  std::string db_url;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::seconds interval{900};  // 0: off
  long long max_records = 100000;      // records checked per pass (at least the last block)
  long long max_blocks = 10000;        // and blocks
};

struct AuditVerifierStats {
  std::atomic<std::uint64_t> intact{0};  // passes that found the recent chain intact
  std::atomic<std::uint64_t> failed{0};  // passes that found a problem
  std::atomic<std::uint64_t> errors{0};  // passes that could not read the chain (database away)
  std::atomic<std::int64_t> last_problems{-1};  // problems found by the last completed pass; -1: none yet
  std::atomic<std::int64_t> last_success_unix_s{0};
};

class AuditVerifier final : public Component {
 public:
  explicit AuditVerifier(AuditVerifierSettings s);
  ~AuditVerifier() override;
  std::string name() const override { return "audit-verifier"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  const AuditVerifierStats& stats() const { return stats_; }

 private:
  void run();
  void once();
  AuditVerifierSettings s_;
  AuditVerifierStats stats_;
  metrics::CollectorRegistration metrics_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cjhub::ops
