#include "cjhub/store/messages_repo.hpp"

#include <pqxx/binarystring>
#include <pqxx/pqxx>

#include "cjhub/store/database.hpp"
#include "store/sql.hpp"

namespace cjhub::store {

namespace {
// NULL for empty optional text keys.
std::optional<std::string> opt(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}
}  // namespace

std::vector<InsertResult> insert_messages(pqxx::work& tx, const std::vector<const NewMessage*>& batch) {
  std::vector<InsertResult> out;
  out.reserve(batch.size());
  for (const NewMessage* m : batch) {
    const pqxx::binarystring body(m->body.data(), m->body.size());
    const pqxx::binarystring hash(m->body_sha256.data(), m->body_sha256.size());
    const auto received = rfc3339(m->received_at);
    const auto r = tx.exec_prepared(sql::kInsertMessageName, m->id.str(), m->type, m->sender_ori,
                                    m->idempotency_key, opt(m->document_id), opt(m->case_key),
                                    opt(m->origin_ori), opt(m->jurisdiction), m->erasure, body, hash,
                                    static_cast<long long>(m->body.size()), received);
    if (r.affected_rows() == 1) {
      out.push_back({InsertStatus::inserted, m->id.str(), m->type, received});
      continue;
    }
    const auto row =
        tx.exec_prepared1(sql::kFindByIdempotencyName, m->sender_ori, m->idempotency_key);
    const pqxx::binarystring stored_hash(row[2]);
    const bool same = stored_hash.size() == m->body_sha256.size() &&
                      std::equal(m->body_sha256.begin(), m->body_sha256.end(),
                                 reinterpret_cast<const std::uint8_t*>(stored_hash.data()));
    out.push_back({same ? InsertStatus::duplicate : InsertStatus::conflict,
                   row[0].as<std::string>(), row[1].as<std::string>(), row[3].as<std::string>()});
  }
  return out;
}

std::optional<MessageRecord> find_message(pqxx::connection& conn, const Uuid& id) {
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

}  // namespace cjhub::store
