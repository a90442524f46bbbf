#include "cjhub/ops/audit_verifier.hpp"

#include "cjhub/common/log.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::ops {

AuditVerifier::AuditVerifier(AuditVerifierSettings s) : s_(std::move(s)) {}

AuditVerifier::~AuditVerifier() { stop(std::chrono::steady_clock::now()); }

void AuditVerifier::start() {
  if (s_.interval.count() == 0) return;  // off
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    name_this_thread("cjhub-audit-verify");
    run();
  });
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    const auto n = [](const auto& v) { return static_cast<double>(v.load()); };
    // Absent until the first pass has read the chain: no verdict yet.
    if (const auto problems = stats_.last_problems.load(); problems >= 0) {
      out.push_back({"cjhub_audit_verification_failures",
                     "Problems (altered, missing or added records and blocks) the last periodic check of the audit "
                     "chain's recent blocks found; 0: intact.",
                     "gauge", "", static_cast<double>(problems)});
    }
    out.push_back({"cjhub_audit_verification_last_success_timestamp_seconds",
                   "When a periodic check last found the audit chain's recent blocks intact (Unix time; 0: never "
                   "in this process).",
                   "gauge", "", n(stats_.last_success_unix_s)});
    const char* help = "Periodic checks of the audit chain's recent blocks by result (intact, failed, error).";
    out.push_back({"cjhub_audit_verifications_total", help, "counter", "result=\"intact\"", n(stats_.intact)});
    out.push_back({"cjhub_audit_verifications_total", help, "counter", "result=\"failed\"", n(stats_.failed)});
    out.push_back({"cjhub_audit_verifications_total", help, "counter", "result=\"error\"", n(stats_.errors)});
  });
}

void AuditVerifier::stop(std::chrono::steady_clock::time_point) {
  if (!thread_.joinable()) return;
  metrics_.reset();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AuditVerifier::once() {
  auto lg = log::get("ops");
  auto conn = store::connect(s_.db_url, s_.connect_timeout, std::chrono::seconds(300));
  const auto v = store::verify_audit_recent(*conn, s_.max_records, s_.max_blocks);
  stats_.last_problems.store(static_cast<std::int64_t>(v.problems.size()));
  if (v.ok()) {
    stats_.intact.fetch_add(1);
    stats_.last_success_unix_s.store(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    lg->debug("audit check: {} recent record(s) intact (chain positions {} to {})", v.records, v.first_seq,
              v.last_seq);
    return;
  }
  stats_.failed.fetch_add(1);
  for (const auto& p : v.problems) lg->error("audit check: {}", p);
  lg->error("audit check: the audit trail is NOT intact: {} problem(s) in the {} most recent record(s); run "
            "`cjhub audit verify` for the whole chain",
            v.problems.size(), v.records);
}

void AuditVerifier::run() {
  auto lg = log::get("ops");
  // The first pass waits a little (at most 30 s), so that it does not compete with start-up.
  {
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, std::min<std::chrono::seconds>(s_.interval, std::chrono::seconds(30)),
                     [this] { return stopping_; })) {
      return;
    }
  }
  for (;;) {
    try {
      once();
    } catch (const std::exception& e) {
      stats_.errors.fetch_add(1);
      lg->warn("audit check failed to read the chain ({}); next check in {} s", e.what(), s_.interval.count());
    }
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, s_.interval, [this] { return stopping_; })) return;
  }
}

}  // namespace cjhub::ops
