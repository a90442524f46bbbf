// cjhub: the criminal-justice message hub. Parses the command line and runs one command.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cjhub/app/commands.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"cjhub: criminal-justice message hub (mutual-TLS NIEM XML clearing house)"};
  cli.require_subcommand(0, 1);
  bool show_version = false;
  cli.add_flag("--version", show_version, "Print the version and exit");

  cjhub::app::ServeOptions serve;
  auto* serve_cmd = cli.add_subcommand("serve", "Run the hub (migrates the database first)");
  serve_cmd->add_option("-c,--config", serve.config, "Configuration file")->required()->check(CLI::ExistingFile);
  serve_cmd->add_option("--ready-file", serve.ready_file, "Write {\"port\",\"pid\"} here once listening");
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
  std::cout << cli.help();
  return 2;
}
