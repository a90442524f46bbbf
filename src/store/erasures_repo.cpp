#include "cjhub/store/erasures_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"
#include "store/lanes.hpp"
#include "store/log_progress.hpp"

#include <pqxx/pqxx>

#include "cjhub/store/database.hpp"
#include "store/prepared.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

constexpr const char* kErasedAmongName = "erased_among";
constexpr const char* kErasedAmong = "SELECT case_key FROM erased_cases WHERE case_key = ANY ($1::text[])";
// A whole-case erasure in one statement ($1 case, $2 the erasure's message id, $3 requested by,
// $4 received at, $5 and $6 deadline and follow-up in seconds): every other message of the case
// loses its payload (id, type, sender, times and SHA-256 stay; earlier erasure notices keep theirs,
// they are still owed to recipients who have not confirmed); undelivered deliveries of the case are
// suppressed (those in flight finish first, so the notice cannot overtake a message on the wire;
// earlier erasure notices keep going, except the ones of charge-level erasures, which this one
// covers and supersedes); the erasure is recorded with its counts and the case marked erased.
// Returns the numbers of payloads removed and deliveries suppressed.
constexpr const char* kEraseCaseName = "erase_case";
constexpr const char* kEraseCase =
    "WITH redacted AS ("
    "  UPDATE messages SET body = NULL, redacted_at = now() "
    "  WHERE case_key = $1 AND id <> $2::uuid AND body IS NOT NULL AND NOT erasure RETURNING 1), "
    "suppressed AS ("
    "  UPDATE deliveries d SET state = 'suppressed' "
    "  WHERE d.case_key = $1 AND d.message_id <> $2::uuid AND d.state IN ('queued', 'pending') "
    "  AND (d.erasure_id IS NULL OR EXISTS (SELECT 1 FROM erasures c WHERE c.id = d.erasure_id AND c.scope = 'charges' "
    "       AND c.superseded_by IS NULL)) RETURNING 1), "
    "suppressed_on_log AS ("
    "  INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, "
    "  ack_required, next_attempt_at, expires_at, last_error) "
    "  SELECT cjhub_log_delivery_id(r.endpoint_id, m.seq), m.id, "
    "    coalesce(m.routes[array_position(m.recipients, r.endpoint_id)], "
    "      (SELECT min(s.id) FROM subscriptions s WHERE s.endpoint_id = r.endpoint_id)), "
    "    r.endpoint_id, e.ori, m.case_key, m.seq, 'suppressed', false, now(), now(), 'erased before it was sent' "
    "  FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id) "
    "  JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id JOIN endpoints e ON e.id = r.endpoint_id "
    "  WHERE m.case_key = $1 AND m.id <> $2::uuid AND m.seq > k.read_through "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = r.endpoint_id) "
    "  RETURNING 1), "
    "recorded AS ("
    "  INSERT INTO erasures (id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, "
    "  redacted_messages, suppressed_deliveries) VALUES ($2::uuid, $1, 'case', $3, $4::timestamptz, "
    "  $4::timestamptz + make_interval(secs => $5), $4::timestamptz + make_interval(secs => $6), "
    "  (SELECT count(*) FROM redacted), (SELECT count(*) FROM suppressed) + (SELECT count(*) FROM suppressed_on_log)) "
    "  RETURNING id), "
    "superseded AS ("
    "  UPDATE erasures SET superseded_by = $2::uuid WHERE case_key = $1 AND scope = 'charges' AND id <> $2::uuid "
    "  AND superseded_by IS NULL RETURNING 1), "
    "marked AS (INSERT INTO erased_cases (case_key, erasure_id) VALUES ($1, $2::uuid) "
    "  ON CONFLICT (case_key) DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM redacted), (SELECT count(*) FROM suppressed) + (SELECT count(*) FROM suppressed_on_log), "
    "(SELECT count(*) FROM recorded), (SELECT count(*) FROM superseded), (SELECT count(*) FROM marked)";
// A charge-level erasure is recorded (no payload is removed: the case stays open).
constexpr const char* kInsertErasureName = "insert_erasure";
constexpr const char* kInsertErasure =
    "INSERT INTO erasures (id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, "
    "redacted_messages, suppressed_deliveries) VALUES ($1::uuid, $2, $3, $4, $5::timestamptz, "
    "$5::timestamptz + make_interval(secs => $6), $5::timestamptz + make_interval(secs => $7), $8, $9)";
// One delivery with a required acknowledgement per recipient agency: the erasure's subscribers and
// every holder of the case (case_holders: every agency the hub ever sent a row of the case; and
// every agency a message of the case went to on the log that its endpoint's dispatcher may have
// read: whatever its subscriptions say now and however long ago; subscribers of the notice's own
// environment only, and a sandbox case's holders are sandbox agencies, since its key is the
// sandbox's), through an active endpoint of the
// holder (the one it was first sent to, if still active), else the endpoint it was first sent to
// (the notice then waits there, owed, visible in the ledger).
constexpr const char* kRouteErasureName = "route_erasure";
constexpr const char* kRouteErasure =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, "
    "state, ack_required, next_attempt_at, expires_at, erasure_id) "
    "SELECT cjhub_uuid_v7(), $1::uuid, c.subscription_id, c.endpoint_id, c.ori, $5::text, "
    "(SELECT seq FROM messages WHERE id = $1::uuid), "
    "CASE WHEN EXISTS (SELECT 1 FROM deliveries p WHERE p.endpoint_id = c.endpoint_id AND p.case_key = $5::text "
    "  AND p.state IN ('queued', 'pending', 'in_flight')) "
    "  OR EXISTS (SELECT 1 FROM messages o JOIN endpoint_cursors k ON k.endpoint_id = c.endpoint_id "
    "    WHERE o.case_key = $5::text AND o.seq > k.position AND NOT " CJHUB_LOG_ENTRY_DONE(o, k) " "
    "    AND c.endpoint_id = ANY (o.recipients) AND NOT EXISTS (SELECT 1 FROM deliveries x "
    "    WHERE x.message_id = o.id AND x.endpoint_id = c.endpoint_id)) THEN 'queued' ELSE 'pending' END, "
    "true, now(), now() + make_interval(secs => $8), $7::uuid "
    "FROM (SELECT DISTINCT ON (ori) ori, endpoint_id, subscription_id FROM ("
    "  SELECT s.ori, s.endpoint_id, s.id AS subscription_id, 1 AS pref FROM subscriptions s "
    "  JOIN endpoints e ON e.id = s.endpoint_id AND e.active JOIN agencies a ON a.ori = s.ori AND a.active "
    "    AND a.sandbox = coalesce((SELECT x.sandbox FROM agencies x WHERE x.ori = $3::text), false) "
    "  WHERE s.active AND $2::text = ANY (s.message_types) AND s.ori <> $3::text "
    "  AND (s.origin_oris IS NULL OR $4::text = ANY (s.origin_oris)) "
    "  AND (s.jurisdictions IS NULL OR $6::text = ANY (s.jurisdictions)) "
    "  AND (NOT s.own_cases_only OR EXISTS (SELECT 1 FROM messages o WHERE o.case_key = $5::text AND o.origin_ori = s.ori)) "
    "  UNION ALL "
    "  SELECT h.recipient_ori, coalesce((SELECT e2.id FROM endpoints e2 WHERE e2.ori = h.recipient_ori AND e2.active "
    "    ORDER BY e2.id = h.endpoint_id DESC, e2.id LIMIT 1), h.endpoint_id), NULL::bigint, 2 "
    "  FROM case_holders h WHERE h.case_key = $5::text AND h.recipient_ori <> $3::text"
    "  UNION ALL "
    "  SELECT e.ori, coalesce((SELECT e2.id FROM endpoints e2 WHERE e2.ori = e.ori AND e2.active "
    "    ORDER BY e2.id = e.id DESC, e2.id LIMIT 1), e.id), NULL::bigint, 2 "
    "  FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id) "
    "  JOIN endpoints e ON e.id = r.endpoint_id JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id "
    "  WHERE m.case_key = $5::text AND e.ori <> $3::text AND m.seq <= k.read_through"
    ") candidates ORDER BY ori, pref, endpoint_id) c";
constexpr const char* kHoldersOf =
    "SELECT recipient_ori FROM case_holders WHERE case_key = $1 "
    "UNION SELECT e.ori FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id) "
    "JOIN endpoints e ON e.id = r.endpoint_id JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id "
    "WHERE m.case_key = $1 AND m.seq <= k.read_through";
// The cursors of every endpoint the case went to on the log, locked before the holders are read:
// a hub reading one of them waits (or has finished reading, and its read_through counts).
constexpr const char* kLockCaseCursorsName = "lock_case_cursors";
constexpr const char* kLockCaseCursors =
    "SELECT 1 FROM endpoint_cursors k WHERE k.endpoint_id IN "
    "  (SELECT DISTINCT unnest(m.recipients) FROM messages m WHERE m.case_key = $1) "
    "ORDER BY k.endpoint_id FOR SHARE";
// The ledger's two rules, written once:
// - a recipient row still owes its deletion until it was sent and confirmed "completed" (an
//   acknowledgement of a notice never sent does not count);
// - a viewer (an agency, or NULL for the operator) sees every row of an erasure it requested and,
//   of the others, its own recipient rows only.
#define CJHUB_UNCONFIRMED(d) "(" #d ".ack_status IS DISTINCT FROM 'completed' OR " #d ".attempts = 0)"
#define CJHUB_VISIBLE_TO(viewer, x, d) \
  "(" viewer "::text IS NULL OR " #x ".requested_by = " viewer " OR " #d ".recipient_ori = " viewer ")"
// Per erasure: counts of recipients, confirmations and overdue ones, and a status:
// complete (every recipient confirmed deletion), overdue (past the deadline without), open.
constexpr const char* kErasureSummary =
    "SELECT * FROM (SELECT x.id::text AS id, x.case_key, x.scope, x.requested_by, "
    "to_char(x.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS received, "
    "to_char(x.deadline_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS deadline, "
    "to_char(x.follow_up_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS follow_up, "
    "x.redacted_messages, x.suppressed_deliveries, count(d.id) AS recipients, "
    "count(d.delivered_at) AS delivered, count(d.acknowledged_at) AS acknowledged, "
    "count(d.id) FILTER (WHERE d.ack_status = 'completed' AND d.attempts > 0) AS confirmed, "
    "count(d.id) FILTER (WHERE d.state = 'rejected') AS rejected, "
    "count(d.id) FILTER (WHERE " CJHUB_UNCONFIRMED(d) " AND now() > x.deadline_at "
    "                    AND x.superseded_by IS NULL) AS overdue, "
    "CASE WHEN x.superseded_by IS NOT NULL THEN 'superseded' "
    "     WHEN count(d.id) FILTER (WHERE " CJHUB_UNCONFIRMED(d) ") = 0 THEN 'complete' "
    "     WHEN now() > x.deadline_at THEN 'overdue' ELSE 'open' END AS status, "
    "x.received_at AS sort_at, "
    "CASE WHEN $4::text IS NULL THEN 'all' WHEN x.requested_by = $4 THEN 'requested' ELSE 'owed' END AS view "
    // A viewer that did not request the erasure counts its own recipient rows only.
    "FROM erasures x LEFT JOIN deliveries d ON d.message_id = x.id AND d.erasure_id = x.id "
    "  AND " CJHUB_VISIBLE_TO("$4", x, d) " "
    "WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM deliveries d2 WHERE d2.message_id = x.id AND d2.erasure_id = x.id "
    "AND d2.recipient_ori = $1 AND " CJHUB_VISIBLE_TO("$4", x, d2) ")) "
    "AND ($2::timestamptz IS NULL OR x.received_at >= $2::timestamptz) "
    "AND ($3::timestamptz IS NULL OR x.received_at < $3::timestamptz) "
    "AND ($4::text IS NULL OR x.requested_by = $4 OR EXISTS (SELECT 1 FROM deliveries d3 WHERE d3.message_id = x.id "
    "     AND d3.erasure_id = x.id AND d3.recipient_ori = $4)) "
    "AND ($5::uuid IS NULL OR x.id = $5::uuid) "
    "AND ($6::timestamptz IS NULL OR (x.received_at, x.id) > ($6::timestamptz, $7::uuid)) "
    "GROUP BY x.id) t WHERE ($8::text IS NULL OR t.status = $8) ORDER BY t.sort_at, t.id LIMIT $9";
constexpr const char* kErasureRecipients =
    "SELECT d.recipient_ori, e.name, d.state, d.attempts, "
    "to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(d.acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "d.ack_status, d.ack_reason, d.last_error, d.id::text, "
    "(" CJHUB_UNCONFIRMED(d) " AND now() > x.deadline_at AND x.superseded_by IS NULL), "
    "(" CJHUB_UNCONFIRMED(d) " AND now() > x.follow_up_at AND x.superseded_by IS NULL), "
    "d.erasure_id::text "
    "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id JOIN erasures x ON x.id = d.erasure_id "
    "WHERE d.message_id = ANY ($1::uuid[]) AND d.erasure_id = d.message_id "
    "AND " CJHUB_VISIBLE_TO("$2", x, d) " ORDER BY d.erasure_id, d.recipient_ori";
#undef CJHUB_VISIBLE_TO
#undef CJHUB_UNCONFIRMED

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_erasures_statements(Connection& conn) {
  conn.prepare(sql::kErasedAmongName, sql::kErasedAmong);  // every group of submissions
  conn.prepare(sql::kEraseCaseName, sql::kEraseCase);
  conn.prepare(sql::kInsertErasureName, sql::kInsertErasure);
  conn.prepare(sql::kRouteErasureName, sql::kRouteErasure);
  conn.prepare(sql::kLockCaseCursorsName, sql::kLockCaseCursors);
}

using values::opt;
using values::text;

std::set<std::string> erased_among(Transaction& tx, const std::vector<std::string>& case_keys) {
  std::set<std::string> out;
  if (case_keys.empty()) return out;
  for (const auto& r : tx.exec_prepared(sql::kErasedAmongName, values::text_array(case_keys))) {
    out.insert(r[0].as<std::string>());
  }
  return out;
}

ErasureResult record_erasure(Transaction& tx, const ErasureInput& in, const ErasurePolicy& policy) {
  ErasureResult r;
  tx.exec_prepared(sql::kLockCaseCursorsName, in.case_key);  // how far each was read holds still now
  if (in.whole_case) {
    const auto row = tx.exec_prepared1(sql::kEraseCaseName, in.case_key, in.message_id, in.sender_ori,
                                       in.received_at, policy.deadline_seconds, policy.follow_up_seconds);
    r.redacted = row[0].as<std::size_t>();
    r.suppressed = row[1].as<std::size_t>();
  } else {
    tx.exec_prepared0(sql::kInsertErasureName, in.message_id, in.case_key, "charges", in.sender_ori,
                      in.received_at, policy.deadline_seconds, policy.follow_up_seconds, 0LL, 0LL);
  }
  r.recipients = tx.exec_prepared(sql::kRouteErasureName, in.message_id, in.type, in.sender_ori,
                                  opt(in.origin_ori), in.case_key, opt(in.jurisdiction), in.message_id,
                                  policy.deadline_seconds)
                     .affected_rows();
  if (r.suppressed > 0) lanes::promote_case(tx, in.case_key);  // heads suppressed: the next may go
  return r;
}

std::set<std::string> holders_of(Connection& conn, const std::string& case_key) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::set<std::string> out;
    for (const auto& r : tx.exec_params(sql::kHoldersOf, case_key)) out.insert(r[0].as<std::string>());
    return out;
  });
}

std::vector<ErasureSummary> list_erasures(Connection& conn, const ErasureFilter& f) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ErasureSummary> out;
    for (const auto& r : tx.exec_params(sql::kErasureSummary, f.agency, f.since, f.until, f.viewer, f.id,
                                        f.after_at, f.after_id, f.status, f.limit)) {
      ErasureSummary s;
      s.id = r[0].as<std::string>();
      s.case_key = r[1].as<std::string>();
      s.scope = r[2].as<std::string>();
      s.requested_by = r[3].as<std::string>();
      s.received_at = r[4].as<std::string>();
      s.deadline_at = r[5].as<std::string>();
      s.follow_up_at = r[6].as<std::string>();
      s.redacted_messages = r[7].as<long long>();
      s.suppressed_deliveries = r[8].as<long long>();
      s.recipients = r[9].as<long long>();
      s.delivered = r[10].as<long long>();
      s.acknowledged = r[11].as<long long>();
      s.confirmed = r[12].as<long long>();
      s.rejected = r[13].as<long long>();
      s.overdue = r[14].as<long long>();
      s.status = r[15].as<std::string>();
      s.view = r[17].as<std::string>();
      out.push_back(std::move(s));
    }
    return out;
  });
}

std::vector<ErasureRecipient> erasure_recipients(Connection& conn, const std::vector<std::string>& ids,
                                                 const std::optional<std::string>& viewer) {
  if (ids.empty()) return {};
  std::string arr = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) arr += (i ? "," : "") + ids[i];
  arr += "}";
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ErasureRecipient> out;
    for (const auto& r : tx.exec_params(sql::kErasureRecipients, arr, viewer)) {
      ErasureRecipient e;
      e.recipient_ori = r[0].as<std::string>();
      e.endpoint = r[1].as<std::string>();
      e.state = r[2].as<std::string>();
      e.attempts = r[3].as<int>();
      e.delivered_at = text(r[4]);
      e.acknowledged_at = text(r[5]);
      e.ack_status = text(r[6]);
      e.ack_reason = text(r[7]);
      e.last_error = text(r[8]);
      e.delivery_id = r[9].as<std::string>();
      e.overdue = r[10].as<bool>();
      e.follow_up_due = r[11].as<bool>();
      e.erasure_id = r[12].as<std::string>();
      out.push_back(std::move(e));
    }
    return out;
  });
}

void each_erasure(Connection& conn, ErasureFilter f,
                  const std::function<void(const ErasureSummary&, const std::vector<ErasureRecipient>&)>& each) {
  if (f.limit <= 0) f.limit = 1000;
  for (;;) {
    const auto page = list_erasures(conn, f);
    std::vector<std::string> ids;
    for (const auto& s : page) ids.push_back(s.id);
    const auto recipients = erasure_recipients(conn, ids, f.viewer);
    std::vector<ErasureRecipient> mine;
    for (const auto& s : page) {
      mine.clear();
      for (const auto& r : recipients) {
        if (r.erasure_id == s.id) mine.push_back(r);
      }
      each(s, mine);
    }
    if (static_cast<long long>(page.size()) < f.limit) break;
    f.after_at = page.back().received_at;
    f.after_id = page.back().id;
  }
}

}  // namespace cjhub::store
