// Routing, inside the ingest transaction (and the completion that stores an acknowledgement found
// in an answer): which endpoints receive each message, and where an acknowledgement lands.
// Internal to the store: ingest_group() and complete() are the callers.
#pragma once

#include "store/connection_impl.hpp"
#include "cjhub/store/messages_repo.hpp"

#include <string>
#include <vector>

namespace cjhub::store {

struct RouteInput {
  std::string message_id;
  std::string type;
  std::string sender_ori;
  std::string origin_ori;
  std::string case_key;
  std::string jurisdiction;
  bool type_ack_required = false;
};
// Where each message of a run goes on the log (recipients that owe no acknowledgement), computed
// before the run is stored; in the run's order.
struct LogRoute {
  std::string recipients;  // endpoint ids as an array literal ("{3,5}"), empty when none
  std::string routes;      // the subscription that chose each, same positions
  std::size_t count = 0;
  std::size_t owed = 0;    // matching endpoints that owe an acknowledgement: rows, routed after the insert
};
std::vector<LogRoute> log_routes(Transaction& tx, const std::vector<const NewMessage*>& run);

// Creates one delivery row per matching endpoint that owes an acknowledgement, with one statement for one message
// or many, lanes kept in the order given; returns how many.
std::size_t route_messages(Transaction& tx, const std::vector<RouteInput>& in);

enum class AckTargetStatus { found, unknown_reference, not_addressed };
struct AckTarget {
  AckTargetStatus status = AckTargetStatus::unknown_reference;
  std::string delivery_id;
  long long endpoint_id = 0;
  std::string case_key;
  std::string original_sender;
  // The message went to the agency on the log (no row yet): applying the acknowledgement makes
  // the entry a row, delivered if its cursor finished it, else queued in its lane.
  bool on_log = false;
  std::string message_id;
  long long seq = 0;
  bool finished = false;
};
// The case of the delivery an acknowledgement refers to (no lock), so the writer can take every
// case lock of its group up front and in order.
std::string ack_target_case(Transaction& tx, const std::string& acker, const std::string& reference);
// The delivery of `reference` (a hub message id or the document's message id) addressed to
// `acker`, locked for update.
AckTarget find_ack_target(Transaction& tx, const std::string& acker, const std::string& reference);
// Records the acknowledgement on the delivery and lets its lane move on (the case lock is held).
void apply_ack(Transaction& tx, const AckTarget& target, const std::string& status,
               const std::string& reason, const std::string& ack_message_id);
// Acknowledgements' receipts to their original senders' subscribed endpoints (parallel vectors:
// the acknowledgements' message ids, the original senders, the acknowledgements' types).
std::size_t route_receipts(Transaction& tx, const std::vector<std::string>& ack_message_ids,
                           const std::vector<std::string>& original_senders,
                           const std::vector<std::string>& ack_types);

}  // namespace cjhub::store
