// The agencies' side: the reference client (submit), the certification kit (certify) and the
// reference receiving endpoint (sink).
#include <fstream>
#include <iterator>
#include <memory>

#include "cjhub/app/cli.hpp"
#include "cjhub/app/commands.hpp"
#include "cjhub/sink/sink.hpp"

namespace cjhub::app::cli {

namespace fs = std::filesystem;

namespace {

void add_submit(CLI::App& app, Commands& out) {
  auto sub = std::make_shared<SubmitArgs>();
  auto* submit_cmd = app.add_subcommand(
      "submit", "Send XML documents to the hub as an agency (the reference client): retries, idempotency, status");
  submit_cmd->add_option("paths", sub->paths, "Files, or directories whose *.xml files are sent in name order")
      ->required()->check(CLI::ExistingPath);
  submit_cmd->add_option("--hub-url", sub->hub_url, "The hub's base URL")->capture_default_str();
  submit_cmd->add_option("--cert", sub->cert, "The agency's client certificate (PEM chain)")->required()->check(CLI::ExistingFile);
  submit_cmd->add_option("--key", sub->key, "Its private key (PEM)")->required()->check(CLI::ExistingFile);
  submit_cmd->add_option("--ca", sub->ca, "CA bundle that verifies the hub's server certificate")->required()->check(CLI::ExistingFile);
  submit_cmd->add_option("--wait", sub->wait_seconds, "Follow each accepted message's recipients this many seconds (0: do not)")
      ->check(CLI::Range(0, 3600))->capture_default_str();
  submit_cmd->add_option("--tries", sub->max_tries, "Tries per document (retries: no answer, 408, 429, 5xx)")
      ->check(CLI::Range(1, 100))->capture_default_str();
  submit_cmd->add_option("--timeout", sub->timeout_seconds, "Seconds for each connection step and answer")
      ->check(CLI::Range(1, 600))->capture_default_str();
  add_format_option(submit_cmd, sub->format, {"table", "csv", "json"},
                    "table, csv (one line per document) or json (JSON Lines: one object per document)");
  submit_cmd->footer(footer(
      false,
      {"cjhub submit --hub-url https://hub.example:8443 --cert rms.crt --key rms.key --ca hub-ca.crt outbox/",
       "cjhub submit --hub-url https://hub.example:8443 --cert rms.crt --key rms.key --ca hub-ca.crt --wait 0 "
       "--format csv arrest-0001.xml"},
      {"0  every document accepted", "1  a document was not accepted (each is named)",
       "2  usage error", "3  nothing could be sent (certificates, files)"},
      "Each document's Idempotency-Key is the SHA-256 of its bytes: sending it again is never stored twice."));
  out.push_back({submit_cmd, [sub] { return submit(*sub); }});
}

void add_certify(CLI::App& app, Commands& out) {
  auto cert = std::make_shared<CertifyArgs>();
  auto* certify_cmd = app.add_subcommand(
      "certify", "Grade a sandbox agency's traffic against the certification criteria and write its reports");
  add_config_option(certify_cmd, cert->config);
  certify_cmd->add_option("--agency", cert->agency, "The sandbox agency's ORI")->required();
  certify_cmd->add_option("--level", cert->level, "Certification level (1 or 2; as the criteria define them)")
      ->check(CLI::Range(1, 9))->capture_default_str();
  certify_cmd->add_option("--since", cert->since, "Grade traffic since (RFC 3339; default: the criteria's window)");
  certify_cmd->add_option("--criteria", cert->criteria, "Criteria file (default: certification.yaml next to the configuration)")
      ->check(CLI::ExistingFile);
  certify_cmd->add_option("--out", cert->out, "Directory for certification-<ORI>-level<N>.html, .json and .xml")
      ->capture_default_str();
  certify_cmd->footer(footer(
      true, {"cjhub certify -c /etc/cjhub/cjhub.yaml --agency CTSBX0001 --level 2 --out reports/"},
      {"0  every criterion met", "1  a criterion was not met (each is named)",
       "2  usage, configuration or criteria error (or an agency that is not a sandbox one)",
       "3  could not run: the database could not be read, or the reports not written"},
      "Level 2 sends the agency's endpoint one delivered message again (a duplicate) and waits for its answer."));
  out.push_back({certify_cmd, [cert] {
                   return with_config(cert->config, [&](const fs::path& f) {
                     auto a = *cert;
                     a.config = f;
                     return certify(a);
                   });
                 }});
}

void add_sink(CLI::App& app, Commands& out) {
  struct Args {
    cjhub::sink::SinkOptions opts;
    std::string ack = "sync";
    long ack_delay_ms = 200, latency_ms = 0, outage_after_s = -1, outage_for_s = -1;
    std::uint64_t seed = 0;
    fs::path crl, answer_file;
  };
  auto s = std::make_shared<Args>();
  auto* sink_cmd = app.add_subcommand("sink", "Run a receiving endpoint for the hub's deliveries (reference agency)");
  sink_cmd->add_option("--listen", s->opts.listen, "Address and port to listen on (IP:PORT, [IPv6]:PORT; port 0 = any)")
      ->capture_default_str();
  sink_cmd->add_option("--cert", s->opts.cert, "Server certificate (PEM chain)")->required()->check(CLI::ExistingFile);
  sink_cmd->add_option("--key", s->opts.key, "Server private key")->required()->check(CLI::ExistingFile);
  sink_cmd->add_option("--ca", s->opts.ca, "CA bundle for the hub's client certificate (and the hub's server certificate)")
      ->required()->check(CLI::ExistingFile);
  auto* crl_opt = sink_cmd->add_option("--crl", s->crl, "PEM CRL checked for client certificates")
                           ->check(CLI::ExistingFile);
  sink_cmd->add_option("--ori", s->opts.ori, "This agency's ORI (origin of its acknowledgements)")->required();
  sink_cmd->add_option("--hub-uri", s->opts.hub_uris,
                       "SAN URI of the hub's client certificate; deliveries from any other certificate get 403 "
                       "(repeatable)")
      ->capture_default_str();
  sink_cmd->add_option("--threads", s->opts.threads, "I/O threads")->check(CLI::Range(1, 64))->capture_default_str();
  sink_cmd->add_option("--max-body-bytes", s->opts.max_body_bytes, "largest delivery read (larger: 413)")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} << 20))
      ->capture_default_str();
  sink_cmd->add_option("--dir", s->opts.dir, "Store each accepted body as DIR/<delivery-id>.xml");
  sink_cmd->add_option("--log", s->opts.log_file, "Append one JSON line per delivery here (default: stdout)");
  sink_cmd->add_option("--ready-file", s->opts.ready_file, "Write {\"port\",\"pid\"} here once listening");
  sink_cmd->add_option("--ack", s->ack, "Acknowledgements: none, sync (in the 200 answer) or async (POSTed to the hub)")
      ->check(CLI::IsMember({"none", "sync", "async"}))->capture_default_str();
  sink_cmd->add_flag("--ack-all", s->opts.ack_all, "Acknowledge every message, not only those with Cjhub-Ack-Required: true");
  sink_cmd->add_option("--ack-status", s->opts.ack_status,
                       "AcknowledgementStatusCode: received or completed (completed: deletes the case's bodies "
                       "from --dir before confirming an erasure, and logs case keys only as SHA-256)")
      ->check(CLI::IsMember({"received", "completed"}))->capture_default_str();
  sink_cmd->add_option("--ack-delay-ms", s->ack_delay_ms, "async: wait this long before posting the acknowledgement")
      ->check(CLI::Range(0L, 3600000L))->capture_default_str();
  sink_cmd->add_option("--hub-url", s->opts.hub_url, "async: the hub's base URL")->capture_default_str();
  sink_cmd->add_option("--client-cert", s->opts.client_cert, "async: the agency's client certificate")
      ->check(CLI::ExistingFile);
  sink_cmd->add_option("--client-key", s->opts.client_key, "async: the agency's client key")->check(CLI::ExistingFile);
  sink_cmd->add_option("--fail-rate", s->opts.fail_rate, "Answer 503 (Retry-After) to this fraction of deliveries")
      ->check(CLI::Range(0.0, 1.0));
  auto* seed_opt = sink_cmd->add_option("--seed", s->seed, "Seed of the --fail-rate draws (reproducible runs)");
  sink_cmd->add_option("--latency-ms", s->latency_ms, "Delay every answer by this long")
      ->check(CLI::Range(0L, 3600000L));
  sink_cmd->add_option("--status", s->opts.status, "Always answer this HTTP status (e.g. 400, 500)")
      ->check(CLI::Range(200u, 599u));
  auto* outage_after = sink_cmd->add_option("--outage-after-s", s->outage_after_s,
                                            "Answer 503 from this many seconds after start ...")
                           ->check(CLI::Range(0L, 86400L));
  auto* outage_for = sink_cmd->add_option("--outage-for-s", s->outage_for_s, "... for this many seconds")
                         ->check(CLI::Range(1L, 86400L));
  outage_after->needs(outage_for);
  outage_for->needs(outage_after);
  sink_cmd->add_flag("--hang", s->opts.hang, "Accept deliveries and never answer them");
  sink_cmd->add_option("--duplicate-status", s->opts.duplicate_status,
                       "Answer this 4xx/5xx status to a message already received (a receiver that is not idempotent)");
  sink_cmd->add_option("--refuse-first", s->opts.refuse_first,
                       "Answer 400 to the first N deliveries (the hub dead-letters them), then as usual");
  sink_cmd->add_option("--answer-file", s->answer_file,
                       "Answer every delivery 200 with this file's contents ({message_id} and {delivery_id} replaced)")
      ->check(CLI::ExistingFile);
  sink_cmd->add_option("--answer-content-type", s->opts.answer_content_type, "Content-Type of --answer-file answers")
      ->capture_default_str();
  sink_cmd->add_flag("--close-connections", s->opts.close_connections,
                     "Close the connection after every answer (Connection: close), so each delivery opens a new one");
  sink_cmd->add_option("--retry-after-s", s->opts.retry_after_s, "Retry-After of the simulated 503 answers")
      ->check(CLI::Range(0u, 3600u))->capture_default_str();
  sink_cmd->footer(footer(
      false,
      {"cjhub sink --listen 127.0.0.1:9443 --cert sink.crt --key sink.key --ca ca.crt --ori CTDCJ0000 --dir inbox/",
       "cjhub sink ... --ack async --hub-url https://hub.example:8443 --client-cert dcj.crt --client-key dcj.key"},
      {"0  stopped by SIGTERM or SIGINT", "2  usage error, or certificate files it cannot use",
       "3  could not run (the port in use)"}));
  out.push_back({sink_cmd, [s, crl_opt, seed_opt, outage_after] {
                   auto o = s->opts;
                   o.ack = *cjhub::sink::parse_ack_mode(s->ack);
                   o.ack_delay = std::chrono::milliseconds(s->ack_delay_ms);
                   o.latency = std::chrono::milliseconds(s->latency_ms);
                   if (*crl_opt) o.crl = s->crl;
                   if (*seed_opt) o.seed = s->seed;
                   if (*outage_after) {
                     o.outage_after = std::chrono::seconds(s->outage_after_s);
                     o.outage_for = std::chrono::seconds(s->outage_for_s);
                   }
                   if (!s->answer_file.empty()) {
                     std::ifstream in(s->answer_file, std::ios::binary);
                     o.answer_body =
                         std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
                   }
                   const int rc = cjhub::sink::run_sink(o);
                   return rc == 1 ? kExitCannotRun : rc;  // the sink's runtime failure: could not run
                 }});
}

}  // namespace

void add_agency_commands(CLI::App& app, Commands& out) {
  add_submit(app, out);
  add_certify(app, out);
  add_sink(app, out);
}

}  // namespace cjhub::app::cli
