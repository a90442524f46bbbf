// Operations on delivery: dead letters (list, replay), pausing and resuming endpoints, endpoint
// states for operators and /readyz, and the gauges the database knows for /metrics.
#pragma once

#include "cjhub/store/connection.hpp"
#include "cjhub/store/submitters_repo.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cjhub::store {

struct DeadLetterFilter {
  std::optional<std::string> delivery_id;
  std::optional<std::string> ori;
  std::optional<std::string> endpoint;
  std::optional<std::string> since;  // timestamptz text
  std::optional<std::string> until;
  long long limit = 1000;
};
struct DeadLetter {
  std::string delivery_id;
  std::string message_id;
  std::string message_type;
  std::string recipient_ori;
  std::string endpoint;
  int attempts = 0;
  std::optional<int> last_status;
  std::string last_error;
  std::string dead_at;
  std::string case_key;
};
std::vector<DeadLetter> list_dead(Connection& conn, const DeadLetterFilter& f);
// The same, each dead letter handed to `each` as it is read (a server-side cursor, 1,000 rows a
// fetch), so memory does not grow with how many there are; `f.limit` <= 0: no limit.
void each_dead(Connection& conn, const DeadLetterFilter& f, const std::function<void(const DeadLetter&)>& each);
// How many dead letters the filter names (`f.limit` aside): what a replay is about to take on.
long long count_dead(Connection& conn, const DeadLetterFilter& f);
// Returns the ids replayed; they re-enter their lanes behind what is queued.
std::vector<std::string> replay_dead(Connection& conn, const DeadLetterFilter& f);
// Returns false when there is no such active endpoint.
bool set_endpoint_paused(Connection& conn, const std::string& ori, const std::string& name,
                         bool paused, const std::string& reason);
struct EndpointState {
  std::string ori, name, url;
  bool paused = false;
  std::string paused_reason;
  int consecutive_failures = 0;
  long long backlog = 0;
  long long dead = 0;
  std::string last_success_at, last_failure_at;  // ISO 8601, empty: never
  std::string recent_outages_json;  // its three latest outages, newest first (a JSON array)
};
std::vector<EndpointState> endpoint_states(Connection& conn);

// The last `minutes` minutes, per minute (oldest first, minutes without traffic included): messages
// accepted, and delivery attempts answered 2xx and failed, as every hub wrote them
// (endpoint_minutes). The console's throughput chart.
struct ThroughputMinute {
  std::string at;  // the minute's start, ISO 8601
  long long accepted = 0, delivered = 0, failed = 0;
};
std::vector<ThroughputMinute> throughput_minutes(Connection& conn, int minutes);

// Per active endpoint, for /readyz: pending deliveries (counted up to 10,000) and how long the
// oldest due one has waited.
struct EndpointBacklog {
  std::string ori, name;
  bool paused = false;
  long long backlog = 0;  // 10000 means "at least"
  double oldest_seconds = 0;
};
std::vector<EndpointBacklog> endpoint_backlogs(Connection& conn);

// Prometheus text lines for the gauges the database knows: backlog, oldest pending age, paused
// and dead letters per endpoint; erasure confirmations awaited and overdue per agency.
// Also each endpoint's state (up, the month's availability) and each submitting agency's last
// accepted submission and silence (by `silence`).
std::string database_gauges(Connection& conn, const SilenceRule& silence = {});

}  // namespace cjhub::store
