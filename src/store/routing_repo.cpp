#include "store/routing_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/log_progress.hpp"
#include "store/translate.hpp"

#include <algorithm>
#include <optional>
#include <pqxx/pqxx>

#include "cjhub/common/ids.hpp"
#include "cjhub/store/log_repo.hpp"
#include "store/lanes.hpp"
#include "store/prepared.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// Sandbox and production never meet: a message goes only to agencies of its sender's environment
// (an unknown sender counts as production).
#define CJHUB_SANDBOX_OF(sender) "coalesce((SELECT x.sandbox FROM agencies x WHERE x.ori = " sender "), false)"


// One delivery row per matching endpoint that owes an acknowledgement ($1.. arrays, in storing
// order; one message or a group's many); the others are on the log (kLogRoutes). A lane's first
// row is pending only if the lane has nothing open, neither a row nor a log entry its endpoint's
// cursor has not passed; the later ones of the same statement queue behind it (row_number).
// Returns each row's endpoint and whether it was queued: a round may be recording the entry the
// row waits behind at this moment, so those lanes are looked at again once the transaction has
// committed (Transaction::settle_lanes_on_commit).
constexpr const char* kRouteMessagesName = "route_messages";
constexpr const char* kRouteMessages =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, "
    "seq, state, ack_required, next_attempt_at, expires_at) "
    "SELECT cjhub_uuid_v7(), r.id, r.subscription_id, r.endpoint_id, r.ori, r.case_key, r.seq, "
    "CASE WHEN r.case_key IS NOT NULL AND (row_number() OVER (PARTITION BY r.endpoint_id, r.case_key ORDER BY r.n) > 1 "
    "  OR EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = r.endpoint_id "
    "  AND p.case_key = r.case_key AND p.state IN ('queued', 'pending', 'in_flight')) "
    "  OR EXISTS (SELECT 1 FROM messages o JOIN endpoint_cursors c ON c.endpoint_id = r.endpoint_id "
    "    WHERE o.case_key = r.case_key AND o.seq > c.position AND o.seq < r.seq AND r.endpoint_id = ANY (o.recipients) "
    "    AND NOT " CJHUB_LOG_ENTRY_DONE(o, c) ")) "
    "THEN 'queued' ELSE 'pending' END, r.ack_required, now(), now() + r.retry_window "
    "FROM (SELECT u.n, u.id, u.case_key, m.seq, s.endpoint_id, min(s.id) AS subscription_id, min(s.ori) AS ori, "
    "        bool_or(coalesce(s.ack_required, u.ack_required)) AS ack_required, max(s.retry_window) AS retry_window "
    "      FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[]) "
    "        WITH ORDINALITY AS u(id, type, sender, origin, case_key, jurisdiction, ack_required, n) "
    "      JOIN messages m ON m.id = u.id "
    "      JOIN subscriptions s ON s.active AND u.type = ANY (s.message_types) AND s.ori <> u.sender "
    "        AND (s.origin_oris IS NULL OR u.origin = ANY (s.origin_oris)) "
    "        AND (s.jurisdictions IS NULL OR u.jurisdiction = ANY (s.jurisdictions)) "
    "        AND (NOT s.own_cases_only OR (u.case_key IS NOT NULL AND EXISTS "
    "          (SELECT 1 FROM messages o WHERE o.case_key = u.case_key AND o.origin_ori = s.ori AND o.seq <= m.seq))) "
    "      JOIN endpoints e ON e.id = s.endpoint_id AND e.active "
    "      JOIN agencies a ON a.ori = s.ori AND a.active AND a.sandbox = " CJHUB_SANDBOX_OF("u.sender") " "
    "      GROUP BY u.n, u.id, u.case_key, m.seq, s.endpoint_id "
    "      HAVING bool_or(coalesce(s.ack_required, u.ack_required))) r "
    "RETURNING endpoint_id, state = 'queued'";
// Where each message of a run goes on the log ($1.. arrays in storing order), computed before the
// messages are stored so the result is written with them: per message, the matching endpoints
// that owe no acknowledgement and the subscription that chose each, as array literals. A
// subscription limited to its own cases counts earlier messages of this run too.
constexpr const char* kLogRoutesName = "log_routes";
constexpr const char* kLogRoutes =
    "SELECT r.n, array_agg(r.endpoint_id ORDER BY r.endpoint_id) FILTER (WHERE NOT r.ack_required)::text, "
    "  array_agg(r.subscription_id ORDER BY r.endpoint_id) FILTER (WHERE NOT r.ack_required)::text, "
    "  count(*) FILTER (WHERE r.ack_required) "
    "FROM (SELECT u.n, s.endpoint_id, min(s.id) AS subscription_id, "
    "        bool_or(coalesce(s.ack_required, u.ack_required)) AS ack_required "
    "      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[]) "
    "        WITH ORDINALITY AS u(type, sender, origin, case_key, jurisdiction, ack_required, n) "
    "      JOIN subscriptions s ON s.active AND u.type = ANY (s.message_types) AND s.ori <> u.sender "
    "        AND (s.origin_oris IS NULL OR u.origin = ANY (s.origin_oris)) "
    "        AND (s.jurisdictions IS NULL OR u.jurisdiction = ANY (s.jurisdictions)) "
    "        AND (NOT s.own_cases_only OR (u.case_key IS NOT NULL AND ("
    "          EXISTS (SELECT 1 FROM messages o WHERE o.case_key = u.case_key AND o.origin_ori = s.ori) "
    "          OR EXISTS (SELECT 1 FROM unnest($4::text[], $3::text[]) WITH ORDINALITY AS p(case_key, origin, k) "
    "                     WHERE p.k <= u.n AND p.case_key = u.case_key AND p.origin = s.ori)))) "
    "      JOIN endpoints e ON e.id = s.endpoint_id AND e.active "
    "      JOIN agencies a ON a.ori = s.ori AND a.active AND a.sandbox = " CJHUB_SANDBOX_OF("u.sender") " "
    "      GROUP BY u.n, s.endpoint_id) r "
    "GROUP BY r.n";
// Acknowledgements go back to their original senders, through their subscriptions to the type
// ($1 the acknowledgements' message ids, $2 original senders, $3 types; one or many).
constexpr const char* kRouteReceiptsName = "route_receipts";
constexpr const char* kRouteReceipts =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, "
    "seq, state, ack_required, next_attempt_at, expires_at) "
    "SELECT cjhub_uuid_v7(), u.id, min(s.id), s.endpoint_id, min(s.ori), NULL, "
    "(SELECT seq FROM messages WHERE id = u.id), 'pending', false, now(), now() + max(s.retry_window) "
    "FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, sender, type) "
    "JOIN subscriptions s ON s.active AND s.ori = u.sender AND u.type = ANY (s.message_types) "
    "JOIN endpoints e ON e.id = s.endpoint_id AND e.active "
    "JOIN agencies a ON a.ori = s.ori AND a.active "
    "GROUP BY u.id, s.endpoint_id";
// The delivery of the referenced message addressed to the acknowledging agency.
constexpr const char* kAckTargetById =
    "SELECT d.id::text, d.endpoint_id, d.case_key, m.sender_ori FROM deliveries d "
    "JOIN messages m ON m.id = d.message_id "
    "WHERE m.id = $1::uuid AND d.recipient_ori = $2 ORDER BY d.created_at DESC LIMIT 1 FOR UPDATE OF d";
constexpr const char* kAckTargetByDocument =
    "SELECT d.id::text, d.endpoint_id, d.case_key, m.sender_ori FROM deliveries d "
    "JOIN messages m ON m.id = d.message_id "
    "WHERE m.document_id = $1 AND d.recipient_ori = $2 ORDER BY d.created_at DESC LIMIT 1 FOR UPDATE OF d";
constexpr const char* kAckTargetCaseById =
    "SELECT d.case_key FROM deliveries d WHERE d.message_id = $1::uuid AND d.recipient_ori = $2 "
    "ORDER BY d.created_at DESC LIMIT 1";
constexpr const char* kAckTargetCaseByDocument =
    "SELECT d.case_key FROM deliveries d JOIN messages m ON m.id = d.message_id "
    "WHERE m.document_id = $1 AND d.recipient_ori = $2 ORDER BY d.created_at DESC LIMIT 1";
// The same on the log, when the message went to the agency's endpoint without a row: the entry,
// whether its endpoint's cursor has finished it, and the message's case and sender.
#define CJHUB_ACK_TARGET_ON_LOG(match)                                                                      \
  "SELECT m.id::text, r.endpoint_id, m.case_key, m.sender_ori, m.seq, "                                   \
  "  " CJHUB_LOG_ENTRY_DONE(m, k) " "                                                                     \
  "FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id) "                            \
  "JOIN endpoints e ON e.id = r.endpoint_id JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id "    \
  "WHERE " match " AND e.ori = $2 ORDER BY m.seq DESC LIMIT 1"
constexpr const char* kAckTargetOnLogById = CJHUB_ACK_TARGET_ON_LOG("m.id = $1::uuid");
constexpr const char* kAckTargetOnLogByDocument = CJHUB_ACK_TARGET_ON_LOG("m.document_id = $1");
#undef CJHUB_ACK_TARGET_ON_LOG
#undef CJHUB_SANDBOX_OF
// An acknowledged entry of the log becomes a row to hold the acknowledgement: delivered when its
// cursor finished it, else queued in its lane (still to be sent, behind what is before it).
constexpr const char* kAckRowFromLog =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, "
    "ack_required, attempts, next_attempt_at, expires_at, delivered_at) "
    "SELECT cjhub_log_delivery_id($2, m.seq), m.id, coalesce(m.routes[array_position(m.recipients, $2::bigint)], "
    "  (SELECT min(s.id) FROM subscriptions s WHERE s.endpoint_id = $2)), $2, e.ori, m.case_key, m.seq, "
    "  CASE WHEN $3 THEN 'delivered' ELSE 'queued' END, false, CASE WHEN $3 THEN 1 ELSE 0 END, now(), "
    "  now() + interval '72 hours', CASE WHEN $3 THEN coalesce(" CJHUB_LOG_ANSWERED_AT("m.seq", k) ", k.advanced_at) END "
    "FROM messages m JOIN endpoints e ON e.id = $2 JOIN endpoint_cursors k ON k.endpoint_id = $2 "
    "WHERE m.id = $1::uuid ON CONFLICT (id) DO NOTHING";
constexpr const char* kMessageExistsById = "SELECT count(*) FROM messages WHERE id = $1::uuid";
constexpr const char* kMessageExistsByDocument =
    "SELECT count(*) FROM messages WHERE document_id = $1";
// An acknowledgement of a delivery that was never attempted (queued or pending, no attempt) is
// recorded, but the delivery is still sent: an agency cannot confirm away a notice it never got.
// Otherwise (attempted: the bytes may have arrived even if no answer did) it finishes the delivery.
constexpr const char* kApplyAck =
    "UPDATE deliveries SET ack_status = $2, ack_reason = $3, ack_message_id = $4::uuid, acknowledged_at = now(), "
    "state = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN state "
    "             WHEN $2 = 'rejected' THEN 'rejected' ELSE 'acknowledged' END, "
    "delivered_at = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN delivered_at "
    "                    ELSE coalesce(delivered_at, now()) END, "
    "lease_until = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN lease_until END, "
    "leased_by = CASE WHEN attempts = 0 AND state IN ('queued', 'pending') THEN leased_by END "
    "WHERE id = $1::uuid AND state <> 'suppressed'";

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_routing_statements(Connection& conn) {
  conn.prepare(sql::kRouteMessagesName, sql::kRouteMessages);
  conn.prepare(sql::kLogRoutesName, sql::kLogRoutes);
  conn.prepare(sql::kRouteReceiptsName, sql::kRouteReceipts);
}


using values::opt;
using values::text;
using values::text_array;

std::size_t route_messages(Transaction& tx, const std::vector<RouteInput>& in) {
  if (in.empty()) return 0;
  std::vector<std::string> ids, types, senders;
  std::vector<std::optional<std::string>> origins, cases, jurisdictions;
  std::vector<bool> acks;
  for (const auto& m : in) {
    ids.push_back(m.message_id);
    types.push_back(m.type);
    senders.push_back(m.sender_ori);
    origins.push_back(opt(m.origin_ori));
    cases.push_back(opt(m.case_key));
    jurisdictions.push_back(opt(m.jurisdiction));
    acks.push_back(m.type_ack_required);
  }
  const auto r = tx.exec_prepared(sql::kRouteMessagesName, text_array(ids), text_array(types), text_array(senders),
                                  values::opt_text_array(origins), values::opt_text_array(cases),
                                  values::opt_text_array(jurisdictions), values::bool_array(acks));
  for (const auto& row : r) {
    if (row[1].as<bool>()) tx.settle_lanes_on_commit(row[0].as<long long>());  // may be behind the log
  }
  return r.size();
}

std::vector<LogRoute> log_routes(Transaction& tx, const std::vector<const NewMessage*>& run) {
  std::vector<LogRoute> out(run.size());
  if (run.empty()) return out;
  std::vector<std::string> types, senders;
  std::vector<std::optional<std::string>> origins, cases, jurisdictions;
  std::vector<bool> acks;
  for (const NewMessage* m : run) {
    types.push_back(m->type);
    senders.push_back(m->sender_ori);
    origins.push_back(opt(m->origin_ori));
    cases.push_back(opt(m->case_key));
    jurisdictions.push_back(opt(m->jurisdiction));
    acks.push_back(m->type_ack_required);
  }
  for (const auto& r : tx.exec_prepared(sql::kLogRoutesName, text_array(types), text_array(senders),
                                        values::opt_text_array(origins), values::opt_text_array(cases),
                                        values::opt_text_array(jurisdictions), values::bool_array(acks))) {
    auto& lr = out.at(static_cast<std::size_t>(r[0].as<long long>() - 1));
    lr.owed = static_cast<std::size_t>(r[3].as<long long>());
    if (r[1].is_null()) continue;
    lr.recipients = r[1].as<std::string>();
    lr.routes = r[2].as<std::string>();
    lr.count = static_cast<std::size_t>(std::count(lr.recipients.begin(), lr.recipients.end(), ',') + 1);
  }
  return out;
}

std::string ack_target_case(Transaction& tx, const std::string& acker, const std::string& reference) {
  const bool by_id = Uuid::parse(reference).has_value();
  const auto r = by_id ? tx.exec_params(sql::kAckTargetCaseById, reference, acker)
                       : tx.exec_params(sql::kAckTargetCaseByDocument, reference, acker);
  if (!r.empty()) return text(r[0][0]);
  const auto l = by_id ? tx.exec_params(sql::kAckTargetOnLogById, reference, acker)
                       : tx.exec_params(sql::kAckTargetOnLogByDocument, reference, acker);
  return l.empty() ? std::string() : text(l[0][2]);
}

AckTarget find_ack_target(Transaction& tx, const std::string& acker, const std::string& reference) {
  AckTarget t;
  const bool by_id = Uuid::parse(reference).has_value();
  const auto r = by_id ? tx.exec_params(sql::kAckTargetById, reference, acker)
                       : tx.exec_params(sql::kAckTargetByDocument, reference, acker);
  if (!r.empty()) {
    t.status = AckTargetStatus::found;
    t.delivery_id = r[0][0].as<std::string>();
    t.endpoint_id = r[0][1].as<long long>();
    t.case_key = text(r[0][2]);
    t.original_sender = r[0][3].as<std::string>();
    return t;
  }
  const auto l = by_id ? tx.exec_params(sql::kAckTargetOnLogById, reference, acker)
                       : tx.exec_params(sql::kAckTargetOnLogByDocument, reference, acker);
  if (!l.empty()) {
    t.status = AckTargetStatus::found;
    t.on_log = true;
    t.message_id = l[0][0].as<std::string>();
    t.endpoint_id = l[0][1].as<long long>();
    t.case_key = text(l[0][2]);
    t.original_sender = l[0][3].as<std::string>();
    t.seq = l[0][4].as<long long>();
    t.finished = l[0][5].as<bool>();
    t.delivery_id = log_delivery_id(t.endpoint_id, t.seq);
    return t;
  }
  const auto exists = by_id ? tx.exec_params1(sql::kMessageExistsById, reference)
                            : tx.exec_params1(sql::kMessageExistsByDocument, reference);
  t.status = exists[0].as<long long>() > 0 ? AckTargetStatus::not_addressed : AckTargetStatus::unknown_reference;
  return t;
}

void apply_ack(Transaction& tx, const AckTarget& target, const std::string& status,
               const std::string& reason, const std::string& ack_message_id) {
  if (target.on_log) {
    tx.exec_params0(sql::kAckRowFromLog, target.message_id, target.endpoint_id, target.finished);
    if (!target.finished) tx.settle_lanes_on_commit(target.endpoint_id);  // queued: its round may be recording it
  }
  tx.exec_params0(sql::kApplyAck, target.delivery_id, status, opt(reason), ack_message_id);
  lanes::promote(tx, target.endpoint_id, target.case_key);
}

std::size_t route_receipts(Transaction& tx, const std::vector<std::string>& ack_message_ids,
                           const std::vector<std::string>& original_senders,
                           const std::vector<std::string>& ack_types) {
  if (ack_message_ids.empty()) return 0;
  return tx.exec_prepared(sql::kRouteReceiptsName, text_array(ack_message_ids), text_array(original_senders),
                          text_array(ack_types))
      .affected_rows();
}

}  // namespace cjhub::store
