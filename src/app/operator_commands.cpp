// The operators' commands on the database: dead letters, endpoints, the erasure report, the
// scorecard and the audit trail. Listings are written row by row as the store reads them, as a
// table, CSV or JSON Lines whose objects carry the admin API's field names (src/api/admin.cpp,
// endpoints.cpp, erasures.cpp; tests/e2e/cli_e2e_test.cpp compares them).
#include <fmt/format.h>

#include <boost/json.hpp>
#include <iostream>

#include "app/command_support.hpp"
#include "cjhub/api/resource_json.hpp"
#include "cjhub/app/output.hpp"
#include "cjhub/app/progress.hpp"
#include "cjhub/app/commands.hpp"
#include "cjhub/common/csv.hpp"
#include "cjhub/ops/scorecard.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/erasures_repo.hpp"
#include "cjhub/store/operations_repo.hpp"

namespace cjhub::app {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::optional<std::string> opt(const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); }

// --format given to a command that does not list in it (main.cpp checks the names; this is the
// guard for callers of the functions).
std::optional<Format> format_or_complain(const std::string& s) {
  auto f = parse_format(s);
  if (!f) std::cerr << "cjhub: --format must be table, csv or json\n";
  return f;
}

store::DeadLetterFilter filter_from(const DeadLetterArgs& a) {
  return {opt(a.delivery_id), opt(a.agency), opt(a.endpoint), opt(a.since), opt(a.until), a.limit};
}

const std::vector<std::string> kDeadLetterColumns{"delivery_id", "message_id",  "message_type", "recipient_ori",
                                                  "endpoint",    "attempts",    "last_status",  "last_error",
                                                  "dead_at",     "case_key"};

// CSV: the flat fields (recent_outages is in the JSON only).
const std::vector<std::string> kEndpointColumns{"agency",  "endpoint",     "url",           "paused",
                                                "paused_reason", "consecutive_failures", "backlog",
                                                "dead_letters",  "last_success_at", "last_failure_at"};

// GET /v1/erasures: one element of "erasures" as an operator sees it, with its recipient_states.
json::object erasure_json(const store::ErasureSummary& s, const std::vector<store::ErasureRecipient>& recipients) {
  auto o = api::erasure_json(s);
  json::array rs;
  for (const auto& r : recipients) rs.push_back(api::erasure_recipient_json(r));
  o["recipient_states"] = std::move(rs);
  return o;
}

std::vector<std::string> cells(const json::object& o, const std::vector<std::string>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) {
    const auto* v = o.if_contains(c);
    out.push_back(v ? cell_text(*v) : "");
  }
  return out;
}

}  // namespace

int dlq_list(const fs::path& file, const DeadLetterArgs& args) {
  const auto format = format_or_complain(args.format);
  if (!format) return kExitUsage;
  return with_database(file, [&](store::Connection& conn) {
    TableWriter table(std::cout, {{"DELIVERY", 36},
                                  {"TYPE", 24},
                                  {"AGENCY", 9},
                                  {"ENDPOINT", 12},
                                  {"TRY", 3, true},
                                  {"DEAD AT", 27},
                                  {"LAST ERROR", 0}});
    if (*format == Format::csv) write_csv_line(std::cout, kDeadLetterColumns);
    long long n = 0;
    store::each_dead(conn, filter_from(args), [&](const store::DeadLetter& d) {
      ++n;
      switch (*format) {
        case Format::json: write_json_line(std::cout, api::dead_letter_json(d)); break;
        case Format::csv: write_csv_line(std::cout, cells(api::dead_letter_json(d), kDeadLetterColumns)); break;
        case Format::table:
          table.row({d.delivery_id, d.message_type, d.recipient_ori, d.endpoint, std::to_string(d.attempts), d.dead_at,
                     d.last_error.substr(0, 80)});
          break;
      }
    });
    if (*format == Format::table) {
      table.finish();
      std::cout << n << " dead letter(s)\n";
    }
    return kExitOk;
  });
}

int dlq_replay(const fs::path& file, const DeadLetterArgs& args) {
  if (!args.all && args.delivery_id.empty() && args.agency.empty() && args.endpoint.empty() &&
      args.since.empty() && args.until.empty()) {
    std::cerr << "cjhub: name what to replay (--delivery, --agency, --endpoint, --since/--until) or --all\n";
    return kExitUsage;
  }
  return with_database(file, [&](store::Connection& conn) {
    const auto filter = filter_from(args);
    Progress progress("dlq replay", "replaying dead letters");
    // One statement: the line names how many it takes on (counted first, on a terminal only) and
    // shows the time it has taken so far.
    if (progress.enabled()) {
      progress.say("replaying " + with_thousands(store::count_dead(conn, filter)) + " dead letter(s)");
    }
    progress.tick_while_running();
    const auto ids = store::replay_dead(conn, filter);
    progress.finish();
    audit_cli(conn, "admin", "replayed", "dead letters: " + std::to_string(ids.size()),
              (args.delivery_id.empty() ? "" : "delivery " + args.delivery_id + " ") +
                  (args.agency.empty() ? "" : "agency " + args.agency + " ") +
                  (args.endpoint.empty() ? "" : "endpoint " + args.endpoint));
    for (const auto& id : ids) std::cout << "replayed " << id << "\n";
    std::cout << ids.size() << " dead letter(s) replayed\n";
    return kExitOk;
  });
}

int scorecard(const fs::path& file, const ScorecardArgs& args) {
  if (!args.month.empty() && !store::month_period(args.month)) {
    std::cerr << "cjhub: --month must be YYYY-MM\n";
    return kExitUsage;
  }
  if (!format_or_complain(args.format)) return kExitUsage;
  return with_database(file, [&](store::Connection& conn, const config::Config& c) {
    const auto card = ops::read_scorecard(conn, args.month, c.watchers,
                                          args.agency.empty() ? std::nullopt : std::optional(args.agency));
    if (args.format == "json") {
      std::cout << json::serialize(ops::to_json(card)) << "\n";
    } else if (args.format == "csv") {
      std::cout << ops::to_csv(card, args.submitters);
    } else {
      std::cout << ops::to_table(card);
    }
    return kExitOk;
  });
}

int endpoints_list(const fs::path& file, const std::string& format_name) {
  const auto format = format_or_complain(format_name);
  if (!format) return kExitUsage;
  return with_database(file, [&](store::Connection& conn) {
    TableWriter table(std::cout, {{"AGENCY", 9},
                                  {"ENDPOINT", 12},
                                  {"STATE", 7},
                                  {"BACKLOG", 8, true},
                                  {"DEAD", 8, true},
                                  {"FAILS", 5, true},
                                  {"URL", 0}});
    if (*format == Format::csv) write_csv_line(std::cout, kEndpointColumns);
    // Active endpoints: as many as the agencies file lists (read at once, a few hundred at most).
    for (const auto& e : store::endpoint_states(conn)) {
      switch (*format) {
        case Format::json: write_json_line(std::cout, api::endpoint_json(e)); break;
        case Format::csv: write_csv_line(std::cout, cells(api::endpoint_json(e), kEndpointColumns)); break;
        case Format::table:
          table.row({e.ori, e.name, e.paused ? "paused" : "active", std::to_string(e.backlog), std::to_string(e.dead),
                     std::to_string(e.consecutive_failures),
                     e.url + (e.paused ? "  (" + e.paused_reason + ")" : "")});
          break;
      }
    }
    if (*format == Format::table) table.finish();
    return kExitOk;
  });
}

int endpoint_pause(const fs::path& file, const std::string& agency, const std::string& endpoint, bool pause,
                   const std::string& reason) {
  return with_database(file, [&](store::Connection& conn) {
    if (!store::set_endpoint_paused(conn, agency, endpoint, pause,
                                    reason.empty() ? "paused by operator" : reason)) {
      std::cerr << "cjhub: no active endpoint " << endpoint << " of agency " << agency << "\n";
      return kExitCheckFailed;
    }
    audit_cli(conn, "admin", pause ? "paused" : "resumed", "endpoint " + agency + "/" + endpoint, reason);
    std::cout << (pause ? "paused " : "resumed ") << agency << "/" << endpoint << "\n";
    return kExitOk;
  });
}

int erasures_report(const fs::path& file, const ErasureReportArgs& args) {
  const auto format = format_or_complain(args.format);
  if (!format) return kExitUsage;
  return with_database(file, [&](store::Connection& conn) {
    store::ErasureFilter f;
    f.status = opt(args.status);
    f.agency = opt(args.agency);
    f.since = opt(args.since);
    f.until = opt(args.until);
    f.limit = 1000;  // a page: what memory holds at once
    // CSV: one line per erasure and required recipient (the columns scripts already read).
    if (*format == Format::csv) {
      std::cout << "erasure_id,case_key,scope,requested_by,received_at,deadline_at,erasure_status,"
                   "recipient_ori,endpoint,delivery_state,delivered_at,acknowledged_at,ack_status,overdue\n";
    }
    TableWriter table(std::cout, {{"ERASURE", 36},
                                  {"RECEIVED", 20},
                                  {"DEADLINE", 20},
                                  {"STATUS", 10},
                                  {"RECIP", 5, true},
                                  {"CONF", 5, true},
                                  {"LATE", 5, true},
                                  {"CASE", 0}});
    Progress progress("erasures report", "erasures");
    long long n = 0;
    store::each_erasure(conn, f, [&](const store::ErasureSummary& s, const std::vector<store::ErasureRecipient>& rs) {
      progress.update(++n);
      switch (*format) {
        case Format::json: write_json_line(std::cout, erasure_json(s, rs)); break;
        case Format::table:
          table.row({s.id, s.received_at.substr(0, 19), s.deadline_at.substr(0, 19), s.status,
                     std::to_string(s.recipients), std::to_string(s.confirmed), std::to_string(s.overdue),
                     s.case_key});
          break;
        case Format::csv:
          for (const auto& r : rs) {
            write_csv_line(std::cout, {s.id, s.case_key, s.scope, s.requested_by, s.received_at, s.deadline_at,
                                       s.status, r.recipient_ori, r.endpoint,
                                       r.state == "queued" ? std::string("pending") : r.state, r.delivered_at,
                                       r.acknowledged_at, r.ack_status, r.overdue ? "true" : "false"});
          }
          break;
      }
    });
    progress.finish();
    if (*format == Format::table) {
      table.finish();
      std::cout << n << " erasure(s)\n";
    }
    return kExitOk;
  });
}

int audit_verify(const fs::path& file, int grace_seconds) {
  return with_database(file, [&](store::Connection& conn) {
    Progress progress("audit verify", "records");
    store::AuditProgress on_progress;
    if (progress.enabled()) on_progress = [&progress](long long done, long long total) { progress.update(done, total); };
    const auto v = store::verify_audit(conn, std::chrono::seconds(grace_seconds), on_progress);
    progress.finish();
    for (const auto& p : v.problems) std::cout << "FAIL " << p << "\n";
    if (v.unsealed_stale > 0) {
      std::cout << "WARN " << v.unsealed_stale << " record(s) older than " << grace_seconds
                << " s are not sealed yet (is a hub running?)\n";
    }
    if (!v.ok()) {
      std::cout << "audit trail NOT intact: " << v.problems.size() << " problem(s) in " << v.records << " record(s)\n";
      return kExitCheckFailed;
    }
    std::cout << "audit trail intact: " << v.records << " record(s), chain positions " << v.first_seq << " to "
              << v.last_seq << "; head hash " << v.head_hash << "\n";
    return kExitOk;
  });
}

int audit_export(const fs::path& file, const AuditExportArgs& args) {
  const auto format = format_or_complain(args.format);
  if (!format) return kExitUsage;
  return with_database(file, [&](store::Connection& conn) {
    std::size_t n = 0;
    if (*format == Format::csv) std::cout << "id,at,actor,ori,action,outcome,object,source,detail,chain_seq,hash\n";
    TableWriter table(std::cout, {{"ID", 10, true}, {"AT", 20}, {"ACTOR", 28}, {"ACTION", 13}, {"OUTCOME", 22},
                                  {"OBJECT", 0}});
    store::export_audit(conn, opt(args.since), opt(args.until), [&](const store::AuditRow& r) {
      ++n;
      switch (*format) {
        case Format::csv:
          write_csv_line(std::cout, {std::to_string(r.id), r.at, r.actor, r.ori, r.action, r.outcome, r.object,
                                     r.source, r.detail, r.chain_seq ? std::to_string(*r.chain_seq) : "", r.hash});
          break;
        case Format::json: {
          json::object o{{"id", r.id},         {"at", r.at},         {"actor", r.actor},
                         {"ori", r.ori},       {"action", r.action}, {"outcome", r.outcome},
                         {"object", r.object}, {"source", r.source}, {"detail", r.detail},
                         {"hash", r.hash}};
          if (r.chain_seq) o["chain_seq"] = *r.chain_seq;
          write_json_line(std::cout, o);
          break;
        }
        case Format::table:
          table.row({std::to_string(r.id), r.at.substr(0, 19), r.actor, r.action, r.outcome, r.object});
          break;
      }
    });
    if (*format == Format::table) table.finish();
    std::cerr << n << " audit record(s)\n";
    return kExitOk;
  });
}

}  // namespace cjhub::app
