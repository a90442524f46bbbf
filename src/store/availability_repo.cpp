#include "cjhub/store/availability_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/endpoint_health.hpp"
#include "store/translate.hpp"
#include "store/values.hpp"

#include <ctime>
#include <fmt/format.h>
#include <map>
#include <pqxx/pqxx>

namespace cjhub::store {

namespace sql {
namespace {

// Adds a batch of minute buckets to `table`, grouped first by the table's unit (several minutes of
// one batch fall into one hour): $1 endpoint ids, $2 minutes (Unix seconds), $3..$7 the counts,
// $8 the answer-time histograms as bigint[] literals.
std::string add_buckets(const char* table, const char* unit) {
  return std::string("INSERT INTO ") + table +
         " AS t (endpoint_id, bucket, attempts_up, attempts_down, attempts_other, probes_up, probes_down, "
         "answer_ms) "
         "SELECT e, date_trunc('" + unit + "', to_timestamp(m), 'UTC'), sum(au), sum(ad), sum(ao), sum(pu), sum(pd), "
         "  cjhub_sum_counts(h::bigint[]) "
         "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], "
         "  $7::bigint[], $8::text[]) AS u(e, m, au, ad, ao, pu, pd, h) "
         "GROUP BY 1, 2 "
         "ON CONFLICT (endpoint_id, bucket) DO UPDATE SET attempts_up = t.attempts_up + EXCLUDED.attempts_up, "
         "attempts_down = t.attempts_down + EXCLUDED.attempts_down, "
         "attempts_other = t.attempts_other + EXCLUDED.attempts_other, "
         "probes_up = t.probes_up + EXCLUDED.probes_up, probes_down = t.probes_down + EXCLUDED.probes_down, "
         "answer_ms = cjhub_add_counts(t.answer_ms, EXCLUDED.answer_ms)";
}

// The endpoints a scorecard covers and the part of the period each was watched in: $1 from, $2 to,
// $3 an agency or NULL. `lo`..`hi` is what has been observed (up to now); `span` is the whole
// period from when the endpoint was first watched (the error budget's base).
constexpr const char* kScoredEndpoints =
    "WITH e AS (SELECT e.id, e.ori, a.name AS agency, e.name, e.url, "
    "    greatest($1::timestamptz, e.watched_since) AS lo, least($2::timestamptz, now()) AS hi, "
    "    greatest(0, extract(epoch FROM $2::timestamptz - greatest($1::timestamptz, e.watched_since))) AS span "
    "  FROM endpoints e JOIN agencies a ON a.ori = e.ori "
    "  WHERE e.active AND ($3::text IS NULL OR e.ori = $3)), "
    "o AS (SELECT o.endpoint_id, o.started_at, o.ended_at, o.cause, o.last_cause, o.failures, "
    "    extract(epoch FROM least(coalesce(o.ended_at, now()), e.hi) - greatest(o.started_at, e.lo)) AS secs "
    "  FROM endpoint_outages o JOIN e ON e.id = o.endpoint_id "
    "  WHERE o.started_at < e.hi AND (o.ended_at IS NULL OR o.ended_at > e.lo)) ";
constexpr const char* kScores =
    "SELECT e.id, e.ori, e.agency, e.name, e.url, "
    "  NOT EXISTS (SELECT 1 FROM endpoint_outages x WHERE x.endpoint_id = e.id AND x.ended_at IS NULL), "
    "  greatest(0, extract(epoch FROM e.hi - e.lo)), e.span, coalesce(s.down, 0), coalesce(s.n, 0) "
    "FROM e LEFT JOIN (SELECT endpoint_id, sum(secs) AS down, count(*) AS n FROM o GROUP BY 1) s "
    "  ON s.endpoint_id = e.id ORDER BY e.ori, e.name";
constexpr const char* kLongest =
    "SELECT endpoint_id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "  coalesce(to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), secs, cause, "
    "  last_cause, failures "
    "FROM (SELECT o.*, row_number() OVER (PARTITION BY endpoint_id ORDER BY secs DESC, started_at) AS r FROM o) x "
    "WHERE r <= 5 ORDER BY endpoint_id, r";
constexpr const char* kVolumes =
    "SELECT d.endpoint_id, sum(d.attempts_up), sum(d.attempts_down), sum(d.attempts_other), sum(d.probes_up), "
    "  sum(d.probes_down) "
    "FROM endpoint_days d JOIN e ON e.id = d.endpoint_id "
    "WHERE d.bucket >= $1::timestamptz AND d.bucket < $2::timestamptz GROUP BY 1";
constexpr const char* kAnswerTimes =
    "SELECT d.endpoint_id, u.i, sum(u.n) "
    "FROM endpoint_days d JOIN e ON e.id = d.endpoint_id, unnest(d.answer_ms) WITH ORDINALITY AS u(n, i) "
    "WHERE d.bucket >= $1::timestamptz AND d.bucket < $2::timestamptz GROUP BY 1, 2";

// At most $2 rows of each per call, oldest first (the bucket indexes).
std::string prune_buckets(const char* table) {
  return std::string("DELETE FROM ") + table + " t USING (SELECT endpoint_id, bucket FROM " + table +
         " WHERE bucket < $1::timestamptz ORDER BY bucket LIMIT $2) o "
         "WHERE t.endpoint_id = o.endpoint_id AND t.bucket = o.bucket";
}
constexpr const char* kAddComponentSeconds =
    "INSERT INTO hub_component_minutes AS t (minute, component, instance, ok_s, down_s) "
    "SELECT to_timestamp(m), c, $1, o, d FROM unnest($2::bigint[], $3::text[], $4::int[], $5::int[]) AS u(m, c, o, d) "
    "ORDER BY 1, 2 "
    "ON CONFLICT (minute, component, instance) DO UPDATE SET ok_s = t.ok_s + EXCLUDED.ok_s, "
    "down_s = t.down_s + EXCLUDED.down_s";
// Per component and minute the best hub's seconds ok and seconds sampled; whole minutes without a
// sample (no hub running) count as 60 s down, except the last two (not written yet).
constexpr const char* kComponentScores =
    "WITH p AS (SELECT $1::timestamptz AS lo, least($2::timestamptz, now()) AS hi), "
    "best AS (SELECT h.component, h.minute, least(60, max(h.ok_s)) AS up, least(60, max(h.ok_s + h.down_s)) AS covered "
    "  FROM hub_component_minutes h, p WHERE h.minute >= p.lo AND h.minute < p.hi GROUP BY 1, 2), "
    // The whole minutes from the first sample up to two minutes ago, where a missing row means no hub ran.
    "f AS (SELECT min(b.minute) AS at, greatest(0, floor(extract(epoch FROM (p.hi - interval '2 minutes') - "
    "  min(b.minute)) / 60))::int AS n FROM best b, p GROUP BY p.hi) "
    "SELECT b.component, (sum(b.covered) + 60 * greatest(0, f.n - count(*) FILTER ("
    "    WHERE b.minute < f.at + make_interval(mins => f.n))))::float8, sum(b.up)::float8, "
    "  (SELECT count(DISTINCT instance) FROM hub_component_minutes h WHERE h.component = b.component "
    "    AND h.minute >= p.lo AND h.minute < p.hi) "
    "FROM best b, p, f GROUP BY b.component, p.lo, p.hi, f.at, f.n ORDER BY b.component = 'overall' DESC, b.component";
constexpr const char* kPruneComponents =
    "DELETE FROM hub_component_minutes t USING (SELECT minute, component, instance FROM hub_component_minutes "
    "WHERE minute < $1::timestamptz ORDER BY minute LIMIT $2) o "
    "WHERE t.minute = o.minute AND t.component = o.component AND t.instance = o.instance";
constexpr const char* kPruneOutages =
    "DELETE FROM endpoint_outages WHERE id IN (SELECT id FROM endpoint_outages WHERE ended_at < $1::timestamptz "
    "ORDER BY ended_at LIMIT $2)";

}  // namespace
}  // namespace sql

namespace {

std::string counts_literal(const AnswerCounts& c) {
  std::string s = "{";
  for (std::size_t i = 0; i < c.size(); ++i) s += (i ? "," : "") + std::to_string(c[i]);
  return s + "}";
}

}  // namespace

void record_buckets(Connection& conn, const std::vector<EndpointBucket>& buckets) {
  if (buckets.empty()) return;
  std::vector<long long> ids, minutes, au, ad, ao, pu, pd;
  std::vector<std::string> hist;
  for (const auto& b : buckets) {
    ids.push_back(b.endpoint_id);
    minutes.push_back(b.minute);
    au.push_back(b.attempts_up);
    ad.push_back(b.attempts_down);
    ao.push_back(b.attempts_other);
    pu.push_back(b.probes_up);
    pd.push_back(b.probes_down);
    hist.push_back(counts_literal(b.answer_ms));
  }
  const auto args = std::make_tuple(values::int_array(ids), values::int_array(minutes), values::int_array(au),
                                    values::int_array(ad), values::int_array(ao), values::int_array(pu),
                                    values::int_array(pd), values::text_array(hist));
  translate_errors([&] {
    Transaction tx(conn, "record_buckets");
    // Always minute, hour, day, in one order: two hubs adding to the same rows never deadlock.
    for (const auto& table_unit : {std::pair{"endpoint_minutes", "minute"}, std::pair{"endpoint_hours", "hour"},
                                   std::pair{"endpoint_days", "day"}}) {
      const auto statement = sql::add_buckets(table_unit.first, table_unit.second);
      std::apply([&](const auto&... a) { tx.exec_params0(statement, a...); }, args);
    }
    tx.commit();
  });
}

void record_probe(Connection& conn, long long endpoint_id, bool up, const std::string& cause,
                  std::chrono::system_clock::time_point at) {
  translate_errors([&] {
    Transaction tx(conn, "record_probe");
    endpoint_health::probed(tx, endpoint_id, up, cause, at);
    tx.commit();
  });
}

void record_component_seconds(Connection& conn, const std::string& instance, const std::vector<ComponentSeconds>& rows) {
  if (rows.empty()) return;
  std::vector<long long> minutes, ok, down;
  std::vector<std::string> names;
  for (const auto& r : rows) {
    minutes.push_back(r.minute);
    names.push_back(r.component);
    ok.push_back(r.ok_s);
    down.push_back(r.down_s);
  }
  translate_errors([&] {
    Transaction tx(conn, "record_component_seconds");
    tx.exec_params0(sql::kAddComponentSeconds, instance, values::int_array(minutes), values::text_array(names),
                    values::int_array(ok), values::int_array(down));
    tx.commit();
  });
}

std::vector<ComponentScore> component_scores(Connection& conn, const std::string& from, const std::string& to) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ComponentScore> out;
    for (const auto& r : tx.exec_params(sql::kComponentScores, from, to)) {
      ComponentScore c;
      c.component = r[0].as<std::string>();
      c.watched_seconds = r[1].as<double>();
      c.up_seconds = r[2].as<double>();
      if (c.watched_seconds > 0) c.availability = c.up_seconds / c.watched_seconds;
      c.instances = r[3].as<long long>();
      out.push_back(std::move(c));
    }
    return out;
  });
}

std::size_t prune_component_minutes(Connection& conn, const std::string& before, long long batch) {
  return translate_errors([&] {
    Transaction tx(conn, "retention_components");
    const auto n = static_cast<std::size_t>(tx.exec_params(sql::kPruneComponents, before, batch).affected_rows());
    tx.commit();
    return n;
  });
}

std::optional<std::pair<std::string, std::string>> month_period(const std::string& month) {
  if (month.size() != 7 || month[4] != '-') return std::nullopt;
  for (const auto i : {0, 1, 2, 3, 5, 6}) {
    if (month[i] < '0' || month[i] > '9') return std::nullopt;
  }
  const int year = std::stoi(month.substr(0, 4));
  const int mon = std::stoi(month.substr(5, 2));
  if (year < 2000 || year > 2999 || mon < 1 || mon > 12) return std::nullopt;
  const int next_year = mon == 12 ? year + 1 : year;
  const int next_mon = mon == 12 ? 1 : mon + 1;
  return std::pair{fmt::format("{:04d}-{:02d}-01T00:00:00Z", year, mon),
                   fmt::format("{:04d}-{:02d}-01T00:00:00Z", next_year, next_mon)};
}

std::string current_month() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04d}-{:02d}", tm.tm_year + 1900, tm.tm_mon + 1);
}

std::optional<double> answer_quantile(const AnswerCounts& counts, double q) {
  long long total = 0;
  for (const auto n : counts) total += n;
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  long long before = 0;
  for (std::size_t b = 0; b < counts.size(); ++b) {
    if (counts[b] == 0 || static_cast<double>(before + counts[b]) < rank) {
      before += counts[b];
      continue;
    }
    const double lower = b == 0 ? 0.0 : kAnswerBoundsMs[b - 1];
    if (b == kAnswerBoundsMs.size()) return lower;  // beyond the last bound: reported as the bound
    const double upper = kAnswerBoundsMs[b];
    return lower + (upper - lower) * (rank - static_cast<double>(before)) / static_cast<double>(counts[b]);
  }
  return static_cast<double>(kAnswerBoundsMs.back());
}

std::vector<EndpointScore> endpoint_scores(Connection& conn, const std::string& from, const std::string& to,
                                           double objective, const std::optional<std::string>& ori) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    tx.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");  // the four reads see one state
    std::vector<EndpointScore> out;
    std::map<long long, std::size_t> at;
    for (const auto& r : tx.exec_params(std::string(sql::kScoredEndpoints) + sql::kScores, from, to, ori)) {
      EndpointScore s;
      s.endpoint_id = r[0].as<long long>();
      s.ori = r[1].as<std::string>();
      s.agency = r[2].as<std::string>();
      s.endpoint = r[3].as<std::string>();
      s.url = r[4].as<std::string>();
      s.up = r[5].as<bool>();
      s.period_seconds = r[6].as<double>();
      const double span = r[7].as<double>();
      s.down_seconds = std::min(r[8].as<double>(), s.period_seconds);
      s.outages = r[9].as<long long>();
      if (s.period_seconds > 0) s.availability = 1.0 - s.down_seconds / s.period_seconds;
      s.budget_seconds = (1.0 - objective) * span;
      s.budget_left = s.budget_seconds > 0 ? 1.0 - s.down_seconds / s.budget_seconds : (s.down_seconds > 0 ? -1 : 1);
      at[s.endpoint_id] = out.size();
      out.push_back(std::move(s));
    }
    for (const auto& r : tx.exec_params(std::string(sql::kScoredEndpoints) + sql::kLongest, from, to, ori)) {
      auto& s = out[at.at(r[0].as<long long>())];
      s.longest.push_back({r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<double>(), r[4].as<std::string>(),
                           r[5].as<std::string>(), r[6].as<long long>()});
    }
    for (const auto& r : tx.exec_params(std::string(sql::kScoredEndpoints) + sql::kVolumes, from, to, ori)) {
      auto& s = out[at.at(r[0].as<long long>())];
      s.attempts_up = r[1].as<long long>();
      s.attempts_down = r[2].as<long long>();
      s.attempts_other = r[3].as<long long>();
      s.probes_up = r[4].as<long long>();
      s.probes_down = r[5].as<long long>();
    }
    std::map<long long, AnswerCounts> answers;
    for (const auto& r : tx.exec_params(std::string(sql::kScoredEndpoints) + sql::kAnswerTimes, from, to, ori)) {
      const auto i = r[1].as<std::size_t>();
      if (i >= 1 && i <= AnswerCounts{}.size()) answers[r[0].as<long long>()][i - 1] = r[2].as<long long>();
    }
    for (const auto& [id, counts] : answers) {
      auto& s = out[at.at(id)];
      s.answer_p50_ms = answer_quantile(counts, 0.5);
      s.answer_p99_ms = answer_quantile(counts, 0.99);
    }
    return out;
  });
}

std::size_t prune_availability(Connection& conn, const std::string& minutes_before, const std::string& hours_before,
                               const std::string& days_before, const std::string& outages_before, long long batch) {
  return translate_errors([&] {
    Transaction tx(conn, "retention_availability");
    std::size_t n = 0;
    const auto rows = [&](const std::string& q, const std::string& cutoff) {
      n += static_cast<std::size_t>(tx.exec_params(q, cutoff, batch).affected_rows());
    };
    rows(sql::prune_buckets("endpoint_minutes"), minutes_before);
    rows(sql::prune_buckets("endpoint_hours"), hours_before);
    rows(sql::prune_buckets("endpoint_days"), days_before);
    rows(sql::kPruneOutages, outages_before);
    tx.commit();
    return n;
  });
}

}  // namespace cjhub::store
