#include "cjhub/store/retention_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/log_progress.hpp"
#include "store/translate.hpp"

#include <pqxx/pqxx>

#include "cjhub/store/database.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// Payloads of messages received before $1 that nothing still needs: no delivery queued, pending,
// in flight or dead (a dead letter may be replayed), none delivered but owing an acknowledgement,
// no entry on the log its endpoint's cursor has not yet finished.
// At most $2 per call, oldest first.
constexpr const char* kPurgePayloads =
    "UPDATE messages m SET body = NULL, purged_at = now() WHERE m.id = ANY (ARRAY("
    "  SELECT c.id FROM messages c WHERE c.body IS NOT NULL AND c.received_at < $1::timestamptz "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = c.id "
    "    AND (d.state IN ('queued', 'pending', 'in_flight', 'dead') OR (d.ack_required AND d.state = 'delivered'))) "
    "  AND NOT EXISTS (SELECT 1 FROM unnest(c.recipients) AS r(endpoint_id) "
    "    JOIN endpoint_cursors k ON k.endpoint_id = r.endpoint_id "
    "    WHERE c.seq > k.position AND NOT " CJHUB_LOG_ENTRY_DONE(c, k) " AND NOT EXISTS (SELECT 1 FROM deliveries x "
    "    WHERE x.message_id = c.id AND x.endpoint_id = r.endpoint_id)) "
    "  ORDER BY c.received_at LIMIT $2)) RETURNING m.id";
constexpr const char* kRetentionLock = "SELECT pg_try_advisory_lock(hashtext('cjhub-retention'))";
constexpr const char* kRetentionUnlock = "SELECT pg_advisory_unlock(hashtext('cjhub-retention'))";
constexpr const char* kRetentionCursor = "SELECT position::text FROM retention_cursors WHERE name = $1";
constexpr const char* kSetRetentionCursor =
    "INSERT INTO retention_cursors (name, position) VALUES ($1, $2::uuid) "
    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position";
// The next $3 deliveries after $1 (an id) created before $2 (time-ordered ids: a key range), and
// which of them are finished and not part of an erasure's ledger; those are deleted.
constexpr const char* kPruneDeliveries =
    "WITH span AS (SELECT d.id, d.state, d.erasure_id FROM deliveries d "
    "  WHERE d.id > $1::uuid AND d.id < encode(overlay(uuid_send('00000000-0000-7000-8000-000000000000'::uuid) "
    "    PLACING substring(int8send(floor(extract(epoch FROM $2::timestamptz) * 1000)::bigint) FROM 3) "
    "    FROM 1 FOR 6), 'hex')::uuid "
    "  ORDER BY d.id LIMIT $3), "
    "gone AS (DELETE FROM deliveries x USING span s WHERE x.id = s.id "
    "  AND s.state IN ('delivered', 'acknowledged', 'rejected', 'suppressed') AND s.erasure_id IS NULL RETURNING 1) "
    "SELECT (SELECT max(id::text) FROM span), (SELECT count(*) FROM span), (SELECT count(*) FROM gone)";

// Rounds older than $1, but those that answered entries after their endpoint's cursor: until the
// cursor moves past them, they are what says those entries are finished (log_progress.hpp).
constexpr const char* kPruneLogAnswers =
    "DELETE FROM log_answers WHERE ctid = ANY (ARRAY("
    "  SELECT a.ctid FROM log_answers a WHERE a.recorded_at < $1::timestamptz "
    "  AND NOT coalesce(a.last_seq > (SELECT k.position FROM endpoint_cursors k WHERE k.endpoint_id = a.endpoint_id), "
    "    false) LIMIT $2))";

}  // namespace
}  // namespace sql

namespace {
constexpr const char* kDeliveriesCursor = "deliveries";
constexpr const char* kStart = "00000000-0000-0000-0000-000000000000";
}  // namespace

std::size_t purge_payloads(Connection& conn, const std::string& cutoff, long long batch) {
  return translate_errors([&] {
    Transaction tx(conn, "retention_payloads");
    const auto n = tx.exec_params(sql::kPurgePayloads, cutoff, batch).size();
    tx.commit();
    return n;
  });
}

PruneResult prune_deliveries(Connection& conn, const std::string& cutoff, long long batch) {
  return translate_errors([&] {
    Transaction tx(conn, "retention_deliveries");
    const auto cur = tx.exec_params(sql::kRetentionCursor, kDeliveriesCursor);
    const std::string from = cur.empty() ? kStart : cur[0][0].as<std::string>();
    const auto r = tx.exec_params1(sql::kPruneDeliveries, from, cutoff, batch);
    PruneResult out;
    out.scanned = r[1].as<std::size_t>();
    out.removed = r[2].as<std::size_t>();
    if (!r[0].is_null()) tx.exec_params0(sql::kSetRetentionCursor, kDeliveriesCursor, r[0].as<std::string>());
    tx.commit();
    return out;
  });
}

std::size_t prune_log_answers(Connection& conn, const std::string& cutoff, long long batch) {
  return translate_errors([&] {
    Transaction tx(conn, "retention_log_answers");
    const auto n = tx.exec_params(sql::kPruneLogAnswers, cutoff, batch).affected_rows();
    tx.commit();
    return static_cast<std::size_t>(n);
  });
}

bool try_retention_lock(Connection& conn) {
  return translate_errors([&] {
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql::kRetentionLock)[0].as<bool>();
  });
}

void retention_unlock(Connection& conn) {
  translate_errors([&] {
    pqxx::nontransaction tx(conn);
    tx.exec(sql::kRetentionUnlock);
  });
}

}  // namespace cjhub::store
