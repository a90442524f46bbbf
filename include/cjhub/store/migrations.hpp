// Numbered schema migrations (src/store/migrations/NNNN_name.sql), applied in order under an
// advisory lock, each recorded in cjhub_schema_migrations. Safe to run from several processes.
#pragma once

#include "cjhub/store/connection.hpp"

#include <string>
#include <vector>

namespace cjhub::store {

struct Migration {
  std::string name;
  std::string sql;
};

// Applies what is missing; returns the names applied now (empty when up to date).
std::vector<std::string> migrate(Connection& conn);
// The names of the embedded migrations not yet applied.
std::vector<std::string> pending_migrations(Connection& conn);
// Analyzes the tables that hold data but have no planner statistics yet (after a restore or a
// bulk load); returns their names. Run by `cjhub migrate` and at start-up.
std::vector<std::string> analyze_unanalyzed(Connection& conn);

}  // namespace cjhub::store
