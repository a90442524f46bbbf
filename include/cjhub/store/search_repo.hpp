// The message search (GET /v1/messages): messages newest first (received_at, then id, both
// descending), filtered, a page at a time by keyset, limited to one agency's own traffic unless the
// caller is an operator. A message of an erased case comes back marked erased, with nothing that
// could carry subject data.
#pragma once

#include "cjhub/store/connection.hpp"

#include <optional>
#include <string>
#include <vector>

#include "cjhub/store/deliveries_repo.hpp"

namespace cjhub::store {

// Where a page ends: the last message's receive time (microseconds since the epoch) and id. The
// next page holds the messages strictly older (or as old, with a lower id).
struct SearchPosition {
  long long received_us = 0;
  std::string id;  // a UUID
};

struct MessageSearch {
  std::optional<std::string> case_key;
  std::optional<std::string> type;
  std::optional<std::string> sender_ori;
  std::optional<std::string> recipient_ori;  // an agency a message was routed to (log entry or row)
  // A recipient's state as the status page shows it: pending (also waiting behind an earlier
  // message of the case), in_flight, delivered, acknowledged, rejected, dead, suppressed. A message
  // matches when one of the recipients the caller may see is in it.
  std::optional<std::string> state;
  std::optional<std::string> received_from;  // RFC 3339, inclusive (checked by the caller)
  std::optional<std::string> received_to;    // RFC 3339, exclusive
  std::optional<SearchPosition> after;       // the previous page's end
  int limit = 50;
  // The calling agency: only messages it sent or was a recipient of, and of a message it did not
  // send only its own recipients' states. Unset: an operator, every message and recipient.
  std::optional<std::string> party;
};

struct FoundMessage {
  std::string id;
  std::string type;
  std::string sender_ori;
  std::string case_key;
  std::string received_at;  // RFC 3339 UTC, microseconds
  long long received_us = 0;
  bool erased = false;  // the case was erased as a whole: the fields below are left empty
  std::string document_id;
  std::string origin_ori;
  std::string jurisdiction;
  bool erasure = false;
  long long body_size = 0;
  bool payload_removed = false;
  std::vector<DeliveryStatus> recipients;  // those the caller may see
};

struct SearchPage {
  std::vector<FoundMessage> messages;
  std::optional<SearchPosition> next;  // set when more messages may follow
};

// The recipient states the filter knows.
bool is_search_state(const std::string& s);

// One page. Throws DbInvalidValue when PostgreSQL refuses a value (a timestamp out of range).
SearchPage search_messages(Connection& conn, const MessageSearch& q);

}  // namespace cjhub::store
