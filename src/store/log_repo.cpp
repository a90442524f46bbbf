#include "cjhub/store/log_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <pqxx/pqxx>

#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "store/completion.hpp"
#include "store/endpoint_health.hpp"
#include "store/lanes.hpp"
#include "store/log_progress.hpp"
#include "store/prepared.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// A dispatcher says it is alive; those not seen for an hour are forgotten.
// Rewritten at most once a second (the share counts those seen in the last 3 s): each rewrite
// leaves a row version that no vacuum may remove while a long snapshot lives.
constexpr const char* kSeen =
    "INSERT INTO dispatchers (instance_id, seen_at) VALUES ($1, now()) "
    "ON CONFLICT (instance_id) DO UPDATE SET seen_at = now() "
    "WHERE dispatchers.seen_at < now() - interval '1 second'";
constexpr const char* kGone = "DELETE FROM dispatchers WHERE instance_id = $1";
constexpr const char* kForget = "DELETE FROM dispatchers WHERE seen_at < now() - interval '1 hour'";
// This dispatcher's share of the active endpoints: all of them over the dispatchers alive (seen in
// the last 3 s: each renews every 250 ms), rounded up. A hub that died stops counting at once;
// its cursors go to the others when their leases run out.
constexpr const char* kShareName = "lease_share";
constexpr const char* kShare =
    "SELECT ceil((SELECT count(*) FROM endpoints WHERE active)::numeric / "
    "  greatest(1, (SELECT count(*) FROM dispatchers d WHERE d.seen_at > now() - interval '3 seconds' "
    "    AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = left(d.instance_id, 63)))))::int";
// Ours ($2 the lease in ms), each renewed once less than $3 ms of its lease is left, so a cursor
// row is rewritten every ($2 - $3) ms, not at every look (each rewrite leaves a row version that no
// vacuum may remove while a long snapshot lives). One not yet due is returned as it is: its lease
// runs for at least $3 ms more, so no other hub can take it meanwhile. (A hub holding more than its
// share gives the extra ones up itself, once nothing of theirs is in flight.)
// Each with the entries finished after its position (log_progress.hpp), but those the hub reads
// already ($4: it knows).
#define CJHUB_DONE_UNLESS_READING(c) \
  "CASE WHEN " #c ".endpoint_id = ANY ($4::bigint[]) THEN NULL ELSE " CJHUB_LOG_DONE_AFTER(c) "::text END"
constexpr const char* kRenewCursors =
    "WITH renewed AS ("
    "  UPDATE endpoint_cursors c SET lease_until = now() + make_interval(secs => $2 / 1000.0) "
    "  WHERE leased_by = $1 AND (lease_until IS NULL OR lease_until < now() + make_interval(secs => $3 / 1000.0)) "
    "  RETURNING c.endpoint_id, c.position, " CJHUB_DONE_UNLESS_READING(c) ") "
    "SELECT * FROM renewed UNION ALL "
    "SELECT c.endpoint_id, c.position, " CJHUB_DONE_UNLESS_READING(c) " FROM endpoint_cursors c "
    "WHERE leased_by = $1 AND lease_until >= now() + make_interval(secs => $3 / 1000.0)";
#undef CJHUB_DONE_UNLESS_READING
// Then free or expired cursors of active endpoints (oldest position first, so a backlog is
// served), skipping those another hub is taking right now.
// A holder is alive while its database session is: each dispatcher names its session after
// itself (application_name, cut to 63 characters), and a process that died has no session left
// (its connections closed with it), so its cursors are taken at once instead of at lease expiry.
constexpr const char* kTakeCursors =
    "UPDATE endpoint_cursors c SET leased_by = $1, lease_until = now() + make_interval(secs => $2 / 1000.0) "
    "FROM (SELECT k.endpoint_id, k.leased_by AS previous FROM endpoint_cursors k "
    "      JOIN endpoints e ON e.id = k.endpoint_id AND e.active "
    "      WHERE k.leased_by IS NULL OR k.lease_until < now() "
    "      OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = left(k.leased_by, 63)) "
    "      ORDER BY k.position LIMIT $3 FOR UPDATE OF k SKIP LOCKED) f "
    "WHERE c.endpoint_id = f.endpoint_id RETURNING c.endpoint_id, c.position, " CJHUB_LOG_DONE_AFTER(c) "::text, f.previous";
constexpr const char* kNameSession = "SELECT set_config('application_name', $1, false)";
constexpr const char* kReleaseCursors =
    "UPDATE endpoint_cursors SET leased_by = NULL, lease_until = NULL "
    "WHERE leased_by = $1 AND ($2::bigint[] IS NULL OR endpoint_id = ANY ($2::bigint[]))";
// The endpoint's entries after what was read, within a window of the log, but those that already
// became rows: first their positions (at most $3), then, once the cursor says how far this hub
// reads, their contents. A lane with open rows (the same case, this endpoint) keeps its later
// entries behind them.
constexpr const char* kNextEntriesName = "next_log_entries";
constexpr const char* kNextEntries =
    "SELECT m.seq, m.body_size FROM messages m WHERE m.recipients IS NOT NULL AND m.seq > $2 AND m.seq <= $2 + $4 "
    "AND $1::bigint = ANY (m.recipients) "
    "AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = $1) "
    "ORDER BY m.seq LIMIT $3";
// How far this hub reads (only while it holds the lease). An erasure locks the cursors of the
// case's recipients and counts everything up to here as possibly sent (the agency holds the case);
// after here nothing was read, so it can be suppressed outright.
constexpr const char* kReadThroughName = "read_through";
constexpr const char* kReadThrough =
    "UPDATE endpoint_cursors SET read_through = greatest(read_through, $3) "
    "WHERE endpoint_id = $1 AND leased_by = $2";
// A read that finds nothing new only asks whether the lease is still this hub's: the cursor is not
// rewritten (a version a long snapshot would keep) to record what it already says.
constexpr const char* kStillLeasedName = "still_leased";
constexpr const char* kStillLeased = "SELECT 1 FROM endpoint_cursors WHERE endpoint_id = $1 AND leased_by = $2";
constexpr const char* kReadLogName = "read_log";
constexpr const char* kReadLog =
    "SELECT m.seq, m.id::text, m.message_type, m.sender_ori, m.case_key, "
    "  m.routes[array_position(m.recipients, $1::bigint)], "
    "  CASE WHEN m.seq = ANY ($3::bigint[]) THEN NULL ELSE m.body END, m.body IS NULL, "
    "  m.case_key IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries d WHERE d.case_key = m.case_key "
    "    AND d.endpoint_id = $1 AND d.state IN ('queued', 'pending', 'in_flight')), "
    "  m.request_id "
    "FROM messages m WHERE m.recipients IS NOT NULL AND m.seq = ANY ($2::bigint[]) "
    "AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = $1) "
    "ORDER BY m.seq";
// The end of the log now: the last log entry committed. Every log entry with a lower position has
// committed or never will (each took the append lock before its position and held it to its
// commit); a message off the log may have committed with a higher position meanwhile, so not the
// last message.
constexpr const char* kLogEndName = "log_end";
constexpr const char* kLogEnd = "SELECT coalesce(max(seq), 0) FROM messages WHERE recipients IS NOT NULL";
// The cursor moves on a clock (`delivery.move_cursor_every_ms`), not at every round: a round that
// does not move it only holds its row (as the move would: an erasure or a lane waiting for the
// round's rows waits for its commit, and no other hub takes the lease meanwhile) without writing
// it, and its delivered entries are finished by their answers (kInsertAnswers; log_progress.hpp).
constexpr const char* kHoldCursorName = "hold_cursor";
constexpr const char* kHoldCursor =
    "SELECT 1 FROM endpoint_cursors WHERE endpoint_id = $1 AND leased_by = $2 FOR NO KEY UPDATE";
constexpr const char* kAdvanceCursorName = "advance_cursor";
constexpr const char* kAdvanceCursor =
    "UPDATE endpoint_cursors SET position = greatest(position, $3), done = $4::bigint[], advanced_at = now() "
    "WHERE endpoint_id = $1 AND leased_by = $2";

// The entries that left the normal path, as rows of their lanes ($1 the endpoint).
constexpr const char* kInsertExceptionsName = "insert_log_exceptions";
constexpr const char* kInsertExceptions =
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, "
    "ack_required, attempts, next_attempt_at, expires_at, last_status, last_error, dead_at, "
    "attempt_at, attempt_status, attempt_ms, attempt_error) "
    "SELECT u.id, m.id, coalesce(s.id, (SELECT min(s2.id) FROM subscriptions s2 WHERE s2.endpoint_id = $1)), "
    "  $1, e.ori, m.case_key, m.seq, u.state, false, u.attempts, now() + make_interval(secs => u.delay_s), "
    "  greatest(now(), m.stored_at + coalesce(s.retry_window, interval '1 day')), u.status, u.error, "
    "  CASE WHEN u.state = 'dead' THEN now() END, "
    // The attempt made on the log (none for an entry queued or suppressed unsent, and none yet for
    // one whose acknowledgement is recorded next, as a row's delivery).
    "  CASE WHEN u.at IS NULL THEN '{}' ELSE ARRAY[u.at] END, CASE WHEN u.at IS NULL THEN '{}' ELSE ARRAY[u.status] END, "
    "  CASE WHEN u.at IS NULL THEN '{}' ELSE ARRAY[u.took_ms] END, "
    "  CASE WHEN u.at IS NULL THEN '{}' ELSE ARRAY[left(u.error, 200)] END "
    "FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::integer[], $6::float8[], $7::integer[], $8::text[], "
    "  $9::uuid[], $10::timestamptz[], $11::integer[]) "
    "  AS u(message_id, subscription_id, state, attempts, delay_s, status, error, id, at, took_ms) "
    "JOIN messages m ON m.id = u.message_id JOIN endpoints e ON e.id = $1 "
    "LEFT JOIN subscriptions s ON s.id = u.subscription_id "
    "ON CONFLICT (id) DO NOTHING";  // an acknowledgement POSTed meanwhile made it a row already

// The round's delivered entries with their answers: one row per endpoint and round (migration 0021),
// with the highest of them (0027: what finishes them until the cursor moves past).
constexpr const char* kInsertAnswersName = "insert_log_answers";
constexpr const char* kInsertAnswers =
    "INSERT INTO log_answers (endpoint_id, seqs, attempt_at, statuses, took_ms, last_seq) "
    "VALUES ($1, $2::bigint[], $3::timestamptz[], $4::integer[], $5::integer[], "
    "  (SELECT max(s) FROM unnest($2::bigint[]) AS s))";
constexpr const char* kWithoutPayload =
    "SELECT id::text FROM messages WHERE id = ANY ($1::uuid[]) AND body IS NULL";
constexpr const char* kLeaseRows =
    "UPDATE deliveries SET leased_by = $2, lease_until = now() + interval '1 minute' WHERE id = ANY ($1::uuid[])";

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
// (Each dispatcher round runs the reads once per endpoint: planned once per connection, not per call.)
void prepare_log_statements(Connection& conn) {
  conn.prepare(sql::kShareName, sql::kShare);  // every 250 ms per dispatcher
  conn.prepare(sql::kNextEntriesName, sql::kNextEntries);
  conn.prepare(sql::kReadThroughName, sql::kReadThrough);
  conn.prepare(sql::kStillLeasedName, sql::kStillLeased);
  conn.prepare(sql::kLogEndName, sql::kLogEnd);
  conn.prepare(sql::kReadLogName, sql::kReadLog);
  conn.prepare(sql::kAdvanceCursorName, sql::kAdvanceCursor);
  conn.prepare(sql::kHoldCursorName, sql::kHoldCursor);
  conn.prepare(sql::kInsertAnswersName, sql::kInsertAnswers);
  conn.prepare(sql::kInsertExceptionsName, sql::kInsertExceptions);
}

std::string log_delivery_id(long long endpoint_id, long long seq) {
  const auto e = static_cast<unsigned long long>(endpoint_id) & 0xFFFFFFFFFFFFULL;
  const auto q = static_cast<unsigned long long>(seq) & 0xFFFFFFFFFFFFULL;
  return fmt::format("{:08x}-{:04x}-8000-8000-{:012x}", e >> 16, e & 0xFFFF, q);
}

namespace {
std::vector<CursorLease> leases(const pqxx::result& r) {
  std::vector<CursorLease> out;
  for (const auto& row : r) {
    CursorLease l{row[0].as<long long>(), row[1].as<long long>(), {}};
    const auto done = row[2].is_null() ? std::string() : row[2].as<std::string>();  // {1,2,3}
    std::size_t i = 1;
    while (i + 1 < done.size()) {
      const auto j = done.find_first_of(",}", i);
      l.done.push_back(std::stoll(done.substr(i, j - i)));
      i = j + 1;
    }
    out.push_back(std::move(l));
  }
  return out;
}
}  // namespace

CursorLeases lease_cursors(Connection& conn, const std::string& hub, int lease_ms, int max_new, int renew_every_ms,
                           const std::vector<long long>& reading) {
  return translate_errors([&] {
    Transaction tx(conn, "lease_cursors");
    tx.exec_params(sql::kNameSession, hub);
    tx.exec_params0(sql::kSeen, hub);
    tx.exec0(sql::kForget);
    CursorLeases out;
    out.share = tx.exec_prepared1(sql::kShareName)[0].as<int>();
    out.held = leases(
        tx.exec_params(sql::kRenewCursors, hub, lease_ms, lease_ms - renew_every_ms, values::int_array(reading)));
    const int room = std::min(max_new, out.share - static_cast<int>(out.held.size()));
    if (room > 0) {
      const auto taken = tx.exec_params(sql::kTakeCursors, hub, lease_ms, room);
      for (auto& l : leases(taken)) out.held.push_back(std::move(l));
      for (const auto& row : taken) {
        if (!row[3].is_null() && row[3].as<std::string>() != hub) out.taken_over.push_back(row[3].as<std::string>());
      }
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
    if (endpoint_ids.empty()) tx.exec_params0(sql::kGone, hub);  // all given up: no longer counted in shares
    tx.commit();
    return static_cast<std::size_t>(r.affected_rows());
  });
}

LogBatch read_log(Connection& conn, long long endpoint_id, const std::string& hub, long long after, int limit,
                  long long window, const std::function<bool(long long seq)>& held, std::size_t max_bytes) {
  return translate_errors([&] {
    Transaction tx(conn, "read_log");
    LogBatch b;
    b.read_through = after;
    // The end first: whatever commits after this has a higher seq than anything read below.
    const long long end = tx.exec_prepared1(sql::kLogEndName)[0].as<long long>();
    std::vector<long long> seqs;
    std::size_t bytes = 0;
    bool full = false;  // the batch ends before what is there: limit or bytes reached
    for (const auto& row : tx.exec_prepared(sql::kNextEntriesName, endpoint_id, after, limit, window)) {
      seqs.push_back(row[0].as<long long>());
      bytes += row[1].is_null() ? 0 : row[1].as<std::size_t>();
      if (bytes >= max_bytes) {
        full = true;
        break;
      }
    }
    const long long through = full || static_cast<int>(seqs.size()) >= limit
                                  ? seqs.back()
                                  : std::max({after, std::min(end, after + window), seqs.empty() ? 0 : seqs.back()});
    // Nothing after `after` (the cursor already reads through it): no rewrite.
    const auto recorded = through <= after ? tx.exec_prepared(sql::kStillLeasedName, endpoint_id, hub).size()
                                           : tx.exec_prepared(sql::kReadThroughName, endpoint_id, hub, through)
                                                 .affected_rows();
    if (recorded != 1) {
      tx.abort();  // the lease passed to another hub: read nothing
      b.lease_lost = true;
      return b;
    }
    if (!seqs.empty()) {
      std::vector<long long> have;
      if (held) std::copy_if(seqs.begin(), seqs.end(), std::back_inserter(have), held);
      for (const auto& row :
           tx.exec_prepared(sql::kReadLogName, endpoint_id, values::int_array(seqs), values::int_array(have))) {
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
        e.body_held = !row[6].is_null() ? false : !row[7].as<bool>();  // not read: the reader has it
        e.lane_has_rows = row[8].as<bool>();
        e.request_id = values::text(row[9]);
        b.entries.push_back(std::move(e));
      }
    }
    tx.commit();
    b.read_through = through;
    b.full = full || static_cast<int>(seqs.size()) >= limit;
    return b;
  });
}

std::set<std::string> without_payload(Connection& conn, const std::vector<std::string>& message_ids) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::set<std::string> out;
    for (const auto& r : tx.exec_params(sql::kWithoutPayload, values::text_array(message_ids))) {
      out.insert(r[0].as<std::string>());
    }
    return out;
  });
}

bool advance_cursor(Transaction& tx, long long endpoint_id, const std::string& hub, long long position,
                    const std::vector<long long>& done) {
  std::vector<long long> after;
  for (const auto s : done) {
    if (s > position) after.push_back(s);
  }
  return tx.exec_prepared(sql::kAdvanceCursorName, endpoint_id, hub, position, values::int_array(after))
             .affected_rows() == 1;
}

namespace {

const char* state_of(LogOutcome::Kind k) {
  switch (k) {
    case LogOutcome::Kind::retry: return "pending";
    case LogOutcome::Kind::dead: return "dead";
    case LogOutcome::Kind::suppressed: return "suppressed";
    case LogOutcome::Kind::queued: return "queued";
    case LogOutcome::Kind::delivered: break;
  }
  return "delivered";
}

const char* audit_outcome_of(LogOutcome::Kind k) {
  switch (k) {
    case LogOutcome::Kind::retry: return "retry";
    case LogOutcome::Kind::dead: return "dead";
    case LogOutcome::Kind::suppressed: return "suppressed";
    case LogOutcome::Kind::queued: return "queued";
    case LogOutcome::Kind::delivered: break;
  }
  return "delivered";
}

}  // namespace

namespace {

// Entries that leave the normal path, as rows (kInsertExceptions's columns, one element each).
struct ExceptionRows {
  std::vector<std::string> ids, states, delays, errors, delivery_ids;
  std::vector<long long> subs, took;
  std::vector<int> attempts;
  std::vector<std::optional<std::string>> statuses, began;

  // An entry that left the normal path (retried, dead, queued or suppressed), with its attempt
  // here when it was sent (`began_at`).
  void add(const LogOutcome& o, long long endpoint_id, const char* state, std::optional<std::string> began_at) {
    push(o, endpoint_id, state, began_at ? 1 : 0);
    delays.push_back(std::to_string(static_cast<double>(o.delay.count()) / 1000.0));
    statuses.push_back(o.http_status ? std::optional<std::string>(std::to_string(*o.http_status)) : std::nullopt);
    errors.push_back(o.error.substr(0, 1000));
    began.push_back(std::move(began_at));
    took.push_back(o.took.count());
  }
  // A delivered entry whose answer acknowledged it: in flight, its outcome and attempt recorded
  // next as a row's.
  void add_in_flight(const LogOutcome& o, long long endpoint_id) {
    push(o, endpoint_id, "in_flight", 1);
    delays.emplace_back("0");
    statuses.emplace_back();
    errors.emplace_back();
    began.emplace_back();
    took.push_back(0);
  }
  void push(const LogOutcome& o, long long endpoint_id, const char* state, int attempt_count) {
    ids.push_back(o.message_id);
    delivery_ids.push_back(log_delivery_id(endpoint_id, o.seq));
    subs.push_back(o.subscription_id);
    states.emplace_back(state);
    attempts.push_back(attempt_count);
  }
  std::size_t insert(Transaction& tx, long long endpoint_id) const {
    if (ids.empty()) return 0;
    return static_cast<std::size_t>(
        tx.exec_prepared(sql::kInsertExceptionsName, endpoint_id, values::text_array(ids), values::int_array(subs),
                         values::text_array(states), values::int_array(attempts), values::text_array(delays),
                         values::opt_text_array(statuses), values::text_array(errors),
                         values::text_array(delivery_ids), values::opt_text_array(began), values::int_array(took))
            .affected_rows());
  }
};

// What one round writes, sorted from its outcomes before anything is written.
struct RoundWrites {
  ExceptionRows exceptions;  // retried, dead, queued and suppressed entries
  ExceptionRows acked;       // delivered with an acknowledgement in the answer: in flight, then recorded
  std::vector<Completion> acked_completions;
  // The normal path: how many, their range for the audit record, and their answers (log_answers).
  std::size_t delivered = 0;
  long long first = 0, last = 0;
  std::vector<long long> answered_seqs, answered_took;
  std::vector<int> answered_status;
  std::vector<std::string> answered_at;
  std::vector<AuditEvent> audit;
  // The endpoint's health: failures (with the last reason) and when the first successful and the
  // first failed exchange began (an outage's ends).
  int failures = 0;
  std::string failure;
  std::optional<std::chrono::system_clock::time_point> first_success, first_failure;
};

RoundWrites sort_outcomes(const LogRound& round, const std::string& hub) {
  RoundWrites w;
  for (const auto& o : round.outcomes) {
    if (o.endpoint_failure) {
      ++w.failures;
      w.failure = o.error;
      w.first_failure = std::min(w.first_failure.value_or(o.attempted_at), o.attempted_at);
    }
    if (o.kind == LogOutcome::Kind::delivered) {
      w.first_success = std::min(w.first_success.value_or(o.attempted_at), o.attempted_at);
    }
    if (o.kind == LogOutcome::Kind::delivered && o.ack) {
      // The answer acknowledges it: it becomes a row (in flight under this hub), recorded exactly
      // as a row's delivery with an acknowledgement is (which puts the attempt on the row).
      Completion c;
      c.kind = Completion::Kind::delivered;
      c.delivery_id = log_delivery_id(round.endpoint_id, o.seq);
      c.endpoint_id = round.endpoint_id;
      c.case_key = o.case_key;
      c.message_id = o.message_id;
      c.sender_ori = o.sender_ori;
      c.recipient_ori = round.recipient_ori;
      c.http_status = o.http_status;
      c.attempted_at = o.attempted_at;
      c.took = o.took;
      c.ack = o.ack;
      w.acked_completions.push_back(std::move(c));
      w.acked.add_in_flight(o, round.endpoint_id);
      continue;
    }
    if (o.kind == LogOutcome::Kind::delivered) {
      ++w.delivered;
      if (w.first == 0 || o.seq < w.first) w.first = o.seq;
      w.last = std::max(w.last, o.seq);
      w.answered_seqs.push_back(o.seq);
      w.answered_at.push_back(rfc3339(o.attempted_at));
      w.answered_status.push_back(o.http_status.value_or(200));
      w.answered_took.push_back(o.took.count());
      continue;
    }
    // Retried and dead entries were attempted here; queued and suppressed ones were not sent.
    const bool attempted = o.kind == LogOutcome::Kind::retry || o.kind == LogOutcome::Kind::dead;
    w.exceptions.add(o, round.endpoint_id, state_of(o.kind),
                     attempted ? std::optional<std::string>(rfc3339(o.attempted_at)) : std::nullopt);
    std::string detail = o.http_status ? "HTTP " + std::to_string(*o.http_status) : std::string();
    if (!o.error.empty()) detail += (detail.empty() ? "" : "; ") + o.error.substr(0, 200);
    w.audit.push_back({"hub:" + hub, round.recipient_ori, "delivery", audit_outcome_of(o.kind),
                       "delivery " + log_delivery_id(round.endpoint_id, o.seq) + " message " + o.message_id,
                       "endpoint " + std::to_string(round.endpoint_id), std::move(detail)});
  }
  if (w.delivered > 0) {
    // One record for the batch: the normal path's state change is the cursor's move.
    w.audit.push_back({"hub:" + hub, round.recipient_ori, "delivery", "delivered",
                       "endpoint " + std::to_string(round.endpoint_id) + " log " + std::to_string(w.first) + ".." +
                           std::to_string(w.last),
                       "endpoint " + std::to_string(round.endpoint_id),
                       std::to_string(w.delivered) + " message(s) delivered"});
  }
  return w;
}

// The round's effect on the endpoint's failure count, pause and outages; true if it paused now.
bool record_health(Transaction& tx, long long endpoint_id, const RoundWrites& w, unsigned pause_after_failures) {
  bool paused = false;
  if (w.delivered > 0) endpoint_health::succeeded(tx, endpoint_id, *w.first_success);
  for (int i = 0; i < w.failures; ++i) {
    if (endpoint_health::failed(tx, endpoint_id, pause_after_failures, w.failure, *w.first_failure)) paused = true;
  }
  return paused;
}

}  // namespace

LogRoundResult complete_log(Connection& conn, const std::string& hub, const LogRound& round,
                            unsigned pause_after_failures) {
  return translate_errors([&] {
    Transaction tx(conn, "complete_log");
    LogRoundResult res;
    // Case locks first and in order (the rows' lanes and the lanes the cursor passes).
    std::vector<std::string> cases;
    for (const auto& o : round.outcomes) {
      if (o.kind != LogOutcome::Kind::delivered || o.ack) cases.push_back(o.case_key);
    }
    std::set<std::string> locked;
    for (const auto& [id, c] : lanes::passed_heads(tx, round.endpoint_id, round.position)) cases.push_back(c);
    locked.insert(cases.begin(), cases.end());
    lanes::lock_cases(tx, cases);
    const bool held = round.move_cursor
                          ? advance_cursor(tx, round.endpoint_id, hub, round.position, round.done)
                          : tx.exec_prepared(sql::kHoldCursorName, round.endpoint_id, hub).size() == 1;
    if (!held) {
      tx.abort();
      res.lease_held = false;
      return res;
    }
    auto w = sort_outcomes(round, hub);
    res.delivered = w.delivered;
    res.rows = w.exceptions.insert(tx, round.endpoint_id);
    if (!w.answered_seqs.empty()) {
      tx.exec_prepared0(sql::kInsertAnswersName, round.endpoint_id, values::int_array(w.answered_seqs),
                        values::text_array(w.answered_at), values::int_array(w.answered_status),
                        values::int_array(w.answered_took));
    }
    res.endpoint_paused_now = record_health(tx, round.endpoint_id, w, pause_after_failures);
    if (!w.acked_completions.empty()) {
      w.acked.insert(tx, round.endpoint_id);
      tx.exec_params0(sql::kLeaseRows, values::text_array(w.acked.delivery_ids), hub);
      res.acknowledged = complete_in(tx, w.acked_completions, hub, pause_after_failures);
    }
    // The heads the cursor passed or this round freed, now that this round's rows exist: those of
    // cases locked above go on here; the others (freed only by this round's move, or routed while
    // the round was under way: their cases are not locked here) in a transaction of their own below.
    std::vector<std::string> heads;
    bool unlocked = false;
    for (const auto& [id, c] : lanes::passed_heads(tx, round.endpoint_id, round.position)) {
      if (locked.count(c)) {
        heads.push_back(id);
      } else {
        unlocked = true;
      }
    }
    res.promoted = lanes::promote_heads(tx, heads);
    if (!w.audit.empty()) insert_audit(tx, w.audit);
    if (res.promoted > 0) lanes::notify(tx);
    // Durable, acknowledgements or not: once a case's entry is recorded its next one goes out, and
    // a round lost in a crash of the database would send the earlier entry again after it.
    commit_durably(tx);
    if (unlocked) {
      // The round is committed: a failure here must not make the caller record it again.
      try {
        res.promoted += lanes::promote_freed(conn, round.endpoint_id, round.position);
      } catch (const std::exception& e) {
        log::get("store")->warn("endpoint {}: lanes freed by its round wait for its next round: {}",
                                round.endpoint_id, e.what());
      }
    }
    return res;
  });
}

}  // namespace cjhub::store
