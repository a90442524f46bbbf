#include "cjhub/store/erasures_repo.hpp"

#include <pqxx/pqxx>

#include "cjhub/store/database.hpp"
#include "store/sql.hpp"
#include "store/values.hpp"

namespace cjhub::store {

using values::opt;
using values::text;

std::set<std::string> erased_among(pqxx::work& tx, const std::vector<std::string>& case_keys) {
  std::set<std::string> out;
  if (case_keys.empty()) return out;
  for (const auto& r : tx.exec_params(sql::kErasedAmong, values::text_array(case_keys))) {
    out.insert(r[0].as<std::string>());
  }
  return out;
}

ErasureResult record_erasure(pqxx::work& tx, const ErasureInput& in, const ErasurePolicy& policy) {
  ErasureResult r;
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
  if (r.suppressed > 0) tx.exec_prepared0(sql::kPromoteCaseLanesName, in.case_key);
  return r;
}

std::vector<ErasureSummary> list_erasures(pqxx::connection& conn, const ErasureFilter& f) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ErasureSummary> out;
    for (const auto& r : tx.exec_params(sql::kErasureSummary, f.agency, f.since, f.until, f.requested_by, f.id,
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
      out.push_back(std::move(s));
    }
    return out;
  });
}

std::vector<ErasureRecipient> erasure_recipients(pqxx::connection& conn, const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  std::string arr = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) arr += (i ? "," : "") + ids[i];
  arr += "}";
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ErasureRecipient> out;
    for (const auto& r : tx.exec_params(sql::kErasureRecipients, arr)) {
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

}  // namespace cjhub::store
