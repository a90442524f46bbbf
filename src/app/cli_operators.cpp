// The operators' commands: dlq, endpoints, erasures report, scorecard, audit.
#include <memory>

#include "cjhub/app/cli.hpp"
#include "cjhub/app/commands.hpp"

namespace cjhub::app::cli {

namespace fs = std::filesystem;

namespace {

const std::string kListed = "0  listed (also when there is nothing to list)";
const std::string kJsonNote =
    "Output: with --format json, JSON Lines: one object per line, with the field names of the admin API, each "
    "written as it is read; with --format csv, RFC 4180 with a header line.";

void add_dlq(CLI::App& app, Commands& out) {
  auto* dlq_cmd = app.add_subcommand("dlq", "Dead letters: list or replay");
  dlq_cmd->require_subcommand(1);
  dlq_cmd->footer(footer(true, {"cjhub dlq list --agency CTDCJ0000", "cjhub dlq replay --delivery ID"},
                         {"0  success", kExitUsageLine, kExitCannotRunLine}, "Run `cjhub dlq list --help` and "
                                                                             "`cjhub dlq replay --help`."));
  struct Args {
    fs::path config;
    DeadLetterArgs dl;
    bool json = false;  // --json, the old spelling of --format json
  };
  auto add_filters = [](CLI::App* c, Args& a) {
    add_config_option(c, a.config);
    c->add_option("--delivery", a.dl.delivery_id, "One delivery id");
    c->add_option("--agency", a.dl.agency, "Recipient agency ORI");
    c->add_option("--endpoint", a.dl.endpoint, "Endpoint name (with --agency)");
    c->add_option("--since", a.dl.since, "Dead since (timestamp, e.g. 2026-11-21T00:00:00Z)");
    c->add_option("--until", a.dl.until, "Dead before (timestamp)");
  };
  auto list = std::make_shared<Args>();
  auto* list_cmd = dlq_cmd->add_subcommand("list", "List dead letters");
  add_filters(list_cmd, *list);
  list_cmd->add_option("--limit", list->dl.limit, "At most this many (0: all)")
      ->check(CLI::Range(0LL, 100000000LL))->capture_default_str();
  add_format_option(list_cmd, list->dl.format, {"table", "csv", "json"}, "table, csv or json (JSON Lines)");
  list_cmd->add_flag("--json", list->json, "The same as --format json")->group("");  // hidden: the old flag
  list_cmd->footer(footer(true,
                          {"cjhub dlq list -c /etc/cjhub/cjhub.yaml --agency CTDCJ0000 --since 2026-11-21T00:00:00Z",
                           "cjhub dlq list --format csv --limit 0 > dead-letters.csv",
                           "cjhub dlq list --format json | jq -r .delivery_id"},
                          {kListed, "2  usage or configuration error (a bad timestamp, --format)", kExitCannotRunLine},
                          kJsonNote));
  out.push_back({list_cmd, [list] {
                   auto a = list->dl;
                   if (list->json) a.format = "json";
                   return with_config(list->config, [&](const fs::path& f) { return dlq_list(f, a); });
                 }});

  auto replay = std::make_shared<Args>();
  auto* replay_cmd = dlq_cmd->add_subcommand("replay", "Send dead letters again (they re-enter their case's order)");
  add_filters(replay_cmd, *replay);
  replay_cmd->add_flag("--all", replay->dl.all, "Replay every dead letter");
  replay_cmd->footer(footer(
      true,
      {"cjhub dlq replay -c /etc/cjhub/cjhub.yaml --delivery 5b1f0c3e-8d2a-4f6b-9c71-2a4e6d8f0b13",
       "cjhub dlq replay --agency CTDCJ0000 --endpoint main --since 2026-11-21T00:00:00Z", "cjhub dlq replay --all"},
      {"0  replayed (also when nothing matched; the count is printed)",
       "2  usage or configuration error: nothing named to replay (give a filter or --all)", kExitCannotRunLine},
      "On a terminal a progress line names how many dead letters it replays and the time taken so far."));
  out.push_back({replay_cmd, [replay] {
                   return with_config(replay->config, [&](const fs::path& f) { return dlq_replay(f, replay->dl); });
                 }});
}

void add_endpoints(CLI::App& app, Commands& out) {
  auto* ep_cmd = app.add_subcommand("endpoints", "Agencies' endpoints: list, pause, resume");
  ep_cmd->require_subcommand(1);
  ep_cmd->footer(footer(true, {"cjhub endpoints list", "cjhub endpoints pause --agency CTDCJ0000 --endpoint main"},
                        {"0  success", kExitUsageLine, kExitCannotRunLine}));
  struct ListArgs {
    fs::path config;
    std::string format = "table";
  };
  auto list = std::make_shared<ListArgs>();
  auto* list_cmd = ep_cmd->add_subcommand("list", "Endpoints with state, backlog and dead letters");
  add_config_option(list_cmd, list->config);
  add_format_option(list_cmd, list->format, {"table", "csv", "json"}, "table, csv or json (JSON Lines)");
  list_cmd->footer(footer(true,
                          {"cjhub endpoints list -c /etc/cjhub/cjhub.yaml",
                           "cjhub endpoints list --format json | jq 'select(.paused) | .agency + \"/\" + .endpoint'"},
                          {kListed, kExitUsageLine, kExitCannotRunLine},
                          kJsonNote + " CSV leaves out recent_outages."));
  out.push_back({list_cmd, [list] {
                   return with_config(list->config, [&](const fs::path& f) { return endpoints_list(f, list->format); });
                 }});

  struct PauseArgs {
    fs::path config;
    std::string agency, endpoint, reason;
  };
  for (const bool pause : {true, false}) {
    auto a = std::make_shared<PauseArgs>();
    auto* cmd = ep_cmd->add_subcommand(pause ? "pause" : "resume",
                                       pause ? "Stop sending to an endpoint (its backlog waits in order)"
                                             : "Resume sending to a paused endpoint");
    add_config_option(cmd, a->config);
    cmd->add_option("--agency", a->agency, "Agency ORI")->required();
    cmd->add_option("--endpoint", a->endpoint, "Endpoint name")->required();
    if (pause) cmd->add_option("--reason", a->reason, "Why (shown in endpoints list)");
    cmd->footer(footer(true,
                       {pause ? "cjhub endpoints pause -c /etc/cjhub/cjhub.yaml --agency CTDCJ0000 --endpoint main "
                                "--reason \"maintenance until 06:00\""
                              : "cjhub endpoints resume -c /etc/cjhub/cjhub.yaml --agency CTDCJ0000 --endpoint main"},
                       {pause ? "0  paused" : "0  resumed", "1  no such active endpoint", kExitUsageLine,
                        kExitCannotRunLine}));
    out.push_back({cmd, [a, pause] {
                     return with_config(a->config, [&](const fs::path& f) {
                       return endpoint_pause(f, a->agency, a->endpoint, pause, pause ? a->reason : "");
                     });
                   }});
  }
}

void add_erasures(CLI::App& app, Commands& out) {
  auto* erasures_cmd = app.add_subcommand("erasures", "The erasure ledger");
  erasures_cmd->require_subcommand(1);
  erasures_cmd->footer(footer(true, {"cjhub erasures report --status overdue"},
                              {"0  success", kExitUsageLine, kExitCannotRunLine}));
  struct Args {
    fs::path config;
    ErasureReportArgs er;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = erasures_cmd->add_subcommand("report", "Compliance report: every erasure and required recipient");
  add_config_option(cmd, a->config);
  add_format_option(cmd, a->er.format, {"table", "csv", "json"},
                    "csv (one line per erasure and recipient; the default, kept for scripts), table (one line per "
                    "erasure) or json (JSON Lines, one erasure with its recipient_states per line)");
  cmd->add_option("--status", a->er.status, "open, overdue, complete or superseded")
      ->check(CLI::IsMember({"open", "overdue", "complete", "superseded"}));
  cmd->add_option("--agency", a->er.agency, "Erasures that involve this recipient agency");
  cmd->add_option("--since", a->er.since, "Received since (timestamp)");
  cmd->add_option("--until", a->er.until, "Received before (timestamp)");
  cmd->footer(footer(true,
                     {"cjhub erasures report -c /etc/cjhub/cjhub.yaml --since 2026-01-01T00:00:00Z > erasures.csv",
                      "cjhub erasures report --status overdue --agency CTDCJ0000 --format table",
                      "cjhub erasures report --format json | jq -c 'select(.overdue > 0)'"},
                     {"0  reported (also when nothing matched: --status overdue finding no row is not a failure; "
                      "test the output, e.g. `--format json | grep -q .`)",
                      "2  usage or configuration error (a bad timestamp, --format)", kExitCannotRunLine},
                     kJsonNote + " On a terminal a progress line counts the erasures read."));
  out.push_back({cmd, [a] { return with_config(a->config, [&](const fs::path& f) { return erasures_report(f, a->er); }); }});
}

void add_scorecard(CLI::App& app, Commands& out) {
  struct Args {
    fs::path config;
    ScorecardArgs sc;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "scorecard",
      "The month's scorecard (UTC): endpoint availability against the objective, submitters, the hub's components");
  add_config_option(cmd, a->config);
  cmd->add_option("--month", a->sc.month, "YYYY-MM (default: this month)");
  cmd->add_option("--agency", a->sc.agency, "Only this agency: its endpoints and submissions (no hub part)");
  add_format_option(cmd, a->sc.format, {"table", "csv", "json"},
                    "table, csv (one line per endpoint) or json (the document GET /v1/admin/scorecard answers)");
  cmd->add_flag("--submitters", a->sc.submitters, "csv: the submitting agencies instead of the endpoints");
  cmd->footer(footer(true,
                     {"cjhub scorecard -c /etc/cjhub/cjhub.yaml --month 2026-11",
                      "cjhub scorecard --month 2026-11 --format csv > scorecard-2026-11.csv",
                      "cjhub scorecard --agency CT0064000 --format json"},
                     {"0  printed", "2  usage or configuration error (--month not YYYY-MM)", kExitCannotRunLine}));
  out.push_back({cmd, [a] { return with_config(a->config, [&](const fs::path& f) { return scorecard(f, a->sc); }); }});
}

void add_audit(CLI::App& app, Commands& out) {
  auto* audit_cmd = app.add_subcommand("audit", "The audit trail: verify its hash chain, export it");
  audit_cmd->require_subcommand(1);
  audit_cmd->footer(footer(true, {"cjhub audit verify", "cjhub audit export --since 2026-01-01T00:00:00Z"},
                           {"0  success", "1  audit verify: the chain is not intact", kExitUsageLine,
                            kExitCannotRunLine}));
  struct VerifyArgs {
    fs::path config;
    int grace_s = 60;
  };
  auto v = std::make_shared<VerifyArgs>();
  auto* verify_cmd = audit_cmd->add_subcommand("verify", "Check every record against the hash chain");
  add_config_option(verify_cmd, v->config);
  verify_cmd->add_option("--grace-s", v->grace_s, "Warn about records still unsealed after this long")
      ->check(CLI::Range(1, 86400))->capture_default_str();
  verify_cmd->footer(footer(
      true, {"cjhub audit verify -c /etc/cjhub/cjhub.yaml", "cjhub audit verify || mail -s 'audit chain' security@example"},
      {"0  the chain is intact (its head hash is printed: keep it outside the database)",
       "1  the chain is not intact: each altered, missing or added record is named (FAIL lines)", kExitUsageLine,
       kExitCannotRunLine},
      "On a terminal a progress line counts the records checked."));
  out.push_back({verify_cmd, [v] {
                   return with_config(v->config, [&](const fs::path& f) { return audit_verify(f, v->grace_s); });
                 }});

  struct ExportArgs {
    fs::path config;
    AuditExportArgs ax;
  };
  auto x = std::make_shared<ExportArgs>();
  auto* export_cmd = audit_cmd->add_subcommand("export", "Write audit records for a review");
  add_config_option(export_cmd, x->config);
  add_format_option(export_cmd, x->ax.format, {"table", "csv", "json"},
                    "csv (the default, kept for scripts), table or json (JSON Lines)");
  export_cmd->add_option("--since", x->ax.since, "Recorded since (timestamp)");
  export_cmd->add_option("--until", x->ax.until, "Recorded before (timestamp)");
  export_cmd->footer(footer(true,
                            {"cjhub audit export -c /etc/cjhub/cjhub.yaml --since 2026-01-01T00:00:00Z > review.csv",
                             "cjhub audit export --since 2026-11-01T00:00:00Z --format json | jq -c 'select(.action == "
                             "\"admin\")'"},
                            {"0  exported (the count is written to stderr)",
                             "2  usage or configuration error (a bad timestamp, --format)", kExitCannotRunLine}));
  out.push_back({export_cmd, [x] {
                   return with_config(x->config, [&](const fs::path& f) { return audit_export(f, x->ax); });
                 }});
}

}  // namespace

void add_operator_commands(CLI::App& app, Commands& out) {
  add_dlq(app, out);
  add_endpoints(app, out);
  add_erasures(app, out);
  add_scorecard(app, out);
  add_audit(app, out);
}

}  // namespace cjhub::app::cli
