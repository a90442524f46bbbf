// The certification kit behind `cjhub certify`: gathers one sandbox agency's evidence from the
// store (re-reading its documents with the configured message types and the criteria's fields),
// sends the redelivered duplicate Level 2 asks for, grades it, and writes the reports.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cjhub/certify/criteria.hpp"
#include "cjhub/certify/grade.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/store/connection.hpp"

namespace cjhub::certify {

struct KitOptions {
  std::string ori;
  bool progress = false;  // say on stderr what the kit waits for
  int level = 1;
  std::int64_t since_us = 0;  // 0: the criteria's window before now
  std::string actor = "cli:certify";
  std::size_t max_documents = 5000;  // the newest documents read in the window
};

// Throws CriteriaError (a criterion that does not fit the configured message types), KitError (the
// agency is unknown or not a sandbox agency) and store errors (the database).
struct KitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Reads the evidence; when the level asks for a redelivered duplicate, sends one and waits for its
// outcome (the criterion's wait_seconds). The caller owns the Xerces runtime.
Evidence gather(store::Connection& conn, const config::Config& config, const Criteria& criteria,
                const KitOptions& opts);

// Writes certification-<ORI>-level<N>.{html,json,xml} into `dir`; returns their paths.
std::vector<std::filesystem::path> write_reports(const Report& report, const std::filesystem::path& dir);
std::string report_json(const Report& report);
std::string report_junit(const Report& report);
std::string report_html(const Report& report);

}  // namespace cjhub::certify
