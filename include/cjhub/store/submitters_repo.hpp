// Submitter telemetry: what each agency submitted per day and outcome, when it last had a
// submission accepted, and the submitters' part of the scorecard with silence detection (an agency
// whose usual daily volume is at least a threshold and that has had nothing accepted for a while).
// Tables in migration 0017.
#pragma once

#include "cjhub/store/connection.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cjhub::store {

// Submissions of one agency with one outcome on one day, as one hub counted them.
struct SubmissionCount {
  std::string ori;
  std::int64_t day = 0;  // Unix seconds of the day's midnight UTC
  std::string outcome;   // accepted, duplicate, refused:<problem>
  long long n = 0;
  std::optional<std::chrono::system_clock::time_point> last_accepted;  // the latest accepted among them
  std::int64_t certificate_not_after = 0;  // its client certificate's notAfter (Unix s; 0: unknown)
};
// Adds the counts to their days and moves each agency's last accepted submission forward, with the
// notAfter of the certificate it came with (agencies.certificate_not_after).
void record_submissions(Connection& conn, const std::vector<SubmissionCount>& counts);

struct SilenceRule {
  int baseline_days = 14;          // the usual volume: accepted per day over these days
  long long min_daily = 10;        // agencies usually sending fewer are never called silent
  std::chrono::hours after{24};    // nothing accepted for this long
};
struct SubmitterDay {
  std::string day;  // YYYY-MM-DD
  long long accepted = 0, duplicates = 0, refused = 0;
};
struct SubmitterScore {
  std::string ori, agency;
  std::string last_submission_at;  // ISO 8601 UTC; empty: never
  double last_submission_epoch = 0;  // the same, Unix seconds
  long long accepted = 0, duplicates = 0, refused = 0;  // within the period
  std::map<std::string, long long> refused_by_reason;   // the problem's slug -> count
  std::vector<SubmitterDay> days;                       // days of the period with submissions
  double usual_daily = 0;  // accepted per day over the baseline days before `after`
  bool silent = false;
};
// Every active agency that may publish (of `ori` only, when given), over [from, to).
std::vector<SubmitterScore> submitter_scores(Connection& conn, const std::string& from, const std::string& to,
                                             const SilenceRule& rule, const std::optional<std::string>& ori);

std::size_t prune_submitters(Connection& conn, const std::string& days_before);

}  // namespace cjhub::store
