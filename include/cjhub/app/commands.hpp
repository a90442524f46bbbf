// The cjhub commands. Each returns the process exit code:
//   0 success, 1 runtime failure (database unreachable, ...), 2 bad configuration or usage.
#pragma once

#include <filesystem>
#include <string>

namespace cjhub::app {

struct ServeOptions {
  std::filesystem::path config;
  std::filesystem::path ready_file;  // written once listening: {"port":N,"pid":P}
  int wait_for_db_seconds = 30;      // keep trying to reach the database at start-up
};

int serve(const ServeOptions& opts);
int check_config(const std::filesystem::path& config);
int migrate(const std::filesystem::path& config);
int apply(const std::filesystem::path& config, const std::filesystem::path& agencies, bool dry_run);

// Operators: dead letters and endpoints (the same as the admin API, straight on the database).
struct DeadLetterArgs {
  std::string delivery_id, agency, endpoint, since, until;
  long long limit = 1000;
  bool json = false;
  bool all = false;  // replay: every dead letter
};
int dlq_list(const std::filesystem::path& config, const DeadLetterArgs& args);
int dlq_replay(const std::filesystem::path& config, const DeadLetterArgs& args);
int endpoints_list(const std::filesystem::path& config);
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
  std::string format = "csv";  // csv or json
  std::string status, agency, since, until;
};
int erasures_report(const std::filesystem::path& config, const ErasureReportArgs& args);

// The audit trail: verify the hash chain (exit 1 naming each altered or missing record), export.
int audit_verify(const std::filesystem::path& config, int grace_seconds);
struct AuditExportArgs {
  std::string format = "csv";  // csv or json (one object per line)
  std::string since, until;
};
int audit_export(const std::filesystem::path& config, const AuditExportArgs& args);

std::string version_string();

}  // namespace cjhub::app
