// Erasure by operation of law, in the store: what happens in the transaction that stores an
// erasure, and the ledger that proves every recipient was told and confirmed deletion.
#pragma once

#include "cjhub/store/connection.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cjhub::store {

struct ErasurePolicy {
  long long deadline_seconds = 30LL * 24 * 3600;   // CGS 54-142e: 30 days from notice
  long long follow_up_seconds = 20LL * 24 * 3600;  // unconfirmed recipients are chased from then
  bool reject_later_messages = true;               // later messages about an erased case get 409
};

// Which of these cases are erased (one round trip for a whole group).
std::set<std::string> erased_among(Transaction& tx, const std::vector<std::string>& case_keys);

struct ErasureInput {
  std::string message_id;  // the message that carries the erasure (also the erasure's id)
  std::string type, sender_ori, origin_ori, case_key, jurisdiction, received_at;
  bool whole_case = true;  // false: only some charges (CaseUpdate with some charges flagged)
};
struct ErasureResult {
  std::size_t redacted = 0;    // earlier messages whose payload was removed
  std::size_t suppressed = 0;  // undelivered deliveries that will never be sent
  std::size_t recipients = 0;  // deliveries of the erasure, each with a required acknowledgement
};
// Inside the ingest transaction, after the message row exists and with the case lock held.
ErasureResult record_erasure(Transaction& tx, const ErasureInput& in, const ErasurePolicy& policy);

struct ErasureFilter {
  std::optional<std::string> agency;        // erasures that involve this recipient
  std::optional<std::string> since, until;  // received between
  // A non-operator's view: the erasures it requested (with every recipient) and the ones it owes
  // (a notice it was sent: its own recipient rows only, never another holder's). Unset: all.
  std::optional<std::string> viewer;
  std::optional<std::string> id;
  std::optional<std::string> status;        // open, overdue, complete
  std::optional<std::string> after_at, after_id;  // keyset paging cursor
  long long limit = 100;
};
struct ErasureSummary {
  std::string id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, status;
  // How the viewer sees it: `all` (no viewer), `requested` (the viewer asked for it) or `owed`
  // (the viewer is a recipient: counts, status and recipients are its own; what the erasure did
  // elsewhere, the redacted and suppressed counts, is left out).
  std::string view = "all";
  long long redacted_messages = 0, suppressed_deliveries = 0;
  long long recipients = 0, delivered = 0, acknowledged = 0, confirmed = 0, rejected = 0, overdue = 0;
};
struct ErasureRecipient {
  std::string erasure_id, delivery_id, recipient_ori, endpoint, state;
  int attempts = 0;
  std::string delivered_at, acknowledged_at, ack_status, ack_reason, last_error;
  bool overdue = false, follow_up_due = false;
};
// Every agency that holds a case: sent a row of it (case_holders, which retention never prunes),
// or a message of it on the log that its endpoint's dispatcher may have read (message rows are
// never deleted). Erasures are routed to them.
std::set<std::string> holders_of(Connection& conn, const std::string& case_key);

std::vector<ErasureSummary> list_erasures(Connection& conn, const ErasureFilter& f);
// The recipients of these erasures; with a viewer, all of those it requested and its own of the rest.
std::vector<ErasureRecipient> erasure_recipients(Connection& conn, const std::vector<std::string>& ids,
                                                 const std::optional<std::string>& viewer = std::nullopt);

// Every erasure the filter selects, oldest first, each handed to `each` with its recipients as it
// is read: pages of `f.limit` erasures (keyset paging from `f.after_*`), so memory holds one page
// however long the ledger is (`cjhub erasures report`).
void each_erasure(Connection& conn, ErasureFilter f,
                  const std::function<void(const ErasureSummary&, const std::vector<ErasureRecipient>&)>& each);

}  // namespace cjhub::store
