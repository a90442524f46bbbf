#include "cjhub/store/log_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "store/prepared.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// Renew ours, then take free or expired cursors of active endpoints (oldest position first, so a
// backlog is served), skipping those another hub is taking right now.
constexpr const char* kRenewCursors =
    "UPDATE endpoint_cursors SET lease_until = now() + make_interval(secs => $2 / 1000.0) "
    "WHERE leased_by = $1 RETURNING endpoint_id, position";
constexpr const char* kTakeCursors =
    "UPDATE endpoint_cursors c SET leased_by = $1, lease_until = now() + make_interval(secs => $2 / 1000.0) "
    "FROM (SELECT k.endpoint_id FROM endpoint_cursors k JOIN endpoints e ON e.id = k.endpoint_id AND e.active "
    "      WHERE k.leased_by IS NULL OR k.lease_until < now() "
    "      ORDER BY k.position LIMIT $3 FOR UPDATE OF k SKIP LOCKED) f "
    "WHERE c.endpoint_id = f.endpoint_id RETURNING c.endpoint_id, c.position";
constexpr const char* kReleaseCursors =
    "UPDATE endpoint_cursors SET leased_by = NULL, lease_until = NULL "
    "WHERE leased_by = $1 AND ($2::bigint[] IS NULL OR endpoint_id = ANY ($2::bigint[]))";
// The endpoint's entries after its cursor, within a window of the log. A lane with open rows
// (the same case, this endpoint) keeps its later entries behind them.
constexpr const char* kReadLogName = "read_log";
constexpr const char* kReadLog =
    "SELECT m.seq, m.id::text, m.message_type, m.sender_ori, m.case_key, "
    "  m.routes[array_position(m.recipients, $1::bigint)], m.body, "
    "  m.case_key IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries d WHERE d.case_key = m.case_key "
    "    AND d.endpoint_id = $1 AND d.state IN ('queued', 'pending', 'in_flight')) "
    "FROM messages m WHERE m.seq > $2 AND m.seq <= $2 + $4 AND $1::bigint = ANY (m.recipients) "
    "ORDER BY m.seq LIMIT $3";
// The end of the log now: with the append lock every message with a lower seq has committed or
// never will.
constexpr const char* kLogEnd = "SELECT coalesce(max(seq), 0) FROM messages";
constexpr const char* kAdvanceCursorName = "advance_cursor";
constexpr const char* kAdvanceCursor =
    "UPDATE endpoint_cursors SET position = greatest(position, $3), advanced_at = now() "
    "WHERE endpoint_id = $1 AND leased_by = $2";

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_log_statements(Connection& conn) {
  conn.prepare(sql::kReadLogName, sql::kReadLog);
  conn.prepare(sql::kAdvanceCursorName, sql::kAdvanceCursor);
}

namespace {
std::vector<CursorLease> leases(const pqxx::result& r) {
  std::vector<CursorLease> out;
  for (const auto& row : r) out.push_back({row[0].as<long long>(), row[1].as<long long>()});
  return out;
}
}  // namespace

std::vector<CursorLease> lease_cursors(Connection& conn, const std::string& hub, int lease_ms, int max_new) {
  return translate_errors([&] {
    Transaction tx(conn, "lease_cursors");
    auto out = leases(tx.exec_params(sql::kRenewCursors, hub, lease_ms));
    if (max_new > 0) {
      for (const auto& l : leases(tx.exec_params(sql::kTakeCursors, hub, lease_ms, max_new))) out.push_back(l);
    }
    tx.commit();
    return out;
  });
}

std::size_t release_cursors(Connection& conn, const std::string& hub, const std::vector<long long>& endpoint_ids) {
  return translate_errors([&] {
    Transaction tx(conn, "release_cursors");
    const auto r = tx.exec_params(sql::kReleaseCursors, hub,
                                  endpoint_ids.empty() ? std::optional<std::string>() : values::int_array(endpoint_ids));
    tx.commit();
    return static_cast<std::size_t>(r.affected_rows());
  });
}

LogBatch read_log(Connection& conn, long long endpoint_id, long long after, int limit, long long window) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn, "read_log");
    LogBatch b;
    // The end first: whatever commits after this read has a higher seq than anything read below.
    const long long end = tx.exec1(sql::kLogEnd)[0].as<long long>();
    for (const auto& row : tx.exec_prepared(sql::kReadLogName, endpoint_id, after, limit, window)) {
      LogEntry e;
      e.seq = row[0].as<long long>();
      e.message_id = row[1].as<std::string>();
      e.message_type = row[2].as<std::string>();
      e.sender_ori = row[3].as<std::string>();
      e.case_key = values::text(row[4]);
      e.subscription_id = row[5].is_null() ? 0 : row[5].as<long long>();
      if (!row[6].is_null()) {
        const pqxx::binarystring body(row[6]);
        e.body = body.str();
      }
      e.lane_has_rows = row[7].as<bool>();
      b.entries.push_back(std::move(e));
    }
    if (static_cast<int>(b.entries.size()) >= limit) {
      b.read_through = b.entries.back().seq;
    } else {
      // The entries' statement may see messages committed after `end` was read: they were read too.
      b.read_through = std::max(after, std::min(end, after + window));
      if (!b.entries.empty()) b.read_through = std::max(b.read_through, b.entries.back().seq);
    }
    return b;
  });
}

bool advance_cursor(Transaction& tx, long long endpoint_id, const std::string& hub, long long position) {
  return tx.exec_prepared(sql::kAdvanceCursorName, endpoint_id, hub, position).affected_rows() == 1;
}

}  // namespace cjhub::store
