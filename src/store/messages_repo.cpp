#include "cjhub/store/messages_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <set>

#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/erasures_repo.hpp"
#include "store/lanes.hpp"
#include "store/prepared.hpp"
#include "store/routing_repo.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// Messages in one statement (one or many), stored (and numbered) in the order given; bodies and
// hashes as binary bytea[] parameters. Returns the ids inserted (the others were duplicates or conflicts).
constexpr const char* kInsertMessagesName = "insert_messages";
constexpr const char* kInsertMessages =
    "INSERT INTO messages (id, message_type, sender_ori, idempotency_key, document_id, case_key, "
    "origin_ori, jurisdiction, erasure, body, body_sha256, body_size, received_at, recipients, routes, request_id) "
    "SELECT u.id, u.message_type, u.sender_ori, u.idempotency_key, u.document_id, u.case_key, u.origin_ori, "
    "u.jurisdiction, u.erasure, u.body, u.body_sha256, u.body_size, u.received_at, u.recipients::bigint[], "
    "u.routes::bigint[], u.request_id "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::boolean[], $10::bytea[], $11::bytea[], $12::integer[], $13::timestamptz[], $14::text[], $15::text[], "
    "$16::text[]) "
    "WITH ORDINALITY AS u(id, message_type, sender_ori, idempotency_key, document_id, case_key, origin_ori, "
    "jurisdiction, erasure, body, body_sha256, body_size, received_at, recipients, routes, request_id, n) "
    "ORDER BY u.n "
    "ON CONFLICT ON CONSTRAINT messages_idempotency DO NOTHING RETURNING id::text";
constexpr const char* kFindByIdempotencyName = "find_by_idempotency";
constexpr const char* kFindByIdempotency =
    "SELECT id::text, message_type, body_sha256, "
    "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    "FROM messages WHERE sender_ori = $1 AND idempotency_key = $2";
constexpr const char* kSelectMessageName = "select_message";
constexpr const char* kSelectMessage =
    "SELECT id::text, message_type, sender_ori, idempotency_key, document_id, case_key, "
    "origin_ori, jurisdiction, erasure, body_size, encode(body_sha256, 'hex'), "
    "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "body IS NULL "
    "FROM messages WHERE id = $1::uuid";
// The document itself (NULL once redacted or past retention).
constexpr const char* kSelectDocument = "SELECT body FROM messages WHERE id = $1::uuid";
// A message about a case already erased as a whole, accepted under `later_messages: accept`: kept
// as a record (id, type, sender, times, SHA-256) without its content, and routed nowhere.
constexpr const char* kRedactOnArrival =
    "UPDATE messages SET body = NULL, redacted_at = now() WHERE id = $1::uuid";

}  // namespace
}  // namespace sql

// This stage's prepared statements, declared on every new connection (see database.cpp).
void prepare_messages_statements(Connection& conn) {
  conn.prepare(sql::kInsertMessagesName, sql::kInsertMessages);
  conn.prepare(sql::kFindByIdempotencyName, sql::kFindByIdempotency);
  conn.prepare(sql::kSelectMessageName, sql::kSelectMessage);
}

using values::opt;

// The messages with where each goes on the log (`routes`, in the batch's order; none when empty).
std::vector<InsertResult> insert_routed_messages(Transaction& tx, const std::vector<const NewMessage*>& batch,
                                                 const std::vector<LogRoute>& routes);

// The earlier message with the same sender and idempotency key, if any (duplicate or conflict).
std::optional<InsertResult> find_by_idempotency(Transaction& tx, const NewMessage& m) {
  const auto r = tx.exec_prepared(sql::kFindByIdempotencyName, m.sender_ori, m.idempotency_key);
  if (r.empty()) return std::nullopt;
  const pqxx::binarystring stored_hash(r[0][2]);
  const bool same = stored_hash.size() == m.body_sha256.size() &&
                    std::equal(m.body_sha256.begin(), m.body_sha256.end(),
                               reinterpret_cast<const std::uint8_t*>(stored_hash.data()));
  return InsertResult{same ? InsertStatus::duplicate : InsertStatus::conflict, r[0][0].as<std::string>(),
                      r[0][1].as<std::string>(), r[0][3].as<std::string>()};
}

std::vector<InsertResult> insert_messages(Transaction& tx, const std::vector<const NewMessage*>& batch) {
  return insert_routed_messages(tx, batch, {});
}

std::vector<InsertResult> insert_routed_messages(Transaction& tx, const std::vector<const NewMessage*>& batch,
                                                 const std::vector<LogRoute>& routes) {
  if (batch.empty()) return {};
  std::vector<std::string> ids, types, senders, keys, received;
  std::vector<std::string_view> bodies, hashes;
  std::vector<std::optional<std::string>> documents, cases, origins, jurisdictions, request_ids;
  std::vector<bool> erasures;
  std::vector<long long> sizes;
  for (const NewMessage* m : batch) {
    ids.push_back(m->id.str());
    types.push_back(m->type);
    senders.push_back(m->sender_ori);
    keys.push_back(m->idempotency_key);
    documents.push_back(opt(m->document_id));
    cases.push_back(opt(m->case_key));
    origins.push_back(opt(m->origin_ori));
    jurisdictions.push_back(opt(m->jurisdiction));
    erasures.push_back(m->erasure);
    bodies.emplace_back(m->body.data(), m->body.size());
    hashes.emplace_back(reinterpret_cast<const char*>(m->body_sha256.data()), m->body_sha256.size());
    sizes.push_back(static_cast<long long>(m->body.size()));
    received.push_back(rfc3339(m->received_at));
    request_ids.push_back(opt(m->request_id));
  }
  std::vector<std::optional<std::string>> recipients(batch.size()), chosen_by(batch.size());
  for (std::size_t i = 0; i < routes.size() && i < batch.size(); ++i) {
    recipients[i] = opt(routes[i].recipients);
    chosen_by[i] = opt(routes[i].routes);
  }
  using values::opt_text_array;
  using values::text_array;
  std::set<std::string> inserted;
  for (const auto& r : tx.exec_prepared(sql::kInsertMessagesName, text_array(ids), text_array(types),
                                        text_array(senders), text_array(keys), opt_text_array(documents),
                                        opt_text_array(cases), opt_text_array(origins),
                                        opt_text_array(jurisdictions), values::bool_array(erasures),
                                        values::bytea_array(bodies), values::bytea_array(hashes), values::int_array(sizes),
                                        text_array(received), opt_text_array(recipients),
                                        opt_text_array(chosen_by), opt_text_array(request_ids))) {
    inserted.insert(r[0].as<std::string>());
  }
  std::vector<InsertResult> out;
  out.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (inserted.count(ids[i])) {
      out.push_back({InsertStatus::inserted, ids[i], batch[i]->type, received[i]});
    } else {
      out.push_back(*find_by_idempotency(tx, *batch[i]));
    }
  }
  return out;
}

GroupResult store_group(Connection& conn, const std::vector<const NewMessage*>& batch,
                        const ErasurePolicy& erasure) {
  return translate_errors([&] {
    Transaction tx(conn, "ingest_group");
    auto r = ingest_group(tx, batch, erasure);
    commit_durably(tx);
    return r;
  });
}

GroupResult ingest_group(Transaction& tx, const std::vector<const NewMessage*>& batch,
                         const ErasurePolicy& erasure) {
  // Every case lock the group needs, taken first and in order: the messages' own cases and the
  // cases of the deliveries their acknowledgements settle.
  std::vector<std::string> cases;
  for (const NewMessage* m : batch) {
    if (!m->case_key.empty()) cases.push_back(m->case_key);
    if (!m->ack_ref.empty()) cases.push_back(ack_target_case(tx, m->sender_ori, m->ack_ref));
  }
  lanes::lock_cases(tx, cases);
  // Under the case locks: which of the group's cases are erased already (one query). Every later
  // message about such a case is checked: plain ones and charge-level erasures alike (a charge
  // update must not bring back what the whole-case erasure removed).
  std::set<std::string> erased;
  {
    std::vector<std::string> keyed;
    for (const NewMessage* m : batch) {
      if (!m->case_key.empty() && !m->erasure && m->ack_ref.empty()) keyed.push_back(m->case_key);
    }
    erased = erased_among(tx, keyed);
  }

  GroupResult g;
  g.results.resize(batch.size());
  std::vector<AuditEvent> audit;  // erasures, as they are recorded
  std::set<std::string> erased_in_group;
  // Plain messages (neither acknowledgements nor erasures) are stored and routed a run at a time,
  // two statements for the run; the run is flushed before anything that depends on it.
  std::vector<std::size_t> run;
  const auto flush = [&] {
    if (run.empty()) return;
    std::vector<const NewMessage*> msgs;
    for (std::size_t i : run) msgs.push_back(batch[i]);
    const auto on_log = log_routes(tx, msgs);  // before the insert: written with the messages
    auto stored = insert_routed_messages(tx, msgs, on_log);
    std::vector<RouteInput> routes;
    for (std::size_t k = 0; k < run.size(); ++k) {
      const NewMessage* m = msgs[k];
      if (stored[k].status == InsertStatus::inserted) {
        g.deliveries += on_log[k].count;
        if (on_log[k].owed > 0) {  // else on the log only: no rows to route
          routes.push_back({stored[k].message_id, m->type, m->sender_ori, m->origin_ori, m->case_key,
                            m->jurisdiction, m->type_ack_required});
        }
      }
      g.results[run[k]] = std::move(stored[k]);
    }
    g.deliveries += route_messages(tx, routes);
    run.clear();
  };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const NewMessage* m = batch[i];
    const bool erases = !m->case_key.empty() && (m->erasure || m->erasure_charges);
    // A later message of a case erased as a whole (also earlier in this same group), plain or a
    // charge-level erasure, never reaches anyone: `reject` refuses it (409), `accept` keeps a
    // record of it without its content and routes it nowhere. A retry of a message accepted
    // before the erasure still gets its first result. Whole-case erasures and acknowledgements
    // are never stopped (the court may erase again; a recipient must be able to confirm).
    const auto refused_as_erased = [&] {
      if (m->case_key.empty() || m->erasure || !m->ack_ref.empty()) return false;
      if (!erased.count(m->case_key) && !erased_in_group.count(m->case_key)) return false;
      if (auto earlier = find_by_idempotency(tx, *m)) {
        g.results[i] = std::move(*earlier);
      } else if (erasure.reject_later_messages) {
        g.results[i] = {InsertStatus::case_erased, "", m->type, ""};
      } else {
        flush();
        auto r = std::move(insert_messages(tx, {m}).front());
        if (r.status == InsertStatus::inserted) tx.exec_params0(sql::kRedactOnArrival, r.message_id);
        g.results[i] = std::move(r);
      }
      return true;
    };
    if (m->acknowledgement && m->ack_ref.empty()) {  // admission refuses these; never route one
      g.results[i] = {InsertStatus::ack_unknown_reference, "", m->type, ""};
      continue;
    }
    if (m->ack_ref.empty() && !erases) {
      if (!refused_as_erased()) run.push_back(i);
      continue;
    }
    flush();
    if (erases && refused_as_erased()) continue;
    AckTarget target;
    if (!m->ack_ref.empty()) {
      target = find_ack_target(tx, m->sender_ori, m->ack_ref);
      if (target.status != AckTargetStatus::found) {
        g.results[i] = {target.status == AckTargetStatus::not_addressed ? InsertStatus::ack_not_addressed
                                                                        : InsertStatus::ack_unknown_reference,
                        "", m->type, ""};
        continue;
      }
      if (refused_as_erased()) continue;
    }
    auto r = std::move(insert_messages(tx, {m}).front());
    if (r.status == InsertStatus::inserted) {
      if (erases) {
        if (m->erasure) erased_in_group.insert(m->case_key);
        const auto e = record_erasure(tx, {r.message_id, m->type, m->sender_ori, m->origin_ori, m->case_key,
                                           m->jurisdiction, r.received_at, m->erasure},
                                      erasure);
        g.deliveries += e.recipients;
        audit.push_back({m->actor, m->sender_ori, "erasure", m->erasure ? "recorded:case" : "recorded:charges",
                         "erasure " + r.message_id, m->source,
                         std::to_string(e.redacted) + " payload(s) removed, " + std::to_string(e.suppressed) +
                             " delivery(ies) suppressed, " + std::to_string(e.recipients) +
                             " recipient(s) owe a confirmation"});
      } else {
        apply_ack(tx, target, m->ack_status, m->ack_reason, r.message_id);
        g.deliveries += route_receipts(tx, {r.message_id}, {target.original_sender}, {m->type});
      }
    }
    g.results[i] = std::move(r);
  }
  flush();
  // The audit trail, in this same transaction: every submission's outcome.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const NewMessage* m = batch[i];
    const auto& r = g.results[i];
    const char* outcome = "accepted";
    switch (r.status) {
      case InsertStatus::inserted: outcome = "accepted"; break;
      case InsertStatus::duplicate: outcome = "duplicate"; break;
      case InsertStatus::conflict: outcome = "refused:idempotency-conflict"; break;
      case InsertStatus::ack_unknown_reference: outcome = "refused:unknown-reference"; break;
      case InsertStatus::ack_not_addressed: outcome = "refused:ack-not-addressed"; break;
      case InsertStatus::case_erased: outcome = "refused:case-erased"; break;
    }
    audit.push_back({m->actor.empty() ? m->sender_ori : m->actor, m->sender_ori, "submission", outcome,
                     r.message_id.empty() ? "" : "message " + r.message_id, m->source, m->type});
  }
  insert_audit(tx, audit);
  if (g.deliveries > 0) lanes::notify(tx);  // after the commit
  return g;
}

std::optional<MessageRecord> find_message(Connection& conn, const Uuid& id) {
  return translate_errors([&]() -> std::optional<MessageRecord> {
    pqxx::read_transaction tx(conn);
    const auto r = tx.exec_prepared(sql::kSelectMessageName, id.str());
    if (r.empty()) return std::nullopt;
    const auto& row = r[0];
    MessageRecord m;
    m.id = row[0].as<std::string>();
    m.type = row[1].as<std::string>();
    m.sender_ori = row[2].as<std::string>();
    m.idempotency_key = row[3].as<std::string>();
    m.document_id = row[4].is_null() ? "" : row[4].as<std::string>();
    m.case_key = row[5].is_null() ? "" : row[5].as<std::string>();
    m.origin_ori = row[6].is_null() ? "" : row[6].as<std::string>();
    m.jurisdiction = row[7].is_null() ? "" : row[7].as<std::string>();
    m.erasure = row[8].as<bool>();
    m.body_size = row[9].as<long long>();
    m.body_sha256_hex = row[10].as<std::string>();
    m.received_at = row[11].as<std::string>();
    m.stored_at = row[12].as<std::string>();
    m.payload_removed = row[13].as<bool>();
    return m;
  });
}

std::optional<StoredDocument> message_document(Connection& conn, const Uuid& id) {
  return translate_errors([&]() -> std::optional<StoredDocument> {
    pqxx::read_transaction tx(conn);
    const auto r = tx.exec_params(sql::kSelectDocument, id.str());
    if (r.empty()) return std::nullopt;
    if (r[0][0].is_null()) return StoredDocument{true, {}};
    const pqxx::binarystring bytes(r[0][0]);
    return StoredDocument{false, bytes.str()};
  });
}

}  // namespace cjhub::store
