// Deliveries: routing inside the ingest transaction, acknowledgements, the dispatcher's claims and
// completions, status for senders, and the operators' dead-letter and endpoint commands.
#pragma once

#include <chrono>
#include <optional>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "cjhub/common/ids.hpp"
#include <memory>

namespace cjhub::store {
struct NewMessage;
}

namespace cjhub::store {

// --- inside the ingest transaction ---
// Takes the case locks (sorted, so two writers cannot deadlock).
void lock_cases(pqxx::work& tx, std::vector<std::string> case_keys);

struct RouteInput {
  std::string message_id;
  std::string type;
  std::string sender_ori;
  std::string origin_ori;
  std::string case_key;
  std::string jurisdiction;
  bool type_ack_required = false;
};
// Creates one delivery per matching endpoint of each message, with one statement for one message
// or many, lanes kept in the order given; returns how many.
std::size_t route_messages(pqxx::work& tx, const std::vector<RouteInput>& in);

enum class AckTargetStatus { found, unknown_reference, not_addressed };
struct AckTarget {
  AckTargetStatus status = AckTargetStatus::unknown_reference;
  std::string delivery_id;
  long long endpoint_id = 0;
  std::string case_key;
  std::string original_sender;
};
// The case of the delivery an acknowledgement refers to (no lock), so the writer can take every
// case lock of its group up front and in order.
std::string ack_target_case(pqxx::work& tx, const std::string& acker, const std::string& reference);
// The delivery of `reference` (a hub message id or the document's message id) addressed to
// `acker`, locked for update.
AckTarget find_ack_target(pqxx::work& tx, const std::string& acker, const std::string& reference);
// Records the acknowledgement on the delivery and lets its lane move on.
void apply_ack(pqxx::work& tx, const AckTarget& target, const std::string& status,
               const std::string& reason, const std::string& ack_message_id);
// The acknowledgement's receipt to the original sender's subscribed endpoints.
std::size_t route_receipt(pqxx::work& tx, const std::string& ack_message_id,
                          const std::string& original_sender, const std::string& ack_type);
void notify_deliveries(pqxx::work& tx);

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
std::vector<EndpointRow> load_endpoints(pqxx::connection& conn);

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
};
std::vector<Claimed> claim(pqxx::connection& conn, const std::vector<ClaimRequest>& requests,
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
std::vector<CompletionResult> complete(pqxx::connection& conn, const std::vector<Completion>& batch,
                                       const std::string& leased_by, unsigned pause_after_failures);
std::size_t release_expired_leases(pqxx::connection& conn);
std::size_t release_leases_of(pqxx::connection& conn, const std::string& leased_by);

// --- status ---
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
};
std::vector<DeliveryStatus> deliveries_of(pqxx::connection& conn, const Uuid& message_id);

// --- operations ---
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
std::vector<DeadLetter> list_dead(pqxx::connection& conn, const DeadLetterFilter& f);
// Returns the ids replayed; they re-enter their lanes behind what is queued.
std::vector<std::string> replay_dead(pqxx::connection& conn, const DeadLetterFilter& f);
// Returns false when there is no such active endpoint.
bool set_endpoint_paused(pqxx::connection& conn, const std::string& ori, const std::string& name,
                         bool paused, const std::string& reason);
struct EndpointState {
  std::string ori, name, url;
  bool paused = false;
  std::string paused_reason;
  int consecutive_failures = 0;
  long long backlog = 0;
  long long dead = 0;
};
std::vector<EndpointState> endpoint_states(pqxx::connection& conn);

// Per active endpoint, for /readyz: pending deliveries (counted up to 10,000) and how long the
// oldest due one has waited.
struct EndpointBacklog {
  std::string ori, name;
  bool paused = false;
  long long backlog = 0;  // 10000 means "at least"
  double oldest_seconds = 0;
};
std::vector<EndpointBacklog> endpoint_backlogs(pqxx::connection& conn);

// Prometheus text lines for the gauges the database knows: backlog, oldest pending age, paused
// and dead letters per endpoint; erasure confirmations awaited and overdue per agency.
std::string database_gauges(pqxx::connection& conn);

}  // namespace cjhub::store
