// Deliveries: the dispatcher's endpoints, claims, completions and leases, and each recipient's
// state for a message's sender. Routing happens inside the ingest transaction (store/routing_repo,
// internal); the operators' commands are in operations_repo.hpp.
#pragma once

#include "cjhub/store/connection.hpp"

#include <cstdint>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cjhub/common/ids.hpp"
#include <memory>

namespace cjhub::store {
struct NewMessage;
}

namespace cjhub::store {

// --- dispatcher ---
struct EndpointRow {
  long long id = 0;
  std::string ori;
  std::string name;
  std::string url;
  int max_in_flight = 1;
  int timeout_ms = 10000;
  bool paused = false;
};
std::vector<EndpointRow> load_endpoints(Connection& conn);

struct ClaimRequest {
  long long endpoint_id;
  int capacity;
  int lease_ms;
  // Look only at deliveries due at or after this time (microseconds since the epoch; 0 = all).
  // Claimed deliveries leave dead entries at the front of the due index until VACUUM; a cursor
  // keeps a long backlog from being walked from its start on every claim.
  long long due_after_us = 0;
};
struct Claimed {
  std::string delivery_id;
  std::string message_id;
  long long endpoint_id = 0;
  int attempt = 0;
  std::string case_key;
  bool ack_required = false;
  std::string message_type;
  std::string sender_ori;
  std::string recipient_ori;
  std::optional<std::string> body;  // nullopt: the payload was removed (erasure)
  long long due_at_us = 0;  // when it was due (microseconds since the epoch): the claim cursor
  // A log entry rather than a row: its position on the log and the subscription that chose it.
  long long log_seq = 0;
  std::uint64_t log_epoch = 0;  // which reading of the endpoint's log sent it (a lease lost and taken again starts another)
  long long subscription_id = 0;
  std::string request_id;  // of the POST that brought the message (empty: none)
  std::string endpoint_name;  // set by the dispatcher when it sends (for its log lines)
};
std::vector<Claimed> claim(Connection& conn, const std::vector<ClaimRequest>& requests,
                           const std::string& leased_by);

struct Completion {
  enum class Kind { delivered, retry, dead, suppressed } kind = Kind::delivered;
  std::string delivery_id;
  long long endpoint_id = 0;
  std::string case_key;  // its lane's case: locked before any row is touched
  std::string message_id;  // the message delivered, and who sent it (for an acknowledgement)
  std::string sender_ori;
  std::string recipient_ori;  // for the audit trail
  std::optional<int> http_status;
  std::string error;  // for retry / dead
  std::chrono::milliseconds retry_delay{0};
  bool endpoint_failure = false;  // counts towards pausing the endpoint
  std::chrono::system_clock::time_point attempted_at{};  // when the exchange began (outages start and end there)
  std::chrono::milliseconds took{0};  // from the start of the exchange to its answer (or its failure)
  // An acknowledgement the recipient returned in its 2xx answer, stored and applied in the same
  // transaction as the delivery's outcome.
  std::shared_ptr<const NewMessage> ack;
};
struct CompletionResult {
  std::string delivery_id;
  std::string state;  // the state written: delivered, acknowledged, rejected, pending, dead,
                      // suppressed ("" when the row had moved on: lease lost)
  bool endpoint_paused_now = false;
  std::string ack_outcome;  // for an acknowledgement in the answer: stored, duplicate, refused
};
// Writes a batch of completions in one transaction, promotes the lanes they free, notifies.
std::vector<CompletionResult> complete(Connection& conn, const std::vector<Completion>& batch,
                                       const std::string& leased_by, unsigned pause_after_failures);
std::size_t release_expired_leases(Connection& conn);
std::size_t release_leases_of(Connection& conn, const std::string& leased_by);

// --- status ---
// One attempt on a delivery's timeline: kept for every delivery (compactly: see migration 0021).
struct AttemptRecord {
  std::string at;             // when the exchange began (RFC 3339)
  std::optional<int> status;  // the answer's status; none: no answer (refused, timed out, TLS)
  int took_ms = 0;            // from the start to the answer
  std::string error;          // why it did not count as delivered (empty when it did)
};
struct DeliveryStatus {
  std::string delivery_id;
  std::string recipient_ori;
  std::string endpoint;
  std::string state;
  int attempts = 0;
  std::optional<int> last_status;
  std::string last_error;
  std::string delivered_at;
  std::string acknowledged_at;
  std::string ack_status;
  std::string ack_reason;
  bool ack_required = false;
  std::string next_attempt_at;
  std::vector<AttemptRecord> history;  // oldest first; filled by deliveries_of only
};
// A message's recipients with each one's attempts (the status page).
std::vector<DeliveryStatus> deliveries_of(Connection& conn, const Uuid& message_id);

}  // namespace cjhub::store
