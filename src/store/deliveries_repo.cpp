#include "cjhub/store/deliveries_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "cjhub/common/time.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/log_repo.hpp"
#include "store/attempt_history.hpp"
#include "store/completion.hpp"
#include "store/endpoint_health.hpp"
#include "store/lanes.hpp"
#include "store/prepared.hpp"
#include "store/recipient_states.hpp"
#include "store/routing_repo.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// Many deliveries delivered at once ($1 ids, $2 HTTP statuses), each with the acknowledgement the
// recipient returned in its answer, if any ($3 status, $4 reason, $5 the acknowledgement's message
// id; NULL when none): state, delivery and acknowledgement written by one update. A delivery whose
// lease was lost is not written unless it carries an acknowledgement (which settles it anyway,
// unless it was suppressed). Returns the rows written with the lanes they free.
constexpr const char* kMarkDeliveredManyName = "mark_delivered_many";
constexpr const char* kMarkDeliveredMany =
    "UPDATE deliveries d SET "
    // An acknowledgement that came before the delivery (recorded, the delivery still sent) counts.
    "state = CASE WHEN coalesce(u.ack_status, d.ack_status) IS NULL THEN 'delivered' "
    "        WHEN coalesce(u.ack_status, d.ack_status) = 'rejected' THEN 'rejected' ELSE 'acknowledged' END, "
    "delivered_at = CASE WHEN d.state IN ('in_flight', 'pending') THEN now() ELSE coalesce(d.delivered_at, now()) END, "
    "last_status = CASE WHEN d.state IN ('in_flight', 'pending') THEN u.status ELSE d.last_status END, "
    "last_error = CASE WHEN d.state IN ('in_flight', 'pending') THEN NULL ELSE d.last_error END, "
    "ack_status = coalesce(u.ack_status, d.ack_status), "
    "ack_reason = CASE WHEN u.ack_status IS NULL THEN d.ack_reason ELSE u.ack_reason END, "
    "ack_message_id = coalesce(u.ack_message_id, d.ack_message_id), "
    "acknowledged_at = CASE WHEN u.ack_status IS NULL THEN d.acknowledged_at ELSE now() END, "
    // The attempt that delivered it, on its timeline (not when only an acknowledgement settles it).
    "attempt_at = CASE WHEN d.state IN ('in_flight', 'pending') "
    "  THEN cjhub_keep_last(d.attempt_at, u.at, " CJHUB_ATTEMPTS_KEPT ") ELSE d.attempt_at END, "
    "attempt_status = CASE WHEN d.state IN ('in_flight', 'pending') "
    "  THEN cjhub_keep_last(d.attempt_status, u.status, " CJHUB_ATTEMPTS_KEPT ") ELSE d.attempt_status END, "
    "attempt_ms = CASE WHEN d.state IN ('in_flight', 'pending') "
    "  THEN cjhub_keep_last(d.attempt_ms, u.took_ms, " CJHUB_ATTEMPTS_KEPT ") ELSE d.attempt_ms END, "
    "attempt_error = CASE WHEN d.state IN ('in_flight', 'pending') "
    "  THEN cjhub_keep_last(d.attempt_error, NULL::text, " CJHUB_ATTEMPTS_KEPT ") ELSE d.attempt_error END, "
    "lease_until = NULL, leased_by = NULL "
    "FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[], $7::integer[]) "
    "  AS u(id, status, ack_status, ack_reason, ack_message_id, at, took_ms) "
    "WHERE d.id = u.id AND (d.state IN ('in_flight', 'pending') OR (u.ack_status IS NOT NULL AND d.state <> 'suppressed')) "
    "RETURNING d.id::text, d.endpoint_id, d.case_key, d.state";
constexpr const char* kLoadEndpoints =
    "SELECT id, ori, name, url, max_in_flight, timeout_ms, paused FROM endpoints WHERE active ORDER BY id";
// Claims due deliveries: for each endpoint ($1) at most its free capacity ($2), leased for $3 ms.
constexpr const char* kClaimName = "claim_deliveries";
constexpr const char* kClaim =
    "WITH cap AS (SELECT c.*, CASE WHEN c.after_us > 0 THEN to_timestamp(c.after_us / 1000000.0) "
    "  ELSE '-infinity'::timestamptz END AS due_after "
    "  FROM unnest($1::bigint[], $2::integer[], $3::integer[], $5::bigint[]) AS c(endpoint_id, n, lease_ms, after_us)), "
    "picked AS (SELECT x.id FROM cap "
    "  JOIN endpoints e ON e.id = cap.endpoint_id AND e.active AND NOT e.paused CROSS JOIN LATERAL ("
    "  SELECT d.id FROM deliveries d WHERE d.endpoint_id = cap.endpoint_id AND d.state = 'pending' "
    "  AND d.next_attempt_at <= now() AND d.next_attempt_at >= cap.due_after "
    "  ORDER BY d.next_attempt_at LIMIT cap.n "
    "  FOR UPDATE OF d SKIP LOCKED) x), "
    // By primary key: a join with `picked` would be planned for its (over-)estimated size.
    "claimed AS (UPDATE deliveries d SET state = 'in_flight', attempts = d.attempts + 1, "
    "lease_until = now() + make_interval(secs => (SELECT c.lease_ms FROM cap c WHERE c.endpoint_id = d.endpoint_id) "
    "/ 1000.0), leased_by = $4 "
    "FROM messages m WHERE d.id = ANY (ARRAY(SELECT id FROM picked)) AND m.id = d.message_id "
    "RETURNING d.id::text AS id, d.message_id, d.endpoint_id, d.attempts, d.case_key, d.ack_required, "
    "m.message_type, m.sender_ori, m.body, d.recipient_ori, (extract(epoch FROM d.next_attempt_at) * 1000000)::bigint AS due_us, "
    "m.request_id), "
    // The agency holds the case from the first attempt on (the bytes may arrive even if the answer
    // is lost): erasures are routed from case_holders, which retention never prunes. A whole-case
    // erasure notice makes nobody a holder (it carries the order to delete, not the case's data;
    // a repeated notice still reaches whoever held the data, and the notice's subscribers): in a
    // Clean Slate night that is five rows fewer per erasure.
    "held AS (INSERT INTO case_holders (case_key, recipient_ori, endpoint_id, first_message_id) "
    "  SELECT DISTINCT ON (c.case_key, c.recipient_ori) c.case_key, c.recipient_ori, c.endpoint_id, c.message_id "
    "  FROM claimed c WHERE c.case_key IS NOT NULL "
    "  AND NOT EXISTS (SELECT 1 FROM erasures x WHERE x.id = c.message_id AND x.scope = 'case') "
    "  ORDER BY c.case_key, c.recipient_ori "
    "  ON CONFLICT (case_key, recipient_ori) DO NOTHING) "
    "SELECT id, message_id::text, endpoint_id, attempts, case_key, ack_required, message_type, sender_ori, body, "
    "recipient_ori, due_us, request_id FROM claimed";
// Schedules the next attempt, or makes the delivery dead when that would fall after its window.
constexpr const char* kMarkRetryName = "mark_retry";
constexpr const char* kMarkRetry =
    "UPDATE deliveries SET "
    "state = CASE WHEN now() + make_interval(secs => $4 / 1000.0) > expires_at THEN 'dead' ELSE 'pending' END, "
    "dead_at = CASE WHEN now() + make_interval(secs => $4 / 1000.0) > expires_at THEN now() END, "
    "next_attempt_at = now() + make_interval(secs => $4 / 1000.0), last_status = $2::integer, last_error = $3, "
    CJHUB_APPEND_ATTEMPT("$6", "$2", "$7", "$3")
    "lease_until = NULL, leased_by = NULL WHERE id = $1::uuid AND state = 'in_flight' AND leased_by = $5 "
    "RETURNING state, endpoint_id, case_key";
constexpr const char* kMarkDeadName = "mark_dead";
constexpr const char* kMarkDead =
    "UPDATE deliveries SET state = 'dead', dead_at = now(), last_status = $2::integer, last_error = $3, "
    CJHUB_APPEND_ATTEMPT("$5", "$2", "$6", "$3")
    "lease_until = NULL, leased_by = NULL WHERE id = $1::uuid AND state = 'in_flight' AND leased_by = $4 "
    "RETURNING endpoint_id, case_key";
// Body gone (erased): never send it. Like every verdict but a success, only under the lease that
// claimed it: a hub whose lease ran out cannot undo what the hub that took over has done.
constexpr const char* kMarkSuppressed =
    "UPDATE deliveries SET state = 'suppressed', lease_until = NULL, leased_by = NULL "
    "WHERE id = $1::uuid AND state = 'in_flight' AND leased_by = $2 RETURNING endpoint_id, case_key";
constexpr const char* kReleaseExpiredLeases =
    "UPDATE deliveries SET state = 'pending', lease_until = NULL, leased_by = NULL "
    "WHERE state = 'in_flight' AND lease_until < now() RETURNING id";
constexpr const char* kReleaseLeasesOf =
    "UPDATE deliveries SET state = 'pending', lease_until = NULL, leased_by = NULL, "
    "attempts = greatest(attempts - 1, 0) WHERE state = 'in_flight' AND leased_by = $1 RETURNING id";
constexpr const char* kDeliveriesOfMessageName = "deliveries_of_message";
constexpr const char* kDeliveriesOfMessage =
    "SELECT d.id::text, d.recipient_ori, e.name, d.state, d.attempts, d.last_status, d.last_error, "
    "to_char(d.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(d.acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "d.ack_status, d.ack_reason, d.ack_required, "
    "to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), d.message_id::text "
    "FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id WHERE d.message_id = ANY ($1::uuid[])";
// The recipients messages reach on the log (no row of their own): delivered once the endpoint's
// cursor recorded it (delivered_at: when it was recorded, within one batch of the answer), else
// pending (recipient_states.hpp).
constexpr const char* kLogRecipientsOfMessageName = "log_recipients_of_message";
constexpr const char* kLogRecipientsOfMessage =
    "SELECT r.endpoint_id, m.seq, e.ori, e.name, " CJHUB_LOG_ENTRY_DONE(m, c) " AS done, "
    "to_char(coalesce(" CJHUB_LOG_ANSWERED_AT("m.seq", c) ", c.advanced_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), m.id::text "
    "FROM messages m CROSS JOIN LATERAL unnest(m.recipients) AS r(endpoint_id) "
    "JOIN endpoints e ON e.id = r.endpoint_id JOIN endpoint_cursors c ON c.endpoint_id = r.endpoint_id "
    "WHERE m.id = ANY ($1::uuid[]) AND " CJHUB_LOG_ENTRY_HAS_NO_ROW(m, r);

// A message's attempts: the rows' own records, then the normal path's answers.
constexpr const char* kRowAttempts =
    "SELECT d.id::text, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.status, a.ms, a.error "
    "FROM deliveries d CROSS JOIN LATERAL unnest(d.attempt_at, d.attempt_status, d.attempt_ms, d.attempt_error) "
    "  WITH ORDINALITY AS a(at, status, ms, error, n) "
    "WHERE d.message_id = $1::uuid ORDER BY d.id, a.n";
// The normal path's answers: the rounds of the message's endpoints that hold its seq.
constexpr const char* kLogAttempts =
    "WITH m AS (SELECT seq, recipients FROM messages WHERE id = $1::uuid) "
    "SELECT la.endpoint_id, m.seq, "
    "to_char(la.attempt_at[i] AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), la.statuses[i], la.took_ms[i] "
    "FROM m JOIN log_answers la ON la.seqs @> ARRAY[m.seq] AND la.endpoint_id = ANY (m.recipients) "
    "CROSS JOIN LATERAL array_position(la.seqs, m.seq) AS i ORDER BY la.recorded_at";

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_deliveries_statements(Connection& conn) {
  conn.prepare(sql::kMarkDeliveredManyName, sql::kMarkDeliveredMany);
  conn.prepare(sql::kClaimName, sql::kClaim);
  conn.prepare(sql::kMarkRetryName, sql::kMarkRetry);
  conn.prepare(sql::kMarkDeadName, sql::kMarkDead);
  conn.prepare(sql::kDeliveriesOfMessageName, sql::kDeliveriesOfMessage);
  conn.prepare(sql::kLogRecipientsOfMessageName, sql::kLogRecipientsOfMessage);
}


using values::int_array;
using values::opt;
using values::opt_int;
using values::text;
using values::text_array;

std::vector<EndpointRow> load_endpoints(Connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<EndpointRow> out;
    for (const auto& r : tx.exec(sql::kLoadEndpoints)) {
      out.push_back({r[0].as<long long>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<int>(), r[5].as<int>(), r[6].as<bool>()});
    }
    return out;
  });
}

std::vector<Claimed> claim(Connection& conn, const std::vector<ClaimRequest>& requests,
                           const std::string& leased_by) {
  if (requests.empty()) return {};
  std::vector<long long> ids;
  std::vector<int> caps, leases;
  std::vector<long long> after;
  for (const auto& r : requests) {
    ids.push_back(r.endpoint_id);
    caps.push_back(r.capacity);
    leases.push_back(r.lease_ms);
    after.push_back(r.due_after_us);
  }
  return translate_errors([&] {
    Transaction tx(conn, "claim");
    const auto r = tx.exec_prepared(sql::kClaimName, int_array(ids), int_array(caps), int_array(leases), leased_by,
                                    int_array(after));
    // Lost in a crash of the database, the claim leaves the deliveries due again: they may be sent
    // twice, under the same delivery id, which at-least-once delivery allows.
    commit_without_waiting(tx);
    std::vector<Claimed> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      Claimed c;
      c.delivery_id = row[0].as<std::string>();
      c.message_id = row[1].as<std::string>();
      c.endpoint_id = row[2].as<long long>();
      c.attempt = row[3].as<int>();
      c.case_key = text(row[4]);
      c.ack_required = row[5].as<bool>();
      c.message_type = row[6].as<std::string>();
      c.sender_ori = row[7].as<std::string>();
      if (!row[8].is_null()) {
        const pqxx::binarystring b(row[8]);
        c.body = b.str();
      }
      c.recipient_ori = row[9].as<std::string>();
      c.due_at_us = row[10].as<long long>();
      c.request_id = text(row[11]);
      out.push_back(std::move(c));
    }
    return out;
  });
}

namespace {

// One batch of completions inside its transaction, step by step; each step leaves for the next
// what it found.
struct CompletionRound {
  Transaction& tx;
  const std::vector<Completion>& batch;
  const std::string& leased_by;
  std::vector<CompletionResult> out;
  std::set<lanes::Lane> freed;  // lanes whose head finished
  // Endpoints that answered 2xx, and when the first of those exchanges began.
  std::map<long long, std::chrono::system_clock::time_point> succeeded;
  std::map<long long, int> failures;  // endpoint failures, counted towards pausing
  std::map<long long, std::chrono::system_clock::time_point> failed_at;  // the first failed exchange's start
  std::string failure_reason;
  std::map<std::string, std::string> ack_outcome;  // by delivery id
  std::map<std::string, std::string> ack_message_of;  // delivery id -> the stored acknowledgement
  std::vector<std::string> receipt_ids, receipt_senders, receipt_types;
};

// Acknowledgements that came in the answers (case locks are held). One acknowledges the delivery
// when it names the message delivered (by the hub's id, or by the document's id through a look-up
// that must land on this same delivery); anything else must be POSTed. Those that do are stored
// as messages, and their receipts owed to the original senders.
void store_answered_acks(CompletionRound& r) {
  std::vector<const Completion*> acking;
  std::vector<const NewMessage*> ack_messages;
  for (const auto& c : r.batch) {
    if (c.kind != Completion::Kind::delivered || !c.ack) continue;
    bool found = c.ack->ack_ref == c.message_id;
    if (!found) {
      const auto target = find_ack_target(r.tx, c.ack->sender_ori, c.ack->ack_ref);
      found = target.status == AckTargetStatus::found && target.delivery_id == c.delivery_id;
    }
    if (!found) {
      r.ack_outcome[c.delivery_id] = "ignored: it does not acknowledge the message delivered";
      continue;
    }
    acking.push_back(&c);
    ack_messages.push_back(c.ack.get());
  }
  const auto stored = insert_messages(r.tx, ack_messages);
  for (std::size_t i = 0; i < acking.size(); ++i) {
    const Completion& c = *acking[i];
    if (stored[i].status == InsertStatus::inserted) {
      r.ack_message_of[c.delivery_id] = stored[i].message_id;
      r.ack_outcome[c.delivery_id] = "stored";
      r.receipt_ids.push_back(stored[i].message_id);
      r.receipt_senders.push_back(c.sender_ori);
      r.receipt_types.push_back(c.ack->type);
    } else {
      r.ack_outcome[c.delivery_id] =
          stored[i].status == InsertStatus::duplicate ? "duplicate" : "refused: idempotency conflict";
    }
  }
}

// Every delivered one, with its acknowledgement, in a single statement.
void write_delivered(CompletionRound& r) {
  std::vector<std::string> ids;
  std::vector<int> statuses;
  std::vector<long long> took;
  std::vector<std::string> began;
  std::vector<std::optional<std::string>> ack_status, ack_reason, ack_id;
  for (const auto& c : r.batch) {
    if (c.kind != Completion::Kind::delivered) continue;
    ids.push_back(c.delivery_id);
    statuses.push_back(c.http_status.value_or(200));
    began.push_back(rfc3339(c.attempted_at));
    took.push_back(c.took.count());
    if (auto [it, fresh] = r.succeeded.try_emplace(c.endpoint_id, c.attempted_at); !fresh) {
      it->second = std::min(it->second, c.attempted_at);
    }
    const auto it = r.ack_message_of.find(c.delivery_id);
    if (it == r.ack_message_of.end()) {
      ack_status.emplace_back();
      ack_reason.emplace_back();
      ack_id.emplace_back();
    } else {
      ack_status.emplace_back(c.ack->ack_status);
      ack_reason.emplace_back(opt(c.ack->ack_reason));
      ack_id.emplace_back(it->second);
    }
  }
  if (ids.empty()) return;
  std::map<std::string, std::string> written;
  for (const auto& row : r.tx.exec_prepared(sql::kMarkDeliveredManyName, text_array(ids), int_array(statuses),
                                            values::opt_text_array(ack_status), values::opt_text_array(ack_reason),
                                            values::opt_text_array(ack_id), text_array(began),
                                            int_array(took))) {
    written[row[0].as<std::string>()] = row[3].as<std::string>();
    if (!row[2].is_null()) r.freed.insert({row[1].as<long long>(), row[2].as<std::string>()});
  }
  for (const auto& id : ids) {
    const auto w = written.find(id);
    CompletionResult res{id, w == written.end() ? "" : w->second, false, ""};
    if (const auto a = r.ack_outcome.find(id); a != r.ack_outcome.end()) res.ack_outcome = a->second;
    r.out.push_back(std::move(res));
  }
}

// Retries, dead letters and suppressions, one statement each, only under the lease that claimed
// them. A finished delivery frees its lane; a retried one stays the head of its lane.
void write_other_verdicts(CompletionRound& r) {
  for (const auto& c : r.batch) {
    if (c.kind == Completion::Kind::delivered) continue;
    CompletionResult res{c.delivery_id, "", false, ""};
    pqxx::result row;
    switch (c.kind) {
      case Completion::Kind::delivered:
        break;  // written by write_delivered
      case Completion::Kind::retry:
        row = r.tx.exec_prepared(sql::kMarkRetryName, c.delivery_id, c.http_status, c.error,
                                 static_cast<long long>(c.retry_delay.count()), r.leased_by,
                                 rfc3339(c.attempted_at), static_cast<long long>(c.took.count()));
        if (!row.empty()) res.state = row[0][0].as<std::string>();
        break;
      case Completion::Kind::dead:
        row = r.tx.exec_prepared(sql::kMarkDeadName, c.delivery_id, c.http_status, c.error, r.leased_by,
                                 rfc3339(c.attempted_at), static_cast<long long>(c.took.count()));
        if (!row.empty()) res.state = "dead";
        break;
      case Completion::Kind::suppressed:
        row = r.tx.exec_params(sql::kMarkSuppressed, c.delivery_id, r.leased_by);
        if (!row.empty()) res.state = "suppressed";
        break;
    }
    if (c.endpoint_failure) {
      ++r.failures[c.endpoint_id];
      r.failure_reason = c.error;
      if (auto [it, fresh] = r.failed_at.try_emplace(c.endpoint_id, c.attempted_at); !fresh) {
        it->second = std::min(it->second, c.attempted_at);
      }
    }
    if (!row.empty() && res.state != "pending") {
      const auto& case_field = row[0][row[0].size() - 1];
      if (!case_field.is_null()) r.freed.insert({c.endpoint_id, case_field.as<std::string>()});
    }
    r.out.push_back(std::move(res));
  }
}

// The audit trail, in this same transaction: every attempt's outcome.
void audit_outcomes(CompletionRound& r) {
  std::map<std::string, const Completion*> by_id;
  for (const auto& c : r.batch) by_id[c.delivery_id] = &c;
  std::vector<AuditEvent> events;
  events.reserve(r.out.size());
  for (const auto& res : r.out) {
    const Completion* c = by_id.at(res.delivery_id);
    std::string outcome = res.state.empty() ? "lease-lost" : res.state == "pending" ? "retry" : res.state;
    std::string detail = c->http_status ? "HTTP " + std::to_string(*c->http_status) : std::string();
    if (!c->error.empty()) detail += (detail.empty() ? "" : "; ") + c->error.substr(0, 200);
    if (!res.ack_outcome.empty()) detail += (detail.empty() ? "" : "; ") + ("acknowledgement " + res.ack_outcome);
    events.push_back({"hub:" + r.leased_by, c->recipient_ori, "delivery", std::move(outcome),
                      "delivery " + c->delivery_id + " message " + c->message_id,
                      "endpoint " + std::to_string(c->endpoint_id), std::move(detail)});
  }
  insert_audit(r.tx, events);
}

// Endpoints that answered reset their failure count; failures count up and pause an endpoint when
// they reach the threshold (reported on the first result of that endpoint).
void record_endpoint_health(CompletionRound& r, unsigned pause_after_failures) {
  for (const auto& [id, at] : r.succeeded) endpoint_health::succeeded(r.tx, id, at);
  for (const auto& [id, n] : r.failures) {
    for (int i = 0; i < n; ++i) {
      if (!endpoint_health::failed(r.tx, id, pause_after_failures, r.failure_reason, r.failed_at.at(id))) continue;
      for (auto& res : r.out) {
        const auto it = std::find_if(r.batch.begin(), r.batch.end(),
                                     [&](const Completion& c) { return c.delivery_id == res.delivery_id; });
        if (it != r.batch.end() && it->endpoint_id == id) {
          res.endpoint_paused_now = true;
          break;
        }
      }
    }
  }
}

}  // namespace

std::vector<CompletionResult> complete(Connection& conn, const std::vector<Completion>& batch,
                                       const std::string& leased_by, unsigned pause_after_failures) {
  if (batch.empty()) return {};
  return translate_errors([&] {
    Transaction tx(conn, "complete");
    auto out = complete_in(tx, batch, leased_by, pause_after_failures);
    commit_durably(tx);  // acknowledgements in answers are recorded here
    return out;
  });
}

std::vector<CompletionResult> complete_in(Transaction& tx, const std::vector<Completion>& batch,
                                          const std::string& leased_by, unsigned pause_after_failures) {
  {
    // Case locks first, in order, like the writers: never a row lock held while waiting for one.
    std::vector<std::string> cases;
    for (const auto& c : batch) cases.push_back(c.case_key);
    lanes::lock_cases(tx, cases);
    CompletionRound round{tx, batch, leased_by, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    round.out.reserve(batch.size());
    store_answered_acks(round);
    write_delivered(round);
    write_other_verdicts(round);
    const auto receipts = route_receipts(tx, round.receipt_ids, round.receipt_senders, round.receipt_types);
    audit_outcomes(round);
    lanes::promote_all(tx, round.freed);  // case locks are held
    record_endpoint_health(round, pause_after_failures);
    if (receipts > 0 || !round.freed.empty()) lanes::notify(tx);
    return std::move(round.out);
  }
}

std::size_t release_expired_leases(Connection& conn) {
  return translate_errors([&] {
    Transaction tx(conn, "release_expired");
    const auto n = tx.exec(sql::kReleaseExpiredLeases).size();
    if (n > 0) lanes::notify(tx);
    tx.commit();
    return n;
  });
}

std::size_t release_leases_of(Connection& conn, const std::string& leased_by) {
  return translate_errors([&] {
    Transaction tx(conn, "release_mine");
    const auto n = tx.exec_params(sql::kReleaseLeasesOf, leased_by).size();
    if (n > 0) lanes::notify(tx);
    tx.commit();
    return n;
  });
}

std::vector<std::pair<std::string, DeliveryStatus>> recipients_of(pqxx::transaction_base& tx,
                                                                   const std::vector<std::string>& message_ids) {
  std::vector<std::pair<std::string, DeliveryStatus>> out;
  if (message_ids.empty()) return out;
  const auto ids = text_array(message_ids);
  for (const auto& r : tx.exec_prepared(sql::kDeliveriesOfMessageName, ids)) {
    DeliveryStatus d;
    d.delivery_id = r[0].as<std::string>();
    d.recipient_ori = r[1].as<std::string>();
    d.endpoint = r[2].as<std::string>();
    d.state = r[3].as<std::string>();
    d.attempts = r[4].as<int>();
    d.last_status = opt_int(r[5]);
    d.last_error = text(r[6]);
    d.delivered_at = text(r[7]);
    d.acknowledged_at = text(r[8]);
    d.ack_status = text(r[9]);
    d.ack_reason = text(r[10]);
    d.ack_required = r[11].as<bool>();
    d.next_attempt_at = text(r[12]);
    out.emplace_back(r[13].as<std::string>(), std::move(d));
  }
  for (const auto& r : tx.exec_prepared(sql::kLogRecipientsOfMessageName, ids)) {
    DeliveryStatus d;
    d.delivery_id = log_delivery_id(r[0].as<long long>(), r[1].as<long long>());
    d.recipient_ori = r[2].as<std::string>();
    d.endpoint = r[3].as<std::string>();
    const bool done = r[4].as<bool>();
    d.state = done ? "delivered" : "pending";
    d.attempts = done ? 1 : 0;
    if (done) d.delivered_at = text(r[5]);
    out.emplace_back(r[6].as<std::string>(), std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.recipient_ori, a.second.endpoint) <
           std::tie(b.first, b.second.recipient_ori, b.second.endpoint);
  });
  return out;
}


std::map<std::string, std::vector<AttemptRecord>> attempts_of(pqxx::transaction_base& tx,
                                                              const std::string& message_id) {
  std::map<std::string, std::vector<AttemptRecord>> out;
  for (const auto& r : tx.exec_params(sql::kRowAttempts, message_id)) {
    out[r[0].as<std::string>()].push_back({text(r[1]), opt_int(r[2]), r[3].is_null() ? 0 : r[3].as<int>(), text(r[4])});
  }
  for (const auto& r : tx.exec_params(sql::kLogAttempts, message_id)) {
    out[log_delivery_id(r[0].as<long long>(), r[1].as<long long>())].push_back(
        {text(r[2]), opt_int(r[3]), r[4].is_null() ? 0 : r[4].as<int>(), ""});
  }
  // An entry answered on the log and then sent again as a row (a redelivered duplicate) has both:
  // one timeline in time order (the times are RFC 3339 UTC of one width, so text order is time order).
  for (auto& [id, list] : out) {
    std::stable_sort(list.begin(), list.end(), [](const AttemptRecord& a, const AttemptRecord& b) { return a.at < b.at; });
  }
  return out;
}

std::vector<DeliveryStatus> deliveries_of(Connection& conn, const Uuid& message_id) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<DeliveryStatus> out;
    for (auto& entry : recipients_of(tx, {message_id.str()})) out.push_back(std::move(entry.second));
    auto attempts = attempts_of(tx, message_id.str());
    for (auto& d : out) {
      if (auto it = attempts.find(d.delivery_id); it != attempts.end()) d.history = std::move(it->second);
    }
    return out;
  });
}

}  // namespace cjhub::store
