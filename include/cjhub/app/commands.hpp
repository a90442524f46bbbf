// The cjhub commands. Each returns the process exit status, the same for every command (each
// --help says which apply to it; docs/operations.md, "The command line"):
//   0 success (a listing that found nothing is a success)
//   1 the command ran and a check it makes failed: check-config found the configuration invalid,
//     audit verify an altered or missing record, certify a criterion not met, submit a document
//     not accepted, endpoints pause|resume no such active endpoint
//   2 usage or configuration error: a command line CLI11 refuses, a bad --format or timestamp, a
//     configuration file that is missing, unreadable or invalid (for the commands that need one);
//     systemd does not restart `serve` after it (RestartPreventExitStatus=2)
//   3 could not run: the database unreachable or failing, a file that cannot be read or written,
//     TLS files the hub cannot load; `serve` is restarted after it
// The configuration file of every command that reads one: -c/--config, else $CJHUB_CONFIG, else
// /etc/cjhub/cjhub.yaml (resolve_config).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cjhub/config/config.hpp"

namespace cjhub::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCannotRun = 3;

inline constexpr const char* kDefaultConfig = "/etc/cjhub/cjhub.yaml";
inline constexpr const char* kConfigEnv = "CJHUB_CONFIG";
// The configuration file: `given` (-c) when not empty, else $CJHUB_CONFIG when set and not empty,
// else kDefaultConfig. nullopt, after a message on stderr naming the file and where its name came
// from, when it does not exist or cannot be read (exit kExitUsage).
std::optional<std::filesystem::path> resolve_config(const std::filesystem::path& given);

struct ServeOptions {
  std::filesystem::path config;
  std::filesystem::path ready_file;  // written once listening: {"port":N,"pid":P}
  int wait_for_db_seconds = 30;      // keep trying to reach the database at start-up
};

int serve(const ServeOptions& opts);
int check_config(const std::filesystem::path& config);
int migrate(const std::filesystem::path& config);
// dry_run: print what would change (format table or json, one document) and change nothing.
int apply(const std::filesystem::path& config, const std::filesystem::path& agencies, bool dry_run,
          const std::string& format = "table");

// Operators: dead letters and endpoints (the same as the admin API, straight on the database).
// Listings write table, csv or json (JSON Lines: one object per line with the admin API's field
// names), each row as it is read.
struct DeadLetterArgs {
  std::string delivery_id, agency, endpoint, since, until;
  long long limit = 1000;  // 0: no limit
  std::string format = "table";
  bool all = false;  // replay: every dead letter
};
int dlq_list(const std::filesystem::path& config, const DeadLetterArgs& args);
int dlq_replay(const std::filesystem::path& config, const DeadLetterArgs& args);
int endpoints_list(const std::filesystem::path& config, const std::string& format = "table");
int endpoint_pause(const std::filesystem::path& config, const std::string& agency,
                   const std::string& endpoint, bool pause, const std::string& reason);

// The erasure compliance report: one row per (erasure, required recipient).
// The month's availability scorecard of every endpoint (or one agency's): table, csv or json.
struct ScorecardArgs {
  std::string month;  // YYYY-MM; empty: this month (UTC)
  std::string agency;
  std::string format = "table";
  bool submitters = false;  // csv: one line per submitting agency instead of per endpoint
};
int scorecard(const std::filesystem::path& config, const ScorecardArgs& args);

struct ErasureReportArgs {
  std::string format = "csv";  // csv (the default scripts rely on), table or json
  std::string status, agency, since, until;
};
int erasures_report(const std::filesystem::path& config, const ErasureReportArgs& args);

// The audit trail: verify the hash chain (exit 1 naming each altered or missing record), export.
int audit_verify(const std::filesystem::path& config, int grace_seconds);
struct AuditExportArgs {
  std::string format = "csv";  // csv (the default scripts rely on), table or json (one object per line)
  std::string since, until;
};
int audit_export(const std::filesystem::path& config, const AuditExportArgs& args);

std::string version_string();

// `cjhub submit`: post XML documents (files, or every *.xml of a directory, in name order) with an
// agency's certificate, as the reference client (src/client) does it; prints each one's outcome
// and, with --wait, its recipients' states (table, csv: one line per document, json: one object
// per document). Exit 0 when every document was accepted, 1 when one was not, 3 when nothing
// could be sent (certificates, files).
struct SubmitArgs {
  std::string hub_url = "https://localhost:8443";
  std::filesystem::path cert, key, ca;
  std::vector<std::filesystem::path> paths;
  int wait_seconds = 10;  // follow each accepted message's status this long (0: do not)
  int max_tries = 10;
  int timeout_seconds = 30;
  std::string format = "table";  // table, csv or json (one object per line)
};
int submit(const SubmitArgs& args);

// `cjhub certify`: grades a sandbox agency's traffic against the certification criteria and writes
// the reports (HTML, JSON, JUnit XML). Exit 0 when every criterion passed, 1 when one failed, 2 for
// a usage or criteria error (or an agency that is not a sandbox one), 3 when the database could not
// be read.
struct CertifyArgs {
  std::filesystem::path config;
  std::filesystem::path criteria;  // empty: certification.yaml next to the configuration
  std::filesystem::path out = ".";
  std::string agency;
  int level = 1;
  std::string since;  // RFC 3339; empty: the criteria's window
};
int certify(const CertifyArgs& args);

// Shared by the commands: the configuration (errors printed, none returned: exit kExitUsage) and
// who runs a command as the audit trail names it.
std::optional<config::Config> load_config(const std::filesystem::path& file);
std::string cli_actor();

}  // namespace cjhub::app
