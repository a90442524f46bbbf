// Messages in the outbox: the group insert used by ingest, and reads for the status API.
#pragma once

#include "cjhub/store/connection.hpp"

#include <optional>
#include <string>
#include <vector>

#include "cjhub/common/crypto.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/store/erasures_repo.hpp"

namespace cjhub::store {

struct NewMessage {
  Uuid id;
  std::string type;
  std::string sender_ori;
  std::string idempotency_key;
  std::string document_id;
  std::string case_key;
  std::string origin_ori;
  std::string jurisdiction;
  bool erasure = false;          // the whole case is erased (erasure notice, or every charge)
  bool erasure_charges = false;  // some charges, not all, are erased
  std::string body;
  Sha256 body_sha256{};
  SystemTime received_at{};
  // Routing.
  bool type_ack_required = false;  // the message type's default for recipients
  // Set when the message is a business acknowledgement of an earlier message.
  std::string ack_ref;
  bool acknowledgement = false;  // its type is an acknowledgement (has an ack_ref key)
  std::string ack_status;  // received, completed, rejected
  std::string ack_reason;
  // For the audit trail: who sent it (certificate identity) and from where.
  std::string actor;
  std::string source;
  // The request id of the POST that brought it (X-Request-Id; empty: none, stored as NULL).
  std::string request_id;
};

enum class InsertStatus {
  inserted,   // a new message
  duplicate,  // same sender, idempotency key and body as an earlier message: its result
  conflict,   // same sender and idempotency key, different body
  ack_unknown_reference,  // an acknowledgement of a message the hub does not know
  ack_not_addressed,      // an acknowledgement of a message not delivered to its sender
  case_erased,            // a later message about an erased case (policy: reject)
};

struct InsertResult {
  InsertStatus status = InsertStatus::inserted;
  std::string message_id;   // the stored message's id (the earlier one for duplicates)
  std::string type;
  std::string received_at;  // RFC 3339 UTC
};

// Inserts the messages inside `tx` with one statement, one message or many (the caller commits).
// Results are in input order.
std::vector<InsertResult> insert_messages(Transaction& tx, const std::vector<const NewMessage*>& batch);

// The whole ingest of a group inside `tx`: case locks, messages, their deliveries, the
// acknowledgements they carry and the receipts for them. `ack_type` names the acknowledgement
// message type (receipts go to subscribers of it). Returns per-message results in input order and
// whether any delivery was created (the caller then notifies the dispatchers).
struct GroupResult {
  std::vector<InsertResult> results;
  std::size_t deliveries = 0;
};
GroupResult ingest_group(Transaction& tx, const std::vector<const NewMessage*>& batch,
                         const ErasurePolicy& erasure = {});
// The outbox's unit of work: a transaction of its own around `ingest_group`, committed durably
// (no statement timeout on the COMMIT). Returning means committed.
GroupResult store_group(Connection& conn, const std::vector<const NewMessage*>& batch,
                        const ErasurePolicy& erasure = {});

struct MessageRecord {
  std::string id;
  std::string type;
  std::string sender_ori;
  std::string idempotency_key;
  std::string document_id;
  std::string case_key;
  std::string origin_ori;
  std::string jurisdiction;
  bool erasure = false;
  long long body_size = 0;
  std::string body_sha256_hex;
  std::string received_at;
  std::string stored_at;
  bool payload_removed = false;
};

std::optional<MessageRecord> find_message(Connection& conn, const Uuid& id);

// A stored document as it was received: none when there is no such message; `removed` when its
// content is gone (redacted by an erasure, or past payload retention).
struct StoredDocument {
  bool removed = false;
  std::string body;
};
std::optional<StoredDocument> message_document(Connection& conn, const Uuid& id);

}  // namespace cjhub::store
