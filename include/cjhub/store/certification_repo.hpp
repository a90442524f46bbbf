// What the certification kit (`cjhub certify`, src/certify) reads of one agency's traffic in a
// window, and the one thing it writes: a redelivered duplicate for the agency's endpoint. Times are
// microseconds since the epoch (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cjhub/store/connection.hpp"
#include "cjhub/store/deliveries_repo.hpp"

namespace cjhub::store {

struct CertifiedAgency {
  std::string ori, name;
  bool sandbox = false;
  bool active = false;
  std::optional<std::int64_t> certificate_not_after;  // Unix seconds: the certificate of its latest accepted submission
};
std::optional<CertifiedAgency> certified_agency(Connection& conn, const std::string& ori);

// Its submissions as the audit trail recorded them (accepted, duplicate, refused:<problem>), the
// newest `limit` since `since_us`, oldest first.
struct SubmissionRecord {
  long long audit_id = 0;
  std::int64_t at_us = 0;
  std::string outcome;
  std::string object;  // "message <id>" when one was stored or recognised
  std::string detail;  // the message type, when the store recorded the outcome
};
std::vector<SubmissionRecord> submissions_of(Connection& conn, const std::string& ori, std::int64_t since_us,
                                             std::size_t limit);

// The messages it sent that were accepted, the newest `limit` since `since_us`, oldest first. The
// body is absent once erased or past retention.
struct SentMessage {
  std::string id, type, document_id, case_key;
  std::int64_t received_us = 0;
  std::optional<std::string> body;
};
std::vector<SentMessage> messages_from(Connection& conn, const std::string& ori, std::int64_t since_us,
                                       std::size_t limit);

// What the hub sent its endpoints since `since_us` (answered on the log, or a delivery row): each
// message with this agency's recipient state and attempts, by seq.
struct ReceivedMessage {
  std::string message_id, type, case_key;
  long long seq = 0;
  DeliveryStatus delivery;
};
std::vector<ReceivedMessage> deliveries_to(Connection& conn, const std::string& ori, std::int64_t since_us,
                                           std::size_t limit);

// The erasure notices it was sent since `since_us`, each an acknowledgement owed.
struct ErasureObligation {
  std::string message_id, erasure_id, delivery_id, state, ack_status;
  std::int64_t sent_us = 0;          // when the notice was routed to it
  std::int64_t acknowledged_us = 0;  // 0: not yet
};
std::vector<ErasureObligation> erasure_obligations(Connection& conn, const std::string& ori, std::int64_t since_us,
                                                   std::size_t limit);

// Sends the message the agency's endpoint most recently answered 2xx once more, as the same
// delivery (same message id and delivery id, the next attempt number): the duplicate an endpoint
// meets when the hub never read its answer. The message is an entry of the log (a pending row is
// made for it) or a delivered row that owes no acknowledgement (it becomes pending again). Nothing
// later of the same case was answered yet, so the case's order holds. Audited as
// `admin redelivered` by `actor`. None: nothing to send.
struct Redelivery {
  std::string message_id, delivery_id, endpoint;
};
std::optional<Redelivery> redeliver_latest(Connection& conn, const std::string& ori, const std::string& actor);

}  // namespace cjhub::store
