#include "cjhub/store/search_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <pqxx/pqxx>

#include "store/recipient_states.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// The endpoints of an agency, retired ones too: what was routed to them was routed to it.
constexpr const char* kEndpointsOf = "SELECT coalesce(array_agg(id ORDER BY id), '{}')::text FROM endpoints WHERE ori = $1";
constexpr const char* kNoParallelWorkers = "SET LOCAL max_parallel_workers_per_gather = 0";
// The messages with a row in one of the states $1, at most $2 of them (deliveries_state_message,
// which holds only the states a log entry never has).
constexpr const char* kRowStateCandidates =
    "SELECT DISTINCT message_id::text FROM (SELECT message_id FROM deliveries WHERE state = ANY ($1::text[]) "
    "AND state IN ('in_flight', 'acknowledged', 'rejected', 'dead', 'suppressed') LIMIT $2) d";

// The search is assembled from these parts; every value is a parameter ($n, numbered as they are
// added). Each filter is a condition on `m` that one of the indexes of migration 0019 (or the case
// key's) can drive in (received_at, id) order, so a page stops after `limit` rows. An agency's
// search is two such branches (what it sent, what was routed to it), merged.
constexpr const char* kBranch = "SELECT m.id, m.received_at FROM messages m WHERE true";
constexpr const char* kOrder = " ORDER BY received_at DESC, id DESC LIMIT ";
// The page's columns, read for the page's rows only (the erased flag too: one look-up each).
constexpr const char* kPage =
    "SELECT m.id::text, m.message_type, m.sender_ori, m.case_key, "
    "to_char(m.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "(extract(epoch FROM m.received_at) * 1000000)::bigint, "
    "EXISTS (SELECT 1 FROM erased_cases ec WHERE ec.case_key = m.case_key) AS erased, "
    "m.document_id, m.origin_ori, m.jurisdiction, m.erasure, m.body_size, m.body IS NULL "
    "FROM messages m WHERE m.id = ANY ($1::uuid[]) ORDER BY m.received_at DESC, m.id DESC";

}  // namespace
}  // namespace sql

namespace {

constexpr std::array<const char*, 7> kStates{"pending", "in_flight", "delivered", "acknowledged",
                                             "rejected", "dead",    "suppressed"};
// A state only rows have (a log entry is delivered or pending): below this many rows in it, the
// search starts from their messages rather than from the time order.
constexpr int kRowStateCandidateLimit = 5000;

// The parameters of a statement, assembled filter by filter.
class Params {
 public:
  // Adds a parameter and returns its placeholder ("$3").
  std::string add(std::string value) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size());
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// Routed to the agency whose name is `ori` and endpoints `endpoints` (placeholders): a log entry
// for one of its endpoints or a row naming it.
std::string routed_to(const std::string& ori, const std::string& endpoints) {
  return "(m.recipients && " + endpoints + "::bigint[] OR EXISTS (SELECT 1 FROM deliveries d "
         "WHERE d.message_id = m.id AND d.recipient_ori = " + ori + "))";
}

// A recipient of `m` in `state`, among those of agency `ori` with endpoints `endpoints`
// (placeholders; both empty: any recipient). The states follow recipient_states.hpp: a row's own
// state ("queued" shows as pending), a log entry delivered once its cursor finished it, else
// pending.
std::string has_recipient_in(const std::string& state, const std::string& ori, const std::string& endpoints) {
  const std::string row_states = state == "pending" ? "('queued', 'pending')" : "('" + state + "')";
  std::string c = "(EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.state IN " + row_states +
                  (ori.empty() ? "" : " AND d.recipient_ori = " + ori) + ")";
  if (state == "delivered" || state == "pending") {
    // Unfinished entries lie after the lowest cursor: a test on the message's own position first.
    const std::string near_end =
        state == "pending" ? "m.seq > (SELECT coalesce(min(c.position), 0) FROM endpoint_cursors c) AND " : "";
    c += " OR (" + near_end + "m.recipients IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(m.recipients) AS r(endpoint_id) "
         "JOIN endpoint_cursors c ON c.endpoint_id = r.endpoint_id WHERE " +
         (state == "delivered" ? std::string(CJHUB_LOG_ENTRY_DONE(m, c)) : "NOT " CJHUB_LOG_ENTRY_DONE(m, c)) +
         " AND " CJHUB_LOG_ENTRY_HAS_NO_ROW(m, r) +
         (endpoints.empty() ? "" : " AND r.endpoint_id = ANY (" + endpoints + "::bigint[])") + "))";
  }
  return c + ")";
}
}  // namespace

bool is_search_state(const std::string& s) {
  return std::find(kStates.begin(), kStates.end(), s) != kStates.end();
}

SearchPage search_messages(Connection& conn, const MessageSearch& q) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn, "search");
    // A page is at most a few hundred rows: starting parallel workers would cost more than it saves.
    tx.exec0(sql::kNoParallelWorkers);
    const int limit = std::max(1, q.limit);
    Params params;
    // The filters every branch shares.
    std::string common;
    if (q.case_key) common += " AND m.case_key = " + params.add(*q.case_key);
    if (q.type) common += " AND m.message_type = " + params.add(*q.type);
    if (q.sender_ori) common += " AND m.sender_ori = " + params.add(*q.sender_ori);
    if (q.recipient_ori) {
      const auto ori = params.add(*q.recipient_ori);
      const auto endpoints = params.add(tx.exec_params1(sql::kEndpointsOf, *q.recipient_ori)[0].as<std::string>());
      common += " AND " + routed_to(ori, endpoints);
    }
    if (q.received_from) common += " AND m.received_at >= " + params.add(*q.received_from) + "::timestamptz";
    if (q.received_to) common += " AND m.received_at < " + params.add(*q.received_to) + "::timestamptz";
    if (q.after) {
      const auto at = params.add(std::to_string(q.after->received_us));
      const auto id = params.add(q.after->id);
      // The position's time exactly: microseconds since the epoch.
      common += " AND (m.received_at, m.id) < ('epoch'::timestamptz + " + at + "::bigint * interval '1 microsecond', " +
                id + "::uuid)";
    }
    const bool row_state = q.state && *q.state != "pending" && *q.state != "delivered";
    if (row_state) {
      // A state few rows are in: start from their messages (a page is then a sort of at most
      // that many), not from the time order, where they may be far apart.
      const auto ids = tx.exec_params(sql::kRowStateCandidates, values::text_array({*q.state}), kRowStateCandidateLimit + 1);
      if (ids.size() <= static_cast<std::size_t>(kRowStateCandidateLimit)) {
        std::vector<std::string> v;
        for (const auto& r : ids) v.push_back(r[0].as<std::string>());
        common += " AND m.id = ANY (" + params.add(values::text_array(v)) + "::uuid[])";
      }
    }
    const std::string order = std::string(sql::kOrder) + std::to_string(limit + 1);  // one more: a next page?
    std::string statement;
    if (!q.party) {
      statement = sql::kBranch + common + (q.state ? " AND " + has_recipient_in(*q.state, "", "") : "") + order;
    } else {
      // An agency: what it sent (any recipient's state counts), and what was routed to it (only
      // its own recipients' states count); one branch each, so each can follow its own index.
      const auto party = params.add(*q.party);
      // A message is never routed to its sender (routing and erasure leave the sender out): a
      // sender filter leaves one of the branches.
      const bool want_sent = !q.sender_ori || *q.sender_ori == *q.party;
      const bool want_received = !q.sender_ori || *q.sender_ori != *q.party;
      std::vector<std::string> branches;
      if (want_sent) {
        branches.push_back(std::string(sql::kBranch) + common + " AND m.sender_ori = " + party +
                           (q.state ? " AND " + has_recipient_in(*q.state, "", "") : "") + order);
      }
      if (want_received && row_state) {
        // Its rows in that state are the messages routed to it in that state.
        const auto state = params.add(*q.state);
        branches.push_back(std::string(sql::kBranch) + common + " AND m.id IN (SELECT d.message_id FROM deliveries d " +
                           "WHERE d.recipient_ori = " + party + " AND d.state = " + state + ")" + order);
      } else if (want_received) {
        // Routed to it on the log, or as a row: a branch each, the first on the GIN index of
        // `recipients` or the time order, the second from its rows.
        const auto endpoints = params.add(tx.exec_params1(sql::kEndpointsOf, *q.party)[0].as<std::string>());
        const auto state = q.state ? " AND " + has_recipient_in(*q.state, party, endpoints) : std::string();
        branches.push_back(std::string(sql::kBranch) + common + " AND m.recipients && " + endpoints + "::bigint[]" +
                           state + order);
        branches.push_back(std::string(sql::kBranch) + common + " AND m.id IN (SELECT d.message_id FROM deliveries d " +
                           "WHERE d.recipient_ori = " + party + ")" + state + order);
      }
      if (branches.size() == 1) {
        statement = branches.front();
      } else {
        statement = "SELECT id, received_at FROM ((" + branches.front();
        for (std::size_t i = 1; i < branches.size(); ++i) statement += ") UNION (" + branches[i];
        statement += ")) m" + order;
      }
    }
    std::vector<std::string> found;
    for (const auto& r : tx.exec_params(statement, pqxx::prepare::make_dynamic_params(params.values()))) {
      found.push_back(r[0].as<std::string>());
    }

    SearchPage page;
    for (const auto& r : tx.exec_params(sql::kPage, values::text_array(found))) {
      FoundMessage m;
      m.id = r[0].as<std::string>();
      m.type = r[1].as<std::string>();
      m.sender_ori = r[2].as<std::string>();
      m.case_key = values::text(r[3]);
      m.received_at = r[4].as<std::string>();
      m.received_us = r[5].as<long long>();
      m.erased = r[6].as<bool>();
      // An erased case's messages keep only what routes and identifies them; the rest could name
      // the subject (and their payload is gone anyway).
      if (!m.erased) {
        m.document_id = values::text(r[7]);
        m.origin_ori = values::text(r[8]);
        m.jurisdiction = values::text(r[9]);
        m.erasure = r[10].as<bool>();
        m.body_size = r[11].as<long long>();
        m.payload_removed = r[12].as<bool>();
      }
      page.messages.push_back(std::move(m));
    }
    if (static_cast<int>(page.messages.size()) > limit) {
      page.messages.pop_back();
      page.next = SearchPosition{page.messages.back().received_us, page.messages.back().id};
    }

    std::vector<std::string> ids;
    std::map<std::string, FoundMessage*> by_id;
    for (auto& m : page.messages) {
      ids.push_back(m.id);
      by_id[m.id] = &m;
    }
    for (auto& [id, status] : recipients_of(tx, ids)) {
      auto* m = by_id.at(id);
      // An agency sees every recipient of what it sent, and only itself among the recipients of
      // what it received.
      if (q.party && m->sender_ori != *q.party && status.recipient_ori != *q.party) continue;
      m->recipients.push_back(std::move(status));
    }
    return page;
  });
}

}  // namespace cjhub::store
