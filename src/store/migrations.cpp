#include "cjhub/store/migrations.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <pqxx/pqxx>
#include <map>
#include <optional>
#include <set>

#include "cjhub/common/crypto.hpp"
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
// Databases migrated before checksums were kept get the column (and the checksums of what they
// applied, taken from this binary once it has checked nothing is unknown) at the next migrate.
constexpr const char* kChecksumColumn =
    "ALTER TABLE cjhub_schema_migrations ADD COLUMN IF NOT EXISTS checksum text";
constexpr const char* kHasChecksumColumn =
    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'cjhub_schema_migrations'::regclass "
    "AND attname = 'checksum' AND NOT attisdropped)";
constexpr const char* kAppliedMigrations = "SELECT name, NULL::text FROM cjhub_schema_migrations ORDER BY name";
constexpr const char* kAppliedWithChecksums =
    "SELECT name, checksum FROM cjhub_schema_migrations ORDER BY name";
constexpr const char* kRecordMigration =
    "INSERT INTO cjhub_schema_migrations (name, checksum) VALUES ($1, $2)";
constexpr const char* kRecordChecksum =
    "UPDATE cjhub_schema_migrations SET checksum = $2 WHERE name = $1 AND checksum IS NULL";
constexpr const char* kMigrationsTableExists =
    "SELECT to_regclass('cjhub_schema_migrations') IS NOT NULL";

}  // namespace
}  // namespace sql

std::string migration_checksum(const Migration& m) { return to_hex(sha256(m.sql)); }

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// What the database records against what this binary carries.
SchemaState compare(pqxx::transaction_base& tx) {
  SchemaState s;
  if (!tx.exec1(sql::kMigrationsTableExists)[0].as<bool>()) {
    for (const auto& m : embedded_migrations()) s.pending.push_back(m.name);
    return s;
  }
  const bool checksums = tx.exec1(sql::kHasChecksumColumn)[0].as<bool>();
  std::map<std::string, std::optional<std::string>> recorded;
  for (const auto& row : tx.exec(checksums ? sql::kAppliedWithChecksums : sql::kAppliedMigrations)) {
    recorded[row[0].as<std::string>()] = row[1].is_null() ? std::nullopt : std::optional(row[1].as<std::string>());
  }
  std::map<std::string, const Migration*> built_in;
  for (const auto& m : embedded_migrations()) built_in[m.name] = &m;
  for (const auto& [name, checksum] : recorded) {
    s.applied.push_back(name);
    const auto it = built_in.find(name);
    if (it == built_in.end()) {
      s.unknown.push_back(name);
    } else if (!checksum) {
      ++s.unchecked;
    } else if (*checksum != migration_checksum(*it->second)) {
      s.changed.push_back(name);
    }
  }
  for (const auto& m : embedded_migrations()) {
    if (!recorded.count(m.name)) s.pending.push_back(m.name);
  }
  return s;
}

void require_compatible(const SchemaState& s) {
  if (!s.unknown.empty()) {
    throw SchemaTooNew("the database was migrated by a newer cjhub: it records migration(s) this binary does not "
                       "have (" + joined(s.unknown) + "; this binary's last is " + embedded_migrations().back().name +
                       "). Run the newer cjhub, or restore a backup taken before that upgrade; this binary "
                       "changes nothing");
  }
  if (!s.changed.empty()) {
    throw SchemaMismatch("migration(s) " + joined(s.changed) + " recorded in the database differ from this "
                         "binary's (SHA-256 of the text): the database was migrated by a build with other "
                         "migrations under the same names; this binary changes nothing");
  }
}

}  // namespace

SchemaState schema_state(Connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    return compare(tx);
  });
}

std::vector<std::string> migrate(Connection& conn, const MigrationProgress& on_migration) {
  const auto state = schema_state(conn);
  require_compatible(state);
  // Up to date with every checksum recorded: touch nothing, so a hub whose role may not create
  // tables still starts.
  if (state.pending.empty() && state.unchecked == 0 && !state.applied.empty()) return std::vector<std::string>{};
  auto run = [&] {
    Transaction tx(conn, "migrate");
    tx.exec(sql::kMigrationLock);
    tx.exec0(sql::kMigrationsTable);
    tx.exec0(sql::kChecksumColumn);
    const auto now_state = compare(tx);  // under the lock: another process may have migrated meanwhile
    require_compatible(now_state);
    const std::set<std::string> pending(now_state.pending.begin(), now_state.pending.end());
    std::vector<std::string> now;
    for (const auto& m : embedded_migrations()) {
      if (!pending.count(m.name)) {
        tx.exec_params0(sql::kRecordChecksum, m.name, migration_checksum(m));
        continue;
      }
      if (on_migration) {
        on_migration(m.name, now.size() + 1, pending.size());
      } else {
        log::get("store")->info("applying migration {}", m.name);
      }
      tx.exec0(m.sql);
      tx.exec_params0(sql::kRecordMigration, m.name, migration_checksum(m));
      now.push_back(m.name);
    }
    tx.commit();
    return now;
  };
  if (!state.pending.empty()) return translate_errors(run);
  // Only checksums to record (a database migrated before they were kept): a role that may not
  // alter the table still starts, and says what would record them.
  try {
    return translate_errors(run);
  } catch (const SchemaTooNew&) {
    throw;
  } catch (const SchemaMismatch&) {
    throw;
  } catch (const DbUnavailable&) {
    throw;
  } catch (const std::exception& e) {
    log::get("store")->warn("the checksums of {} applied migrations are not recorded yet and could not be now ({}); "
                            "`cjhub migrate` run as the schema's owner records them",
                            state.unchecked, e.what());
    return std::vector<std::string>{};
  }
}

std::vector<std::string> pending_migrations(Connection& conn) { return schema_state(conn).pending; }

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
