#include "cjhub/store/agencies_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/log_progress.hpp"
#include "store/translate.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "cjhub/config/config.hpp"
#include "cjhub/store/database.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

constexpr const char* kAgenciesLock =
    "SELECT pg_advisory_xact_lock(hashtext('cjhub-apply-agencies'))";
constexpr const char* kSelectAgencies =
    "SELECT ori, name, role, active, sandbox FROM agencies ORDER BY ori";
constexpr const char* kSelectIdentities =
    "SELECT kind, value, ori FROM agency_identities ORDER BY ori, kind, value";
constexpr const char* kSelectPublish =
    "SELECT ori, message_type FROM agency_publish ORDER BY ori, message_type";
constexpr const char* kUpsertAgency =
    "INSERT INTO agencies (ori, name, role, active, sandbox) VALUES ($1, $2, $3, true, $4) "
    "ON CONFLICT (ori) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role, active = true, "
    "updated_at = now()";
constexpr const char* kDisableAgency =
    "UPDATE agencies SET active = false, updated_at = now() WHERE ori = $1";
constexpr const char* kDeleteIdentities = "DELETE FROM agency_identities WHERE ori = $1";
// A disabled agency's identity may be given to another agency: release it first.
constexpr const char* kReleaseIdentity =
    "DELETE FROM agency_identities WHERE kind = $1 AND value = $2";
constexpr const char* kInsertIdentity =
    "INSERT INTO agency_identities (kind, value, ori) VALUES ($1, $2, $3)";
constexpr const char* kDeletePublish = "DELETE FROM agency_publish WHERE ori = $1";
constexpr const char* kInsertPublish =
    "INSERT INTO agency_publish (ori, message_type) VALUES ($1, $2)";
constexpr const char* kNotifyAgencies = "NOTIFY cjhub_agencies";
constexpr const char* kSelectEndpoints =
    "SELECT ori, name, url, max_in_flight, timeout_ms FROM endpoints WHERE active ORDER BY ori, name";
constexpr const char* kSelectSubscriptions =
    "SELECT s.ori, s.name, e.name, array_to_json(s.message_types)::text, "
    "coalesce(array_to_json(s.origin_oris)::text, '[]'), coalesce(array_to_json(s.jurisdictions)::text, '[]'), "
    "s.own_cases_only, s.ack_required, (extract(epoch FROM s.retry_window) / 3600)::integer "
    "FROM subscriptions s JOIN endpoints e ON e.id = s.endpoint_id WHERE s.active ORDER BY s.ori, s.name";
constexpr const char* kUpsertEndpoint =
    "INSERT INTO endpoints (ori, name, url, max_in_flight, timeout_ms, active) "
    "VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (ori, name) DO UPDATE SET url = EXCLUDED.url, "
    "max_in_flight = EXCLUDED.max_in_flight, timeout_ms = EXCLUDED.timeout_ms, active = true "
    "RETURNING id";
constexpr const char* kDeactivateEndpoints =
    "UPDATE endpoints SET active = false WHERE ori = $1 AND active AND NOT (name = ANY ($2::text[])) RETURNING id";
// What a retired endpoint had not yet received becomes a dead letter (visible, replayable once
// the agency has an endpoint again) instead of waiting for ever.
constexpr const char* kRetireEndpointDeliveries =
    "UPDATE deliveries SET state = 'dead', dead_at = now(), lease_until = NULL, leased_by = NULL, "
    "last_error = 'endpoint removed from the agencies file' "
    "WHERE endpoint_id = ANY ($1::bigint[]) AND state IN ('queued', 'pending')";
// The same for what waits on the log for a retired endpoint (entries its cursor has not finished):
// dead letters; its cursor moves to the end of the log and its lease is given up.
constexpr const char* kRetireEndpointLog =
    "WITH dead AS (INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, "
    "  seq, state, ack_required, next_attempt_at, expires_at, last_error, dead_at) "
    "  SELECT cjhub_log_delivery_id(k.endpoint_id, m.seq), m.id, "
    "    coalesce(m.routes[array_position(m.recipients, k.endpoint_id)], "
    "      (SELECT min(s.id) FROM subscriptions s WHERE s.endpoint_id = k.endpoint_id)), "
    "    k.endpoint_id, e.ori, m.case_key, m.seq, 'dead', false, now(), now(), "
    "    'endpoint removed from the agencies file', now() "
    "  FROM endpoint_cursors k JOIN endpoints e ON e.id = k.endpoint_id "
    "  JOIN messages m ON m.recipients IS NOT NULL AND m.seq > k.position AND k.endpoint_id = ANY (m.recipients) "
    "    AND NOT " CJHUB_LOG_ENTRY_DONE(m, k) " "
    "  WHERE k.endpoint_id = ANY ($1::bigint[]) "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = k.endpoint_id) "
    "  RETURNING 1) "
    "UPDATE endpoint_cursors SET position = (SELECT coalesce(max(seq), 0) FROM messages WHERE recipients IS NOT NULL), "
    "  done = '{}', read_through = greatest(read_through, "
    "    (SELECT coalesce(max(seq), 0) FROM messages WHERE recipients IS NOT NULL)), "
    "  leased_by = NULL, lease_until = NULL "
    "WHERE endpoint_id = ANY ($1::bigint[]) AND (SELECT count(*) FROM dead) >= 0";
constexpr const char* kUpsertSubscription =
    "INSERT INTO subscriptions (ori, name, endpoint_id, message_types, origin_oris, jurisdictions, "
    "own_cases_only, ack_required, retry_window, active) "
    "VALUES ($1, $2, $3, $4::text[], $5::text[], $6::text[], $7, $8::boolean, make_interval(hours => $9), true) "
    "ON CONFLICT (ori, name) DO UPDATE SET endpoint_id = EXCLUDED.endpoint_id, "
    "message_types = EXCLUDED.message_types, origin_oris = EXCLUDED.origin_oris, "
    "jurisdictions = EXCLUDED.jurisdictions, own_cases_only = EXCLUDED.own_cases_only, "
    "ack_required = EXCLUDED.ack_required, retry_window = EXCLUDED.retry_window, active = true";
// What retiring an endpoint would make dead letters (kRetireEndpointDeliveries and
// kRetireEndpointLog, counted): its deliveries queued or pending, and the messages waiting for it
// on the log.
constexpr const char* kRetirementCounts =
    "SELECT (SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.state IN ('queued', 'pending')), "
    "(SELECT count(*) FROM endpoint_cursors k "
    "  JOIN messages m ON m.recipients IS NOT NULL AND m.seq > k.position AND k.endpoint_id = ANY (m.recipients) "
    "    AND NOT " CJHUB_LOG_ENTRY_DONE(m, k) " "
    "  WHERE k.endpoint_id = e.id "
    "  AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id AND x.endpoint_id = k.endpoint_id)) "
    "FROM endpoints e WHERE e.ori = $1 AND e.name = $2 AND e.active";
constexpr const char* kDeactivateSubscriptions =
    "UPDATE subscriptions SET active = false WHERE ori = $1 AND active AND NOT (name = ANY ($2::text[]))";

}  // namespace
}  // namespace sql

namespace {

std::vector<std::string> json_strings(const std::string& text) {
  std::vector<std::string> out;
  const boost::json::value parsed = boost::json::parse(text);
  for (const auto& v : parsed.as_array()) out.emplace_back(v.as_string());
  return out;
}

config::IdentityKind kind_from(const std::string& s) {
  if (s == "subject") return config::IdentityKind::subject;
  if (s == "sha256") return config::IdentityKind::sha256;
  return config::IdentityKind::san_uri;
}

std::vector<AgencyRecord> read_all(pqxx::transaction_base& tx) {
  std::map<std::string, AgencyRecord> by_ori;
  for (const auto& r : tx.exec(sql::kSelectAgencies)) {
    AgencyRecord rec;
    rec.agency.ori = r[0].as<std::string>();
    rec.agency.name = r[1].as<std::string>();
    rec.agency.role = r[2].as<std::string>() == "operator" ? config::Role::operator_ : config::Role::agency;
    rec.active = r[3].as<bool>();
    rec.agency.sandbox = r[4].as<bool>();
    by_ori.emplace(rec.agency.ori, std::move(rec));
  }
  for (const auto& r : tx.exec(sql::kSelectIdentities)) {
    auto it = by_ori.find(r[2].as<std::string>());
    if (it != by_ori.end()) {
      it->second.agency.identities.push_back({kind_from(r[0].as<std::string>()), r[1].as<std::string>()});
    }
  }
  for (const auto& r : tx.exec(sql::kSelectPublish)) {
    auto it = by_ori.find(r[0].as<std::string>());
    if (it != by_ori.end()) it->second.agency.publish.push_back(r[1].as<std::string>());
  }
  for (const auto& r : tx.exec(sql::kSelectEndpoints)) {
    auto it = by_ori.find(r[0].as<std::string>());
    if (it != by_ori.end()) {
      it->second.agency.endpoints.push_back(
          {r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<int>(), r[4].as<int>()});
    }
  }
  for (const auto& r : tx.exec(sql::kSelectSubscriptions)) {
    auto it = by_ori.find(r[0].as<std::string>());
    if (it == by_ori.end()) continue;
    config::Subscription s;
    s.name = r[1].as<std::string>();
    s.endpoint = r[2].as<std::string>();
    s.types = json_strings(r[3].as<std::string>());
    s.origin_oris = json_strings(r[4].as<std::string>());
    s.jurisdictions = json_strings(r[5].as<std::string>());
    s.own_cases_only = r[6].as<bool>();
    if (!r[7].is_null()) s.ack_required = r[7].as<bool>();
    s.retry_window_hours = r[8].as<int>();
    it->second.agency.subscriptions.push_back(std::move(s));
  }
  std::vector<AgencyRecord> out;
  for (auto& [ori, rec] : by_ori) out.push_back(std::move(rec));
  return out;
}

// A text[] literal, or NULL for an empty list when `null_if_empty`.
std::optional<std::string> text_array(const std::vector<std::string>& v, bool null_if_empty) {
  if (v.empty() && null_if_empty) return std::nullopt;
  return values::text_array(v);
}

// Deactivates the agency's endpoints not named in `keep`; their unsent deliveries become dead.
void retire_endpoints(Transaction& tx, const std::string& ori, const std::vector<std::string>& keep) {
  std::string ids = "{";
  for (const auto& r : tx.exec_params(sql::kDeactivateEndpoints, ori, *text_array(keep, false))) {
    ids += (ids.size() > 1 ? "," : "") + r[0].as<std::string>();
  }
  ids += "}";
  if (ids != "{}") {
    tx.exec_params0(sql::kRetireEndpointDeliveries, ids);
    tx.exec_params0(sql::kRetireEndpointLog, ids);
  }
}

void apply_delivery(Transaction& tx, const config::Agency& a) {
  std::map<std::string, long long> endpoint_ids;
  std::vector<std::string> names;
  for (const auto& e : a.endpoints) {
    endpoint_ids[e.name] =
        tx.exec_params1(sql::kUpsertEndpoint, a.ori, e.name, e.url, e.max_in_flight, e.timeout_ms)[0].as<long long>();
    names.push_back(e.name);
  }
  std::vector<std::string> sub_names;
  for (const auto& s : a.subscriptions) {
    tx.exec_params0(sql::kUpsertSubscription, a.ori, s.name, endpoint_ids.at(s.endpoint),
                    *text_array(s.types, false), text_array(s.origin_oris, true),
                    text_array(s.jurisdictions, true), s.own_cases_only, s.ack_required,
                    s.retry_window_hours);
    sub_names.push_back(s.name);
  }
  tx.exec_params0(sql::kDeactivateSubscriptions, a.ori, *text_array(sub_names, false));
  retire_endpoints(tx, a.ori, names);
}

template <class T>
std::vector<T> sorted_by_name(std::vector<T> v) {
  std::sort(v.begin(), v.end(), [](const T& x, const T& y) { return x.name < y.name; });
  return v;
}

bool same_identities(std::vector<config::CertIdentity> a, std::vector<config::CertIdentity> b) {
  auto key = [](const config::CertIdentity& x, const config::CertIdentity& y) {
    return std::pair(static_cast<int>(x.kind), x.value) < std::pair(static_cast<int>(y.kind), y.value);
  };
  std::sort(a.begin(), a.end(), key);
  std::sort(b.begin(), b.end(), key);
  return a == b;
}


// An agency's environment (sandbox or production) is fixed when it is created: `apply` and its
// plan refuse a file that would move one.
template <typename Agencies, typename Current>
void require_same_environments(const Agencies& agencies, const Current& current) {
  for (const auto& a : agencies) {
    const auto it = current.find(a.ori);
    if (it != current.end() && it->second.agency.sandbox != a.sandbox) {
      throw config::ConfigError(fmt::format(
          "agency {} is a {} agency: an agency's environment cannot change (its messages and cases stay in "
          "it); list a new agency with its own ORI instead",
          a.ori, it->second.agency.sandbox ? "sandbox" : "production"));
    }
  }
}

}  // namespace

std::vector<AgencyRecord> load_agencies(Connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    return read_all(tx);
  });
}

ApplyReport apply_agencies(Connection& conn, const config::AgenciesFile& file) {
  return translate_errors([&] {
    Transaction tx(conn, "apply_agencies");
    tx.exec(sql::kAgenciesLock);
    std::map<std::string, AgencyRecord> current;
    for (auto& rec : read_all(tx)) current.emplace(rec.agency.ori, std::move(rec));

    ApplyReport report;
    // Identities move between listed agencies only after the old owner lets go: clear first.
    for (const auto& a : file.agencies) tx.exec_params0(sql::kDeleteIdentities, a.ori);
    for (const auto& [ori, rec] : current) {
      const std::string& name = ori;  // (a structured binding cannot be captured before C++20 in clang 14)
      const bool listed = std::any_of(file.agencies.begin(), file.agencies.end(),
                                      [&](const config::Agency& a) { return a.ori == name; });
      if (!listed) {
        // Identities stay, so a decommissioned agency's certificate is told "disabled".
        if (rec.active) {
          tx.exec_params0(sql::kDisableAgency, ori);
          retire_endpoints(tx, ori, {});  // a disabled agency receives nothing more
          report.disabled.push_back(ori);
        }
      }
    }
    // An agency's environment is fixed when it is created: its messages, cases and holders belong
    // to that environment (a vendor going live gets a production agency of its own).
    require_same_environments(file.agencies, current);
    for (const auto& a : file.agencies) {
      const auto it = current.find(a.ori);
      tx.exec_params0(sql::kUpsertAgency, a.ori, a.name, config::to_string(a.role), a.sandbox);
      for (const auto& id : a.identities) {
        tx.exec_params0(sql::kReleaseIdentity, config::to_string(id.kind), id.value);
        tx.exec_params0(sql::kInsertIdentity, config::to_string(id.kind), id.value, a.ori);
      }
      tx.exec_params0(sql::kDeletePublish, a.ori);
      for (const auto& t : a.publish) tx.exec_params0(sql::kInsertPublish, a.ori, t);
      apply_delivery(tx, a);

      if (it == current.end()) {
        report.added.push_back(a.ori);
      } else {
        const auto& old = it->second;
        auto old_publish = old.agency.publish;
        std::sort(old_publish.begin(), old_publish.end());
        const bool same = old.active && old.agency.name == a.name && old.agency.role == a.role &&
                          old_publish == a.publish &&
                          same_identities(old.agency.identities, a.identities) &&
                          sorted_by_name(old.agency.endpoints) == sorted_by_name(a.endpoints) &&
                          sorted_by_name(old.agency.subscriptions) == sorted_by_name(a.subscriptions);
        (same ? report.unchanged : report.changed).push_back(a.ori);
      }
    }
    if (report.any_change()) tx.exec0(sql::kNotifyAgencies);
    tx.commit();
    return report;
  });
}

namespace {

std::string joined(std::vector<std::string> v, bool sort = true) {
  if (sort) std::sort(v.begin(), v.end());
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "-" : out;
}

std::string identities_text(const std::vector<config::CertIdentity>& ids) {
  std::vector<std::string> v;
  for (const auto& i : ids) v.push_back(std::string(config::to_string(i.kind)) + ":" + i.value);
  return joined(v);
}

void field(std::vector<FieldChange>& out, const char* name, const std::string& before, const std::string& after) {
  if (before != after) out.push_back({name, before, after});
}

std::vector<FieldChange> endpoint_fields(const config::Endpoint& a, const config::Endpoint& b) {
  std::vector<FieldChange> f;
  field(f, "url", a.url, b.url);
  field(f, "max_in_flight", std::to_string(a.max_in_flight), std::to_string(b.max_in_flight));
  field(f, "timeout_ms", std::to_string(a.timeout_ms), std::to_string(b.timeout_ms));
  return f;
}

std::vector<FieldChange> subscription_fields(const config::Subscription& a, const config::Subscription& b) {
  auto ack = [](const std::optional<bool>& x) { return x ? (*x ? "true" : "false") : "the type's"; };
  std::vector<FieldChange> f;
  field(f, "endpoint", a.endpoint, b.endpoint);
  field(f, "types", joined(a.types), joined(b.types));
  field(f, "origin_oris", joined(a.origin_oris), joined(b.origin_oris));
  field(f, "jurisdictions", joined(a.jurisdictions), joined(b.jurisdictions));
  field(f, "own_cases_only", a.own_cases_only ? "true" : "false", b.own_cases_only ? "true" : "false");
  field(f, "ack_required", ack(a.ack_required), ack(b.ack_required));
  field(f, "retry_window_hours", std::to_string(a.retry_window_hours), std::to_string(b.retry_window_hours));
  return f;
}

// The named parts of an agency (endpoints, subscriptions) from `before` to `after`: each one added
// or changed (with its fields) appended to `changes`, each one gone handed to `removed`.
template <typename Part, typename Fields, typename Removed>
void diff_named(const char* kind, const std::string& ori, const std::vector<Part>& before,
                const std::vector<Part>& after, Fields fields_of, std::vector<PlannedChange>& changes,
                Removed removed) {
  auto named = [](const std::string& name) { return [&name](const Part& x) { return x.name == name; }; };
  for (const auto& p : after) {
    const auto o = std::find_if(before.begin(), before.end(), named(p.name));
    if (o == before.end()) {
      changes.push_back({kind, "added", ori, p.name, {}, 0, 0});
    } else if (auto f = fields_of(*o, p); !f.empty()) {
      changes.push_back({kind, "changed", ori, p.name, std::move(f), 0, 0});
    }
  }
  for (const auto& p : before) {
    if (std::none_of(after.begin(), after.end(), named(p.name))) removed(p.name);
  }
}

}  // namespace

std::size_t ApplyPlan::count(const std::string& kind, const std::string& action) const {
  return static_cast<std::size_t>(std::count_if(changes.begin(), changes.end(), [&](const PlannedChange& c) {
    return c.kind == kind && c.action == action;
  }));
}

ApplyPlan plan_agencies(Connection& conn, const config::AgenciesFile& file) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::map<std::string, AgencyRecord> current;
    for (auto& rec : read_all(tx)) current.emplace(rec.agency.ori, std::move(rec));
    ApplyPlan plan;
    auto removed_endpoint = [&](const std::string& ori, const std::string& name) {
      PlannedChange c{"endpoint", "removed", ori, name, {}, 0, 0};
      const auto r = tx.exec_params(sql::kRetirementCounts, ori, name);
      if (!r.empty()) {
        c.dead_deliveries = r[0][0].as<long long>();
        c.dead_log_messages = r[0][1].as<long long>();
      }
      plan.changes.push_back(std::move(c));
    };
    require_same_environments(file.agencies, current);
    for (const auto& a : file.agencies) {
      const auto it = current.find(a.ori);
      if (it == current.end()) {
        plan.changes.push_back({"agency", "added", a.ori, "", {}, 0, 0});
        for (const auto& e : a.endpoints) plan.changes.push_back({"endpoint", "added", a.ori, e.name, {}, 0, 0});
        for (const auto& s : a.subscriptions) {
          plan.changes.push_back({"subscription", "added", a.ori, s.name, {}, 0, 0});
        }
        continue;
      }
      const auto& old = it->second;
      std::vector<FieldChange> fields;
      field(fields, "active", old.active ? "true" : "false", "true");
      field(fields, "name", old.agency.name, a.name);
      field(fields, "role", config::to_string(old.agency.role), config::to_string(a.role));
      field(fields, "identities", identities_text(old.agency.identities), identities_text(a.identities));
      field(fields, "publish", joined(old.agency.publish), joined(a.publish));
      const std::size_t at = plan.changes.size();
      diff_named("endpoint", a.ori, old.agency.endpoints, a.endpoints, endpoint_fields, plan.changes,
                 [&](const std::string& name) { removed_endpoint(a.ori, name); });
      diff_named("subscription", a.ori, old.agency.subscriptions, a.subscriptions, subscription_fields, plan.changes,
                 [&](const std::string& name) {
                   plan.changes.push_back({"subscription", "removed", a.ori, name, {}, 0, 0});
                 });
      // The agency counts as changed when anything of it does (as apply reports it).
      if (!fields.empty() || plan.changes.size() > at) {
        plan.changes.insert(plan.changes.begin() + static_cast<std::ptrdiff_t>(at),
                            PlannedChange{"agency", "changed", a.ori, "", std::move(fields), 0, 0});
      } else {
        plan.unchanged.push_back(a.ori);
      }
    }
    for (const auto& [ori, rec] : current) {
      const std::string& o = ori;
      if (!rec.active || std::any_of(file.agencies.begin(), file.agencies.end(),
                                     [&](const config::Agency& a) { return a.ori == o; })) {
        continue;
      }
      plan.changes.push_back({"agency", "disabled", ori, "", {}, 0, 0});
      for (const auto& e : rec.agency.endpoints) removed_endpoint(ori, e.name);
    }
    return plan;
  });
}

}  // namespace cjhub::store
