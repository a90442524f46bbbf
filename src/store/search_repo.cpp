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

// The search is assembled from these parts; every value is a parameter ($n, numbered as they are
// added). Each filter is a condition on `m` that one of the indexes of migration 0019 (or the case
// key's) can drive in (received_at, id) order, so a page stops after `limit` rows.
constexpr const char* kSelect =
    "SELECT m.id::text, m.message_type, m.sender_ori, m.case_key, "
    "to_char(m.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "(extract(epoch FROM m.received_at) * 1000000)::bigint, "
    "EXISTS (SELECT 1 FROM erased_cases ec WHERE ec.case_key = m.case_key) AS erased, "
    "m.document_id, m.origin_ori, m.jurisdiction, m.erasure, m.body_size, m.body IS NULL "
    "FROM messages m WHERE true";
constexpr const char* kOrder = " ORDER BY m.received_at DESC, m.id DESC LIMIT ";

}  // namespace
}  // namespace sql

namespace {

constexpr std::array<const char*, 7> kStates{"pending", "in_flight", "delivered", "acknowledged",
                                             "rejected", "dead",    "suppressed"};

// The statement and its parameters, assembled filter by filter.
class Query {
 public:
  // Adds a parameter and returns its placeholder ("$3").
  std::string param(std::string value) {
    params_.push_back(std::move(value));
    return "$" + std::to_string(params_.size());
  }
  void where(const std::string& condition) { sql_ += " AND " + condition; }
  std::string& sql() { return sql_; }
  const std::vector<std::string>& params() const { return params_; }

 private:
  std::string sql_ = sql::kSelect;
  std::vector<std::string> params_;
};

// Routed to the agency whose name is `ori` and endpoints `endpoints` (placeholders): a log entry
// for one of its endpoints or a row naming it.
std::string routed_to(const std::string& ori, const std::string& endpoints) {
  return "(m.recipients && " + endpoints + "::bigint[] OR EXISTS (SELECT 1 FROM deliveries d "
         "WHERE d.message_id = m.id AND d.recipient_ori = " + ori + "))";
}

// A recipient of `m` in `state` that the caller may see (`party`, `party_endpoints`: placeholders,
// empty for an operator). The states follow recipient_states.hpp: a row's own state ("queued"
// shows as pending), a log entry delivered once its cursor finished it, else pending.
std::string has_recipient_in(const std::string& state, const std::string& party, const std::string& party_endpoints) {
  const std::string row_visible = party.empty() ? "" : " AND (m.sender_ori = " + party + " OR d.recipient_ori = " + party + ")";
  const std::string entry_visible =
      party.empty() ? "" : " AND (m.sender_ori = " + party + " OR r.endpoint_id = ANY (" + party_endpoints + "::bigint[]))";
  const std::string row_states = state == "pending" ? "('queued', 'pending')" : "('" + state + "')";
  std::string c = "(EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.state IN " + row_states +
                  row_visible + ")";
  if (state == "delivered" || state == "pending") {
    // Unfinished entries lie after the lowest cursor: a test on the message's own position first.
    const std::string near_end =
        state == "pending" ? "m.seq > (SELECT coalesce(min(c.position), 0) FROM endpoint_cursors c) AND " : "";
    c += " OR (" + near_end + "m.recipients IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(m.recipients) AS r(endpoint_id) "
         "JOIN endpoint_cursors c ON c.endpoint_id = r.endpoint_id WHERE " +
         (state == "delivered" ? std::string(CJHUB_LOG_ENTRY_DONE(m, c)) : "NOT " CJHUB_LOG_ENTRY_DONE(m, c)) +
         " AND " CJHUB_LOG_ENTRY_HAS_NO_ROW(m, r) + entry_visible + "))";
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
    Query query;
    std::string party, party_endpoints;
    if (q.party) {
      party = query.param(*q.party);
      party_endpoints = query.param(tx.exec_params1(sql::kEndpointsOf, *q.party)[0].as<std::string>());
      query.where("(m.sender_ori = " + party + " OR " + routed_to(party, party_endpoints) + ")");
    }
    if (q.case_key) query.where("m.case_key = " + query.param(*q.case_key));
    if (q.type) query.where("m.message_type = " + query.param(*q.type));
    if (q.sender_ori) query.where("m.sender_ori = " + query.param(*q.sender_ori));
    if (q.recipient_ori) {
      const auto ori = query.param(*q.recipient_ori);
      const auto endpoints = query.param(tx.exec_params1(sql::kEndpointsOf, *q.recipient_ori)[0].as<std::string>());
      query.where(routed_to(ori, endpoints));
    }
    if (q.state) query.where(has_recipient_in(*q.state, party, party_endpoints));
    if (q.received_from) query.where("m.received_at >= " + query.param(*q.received_from) + "::timestamptz");
    if (q.received_to) query.where("m.received_at < " + query.param(*q.received_to) + "::timestamptz");
    if (q.after) {
      const auto at = query.param(std::to_string(q.after->received_us));
      const auto id = query.param(q.after->id);
      // The position's time exactly: microseconds since the epoch.
      query.where("(m.received_at, m.id) < ('epoch'::timestamptz + " + at + "::bigint * interval '1 microsecond', " + id +
                  "::uuid)");
    }
    const int limit = std::max(1, q.limit);
    query.sql() += std::string(sql::kOrder) + std::to_string(limit + 1);  // one more: is there a next page?

    SearchPage page;
    for (const auto& r : tx.exec_params(query.sql(), pqxx::prepare::make_dynamic_params(query.params()))) {
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
