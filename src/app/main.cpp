// cjhub: the criminal-justice message hub. Parses the command line and runs one command. The
// commands register themselves by group (cli_service.cpp, cli_operators.cpp, cli_agencies.cpp);
// what they do is in commands.cpp and the *_command.cpp files.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cjhub/app/cli.hpp"
#include "cjhub/app/commands.hpp"

namespace cjhub::app::cli {

CLI::Option* add_config_option(CLI::App* cmd, std::filesystem::path& into) {
  return cmd->add_option("-c,--config", into,
                         "Configuration file (default: $CJHUB_CONFIG, else /etc/cjhub/cjhub.yaml)");
}

int with_config(const std::filesystem::path& given, const std::function<int(const std::filesystem::path&)>& fn) {
  const auto file = resolve_config(given);
  if (!file) return kExitUsage;
  return fn(*file);
}

CLI::Option* add_format_option(CLI::App* cmd, std::string& into, const std::vector<std::string>& allowed,
                               const std::string& what) {
  return cmd->add_option("--format", into, what)->check(CLI::IsMember(allowed))->capture_default_str();
}

std::string footer(bool reads_config, const std::vector<std::string>& examples,
                   const std::vector<std::string>& exit_statuses, const std::string& notes) {
  std::string out;
  if (reads_config) {
    out += "Configuration file: -c FILE, else the environment variable CJHUB_CONFIG, else /etc/cjhub/cjhub.yaml.\n\n";
  }
  if (!notes.empty()) out += notes + "\n\n";
  out += "Examples:\n";  // one heading for one or several: help2man makes it the EXAMPLES section
  for (const auto& e : examples) out += "  " + e + "\n";
  out += "\nExit status:\n";
  for (const auto& s : exit_statuses) out += "  " + s + "\n";
  return out;
}

}  // namespace cjhub::app::cli

int main(int argc, char** argv) {
  namespace cli = cjhub::app::cli;
  CLI::App app{"cjhub: criminal-justice message hub (mutual-TLS NIEM XML clearing house)"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and exit");
  app.footer(
      "Configuration file: every command that reads one takes -c FILE; without it the file named by the\n"
      "environment variable CJHUB_CONFIG is read, else /etc/cjhub/cjhub.yaml.\n\n"
      "Listings (dlq list, endpoints list, erasures report, scorecard, audit export, submit) take the\n"
      "option --format table|csv|json: csv is RFC 4180 with a header line; json is JSON Lines, one\n"
      "object per line with the admin API's field names, written as the rows are read. Long commands\n"
      "(migrate, dlq replay, erasures report, audit verify) show a progress line on a terminal only.\n\n"
      "Examples:\n"
      "  cjhub check-config /etc/cjhub/cjhub.yaml\n"
      "  cjhub apply -f /etc/cjhub/agencies.yaml --dry-run\n"
      "  CJHUB_CONFIG=/srv/hub/cjhub.yaml cjhub dlq list --format json | jq .delivery_id\n"
      "  cjhub COMMAND --help\n\n"
      "Exit status:\n"
      "  0  success\n"
      "  1  a check failed: check-config found the file invalid, audit verify an altered record,\n"
      "     certify a criterion not met, submit a document not accepted\n"
      "  2  usage or configuration error (systemd does not restart serve after it)\n"
      "  3  could not run: the database unreachable, a file unreadable, TLS files missing");

  cli::Commands commands;
  cli::add_service_commands(app, commands);
  cli::add_operator_commands(app, commands);
  cli::add_agency_commands(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? cjhub::app::kExitOk : cjhub::app::kExitUsage;
  }
  if (show_version) {
    std::cout << cjhub::app::version_string() << "\n";
    return cjhub::app::kExitOk;
  }
  for (const auto& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  std::cout << app.help();
  return cjhub::app::kExitUsage;
}
