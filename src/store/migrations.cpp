#include "cjhub/store/migrations.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <pqxx/pqxx>
#include <set>

#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"
#include "store/migrations_data.hpp"

namespace cjhub::store {

namespace sql {
namespace {

constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS cjhub_schema_migrations ("
    "  name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
// Tables of the hub's schema that hold data but have never been analyzed (a restored or
// bulk-loaded database), among those this role may analyze. Until autovacuum's first pass the
// planner would plan for empty tables (claims measured 26 ms instead of 1.5 ms).
constexpr const char* kUnanalyzedTables =
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.reltuples < 0 "
    "AND pg_relation_size(c.oid) > 0 AND pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname";
constexpr const char* kMigrationLock =
    "SELECT pg_advisory_xact_lock(hashtext('cjhub-migrate'))";
constexpr const char* kAppliedMigrations = "SELECT name FROM cjhub_schema_migrations";
constexpr const char* kRecordMigration =
    "INSERT INTO cjhub_schema_migrations (name) VALUES ($1)";
constexpr const char* kMigrationsTableExists =
    "SELECT to_regclass('cjhub_schema_migrations') IS NOT NULL";

}  // namespace
}  // namespace sql

namespace {
std::set<std::string> applied(pqxx::transaction_base& tx) {
  std::set<std::string> names;
  for (const auto& row : tx.exec(sql::kAppliedMigrations)) names.insert(row[0].as<std::string>());
  return names;
}
}  // namespace

std::vector<std::string> migrate(Connection& conn) {
  // Up to date: touch nothing, so a hub whose role may not create tables still starts.
  if (pending_migrations(conn).empty()) return std::vector<std::string>{};
  return translate_errors([&] {
    Transaction tx(conn, "migrate");
    tx.exec(sql::kMigrationLock);
    tx.exec0(sql::kMigrationsTable);
    const auto done = applied(tx);
    std::vector<std::string> now;
    for (const auto& m : embedded_migrations()) {
      if (done.count(m.name)) continue;
      log::get("store")->info("applying migration {}", m.name);
      tx.exec0(m.sql);
      tx.exec_params0(sql::kRecordMigration, m.name);
      now.push_back(m.name);
    }
    tx.commit();
    return now;
  });
}

std::vector<std::string> pending_migrations(Connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::set<std::string> done;
    if (tx.exec1(sql::kMigrationsTableExists)[0].as<bool>()) done = applied(tx);
    std::vector<std::string> out;
    for (const auto& m : embedded_migrations()) {
      if (!done.count(m.name)) out.push_back(m.name);
    }
    return out;
  });
}

std::vector<std::string> analyze_unanalyzed(Connection& conn) {
  return translate_errors([&] {
    pqxx::nontransaction tx(conn, "analyze");
    std::vector<std::string> tables;
    for (const auto& row : tx.exec(sql::kUnanalyzedTables)) tables.push_back(row[0].as<std::string>());
    for (const auto& t : tables) {
      log::get("store")->info("analyzing table {}: it holds data but has no planner statistics yet", t);
      tx.exec0("ANALYZE " + tx.quote_name(t));
    }
    return tables;
  });
}

}  // namespace cjhub::store
