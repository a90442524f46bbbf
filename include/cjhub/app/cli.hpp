// The command line (CLI11), one function per group of commands registering its subcommands, their
// options and their help footers: an example or more and the exit statuses, written to read well
// as a man page too (help2man makes one page per command from `cjhub COMMAND --help`).
// Only the cjhub executable includes this header.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace cjhub::app::cli {

// A command the user may choose and what runs it (its exit status).
struct Command {
  CLI::App* app;
  std::function<int()> run;
};
using Commands = std::vector<Command>;

void add_service_commands(CLI::App& cli, Commands& out);   // serve, check-config, migrate, apply, version
void add_operator_commands(CLI::App& cli, Commands& out);  // dlq, endpoints, erasures, scorecard, audit
void add_agency_commands(CLI::App& cli, Commands& out);    // submit, certify, sink

// -c/--config, resolved by `with_config` (-c, else $CJHUB_CONFIG, else /etc/cjhub/cjhub.yaml).
CLI::Option* add_config_option(CLI::App* cmd, std::filesystem::path& into);
// Runs `fn` with the configuration file resolved, or returns 2 with a message when there is none.
int with_config(const std::filesystem::path& given, const std::function<int(const std::filesystem::path&)>& fn);
// --format, one of `allowed`; `what` describes the choices (and the default) for --help.
CLI::Option* add_format_option(CLI::App* cmd, std::string& into, const std::vector<std::string>& allowed,
                               const std::string& what);

// A help footer: the configuration file's resolution (when `reads_config`), examples and the exit
// statuses ("0  ..." lines), then free notes.
std::string footer(bool reads_config, const std::vector<std::string>& examples,
                   const std::vector<std::string>& exit_statuses, const std::string& notes = "");

// The exit statuses most commands share, for footers.
inline const std::string kExitUsageLine = "2  usage or configuration error (the configuration file missing or invalid)";
inline const std::string kExitCannotRunLine = "3  could not run: the database unreachable or failing";

}  // namespace cjhub::app::cli
