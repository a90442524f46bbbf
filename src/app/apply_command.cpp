// `cjhub apply`: makes the database's agencies, endpoints and subscriptions match an agencies
// file; with --dry-run, prints what it would change, field by field, and what removing an
// endpoint would make dead letters, and changes nothing.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <iostream>

#include "app/command_support.hpp"
#include "cjhub/app/commands.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/migrations.hpp"

namespace cjhub::app {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::vector<std::string> type_names(const config::Config& c) {
  std::vector<std::string> names;
  for (const auto& t : c.message_types) names.push_back(t.spec.name);
  return names;
}

std::string plural(long long n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_plan_table(const store::ApplyPlan& plan) {
  long long dead = 0;
  for (const auto& c : plan.changes) {
    const char mark = c.action == "added" ? '+' : c.action == "changed" ? '~' : '-';
    const std::string what = c.name.empty() ? c.ori : c.ori + "/" + c.name;
    std::cout << fmt::format("{} {:<12} {:<9} {}\n", mark, c.kind, c.action, what);
    for (const auto& f : c.fields) std::cout << fmt::format("      {}: {} -> {}\n", f.field, f.before, f.after);
    if (c.kind == "endpoint" && c.action == "removed") {
      dead += c.dead_deliveries + c.dead_log_messages;
      std::cout << fmt::format("      would dead-letter {} and {}\n",
                               plural(c.dead_deliveries, "pending delivery", "pending deliveries"),
                               plural(c.dead_log_messages, "message waiting on the log", "messages waiting on the log"));
    }
  }
  std::cout << fmt::format(
      "dry run: {} added, {} changed, {} disabled, {} unchanged; endpoints {} added, {} changed, {} removed; "
      "subscriptions {} added, {} changed, {} removed; {} would become dead letters; nothing was changed\n",
      plural(static_cast<long long>(plan.count("agency", "added")), "agency", "agencies"),
      plan.count("agency", "changed"), plan.count("agency", "disabled"), plan.unchanged.size(),
      plan.count("endpoint", "added"), plan.count("endpoint", "changed"), plan.count("endpoint", "removed"),
      plan.count("subscription", "added"), plan.count("subscription", "changed"),
      plan.count("subscription", "removed"), dead);
}

// One JSON document: {"dry_run": true, "changes": [...], "unchanged": [...], "summary": {...}}.
void print_plan_json(const store::ApplyPlan& plan) {
  json::array changes;
  long long dead = 0;
  for (const auto& c : plan.changes) {
    json::object o{{"kind", c.kind}, {"action", c.action}, {"agency", c.ori}};
    if (!c.name.empty()) o["name"] = c.name;
    if (!c.fields.empty()) {
      json::array fs;
      for (const auto& f : c.fields) fs.push_back(json::object{{"field", f.field}, {"before", f.before}, {"after", f.after}});
      o["fields"] = std::move(fs);
    }
    if (c.kind == "endpoint" && c.action == "removed") {
      o["dead_letters"] = json::object{{"deliveries", c.dead_deliveries}, {"log_messages", c.dead_log_messages}};
      dead += c.dead_deliveries + c.dead_log_messages;
    }
    changes.push_back(std::move(o));
  }
  json::array unchanged;
  for (const auto& u : plan.unchanged) unchanged.push_back(json::value(u));
  json::object summary;
  for (const char* kind : {"agency", "endpoint", "subscription"}) {
    json::object k;
    for (const char* action : {"added", "changed", "disabled", "removed"}) {
      if (std::string(kind) == "agency" && std::string(action) == "removed") continue;
      if (std::string(kind) != "agency" && std::string(action) == "disabled") continue;
      k[action] = plan.count(kind, action);
    }
    summary[kind] = std::move(k);
  }
  summary["dead_letters"] = dead;
  std::cout << json::serialize(json::object{{"dry_run", true},
                                            {"changes", std::move(changes)},
                                            {"unchanged", std::move(unchanged)},
                                            {"summary", std::move(summary)}})
            << "\n";
}

}  // namespace

int apply(const fs::path& file, const fs::path& agencies_file, bool dry_run, const std::string& format) {
  if (format != "table" && format != "json") {
    std::cerr << "cjhub: --format must be table or json\n";
    return kExitUsage;
  }
  if (format != "table" && !dry_run) {
    std::cerr << "cjhub: --format json goes with --dry-run (apply itself prints what it changed)\n";
    return kExitUsage;
  }
  auto c = load_config(file);
  if (!c) return kExitUsage;
  log::setup(c->logging);
  config::AgenciesFile agencies;
  try {
    agencies = config::load_agencies(agencies_file, type_names(*c));
  } catch (const config::ConfigError& e) {
    std::cerr << "cjhub: agencies file error in " << agencies_file.string() << ": " << e.what() << "\n";
    return kExitUsage;
  }
  store::ConnectionPtr conn;
  try {
    conn = store::connect(c->database.url, c->database.connect_timeout);
  } catch (const std::exception& e) {
    std::cerr << "cjhub: could not run: " << e.what() << "\n";
    return kExitCannotRun;
  }
  try {
    if (dry_run) {
      if (const auto pending = store::pending_migrations(*conn); !pending.empty()) {
        std::cerr << "cjhub: warning: " << pending.size()
                  << " migration(s) not applied yet; apply would apply them first (cjhub migrate)\n";
      }
      const auto plan = store::plan_agencies(*conn, agencies);
      if (format == "json") {
        print_plan_json(plan);
      } else {
        print_plan_table(plan);
      }
      return kExitOk;
    }
    store::migrate(*conn);
    const auto r = store::apply_agencies(*conn, agencies);
    for (const auto& o : r.added) std::cout << "+ added    " << o << "\n";
    for (const auto& o : r.changed) std::cout << "~ changed  " << o << "\n";
    for (const auto& o : r.disabled) std::cout << "- disabled " << o << "\n";
    std::cout << fmt::format("{} added, {} changed, {} disabled, {} unchanged\n", r.added.size(),
                             r.changed.size(), r.disabled.size(), r.unchanged.size());
    if (r.any_change()) {
      std::string what;
      for (const auto& o : r.added) what += " +" + o;
      for (const auto& o : r.changed) what += " ~" + o;
      for (const auto& o : r.disabled) what += " -" + o;
      audit_cli(*conn, "admin", "applied", "agencies file " + agencies_file.filename().string(), what.substr(1));
    }
    return kExitOk;
  } catch (const config::ConfigError& e) {  // what the database refuses of the file (an environment change)
    std::cerr << "cjhub: agencies file error in " << agencies_file.string() << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: apply failed: " << e.what() << "\n";
    return kExitCannotRun;
  }
}

}  // namespace cjhub::app
