#include "cjhub/store/certification_repo.hpp"

#include <pqxx/binarystring>
#include <pqxx/pqxx>

#include <algorithm>
#include <set>

#include "cjhub/common/ids.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "store/connection_impl.hpp"
#include "store/lanes.hpp"
#include "store/translate.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

#define CJHUB_EPOCH_US(X) "(extract(epoch FROM " X ") * 1e6)::bigint"

constexpr const char* kAgency =
    "SELECT ori, name, sandbox, active, extract(epoch FROM certificate_not_after)::bigint FROM agencies WHERE ori = $1";
// The audit trail's submission records (by its time index, then the agency).
constexpr const char* kSubmissions =
    "SELECT id, " CJHUB_EPOCH_US("at") ", outcome, coalesce(object, ''), coalesce(detail, '') FROM audit_log "
    "WHERE at >= to_timestamp($2::bigint / 1e6) AND ori = $1 AND action = 'submission' ORDER BY id DESC LIMIT $3";
constexpr const char* kMessages =
    "SELECT id::text, message_type, coalesce(document_id, ''), coalesce(case_key, ''), " CJHUB_EPOCH_US("received_at")
    ", body FROM messages WHERE received_at >= to_timestamp($2::bigint / 1e6) AND sender_ori = $1 "
    "ORDER BY received_at DESC LIMIT $3";
// Answered on the log (log_answers, by time and endpoint) or a row of its own.
constexpr const char* kReceived =
    "WITH e AS (SELECT id FROM endpoints WHERE ori = $1), "
    "s AS (SELECT DISTINCT u.seq FROM log_answers a CROSS JOIN LATERAL unnest(a.seqs) AS u(seq) "
    "  WHERE a.recorded_at >= to_timestamp($2::bigint / 1e6) AND a.endpoint_id IN (SELECT id FROM e)), "
    "r AS (SELECT DISTINCT d.message_id FROM deliveries d WHERE d.recipient_ori = $1 "
    "  AND d.created_at >= to_timestamp($2::bigint / 1e6)) "
    "SELECT m.id::text, m.message_type, coalesce(m.case_key, ''), m.seq FROM messages m "
    "WHERE (m.recipients IS NOT NULL AND m.seq IN (SELECT seq FROM s)) OR m.id IN (SELECT message_id FROM r) "
    "ORDER BY m.seq DESC LIMIT $3";
constexpr const char* kObligations =
    "SELECT d.message_id::text, d.erasure_id::text, d.id::text, d.state, coalesce(d.ack_status, ''), "
    CJHUB_EPOCH_US("d.created_at") ", coalesce(" CJHUB_EPOCH_US("d.acknowledged_at") ", 0) FROM deliveries d "
    "WHERE d.recipient_ori = $1 AND d.erasure_id IS NOT NULL AND d.created_at >= to_timestamp($2::bigint / 1e6) "
    "ORDER BY d.created_at DESC LIMIT $3";
// The entry the agency's endpoints most recently answered 2xx on the log, still stored and without
// a row, becomes a pending row with the log's delivery id: its next attempt is a duplicate.
constexpr const char* kRedeliver =
    "WITH c AS (SELECT m.id, m.seq, m.case_key, e.id AS endpoint_id, e.name, "
    "  coalesce(m.routes[array_position(m.recipients, e.id)], "
    "    (SELECT min(s.id) FROM subscriptions s WHERE s.endpoint_id = e.id)) AS subscription_id "
    "  FROM endpoints e JOIN log_answers a ON a.endpoint_id = e.id "
    "  CROSS JOIN LATERAL unnest(a.seqs, a.statuses) AS u(seq, status) "
    "  JOIN messages m ON m.seq = u.seq AND m.recipients IS NOT NULL "
    "  WHERE e.ori = $1 AND e.active AND u.status BETWEEN 200 AND 299 AND m.body IS NOT NULL AND m.seq > $2 "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = e.id) "
    "  ORDER BY m.seq DESC LIMIT 1) "
    "INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, "
    "  ack_required, attempts, next_attempt_at, expires_at, last_error) "
    "SELECT cjhub_log_delivery_id(c.endpoint_id, c.seq), c.id, c.subscription_id, c.endpoint_id, $1, c.case_key, "
    "  c.seq, 'pending', false, 1, now(), now() + interval '1 hour', 'redelivered by the certification kit' FROM c "
    "RETURNING id::text, message_id::text, endpoint_id, case_key, (SELECT name FROM c)";
// A delivery that left the log's normal path (it was retried, say) and was answered 2xx at last:
// the latest such row, locked. Rows owing an acknowledgement are left alone.
constexpr const char* kLatestDeliveredRow =
    "SELECT d.id, d.seq FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id "
    "JOIN messages m ON m.id = d.message_id "
    "WHERE d.recipient_ori = $1 AND e.active AND d.state = 'delivered' AND NOT d.ack_required "
    "AND d.last_status BETWEEN 200 AND 299 AND m.body IS NOT NULL "
    "ORDER BY d.seq DESC LIMIT 1 FOR UPDATE OF d";
constexpr const char* kRedeliverRow =
    "UPDATE deliveries d SET state = 'pending', next_attempt_at = now(), expires_at = now() + interval '1 hour', "
    "  last_error = 'redelivered by the certification kit' FROM endpoints e "
    "WHERE d.id = $1 AND e.id = d.endpoint_id "
    "RETURNING d.id::text, d.message_id::text, d.endpoint_id, d.case_key, e.name";

}  // namespace
}  // namespace sql

namespace {
std::int64_t i64(const pqxx::field& f) { return f.is_null() ? 0 : f.as<std::int64_t>(); }
}  // namespace

std::optional<CertifiedAgency> certified_agency(Connection& conn, const std::string& ori) {
  return translate_errors([&]() -> std::optional<CertifiedAgency> {
    pqxx::read_transaction tx(conn);
    const auto r = tx.exec_params(sql::kAgency, ori);
    if (r.empty()) return std::nullopt;
    CertifiedAgency a{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<bool>(), r[0][3].as<bool>(), {}};
    if (!r[0][4].is_null()) a.certificate_not_after = r[0][4].as<std::int64_t>();
    return a;
  });
}

std::vector<SubmissionRecord> submissions_of(Connection& conn, const std::string& ori, std::int64_t since_us,
                                             std::size_t limit) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<SubmissionRecord> out;
    for (const auto& r : tx.exec_params(sql::kSubmissions, ori, since_us, static_cast<long long>(limit))) {
      out.push_back({r[0].as<long long>(), i64(r[1]), r[2].as<std::string>(), r[3].as<std::string>(),
                     r[4].as<std::string>()});
    }
    std::reverse(out.begin(), out.end());
    return out;
  });
}

std::vector<SentMessage> messages_from(Connection& conn, const std::string& ori, std::int64_t since_us,
                                       std::size_t limit) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<SentMessage> out;
    for (const auto& r : tx.exec_params(sql::kMessages, ori, since_us, static_cast<long long>(limit))) {
      SentMessage m{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                    i64(r[4]), std::nullopt};
      if (!r[5].is_null()) {
        const pqxx::binarystring body(r[5]);
        m.body = body.str();
      }
      out.push_back(std::move(m));
    }
    std::reverse(out.begin(), out.end());
    return out;
  });
}

std::vector<ReceivedMessage> deliveries_to(Connection& conn, const std::string& ori, std::int64_t since_us,
                                           std::size_t limit) {
  std::vector<ReceivedMessage> out;
  translate_errors([&] {
    pqxx::read_transaction tx(conn);
    for (const auto& r : tx.exec_params(sql::kReceived, ori, since_us, static_cast<long long>(limit))) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<long long>(), {}});
    }
  });
  std::reverse(out.begin(), out.end());
  // Each message's state for this agency, with its attempts, as its status page shows them.
  std::vector<ReceivedMessage> kept;
  for (auto& m : out) {
    const auto id = Uuid::parse(m.message_id);
    if (!id) continue;
    for (auto& d : deliveries_of(conn, *id)) {
      if (d.recipient_ori != ori) continue;
      m.delivery = std::move(d);
      kept.push_back(std::move(m));
      break;
    }
  }
  return kept;
}

std::vector<ErasureObligation> erasure_obligations(Connection& conn, const std::string& ori, std::int64_t since_us,
                                                   std::size_t limit) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ErasureObligation> out;
    for (const auto& r : tx.exec_params(sql::kObligations, ori, since_us, static_cast<long long>(limit))) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                     r[4].as<std::string>(), i64(r[5]), i64(r[6])});
    }
    std::reverse(out.begin(), out.end());
    return out;
  });
}

std::optional<Redelivery> redeliver_latest(Connection& conn, const std::string& ori, const std::string& actor) {
  return translate_errors([&]() -> std::optional<Redelivery> {
    Transaction tx(conn, "redeliver");
    // The latest of the two: an entry of the log, or a row (which then becomes pending again).
    const auto row = tx.exec_params(sql::kLatestDeliveredRow, ori);
    auto r = tx.exec_params(sql::kRedeliver, ori, row.empty() ? 0LL : row[0][1].as<long long>());
    if (r.empty() && !row.empty()) r = tx.exec_params(sql::kRedeliverRow, row[0][0].as<std::string>());
    if (r.empty()) return std::nullopt;
    Redelivery d{r[0][1].as<std::string>(), r[0][0].as<std::string>(), r[0][4].as<std::string>()};
    if (!r[0][3].is_null()) lanes::lock_and_promote(tx, {{r[0][2].as<long long>(), r[0][3].as<std::string>()}});
    insert_audit(tx, {{actor, ori, "admin", "redelivered", "message " + d.message_id + " delivery " + d.delivery_id,
                       d.endpoint, "certification kit: a duplicate of a delivered message"}});
    lanes::notify(tx);
    tx.commit();
    return d;
  });
}

}  // namespace cjhub::store
