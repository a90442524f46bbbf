// cjhub: the criminal-justice message hub. Parses the command line and runs one command.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "cjhub/app/commands.hpp"
#include "cjhub/sink/sink.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"cjhub: criminal-justice message hub (mutual-TLS NIEM XML clearing house)"};
  cli.require_subcommand(0, 1);
  bool show_version = false;
  cli.add_flag("--version", show_version, "Print the version and exit");

  cjhub::app::ServeOptions serve;
  auto* serve_cmd = cli.add_subcommand("serve", "Run the hub (migrates the database first)");
  serve_cmd->add_option("-c,--config", serve.config, "Configuration file")->required()->check(CLI::ExistingFile);
  serve_cmd->add_option("--ready-file", serve.ready_file, "Write {\"port\",\"health_port\",\"pid\"} here once listening (health_port 0: no health listener)");
  serve_cmd->add_option("--wait-for-db", serve.wait_for_db_seconds, "Seconds to wait for the database at start")
      ->check(CLI::Range(0, 3600));

  std::filesystem::path check_file;
  auto* check_cmd = cli.add_subcommand("check-config", "Validate a configuration file (and load its schemas)");
  check_cmd->add_option("file", check_file, "Configuration file")->required();

  std::filesystem::path migrate_config;
  auto* migrate_cmd = cli.add_subcommand("migrate", "Apply pending database migrations");
  migrate_cmd->add_option("-c,--config", migrate_config, "Configuration file")->required()->check(CLI::ExistingFile);

  std::filesystem::path apply_config, apply_file;
  bool dry_run = false;
  auto* apply_cmd = cli.add_subcommand("apply", "Make the database's agencies match an agencies file");
  apply_cmd->add_option("-c,--config", apply_config, "Configuration file")->required()->check(CLI::ExistingFile);
  apply_cmd->add_option("-f,--file", apply_file, "Agencies file")->required()->check(CLI::ExistingFile);
  apply_cmd->add_flag("--dry-run", dry_run, "Validate the file and show nothing else");

  cjhub::sink::SinkOptions sink;
  std::string sink_ack = "sync";
  long sink_ack_delay_ms = 200, sink_latency_ms = 0, sink_outage_after_s = -1, sink_outage_for_s = -1;
  std::uint64_t sink_seed = 0;
  std::filesystem::path sink_crl;
  auto* sink_cmd = cli.add_subcommand("sink", "Run a receiving endpoint for the hub's deliveries (reference agency)");
  sink_cmd->add_option("--listen", sink.listen, "Address and port to listen on (IP:PORT, [IPv6]:PORT; port 0 = any)")
      ->capture_default_str();
  sink_cmd->add_option("--cert", sink.cert, "Server certificate (PEM chain)")->required()->check(CLI::ExistingFile);
  sink_cmd->add_option("--key", sink.key, "Server private key")->required()->check(CLI::ExistingFile);
  sink_cmd->add_option("--ca", sink.ca, "CA bundle for the hub's client certificate (and the hub's server certificate)")
      ->required()->check(CLI::ExistingFile);
  auto* sink_crl_opt = sink_cmd->add_option("--crl", sink_crl, "PEM CRL checked for client certificates")
                           ->check(CLI::ExistingFile);
  sink_cmd->add_option("--ori", sink.ori, "This agency's ORI (origin of its acknowledgements)")->required();
  sink_cmd->add_option("--hub-uri", sink.hub_uris,
                       "SAN URI of the hub's client certificate; deliveries from any other certificate get 403 "
                       "(repeatable)")
      ->capture_default_str();
  sink_cmd->add_option("--threads", sink.threads, "I/O threads")->check(CLI::Range(1, 64))->capture_default_str();
  sink_cmd->add_option("--max-body-bytes", sink.max_body_bytes, "largest delivery read (larger: 413)")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} << 20))
      ->capture_default_str();
  sink_cmd->add_option("--dir", sink.dir, "Store each accepted body as DIR/<delivery-id>.xml");
  sink_cmd->add_option("--log", sink.log_file, "Append one JSON line per delivery here (default: stdout)");
  sink_cmd->add_option("--ready-file", sink.ready_file, "Write {\"port\",\"pid\"} here once listening");
  sink_cmd->add_option("--ack", sink_ack, "Acknowledgements: none, sync (in the 200 answer) or async (POSTed to the hub)")
      ->check(CLI::IsMember({"none", "sync", "async"}))->capture_default_str();
  sink_cmd->add_flag("--ack-all", sink.ack_all, "Acknowledge every message, not only those with Cjhub-Ack-Required: true");
  sink_cmd->add_option("--ack-status", sink.ack_status,
                       "AcknowledgementStatusCode: received or completed (completed: deletes the case's bodies "
                       "from --dir before confirming an erasure, and logs case keys only as SHA-256)")
      ->check(CLI::IsMember({"received", "completed"}))->capture_default_str();
  sink_cmd->add_option("--ack-delay-ms", sink_ack_delay_ms, "async: wait this long before posting the acknowledgement")
      ->check(CLI::Range(0L, 3600000L))->capture_default_str();
  sink_cmd->add_option("--hub-url", sink.hub_url, "async: the hub's base URL")->capture_default_str();
  sink_cmd->add_option("--client-cert", sink.client_cert, "async: the agency's client certificate")
      ->check(CLI::ExistingFile);
  sink_cmd->add_option("--client-key", sink.client_key, "async: the agency's client key")->check(CLI::ExistingFile);
  sink_cmd->add_option("--fail-rate", sink.fail_rate, "Answer 503 (Retry-After) to this fraction of deliveries")
      ->check(CLI::Range(0.0, 1.0));
  auto* sink_seed_opt = sink_cmd->add_option("--seed", sink_seed, "Seed of the --fail-rate draws (reproducible runs)");
  sink_cmd->add_option("--latency-ms", sink_latency_ms, "Delay every answer by this long")
      ->check(CLI::Range(0L, 3600000L));
  sink_cmd->add_option("--status", sink.status, "Always answer this HTTP status (e.g. 400, 500)")
      ->check(CLI::Range(200u, 599u));
  auto* outage_after = sink_cmd->add_option("--outage-after-s", sink_outage_after_s,
                                            "Answer 503 from this many seconds after start ...")
                           ->check(CLI::Range(0L, 86400L));
  auto* outage_for = sink_cmd->add_option("--outage-for-s", sink_outage_for_s, "... for this many seconds")
                         ->check(CLI::Range(1L, 86400L));
  outage_after->needs(outage_for);
  outage_for->needs(outage_after);
  sink_cmd->add_flag("--hang", sink.hang, "Accept deliveries and never answer them");
  sink_cmd->add_option("--duplicate-status", sink.duplicate_status,
                       "Answer this 4xx/5xx status to a message already received (a receiver that is not idempotent)");
  sink_cmd->add_option("--refuse-first", sink.refuse_first,
                       "Answer 400 to the first N deliveries (the hub dead-letters them), then as usual");
  std::filesystem::path sink_answer_file;
  sink_cmd->add_option("--answer-file", sink_answer_file,
                       "Answer every delivery 200 with this file's contents ({message_id} and {delivery_id} replaced)")
      ->check(CLI::ExistingFile);
  sink_cmd->add_option("--answer-content-type", sink.answer_content_type, "Content-Type of --answer-file answers")
      ->capture_default_str();
  sink_cmd->add_flag("--close-connections", sink.close_connections,
                     "Close the connection after every answer (Connection: close), so each delivery opens a new one");
  sink_cmd->add_option("--retry-after-s", sink.retry_after_s, "Retry-After of the simulated 503 answers")
      ->check(CLI::Range(0u, 3600u))->capture_default_str();

  // Operators: dead letters and endpoints.
  std::filesystem::path ops_config;
  cjhub::app::DeadLetterArgs dl;
  auto* dlq_cmd = cli.add_subcommand("dlq", "Dead letters: list or replay");
  dlq_cmd->require_subcommand(1);
  auto add_filters = [&](CLI::App* c) {
    c->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
    c->add_option("--delivery", dl.delivery_id, "One delivery id");
    c->add_option("--agency", dl.agency, "Recipient agency ORI");
    c->add_option("--endpoint", dl.endpoint, "Endpoint name (with --agency)");
    c->add_option("--since", dl.since, "Dead since (timestamp, e.g. 2026-11-21T00:00:00Z)");
    c->add_option("--until", dl.until, "Dead before (timestamp)");
  };
  auto* dlq_list_cmd = dlq_cmd->add_subcommand("list", "List dead letters");
  add_filters(dlq_list_cmd);
  dlq_list_cmd->add_option("--limit", dl.limit, "At most this many")->check(CLI::Range(1, 1000000));
  dlq_list_cmd->add_flag("--json", dl.json, "JSON output");
  auto* dlq_replay_cmd = dlq_cmd->add_subcommand("replay", "Send dead letters again (they re-enter their case's order)");
  add_filters(dlq_replay_cmd);
  dlq_replay_cmd->add_flag("--all", dl.all, "Replay every dead letter");

  std::string ep_agency, ep_name, ep_reason;
  auto* ep_cmd = cli.add_subcommand("endpoints", "Agencies' endpoints: list, pause, resume");
  ep_cmd->require_subcommand(1);
  auto* ep_list_cmd = ep_cmd->add_subcommand("list", "Endpoints with state, backlog and dead letters");
  ep_list_cmd->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
  auto add_endpoint = [&](CLI::App* c) {
    c->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
    c->add_option("--agency", ep_agency, "Agency ORI")->required();
    c->add_option("--endpoint", ep_name, "Endpoint name")->required();
  };
  auto* ep_pause_cmd = ep_cmd->add_subcommand("pause", "Stop sending to an endpoint (its backlog waits in order)");
  add_endpoint(ep_pause_cmd);
  ep_pause_cmd->add_option("--reason", ep_reason, "Why (shown in endpoints list)");
  auto* ep_resume_cmd = ep_cmd->add_subcommand("resume", "Resume sending to a paused endpoint");
  add_endpoint(ep_resume_cmd);

  cjhub::app::ErasureReportArgs er;
  auto* erasures_cmd = cli.add_subcommand("erasures", "The erasure ledger");
  erasures_cmd->require_subcommand(1);
  auto* er_report_cmd = erasures_cmd->add_subcommand("report", "Compliance report: every erasure and required recipient");
  er_report_cmd->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
  er_report_cmd->add_option("--format", er.format, "csv or json")->check(CLI::IsMember({"csv", "json"}))->capture_default_str();
  er_report_cmd->add_option("--status", er.status, "open, overdue, complete or superseded")
      ->check(CLI::IsMember({"open", "overdue", "complete", "superseded"}));
  er_report_cmd->add_option("--agency", er.agency, "Erasures that involve this recipient agency");
  er_report_cmd->add_option("--since", er.since, "Received since (timestamp)");
  er_report_cmd->add_option("--until", er.until, "Received before (timestamp)");

  cjhub::app::ScorecardArgs sc;
  auto* scorecard_cmd = cli.add_subcommand("scorecard", "The month's scorecard (UTC): endpoint availability against the objective, submitters, the hub's components");
  scorecard_cmd->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
  scorecard_cmd->add_option("--month", sc.month, "YYYY-MM (default: this month)");
  scorecard_cmd->add_option("--agency", sc.agency, "Only this agency: its endpoints and submissions (no hub part)");
  scorecard_cmd->add_option("--format", sc.format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))->capture_default_str();
  scorecard_cmd->add_flag("--submitters", sc.submitters, "csv: the submitting agencies instead of the endpoints");

  int audit_grace_s = 60;
  cjhub::app::AuditExportArgs ax;
  auto* audit_cmd = cli.add_subcommand("audit", "The audit trail: verify its hash chain, export it");
  audit_cmd->require_subcommand(1);
  auto* audit_verify_cmd = audit_cmd->add_subcommand("verify", "Check every record against the hash chain");
  audit_verify_cmd->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
  audit_verify_cmd->add_option("--grace-s", audit_grace_s, "Warn about records still unsealed after this long")
      ->check(CLI::Range(1, 86400))->capture_default_str();
  auto* audit_export_cmd = audit_cmd->add_subcommand("export", "Write audit records for a review");
  audit_export_cmd->add_option("-c,--config", ops_config, "Configuration file")->required()->check(CLI::ExistingFile);
  audit_export_cmd->add_option("--format", ax.format, "csv or json")->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  audit_export_cmd->add_option("--since", ax.since, "Recorded since (timestamp)");
  audit_export_cmd->add_option("--until", ax.until, "Recorded before (timestamp)");

  cjhub::app::SubmitArgs sub;
  auto* submit_cmd = cli.add_subcommand(
      "submit", "Send XML documents to the hub as an agency (the reference client): retries, idempotency, status");
  submit_cmd->add_option("paths", sub.paths, "Files, or directories whose *.xml files are sent in name order")
      ->required()->check(CLI::ExistingPath);
  submit_cmd->add_option("--hub-url", sub.hub_url, "The hub's base URL")->capture_default_str();
  submit_cmd->add_option("--cert", sub.cert, "The agency's client certificate (PEM chain)")->required()->check(CLI::ExistingFile);
  submit_cmd->add_option("--key", sub.key, "Its private key (PEM)")->required()->check(CLI::ExistingFile);
  submit_cmd->add_option("--ca", sub.ca, "CA bundle that verifies the hub's server certificate")->required()->check(CLI::ExistingFile);
  submit_cmd->add_option("--wait", sub.wait_seconds, "Follow each accepted message's recipients this many seconds (0: do not)")
      ->check(CLI::Range(0, 3600))->capture_default_str();
  submit_cmd->add_option("--tries", sub.max_tries, "Tries per document (retries: no answer, 408, 429, 5xx)")
      ->check(CLI::Range(1, 100))->capture_default_str();
  submit_cmd->add_option("--timeout", sub.timeout_seconds, "Seconds for each connection step and answer")
      ->check(CLI::Range(1, 600))->capture_default_str();
  submit_cmd->add_option("--format", sub.format, "table or json (one object per document)")
      ->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  submit_cmd->footer(
      "Example:\n  cjhub submit --hub-url https://hub.example:8443 --cert rms.crt --key rms.key --ca hub-ca.crt outbox/\n"
      "Each document's Idempotency-Key is the SHA-256 of its bytes: sending it again is never stored twice.\n"
      "Exit status: 0 every document accepted, 1 one was not, 2 usage, 3 nothing could be sent.");

  cjhub::app::CertifyArgs cert;
  auto* certify_cmd = cli.add_subcommand(
      "certify", "Grade a sandbox agency's traffic against the certification criteria and write its reports");
  certify_cmd->add_option("-c,--config", cert.config, "Configuration file")->required()->check(CLI::ExistingFile);
  certify_cmd->add_option("--agency", cert.agency, "The sandbox agency's ORI")->required();
  certify_cmd->add_option("--level", cert.level, "Certification level (1 or 2; as the criteria define them)")
      ->check(CLI::Range(1, 9))->capture_default_str();
  certify_cmd->add_option("--since", cert.since, "Grade traffic since (RFC 3339; default: the criteria's window)");
  certify_cmd->add_option("--criteria", cert.criteria, "Criteria file (default: certification.yaml next to the configuration)")
      ->check(CLI::ExistingFile);
  certify_cmd->add_option("--out", cert.out, "Directory for certification-<ORI>-level<N>.html, .json and .xml")
      ->capture_default_str();
  certify_cmd->footer(
      "Example:\n  cjhub certify -c /etc/cjhub/cjhub.yaml --agency CTSBX0001 --level 2 --out reports/\n"
      "Level 2 sends the agency's endpoint one delivered message again (a duplicate) and waits for its answer.\n"
      "Exit status: 0 every criterion met, 1 one was not, 2 usage or criteria error, 3 the database could not be read.");

  auto* version_cmd = cli.add_subcommand("version", "Print the version");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (show_version || *version_cmd) {
    std::cout << cjhub::app::version_string() << "\n";
    return 0;
  }
  if (*serve_cmd) return cjhub::app::serve(serve);
  if (*check_cmd) return cjhub::app::check_config(check_file);
  if (*migrate_cmd) return cjhub::app::migrate(migrate_config);
  if (*apply_cmd) return cjhub::app::apply(apply_config, apply_file, dry_run);
  if (*er_report_cmd) return cjhub::app::erasures_report(ops_config, er);
  if (*scorecard_cmd) return cjhub::app::scorecard(ops_config, sc);
  if (*audit_verify_cmd) return cjhub::app::audit_verify(ops_config, audit_grace_s);
  if (*audit_export_cmd) return cjhub::app::audit_export(ops_config, ax);
  if (*dlq_list_cmd) return cjhub::app::dlq_list(ops_config, dl);
  if (*dlq_replay_cmd) return cjhub::app::dlq_replay(ops_config, dl);
  if (*ep_list_cmd) return cjhub::app::endpoints_list(ops_config);
  if (*ep_pause_cmd) return cjhub::app::endpoint_pause(ops_config, ep_agency, ep_name, true, ep_reason);
  if (*ep_resume_cmd) return cjhub::app::endpoint_pause(ops_config, ep_agency, ep_name, false, "");
  if (*submit_cmd) return cjhub::app::submit(sub);
  if (*certify_cmd) return cjhub::app::certify(cert);
  if (*sink_cmd) {
    sink.ack = *cjhub::sink::parse_ack_mode(sink_ack);
    sink.ack_delay = std::chrono::milliseconds(sink_ack_delay_ms);
    sink.latency = std::chrono::milliseconds(sink_latency_ms);
    if (*sink_crl_opt) sink.crl = sink_crl;
    if (*sink_seed_opt) sink.seed = sink_seed;
    if (*outage_after) {
      sink.outage_after = std::chrono::seconds(sink_outage_after_s);
      sink.outage_for = std::chrono::seconds(sink_outage_for_s);
    }
    if (!sink_answer_file.empty()) {
      std::ifstream in(sink_answer_file, std::ios::binary);
      sink.answer_body = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return cjhub::sink::run_sink(sink);
  }
  std::cout << cli.help();
  return 2;
}
