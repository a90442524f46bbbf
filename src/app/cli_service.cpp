// The service's own commands: serve, check-config, migrate, apply, version.
#include <iostream>
#include <memory>

#include "cjhub/app/cli.hpp"
#include "cjhub/app/commands.hpp"

namespace cjhub::app::cli {

namespace fs = std::filesystem;

void add_service_commands(CLI::App& app, Commands& out) {
  auto serve = std::make_shared<ServeOptions>();
  auto* serve_cmd = app.add_subcommand("serve", "Run the hub (migrates the database first)");
  add_config_option(serve_cmd, serve->config);
  serve_cmd->add_option("--ready-file", serve->ready_file,
                        "Write {\"port\",\"health_port\",\"pid\"} here once listening (health_port 0: no health listener)");
  serve_cmd->add_option("--wait-for-db", serve->wait_for_db_seconds, "Seconds to wait for the database at start")
      ->check(CLI::Range(0, 3600))->capture_default_str();
  serve_cmd->footer(footer(
      true, {"cjhub serve -c /etc/cjhub/cjhub.yaml", "cjhub serve --wait-for-db 60   (the file of $CJHUB_CONFIG)"},
      {"0  stopped by SIGTERM or SIGINT after draining",
       "2  configuration error (the file, its schemas): systemd does not restart it (RestartPreventExitStatus=2)",
       "3  could not start: the database unreachable after --wait-for-db, a listener or TLS file that cannot be "
       "opened; systemd restarts it"},
      "SIGHUP reloads the TLS files, the agencies and the message types; the configuration file is read at start "
      "only."));
  out.push_back({serve_cmd, [serve] {
                   return with_config(serve->config, [&](const fs::path& f) {
                     auto o = *serve;
                     o.config = f;
                     return cjhub::app::serve(o);
                   });
                 }});

  auto check_file = std::make_shared<fs::path>();
  auto check_config = std::make_shared<fs::path>();
  auto* check_cmd = app.add_subcommand("check-config", "Validate a configuration file (and load its schemas)");
  auto* check_pos = check_cmd->add_option("file", *check_file, "Configuration file (the same as -c)");
  auto* check_opt = add_config_option(check_cmd, *check_config);
  check_pos->excludes(check_opt);
  check_cmd->footer(footer(
      true, {"cjhub check-config /etc/cjhub/cjhub.yaml", "CJHUB_CONFIG=/etc/cjhub/cjhub.yaml cjhub check-config"},
      {"0  the configuration is valid and its schemas load",
       "1  the configuration is invalid (each problem is named on stderr)",
       "2  usage error: the file does not exist or cannot be read"},
      "FILE may be given as an argument or with -c."));
  out.push_back({check_cmd, [check_file, check_config] {
                   return with_config(check_file->empty() ? *check_config : *check_file,
                                      [](const fs::path& f) { return cjhub::app::check_config(f); });
                 }});

  auto migrate_config = std::make_shared<fs::path>();
  auto* migrate_cmd = app.add_subcommand("migrate", "Apply pending database migrations");
  add_config_option(migrate_cmd, *migrate_config);
  migrate_cmd->footer(footer(true, {"cjhub migrate -c /etc/cjhub/cjhub.yaml"},
                             {"0  the schema is up to date (migrations applied are listed)", kExitUsageLine,
                              "3  could not run: the database unreachable, or a migration failed (nothing of it "
                              "is kept)"},
                             "On a terminal a progress line names the migration being applied, with its "
                             "number and the time taken so far."));
  out.push_back({migrate_cmd, [migrate_config] {
                   return with_config(*migrate_config, [](const fs::path& f) { return cjhub::app::migrate(f); });
                 }});

  struct ApplyArgs {
    fs::path config, file;
    bool dry_run = false;
    std::string format = "table";
  };
  auto apply_args = std::make_shared<ApplyArgs>();
  auto* apply_cmd = app.add_subcommand("apply", "Make the database's agencies match an agencies file");
  add_config_option(apply_cmd, apply_args->config);
  apply_cmd->add_option("-f,--file", apply_args->file, "Agencies file")->required()->check(CLI::ExistingFile);
  apply_cmd->add_flag("--dry-run", apply_args->dry_run,
                      "Print what would change (agencies, endpoints, subscriptions added, changed, disabled or "
                      "removed, and what removing an endpoint would dead-letter); change nothing");
  add_format_option(apply_cmd, apply_args->format, {"table", "json"},
                    "With --dry-run: table, or json (one document: changes, unchanged, summary)");
  apply_cmd->footer(footer(
      true,
      {"cjhub apply -c /etc/cjhub/cjhub.yaml -f /etc/cjhub/agencies.yaml --dry-run",
       "cjhub apply -c /etc/cjhub/cjhub.yaml -f /etc/cjhub/agencies.yaml",
       "cjhub apply -f agencies.yaml --dry-run --format json | jq '.summary.dead_letters'"},
      {"0  applied (or, with --dry-run, the differences printed and nothing changed)",
       "2  usage or configuration error: the configuration or the agencies file is invalid",
       kExitCannotRunLine},
      "Agencies absent from the file are disabled, never deleted; an endpoint removed (or of a disabled agency) "
      "makes its queued and pending deliveries and the messages waiting for it dead letters, which --dry-run "
      "counts."));
  out.push_back({apply_cmd, [apply_args] {
                   return with_config(apply_args->config, [&](const fs::path& f) {
                     return cjhub::app::apply(f, apply_args->file, apply_args->dry_run, apply_args->format);
                   });
                 }});

  auto* version_cmd = app.add_subcommand("version", "Print the version");
  version_cmd->footer(footer(false, {"cjhub version"}, {"0  always"}));
  out.push_back({version_cmd, [] {
                   std::cout << version_string() << "\n";
                   return kExitOk;
                 }});
}

}  // namespace cjhub::app::cli
