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

std::string version_string();

}  // namespace cjhub::app
