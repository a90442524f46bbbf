// Numbered schema migrations (src/store/migrations/NNNN_name.sql), applied in order under an
// advisory lock, each recorded in cjhub_schema_migrations with the SHA-256 of its text. Safe to
// run from several processes.
//
// Before anything is applied the database's schema is checked against the binary: a database that
// records a migration this binary does not have was migrated by a newer cjhub (SchemaTooNew), and
// one whose recorded checksum differs from the binary's migration of the same name was migrated
// from another text (SchemaMismatch). Either way nothing is touched and the hub does not start.
#pragma once

#include "cjhub/store/connection.hpp"

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cjhub::store {

struct Migration {
  std::string name;
  std::string sql;
};

// The database holds migrations this binary does not know: a newer cjhub migrated it.
struct SchemaTooNew : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A migration recorded in the database is not the text this binary carries under its name.
struct SchemaMismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The database's schema against the binary's migrations (read only).
struct SchemaState {
  std::vector<std::string> applied;   // recorded in the database, in name order
  std::vector<std::string> pending;   // in the binary, not yet applied
  std::vector<std::string> unknown;   // recorded in the database, not in the binary
  std::vector<std::string> changed;   // recorded with a checksum other than the binary's
  std::size_t unchecked = 0;          // recorded before checksums were kept (filled in by migrate)
};
SchemaState schema_state(Connection& conn);

// The SHA-256 (hex) of a migration's text, as recorded.
std::string migration_checksum(const Migration& m);

// Called before each migration is applied: its name, its number among those applied now (from 1)
// and how many they are. Without one, migrate logs each name at `info`.
using MigrationProgress = std::function<void(const std::string& name, std::size_t number, std::size_t of)>;
// Checks the schema (throws SchemaTooNew or SchemaMismatch), then applies what is missing and
// records checksums not yet recorded; returns the names applied now (empty when up to date).
std::vector<std::string> migrate(Connection& conn, const MigrationProgress& on_migration = {});
// The names of the embedded migrations not yet applied.
std::vector<std::string> pending_migrations(Connection& conn);
// Analyzes the tables that hold data but have no planner statistics yet (after a restore or a
// bulk load); returns their names. Run by `cjhub migrate` and at start-up.
std::vector<std::string> analyze_unanalyzed(Connection& conn);

}  // namespace cjhub::store
