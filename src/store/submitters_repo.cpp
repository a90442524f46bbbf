#include "cjhub/store/submitters_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"
#include "store/values.hpp"

#include <pqxx/pqxx>

namespace cjhub::store {

namespace sql {
namespace {

// $1 agencies, $2 days (Unix seconds), $3 outcomes, $4 counts; in key order, so two hubs adding to
// the same rows take their locks in one order.
constexpr const char* kAddCounts =
    "INSERT INTO submitter_days AS t (ori, day, outcome, n) "
    "SELECT o, (to_timestamp(d) AT TIME ZONE 'UTC')::date, oc, sum(k) "
    "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS u(o, d, oc, k) "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
    "ON CONFLICT (ori, day, outcome) DO UPDATE SET n = t.n + EXCLUDED.n";
// $1 agencies, $2 the latest accepted submission of each (microseconds since the epoch), $3 the
// notAfter of its certificate (Unix seconds, 0: unknown), kept when it is the agency's latest.
constexpr const char* kLastAccepted =
    "UPDATE agencies a SET last_submission_at = greatest(a.last_submission_at, u.t), "
    "certificate_not_after = CASE WHEN u.c IS NOT NULL AND (a.last_submission_at IS NULL OR u.t >= a.last_submission_at) "
    "  THEN u.c ELSE a.certificate_not_after END "
    "FROM (SELECT DISTINCT ON (o) o, to_timestamp(t / 1e6) AS t, CASE WHEN c > 0 THEN to_timestamp(c) END AS c "
    "  FROM unnest($1::text[], $2::float8[], $3::bigint[]) AS u(o, t, c) ORDER BY o, t DESC) u "
    "WHERE a.ori = u.o";

// The agencies scored ($1: one, or NULL) and their usual volume: accepted per day over the $2
// days before the silence window of $3 hours; silent when that is at least $4 and nothing was
// accepted within the window.
constexpr const char* kScoredAgencies =
    "WITH a AS (SELECT a.ori, a.name, a.last_submission_at FROM agencies a WHERE a.active "
    "  AND EXISTS (SELECT 1 FROM agency_publish p WHERE p.ori = a.ori) AND ($1::text IS NULL OR a.ori = $1)) ";
constexpr const char* kSubmitters =
    ", w AS (SELECT ((now() - make_interval(hours => $3::int)) AT TIME ZONE 'UTC')::date AS upto), "
    "base AS (SELECT d.ori, sum(d.n)::float8 / $2::int AS usual FROM submitter_days d JOIN a ON a.ori = d.ori, w "
    "  WHERE d.outcome = 'accepted' AND d.day >= w.upto - $2::int AND d.day < w.upto GROUP BY 1) "
    "SELECT a.ori, a.name, "
    "  coalesce(to_char(a.last_submission_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "  coalesce(base.usual, 0), coalesce(base.usual, 0) >= $4::float8 "
    "  AND (a.last_submission_at IS NULL OR a.last_submission_at < now() - make_interval(hours => $3::int)), "
    "  coalesce(extract(epoch FROM a.last_submission_at)::float8, 0) "
    "FROM a LEFT JOIN base ON base.ori = a.ori ORDER BY a.ori";
constexpr const char* kDays =
    "SELECT d.ori, to_char(d.day, 'YYYY-MM-DD'), d.outcome, d.n FROM submitter_days d JOIN a ON a.ori = d.ori "
    "WHERE d.day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND d.day < ($3::timestamptz AT TIME ZONE 'UTC')::date "
    "ORDER BY d.ori, d.day, d.outcome";

constexpr const char* kPrune = "DELETE FROM submitter_days WHERE day < ($1::timestamptz AT TIME ZONE 'UTC')::date";

}  // namespace
}  // namespace sql

void record_submissions(Connection& conn, const std::vector<SubmissionCount>& counts) {
  if (counts.empty()) return;
  std::vector<std::string> oris, outcomes, last_oris;
  std::vector<long long> days, ns, certificates;
  std::vector<double> last_at;
  for (const auto& c : counts) {
    oris.push_back(c.ori);
    days.push_back(c.day);
    outcomes.push_back(c.outcome);
    ns.push_back(c.n);
    if (c.last_accepted) {
      last_oris.push_back(c.ori);
      certificates.push_back(c.certificate_not_after);
      last_at.push_back(static_cast<double>(
          std::chrono::duration_cast<std::chrono::microseconds>(c.last_accepted->time_since_epoch()).count()));
    }
  }
  translate_errors([&] {
    Transaction tx(conn, "record_submissions");
    tx.exec_params0(sql::kAddCounts, values::text_array(oris), values::int_array(days), values::text_array(outcomes),
                    values::int_array(ns));
    if (!last_oris.empty()) {
      std::string at = "{";
      for (std::size_t i = 0; i < last_at.size(); ++i) at += (i ? "," : "") + std::to_string(last_at[i]);
      tx.exec_params0(sql::kLastAccepted, values::text_array(last_oris), at + "}", values::int_array(certificates));
    }
    tx.commit();
  });
}

std::vector<SubmitterScore> submitter_scores(Connection& conn, const std::string& from, const std::string& to,
                                             const SilenceRule& rule, const std::optional<std::string>& ori) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    tx.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    std::vector<SubmitterScore> out;
    std::map<std::string, std::size_t> at;
    const int after_hours = static_cast<int>(rule.after.count());
    for (const auto& r : tx.exec_params(std::string(sql::kScoredAgencies) + sql::kSubmitters, ori, rule.baseline_days,
                                        after_hours, static_cast<double>(rule.min_daily))) {
      SubmitterScore s;
      s.ori = r[0].as<std::string>();
      s.agency = r[1].as<std::string>();
      s.last_submission_at = r[2].as<std::string>();
      s.usual_daily = r[3].as<double>();
      s.silent = r[4].as<bool>();
      s.last_submission_epoch = r[5].as<double>();
      at[s.ori] = out.size();
      out.push_back(std::move(s));
    }
    for (const auto& r : tx.exec_params(std::string(sql::kScoredAgencies) + sql::kDays, ori, from, to)) {
      auto& s = out[at.at(r[0].as<std::string>())];
      const auto day = r[1].as<std::string>();
      const auto outcome = r[2].as<std::string>();
      const auto n = r[3].as<long long>();
      if (s.days.empty() || s.days.back().day != day) s.days.push_back({day, 0, 0, 0});
      auto& d = s.days.back();
      if (outcome == "accepted") {
        d.accepted += n;
        s.accepted += n;
      } else if (outcome == "duplicate") {
        d.duplicates += n;
        s.duplicates += n;
      } else {
        d.refused += n;
        s.refused += n;
        s.refused_by_reason[outcome.rfind("refused:", 0) == 0 ? outcome.substr(8) : outcome] += n;
      }
    }
    return out;
  });
}

std::size_t prune_submitters(Connection& conn, const std::string& days_before) {
  return translate_errors([&] {
    Transaction tx(conn, "retention_submitters");
    const auto n = static_cast<std::size_t>(tx.exec_params(sql::kPrune, days_before).affected_rows());
    tx.commit();
    return n;
  });
}

}  // namespace cjhub::store
