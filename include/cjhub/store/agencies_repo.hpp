// Agencies in the database: applying the declarative file, and reading the directory that maps
// certificate identities to agencies.
#pragma once

#include "cjhub/store/connection.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "cjhub/config/agencies.hpp"

namespace cjhub::store {

struct ApplyReport {
  std::vector<std::string> added;     // ORIs created
  std::vector<std::string> changed;   // ORIs whose name, role, identities or rights changed
  std::vector<std::string> disabled;  // ORIs present in the database but absent from the file
  std::vector<std::string> unchanged;
  bool any_change() const { return !added.empty() || !changed.empty() || !disabled.empty(); }
};

// Makes the database match the file in one transaction and notifies running hubs.
// Agencies absent from the file are disabled, never deleted (their messages refer to them); they
// keep their certificate identities until another agency claims them, so their certificates are
// refused as "disabled" rather than "unknown".
ApplyReport apply_agencies(Connection& conn, const config::AgenciesFile& file);

// What apply_agencies would do, worked out without changing anything (`cjhub apply --dry-run`).
struct FieldChange {
  std::string field, before, after;  // lists as "a, b"; nothing as "-"
};
struct PlannedChange {
  std::string kind;    // agency, endpoint, subscription
  std::string action;  // added, changed, disabled (an agency), removed (an endpoint, a subscription)
  std::string ori, name;  // name: the endpoint's or the subscription's; empty for an agency
  std::vector<FieldChange> fields;  // changed: old -> new
  // An endpoint removed (its own, or its agency disabled): what would become dead letters, its
  // deliveries queued or pending, and the messages waiting for it on the log.
  long long dead_deliveries = 0, dead_log_messages = 0;
};
struct ApplyPlan {
  std::vector<PlannedChange> changes;  // by agency (file order, then disabled ones), agency first
  std::vector<std::string> unchanged;  // ORIs
  std::size_t count(const std::string& kind, const std::string& action) const;
  bool any_change() const { return !changes.empty(); }
};
// Throws config::ConfigError for what apply_agencies would refuse (an agency changing environment).
ApplyPlan plan_agencies(Connection& conn, const config::AgenciesFile& file);

struct AgencyRecord {
  config::Agency agency;
  bool active = true;
};

// A consistent snapshot of every agency, for the identity directory.
std::vector<AgencyRecord> load_agencies(Connection& conn);

}  // namespace cjhub::store
