#include "store/endpoint_health.hpp"

#include <pqxx/pqxx>

#include "store/prepared.hpp"

namespace cjhub::store::endpoint_health {

namespace sql {
namespace {

// Ends the endpoint's open outage (if any) when the successful exchange began ($2, microseconds
// since the epoch), and resets the failure count; last_success_at moves at most once a second, so
// a busy endpoint's row is not rewritten by every completion batch (each rewrite is a dead
// version until vacuumed).
constexpr const char* kEndpointSuccessName = "endpoint_success";
constexpr const char* kEndpointSuccess =
    "WITH ended AS (UPDATE endpoint_outages SET ended_at = greatest(started_at, to_timestamp($2::float8 / 1e6)) "
    "  WHERE endpoint_id = $1 AND ended_at IS NULL RETURNING 1) "
    "UPDATE endpoints SET consecutive_failures = 0, last_success_at = now() WHERE id = $1 "
    "AND (consecutive_failures <> 0 OR last_success_at IS NULL OR last_success_at < now() - interval '1 second')";
// Opens an outage when the failed exchange began ($2; never before the previous outage ended: two
// exchanges in flight together may finish out of order), or counts another failure in the open
// one. Internal: kEndpointFailure and kProbeFailure start with it.
#define CJHUB_OPEN_OUTAGE                                                                                       \
  "WITH opened AS (INSERT INTO endpoint_outages (endpoint_id, started_at, cause, last_cause) "                 \
  "  SELECT $1, greatest(to_timestamp($2::float8 / 1e6), (SELECT p.ended_at FROM endpoint_outages p "          \
  "    WHERE p.endpoint_id = $1 ORDER BY p.started_at DESC LIMIT 1)), $3, $3 "                                   \
  "  ON CONFLICT (endpoint_id) WHERE ended_at IS NULL DO UPDATE SET failures = endpoint_outages.failures + 1, " \
  "    last_cause = EXCLUDED.last_cause RETURNING 1) "
// Counts a failure; pauses the endpoint when the count reaches $4 (reason $5). Returns the new count.
constexpr const char* kEndpointFailure =
    CJHUB_OPEN_OUTAGE
    "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, last_failure_at = now(), "
    "paused_at = CASE WHEN NOT paused AND consecutive_failures + 1 >= $4 THEN now() ELSE paused_at END, "
    "paused_reason = CASE WHEN NOT paused AND consecutive_failures + 1 >= $4 THEN $5 ELSE paused_reason END, "
    "paused = paused OR consecutive_failures + 1 >= $4 "
    "WHERE id = $1 RETURNING consecutive_failures, paused";
constexpr const char* kProbeFailure = CJHUB_OPEN_OUTAGE "SELECT count(*) FROM opened";
#undef CJHUB_OPEN_OUTAGE
constexpr const char* kProbeSuccess =
    "UPDATE endpoint_outages SET ended_at = greatest(started_at, to_timestamp($2::float8 / 1e6)) "
    "WHERE endpoint_id = $1 AND ended_at IS NULL";

// An outcome without a start time (recorded by a path that does not time exchanges) counts as now.
double micros(TimePoint at) {
  if (at == TimePoint{}) at = std::chrono::system_clock::now();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count());
}

}  // namespace
}  // namespace sql

void succeeded(Transaction& tx, long long endpoint_id, TimePoint at) {
  tx.exec_prepared0(sql::kEndpointSuccessName, endpoint_id, sql::micros(at));
}

bool failed(Transaction& tx, long long endpoint_id, unsigned pause_after_failures, const std::string& reason,
            TimePoint at) {
  const auto cause = reason.substr(0, 300);
  const auto row = tx.exec_params1(sql::kEndpointFailure, endpoint_id, sql::micros(at), cause,
                                   static_cast<int>(pause_after_failures),
                                   "paused after " + std::to_string(pause_after_failures) +
                                       " consecutive failures; last: " + reason.substr(0, 200));
  return row[0].as<int>() == static_cast<int>(pause_after_failures) && row[1].as<bool>();
}

void probed(Transaction& tx, long long endpoint_id, bool up, const std::string& cause, TimePoint at) {
  if (up) {
    tx.exec_params0(sql::kProbeSuccess, endpoint_id, sql::micros(at));
  } else {
    tx.exec_params1(sql::kProbeFailure, endpoint_id, sql::micros(at), cause.substr(0, 300));
  }
}

}  // namespace cjhub::store::endpoint_health

namespace cjhub::store {

// Every send's success goes through one statement: prepared once per connection.
void prepare_endpoint_health_statements(Connection& conn) {
  conn.prepare(endpoint_health::sql::kEndpointSuccessName, endpoint_health::sql::kEndpointSuccess);
}

}  // namespace cjhub::store
