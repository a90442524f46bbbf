#include "cjhub/store/retention_repo.hpp"

#include <pqxx/pqxx>

#include "cjhub/store/database.hpp"
#include "store/sql.hpp"

namespace cjhub::store {

namespace {
constexpr const char* kDeliveriesCursor = "deliveries";
constexpr const char* kStart = "00000000-0000-0000-0000-000000000000";
}  // namespace

std::size_t purge_payloads(pqxx::connection& conn, const std::string& cutoff, long long batch) {
  return translate_errors([&] {
    pqxx::work tx(conn, "retention_payloads");
    const auto n = tx.exec_params(sql::kPurgePayloads, cutoff, batch).size();
    tx.commit();
    return n;
  });
}

PruneResult prune_deliveries(pqxx::connection& conn, const std::string& cutoff, long long batch) {
  return translate_errors([&] {
    pqxx::work tx(conn, "retention_deliveries");
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

bool try_retention_lock(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql::kRetentionLock)[0].as<bool>();
  });
}

void retention_unlock(pqxx::connection& conn) {
  translate_errors([&] {
    pqxx::nontransaction tx(conn);
    tx.exec(sql::kRetentionUnlock);
  });
}

}  // namespace cjhub::store
