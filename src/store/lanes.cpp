#include "store/lanes.hpp"

#include "store/connection_impl.hpp"
#include "store/log_progress.hpp"
#include "store/translate.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "cjhub/common/log.hpp"
#include "store/values.hpp"

namespace cjhub::store {
namespace lanes::sql {
namespace {

// A lane's head row may go only when no entry of the lane still waits on the log before it: an
// entry of the case for the endpoint past the endpoint's cursor that has not become a row (the
// dispatcher reading the log sends it, or turns it into a row, first).
#define CJHUB_NOTHING_EARLIER_ON_THE_LOG(endpoint, case_key, seq)                                          \
  " AND NOT EXISTS (SELECT 1 FROM messages o JOIN endpoint_cursors c ON c.endpoint_id = " endpoint            \
  "   WHERE o.case_key = " case_key " AND o.seq > c.position AND o.seq < " seq " AND " endpoint                \
  "   = ANY (o.recipients) AND NOT " CJHUB_LOG_ENTRY_DONE(o, c) " AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = o.id "             \
  "   AND x.endpoint_id = " endpoint "))"

// Deliveries of one case to one endpoint leave in store order: writers and completions that touch
// a case's lanes hold this lock (hash of the case key) until they commit.
constexpr const char* kLockCaseName = "lock_case";
constexpr const char* kLockCase = "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))";
// The same for many cases in one round trip, in the given (sorted) order.
constexpr const char* kLockCasesName = "lock_cases";
constexpr const char* kLockCases =
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 7)) FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) "
    "ORDER BY n";
// Promotes the next queued delivery of many lanes ($1 endpoint ids, $2 case keys) at once.
constexpr const char* kPromoteLanesName = "promote_lanes";
constexpr const char* kPromoteLanes =
    "UPDATE deliveries d SET state = 'pending', next_attempt_at = now() FROM ("
    "  SELECT (SELECT q.id FROM deliveries q WHERE q.endpoint_id = l.endpoint_id AND q.case_key = l.case_key "
    "          AND q.state = 'queued' ORDER BY q.seq LIMIT 1) AS id "
    "  FROM unnest($1::bigint[], $2::text[]) AS l(endpoint_id, case_key) "
    "  WHERE NOT EXISTS (SELECT 1 FROM deliveries b WHERE b.endpoint_id = l.endpoint_id AND b.case_key = l.case_key "
    "                    AND b.state IN ('pending', 'in_flight'))) n "
    "WHERE d.id = n.id" CJHUB_NOTHING_EARLIER_ON_THE_LOG("d.endpoint_id", "d.case_key", "d.seq");
constexpr const char* kWakeDispatchers =
    "BEGIN; SET LOCAL synchronous_commit = off; NOTIFY cjhub_deliveries; COMMIT";
// The next queued delivery of a lane becomes pending once nothing earlier is pending or in flight.
constexpr const char* kPromoteLane =
    "UPDATE deliveries SET state = 'pending', next_attempt_at = now() "
    "WHERE id = (SELECT id FROM deliveries WHERE endpoint_id = $1 AND case_key = $2 AND state = 'queued' "
    "            ORDER BY seq LIMIT 1) "
    "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = $1 AND case_key = $2 "
    "                AND state IN ('pending', 'in_flight'))"
    CJHUB_NOTHING_EARLIER_ON_THE_LOG("$1", "$2", "deliveries.seq");
// Every lane of one case at once: after an erasure suppressed their heads, each lets its next
// delivery go.
constexpr const char* kPromoteCaseLanesName = "promote_case_lanes";
constexpr const char* kPromoteCaseLanes =
    "UPDATE deliveries d SET state = 'pending', next_attempt_at = now() FROM ("
    "  SELECT DISTINCT ON (endpoint_id) id, endpoint_id FROM deliveries "
    "  WHERE case_key = $1 AND state = 'queued' ORDER BY endpoint_id, seq) h "
    "WHERE d.id = h.id AND NOT EXISTS (SELECT 1 FROM deliveries b WHERE b.case_key = $1 "
    "  AND b.endpoint_id = h.endpoint_id AND b.state IN ('pending', 'in_flight'))"
    CJHUB_NOTHING_EARLIER_ON_THE_LOG("d.endpoint_id", "$1", "d.seq");
// The lanes of one endpoint whose queued head nothing unfinished on the log precedes: the cursor
// has passed it ($2: its new position), or every earlier entry of its case for the endpoint is
// recorded (at or before the cursor, or among the entries finished after it). A row off the log
// (an erasure notice, a type that owes an acknowledgement) has a position no later entry may ever
// carry the cursor past, so the second test is what lets it go once the entry before it is done.
// Promotion still waits until nothing of the lane is pending or in flight (kPromoteIds).
constexpr const char* kPassedHeadsName = "passed_heads";
constexpr const char* kPassedHeads =
    "SELECT DISTINCT ON (d.case_key) d.id::text, d.case_key FROM deliveries d "
    "WHERE d.endpoint_id = $1 AND d.state = 'queued' AND (d.seq <= $2 OR NOT EXISTS ("
    "  SELECT 1 FROM messages o JOIN endpoint_cursors c ON c.endpoint_id = d.endpoint_id "
    "  WHERE o.case_key = d.case_key AND o.seq > c.position AND o.seq < d.seq AND NOT " CJHUB_LOG_ENTRY_DONE(o, c) " "
    "  AND d.endpoint_id = ANY (o.recipients) "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = o.id AND x.endpoint_id = d.endpoint_id))) "
    "ORDER BY d.case_key, d.seq";
constexpr const char* kPromoteIds =
    "UPDATE deliveries d SET state = 'pending', next_attempt_at = now() "
    "FROM unnest($1::uuid[]) AS h(id) WHERE d.id = h.id AND d.state = 'queued' "
    "AND NOT EXISTS (SELECT 1 FROM deliveries b WHERE b.case_key = d.case_key "
    "  AND b.endpoint_id = d.endpoint_id AND b.state IN ('pending', 'in_flight'))";

// Waits for any round of these endpoints to end (a round holds its cursor's row lock until it
// commits, whether it moves the cursor or not) and reads where each cursor stands now.
constexpr const char* kCursorsAfterRounds =
    "SELECT endpoint_id, position FROM endpoint_cursors WHERE endpoint_id = ANY ($1::bigint[]) "
    "ORDER BY endpoint_id FOR SHARE";

#undef CJHUB_NOTHING_EARLIER_ON_THE_LOG

}  // namespace
}  // namespace lanes::sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_lanes_statements(Connection& conn) {
  conn.prepare(lanes::sql::kPromoteCaseLanesName, lanes::sql::kPromoteCaseLanes);
  conn.prepare(lanes::sql::kPromoteLanesName, lanes::sql::kPromoteLanes);
  conn.prepare(lanes::sql::kLockCaseName, lanes::sql::kLockCase);
  conn.prepare(lanes::sql::kLockCasesName, lanes::sql::kLockCases);
  conn.prepare(lanes::sql::kPassedHeadsName, lanes::sql::kPassedHeads);  // every round of every endpoint
}

namespace lanes {


void lock_cases(Transaction& tx, std::vector<std::string> case_keys) {
  case_keys.erase(std::remove(case_keys.begin(), case_keys.end(), std::string()), case_keys.end());
  std::sort(case_keys.begin(), case_keys.end());
  case_keys.erase(std::unique(case_keys.begin(), case_keys.end()), case_keys.end());
  if (case_keys.empty()) return;
  if (case_keys.size() == 1) {
    tx.exec_prepared(sql::kLockCaseName, case_keys.front());
    return;
  }
  tx.exec_prepared(sql::kLockCasesName, values::text_array(case_keys));
}

void promote(Transaction& tx, long long endpoint_id, const std::string& case_key) {
  if (case_key.empty()) return;
  tx.exec_params0(sql::kPromoteLane, endpoint_id, case_key);
}

void promote_case(Transaction& tx, const std::string& case_key) {
  if (case_key.empty()) return;
  tx.exec_prepared0(sql::kPromoteCaseLanesName, case_key);
}

std::vector<std::pair<std::string, std::string>> passed_heads(Transaction& tx, long long endpoint_id,
                                                             long long position) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : tx.exec_prepared(sql::kPassedHeadsName, endpoint_id, position)) {
    out.emplace_back(r[0].as<std::string>(), r[1].is_null() ? std::string() : r[1].as<std::string>());
  }
  return out;
}

std::size_t promote_heads(Transaction& tx, const std::vector<std::string>& ids) {
  if (ids.empty()) return 0;
  return static_cast<std::size_t>(tx.exec_params(sql::kPromoteIds, values::text_array(ids)).affected_rows());
}

void promote_all(Transaction& tx, const std::set<Lane>& lanes) {
  if (lanes.empty()) return;
  std::vector<long long> endpoints;
  std::vector<std::string> cases;
  for (const auto& [endpoint, case_key] : lanes) {
    endpoints.push_back(endpoint);
    cases.push_back(case_key);
  }
  tx.exec_prepared0(sql::kPromoteLanesName, values::int_array(endpoints), values::text_array(cases));
}

std::size_t promote_freed(pqxx::connection_base& conn, long long endpoint_id, long long position) {
  Transaction tx(conn, "promote_freed");
  std::vector<std::string> cases;
  for (const auto& [id, c] : passed_heads(tx, endpoint_id, position)) cases.push_back(c);
  if (cases.empty()) return 0;
  const std::set<std::string> locked(cases.begin(), cases.end());
  lock_cases(tx, cases);
  std::vector<std::string> heads;
  for (const auto& [id, c] : passed_heads(tx, endpoint_id, position)) {
    if (locked.count(c)) heads.push_back(id);
  }
  const auto promoted = promote_heads(tx, heads);
  if (promoted > 0) notify(tx);
  tx.commit();
  return promoted;
}

void settle(pqxx::connection_base& conn, const std::set<long long>& endpoint_ids) noexcept {
  if (endpoint_ids.empty()) return;
  try {
    std::vector<std::pair<long long, long long>> cursors;
    {
      Transaction tx(conn, "settle_lanes");
      const std::vector<long long> ids(endpoint_ids.begin(), endpoint_ids.end());
      for (const auto& r : tx.exec_params(sql::kCursorsAfterRounds, values::int_array(ids))) {
        cursors.emplace_back(r[0].as<long long>(), r[1].as<long long>());
      }
      tx.commit();  // the wait was the point: nothing is held while the lanes are locked below
    }
    for (const auto& [endpoint_id, position] : cursors) promote_freed(conn, endpoint_id, position);
  } catch (const std::exception& e) {
    log::get("store")->warn("rows queued behind the log wait for their endpoints' next rounds: {}", e.what());
  }
}

void lock_and_promote(Transaction& tx, const std::set<Lane>& lanes) {
  std::vector<std::string> cases;
  for (const auto& l : lanes) cases.push_back(l.second);
  lock_cases(tx, cases);
  for (const auto& [endpoint, case_key] : lanes) promote(tx, endpoint, case_key);
}

void notify(Transaction& tx) { tx.wake_dispatchers_on_commit(); }

void wake(pqxx::connection_base& conn) noexcept {
  try {
    pqxx::nontransaction n(conn, "wake");
    n.exec0(sql::kWakeDispatchers);
  } catch (const std::exception& e) {
    log::get("store")->debug("waking the dispatchers failed (they poll): {}", e.what());
  }
}

}  // namespace lanes
}  // namespace cjhub::store
