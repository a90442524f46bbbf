#include "store/endpoint_health.hpp"

#include <pqxx/pqxx>

namespace cjhub::store::endpoint_health {

namespace sql {
namespace {

// Resets the failure count; last_success_at moves at most once a second, so a busy endpoint's row
// is not rewritten by every completion batch (each rewrite is a dead version until vacuumed).
constexpr const char* kEndpointSuccess =
    "UPDATE endpoints SET consecutive_failures = 0, last_success_at = now() WHERE id = $1 "
    "AND (consecutive_failures <> 0 OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')";
// Counts a failure; pauses the endpoint when the count reaches $2. Returns the new count.
constexpr const char* kEndpointFailure =
    "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, last_failure_at = now(), "
    "paused_at = CASE WHEN NOT paused AND consecutive_failures + 1 >= $2 THEN now() ELSE paused_at END, "
    "paused_reason = CASE WHEN NOT paused AND consecutive_failures + 1 >= $2 THEN $3 ELSE paused_reason END, "
    "paused = paused OR consecutive_failures + 1 >= $2 "
    "WHERE id = $1 RETURNING consecutive_failures, paused";

}  // namespace
}  // namespace sql

void succeeded(Transaction& tx, long long endpoint_id) { tx.exec_params0(sql::kEndpointSuccess, endpoint_id); }

bool failed(Transaction& tx, long long endpoint_id, unsigned pause_after_failures, const std::string& reason) {
  const auto row = tx.exec_params1(sql::kEndpointFailure, endpoint_id, static_cast<int>(pause_after_failures),
                                   "paused after " + std::to_string(pause_after_failures) +
                                       " consecutive failures; last: " + reason.substr(0, 200));
  return row[0].as<int>() == static_cast<int>(pause_after_failures) && row[1].as<bool>();
}

}  // namespace cjhub::store::endpoint_health
