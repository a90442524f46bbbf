#include "cjhub/store/operations_repo.hpp"

#include "cjhub/store/availability_repo.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <set>

#include "cjhub/ops/metrics.hpp"
#include "cjhub/store/database.hpp"
#include "store/cursor.hpp"
#include "store/lanes.hpp"
#include "store/log_progress.hpp"
#include "store/values.hpp"

namespace cjhub::store {

namespace sql {
namespace {

// What waits for an endpoint on the log: entries after its cursor that are not finished and not
// rows (looking at most 100,000 positions ahead, counted up to 10,000), and the oldest one's time.
#define CJHUB_LOG_WAITING(endpoint, what, tail)                                                          \
  "(SELECT " what " FROM (SELECT m.stored_at FROM messages m JOIN endpoint_cursors k ON k.endpoint_id = " endpoint \
  "  WHERE m.recipients IS NOT NULL AND m.seq > k.position AND m.seq <= k.position + 100000 "               \
  "  AND " endpoint " = ANY (m.recipients) "                                                                  \
  "  AND NOT " CJHUB_LOG_ENTRY_DONE(m, k) " AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.message_id = m.id "    \
  "  AND x.endpoint_id = " endpoint ") ORDER BY m.seq " tail ") w)"

// Dead letters by delivery id ($1), agency ($2), endpoint name ($3), dead between $4 and $5.
constexpr const char* kDeadFilter =
    "d.state = 'dead' AND ($1::uuid IS NULL OR d.id = $1::uuid) AND ($2::text IS NULL OR e.ori = $2) "
    "AND ($3::text IS NULL OR e.name = $3) AND ($4::timestamptz IS NULL OR d.dead_at >= $4::timestamptz) "
    "AND ($5::timestamptz IS NULL OR d.dead_at < $5::timestamptz)";
constexpr const char* kListDeadPrefix =
    "SELECT d.id::text, d.message_id::text, m.message_type, d.recipient_ori, e.name, d.attempts, "
    "d.last_status, d.last_error, to_char(d.dead_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "d.case_key FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id JOIN messages m ON m.id = d.message_id WHERE ";
constexpr const char* kListDeadSuffix = " ORDER BY d.dead_at, d.seq LIMIT $6";
constexpr const char* kCountDeadPrefix =
    "SELECT count(*) FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id WHERE ";
// Replayed dead letters re-enter their lane behind what is already there.
constexpr const char* kReplayPrefix =
    "UPDATE deliveries d SET state = CASE WHEN d.case_key IS NULL THEN 'pending' ELSE 'queued' END, "
    "attempts = 0, next_attempt_at = now(), dead_at = NULL, "
    "expires_at = now() + coalesce((SELECT retry_window FROM subscriptions s WHERE s.id = d.subscription_id), "
    "interval '72 hours'), "
    "last_error = 'replayed after: ' || coalesce(d.last_error, '') FROM endpoints e WHERE e.id = d.endpoint_id AND ";
constexpr const char* kReplaySuffix = " RETURNING d.id::text, d.endpoint_id, d.case_key";
constexpr const char* kSetEndpointPaused =
    "UPDATE endpoints SET paused = $3, paused_at = CASE WHEN $3 THEN now() END, "
    "paused_reason = CASE WHEN $3 THEN $4 END, consecutive_failures = 0 "
    "WHERE ori = $1 AND name = $2 AND active RETURNING id";
constexpr const char* kEndpointStatus =
    "SELECT e.ori, e.name, e.url, e.paused, e.paused_reason, e.consecutive_failures, "
    "(SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.state IN ('queued', 'pending', 'in_flight')) + "
    CJHUB_LOG_WAITING("e.id", "count(*)", "LIMIT 10000") ", "
    "(SELECT count(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.state = 'dead'), "
    // When it last answered and last failed, and its three latest outages (newest first).
    "coalesce(to_char(e.last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(to_char(e.last_failure_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "(SELECT coalesce(json_agg(json_build_object("
    "   'started_at', to_char(o.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "   'ended_at', to_char(o.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "   'cause', o.cause, 'last_cause', o.last_cause, 'failures', o.failures) ORDER BY o.started_at DESC), '[]') "
    " FROM (SELECT * FROM endpoint_outages o WHERE o.endpoint_id = e.id ORDER BY o.started_at DESC LIMIT 3) o)::text "
    "FROM endpoints e WHERE e.active ORDER BY e.ori, e.name";
// Messages by received_at (its index) and attempts from the per-minute buckets every hub adds to.
constexpr const char* kThroughputMinutes =
    "WITH m AS (SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1::int - 1), "
    "                                  date_trunc('minute', now()), interval '1 minute') AS at), "
    "a AS (SELECT date_trunc('minute', received_at) AS at, count(*) AS n FROM messages "
    "      WHERE received_at >= date_trunc('minute', now()) - make_interval(mins => $1::int - 1) GROUP BY 1), "
    "d AS (SELECT bucket AS at, sum(attempts_up) AS up, sum(attempts_down + attempts_other) AS down "
    "      FROM endpoint_minutes WHERE bucket >= date_trunc('minute', now()) - make_interval(mins => $1::int - 1) "
    "      GROUP BY 1) "
    "SELECT to_char(m.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(a.n, 0), "
    "coalesce(d.up, 0), coalesce(d.down, 0) FROM m LEFT JOIN a USING (at) LEFT JOIN d USING (at) ORDER BY m.at";
constexpr const char* kEndpointGauges =
    "SELECT e.ori, e.name, e.paused, coalesce(b.n, 0) + " CJHUB_LOG_WAITING("e.id", "count(*)", "LIMIT 10000") ", "
    "coalesce(extract(epoch FROM now() - least(b.oldest, " CJHUB_LOG_WAITING("e.id", "min(stored_at)", "LIMIT 1") ")), 0), "
    "coalesce(x.n, 0) FROM endpoints e "
    "LEFT JOIN (SELECT endpoint_id, count(*) AS n, min(created_at) AS oldest FROM deliveries "
    "           WHERE state IN ('queued', 'pending', 'in_flight') GROUP BY endpoint_id) b ON b.endpoint_id = e.id "
    "LEFT JOIN (SELECT endpoint_id, count(*) AS n FROM deliveries WHERE state = 'dead' GROUP BY endpoint_id) x "
    "       ON x.endpoint_id = e.id "
    "WHERE e.active ORDER BY e.ori, e.name";
constexpr const char* kErasureGauges =
    "SELECT d.recipient_ori, count(*) FILTER (WHERE now() <= x.deadline_at), count(*) FILTER (WHERE now() > x.deadline_at) "
    "FROM deliveries d JOIN erasures x ON x.id = d.erasure_id AND x.superseded_by IS NULL "
    "WHERE d.erasure_id IS NOT NULL AND (d.ack_status IS DISTINCT FROM 'completed' OR d.attempts = 0) AND d.state <> 'suppressed' "
    "GROUP BY d.recipient_ori "
    "ORDER BY d.recipient_ori";
// Per active endpoint, cheaply enough to ask every few seconds under any backlog: whether paused,
// pending deliveries (counted up to 10,000) and the age of the oldest one due.
constexpr const char* kEndpointBacklogs =
    "SELECT e.ori, e.name, e.paused, "
    "(SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending' "
    "  LIMIT 10000) x) + " CJHUB_LOG_WAITING("e.id", "count(*)", "LIMIT 10000") ", "
    "coalesce(extract(epoch FROM now() - least((SELECT min(d.next_attempt_at) FROM deliveries d "
    "  WHERE d.endpoint_id = e.id AND d.state = 'pending' AND d.next_attempt_at <= now()), "
    "  " CJHUB_LOG_WAITING("e.id", "min(stored_at)", "LIMIT 1") ")), 0)::float8 "
    "FROM endpoints e WHERE e.active ORDER BY e.ori, e.name";

#undef CJHUB_LOG_WAITING

}  // namespace
}  // namespace sql


using values::opt_int;
using values::text;

std::vector<DeadLetter> list_dead(Connection& conn, const DeadLetterFilter& f) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<DeadLetter> out;
    const std::string q = std::string(sql::kListDeadPrefix) + sql::kDeadFilter + sql::kListDeadSuffix;
    for (const auto& r : tx.exec_params(q, f.delivery_id, f.ori, f.endpoint, f.since, f.until, f.limit)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<int>(), opt_int(r[6]),
                     text(r[7]), text(r[8]), text(r[9])});
    }
    return out;
  });
}

void each_dead(Connection& conn, const DeadLetterFilter& f, const std::function<void(const DeadLetter&)>& each) {
  translate_errors([&] {
    pqxx::read_transaction tx(conn);
    const std::string q = std::string(sql::kListDeadPrefix) + sql::kDeadFilter + sql::kListDeadSuffix;
    const std::optional<long long> limit = f.limit > 0 ? std::optional(f.limit) : std::nullopt;  // LIMIT NULL: all
    cursor::each_row(tx, "cjhub_dead_letters", q, [&](const pqxx::row& r) {
      each({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
            r[4].as<std::string>(), r[5].as<int>(), opt_int(r[6]), text(r[7]), text(r[8]), text(r[9])});
    }, f.delivery_id, f.ori, f.endpoint, f.since, f.until, limit);
    return 0;
  });
}

long long count_dead(Connection& conn, const DeadLetterFilter& f) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    const std::string q = std::string(sql::kCountDeadPrefix) + sql::kDeadFilter;
    return tx.exec_params(q, f.delivery_id, f.ori, f.endpoint, f.since, f.until)[0][0].as<long long>();
  });
}

std::vector<std::string> replay_dead(Connection& conn, const DeadLetterFilter& f) {
  return translate_errors([&] {
    Transaction tx(conn, "replay");
    const std::string q = std::string(sql::kReplayPrefix) + sql::kDeadFilter + sql::kReplaySuffix;
    const auto r = tx.exec_params(q, f.delivery_id, f.ori, f.endpoint, f.since, f.until);
    std::vector<std::string> ids;
    std::set<lanes::Lane> lanes;
    for (const auto& row : r) {
      ids.push_back(row[0].as<std::string>());
      if (!row[2].is_null()) lanes.insert({row[1].as<long long>(), row[2].as<std::string>()});
    }
    lanes::lock_and_promote(tx, lanes);
    if (!ids.empty()) lanes::notify(tx);
    tx.commit();
    return ids;
  });
}

bool set_endpoint_paused(Connection& conn, const std::string& ori, const std::string& name,
                         bool paused, const std::string& reason) {
  return translate_errors([&] {
    Transaction tx(conn, "pause");
    const auto r = tx.exec_params(sql::kSetEndpointPaused, ori, name, paused, reason);
    if (!paused && !r.empty()) lanes::notify(tx);
    tx.commit();
    return !r.empty();
  });
}

std::string database_gauges(Connection& conn, const SilenceRule& silence) {
  std::string gauges = translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::string out;
    const auto label = metrics::label_value;
    std::string backlog, oldest, paused, dead;
    for (const auto& r : tx.exec(sql::kEndpointGauges)) {
      const auto l = "{agency=\"" + label(r[0].as<std::string>()) + "\",endpoint=\"" + label(r[1].as<std::string>()) + "\"}";
      backlog += "cjhub_endpoint_backlog" + l + " " + r[3].as<std::string>() + "\n";
      oldest += "cjhub_endpoint_oldest_pending_seconds" + l + " " + std::to_string(r[4].as<double>()) + "\n";
      paused += "cjhub_endpoint_paused" + l + " " + (r[2].as<bool>() ? "1" : "0") + "\n";
      dead += "cjhub_endpoint_dead_letters" + l + " " + r[5].as<std::string>() + "\n";
    }
    out += "# HELP cjhub_endpoint_backlog Deliveries not yet finished (queued, pending, in flight).\n"
           "# TYPE cjhub_endpoint_backlog gauge\n" + backlog;
    out += "# HELP cjhub_endpoint_oldest_pending_seconds Age of the oldest unfinished delivery.\n"
           "# TYPE cjhub_endpoint_oldest_pending_seconds gauge\n" + oldest;
    out += "# HELP cjhub_endpoint_paused 1 when the endpoint is paused.\n# TYPE cjhub_endpoint_paused gauge\n" + paused;
    out += "# HELP cjhub_endpoint_dead_letters Dead letters waiting for an operator.\n"
           "# TYPE cjhub_endpoint_dead_letters gauge\n" + dead;
    std::string awaiting, overdue;
    for (const auto& r : tx.exec(sql::kErasureGauges)) {
      const auto l = "{agency=\"" + label(r[0].as<std::string>()) + "\"}";
      awaiting += "cjhub_erasures_awaiting_confirmation" + l + " " + r[1].as<std::string>() + "\n";
      overdue += "cjhub_erasures_overdue" + l + " " + r[2].as<std::string>() + "\n";
    }
    out += "# HELP cjhub_erasures_awaiting_confirmation Erasure notices not yet confirmed, within the deadline.\n"
           "# TYPE cjhub_erasures_awaiting_confirmation gauge\n" + awaiting;
    out += "# HELP cjhub_erasures_overdue Erasure notices not confirmed by the statutory deadline.\n"
           "# TYPE cjhub_erasures_overdue gauge\n" + overdue;
    return out;
  });
  // Availability: now, and over the month so far (UTC).
  const auto month = month_period(current_month());
  std::string up, ratio;
  for (const auto& s : endpoint_scores(conn, month->first, month->second, 0.999, std::nullopt)) {
    const auto l = "agency=\"" + metrics::label_value(s.ori) + "\",endpoint=\"" + metrics::label_value(s.endpoint) + "\"";
    up += "cjhub_endpoint_up{" + l + "} " + (s.up ? "1" : "0") + "\n";
    if (s.availability) ratio += "cjhub_endpoint_availability_ratio{" + l + ",window=\"month\"} " +
                                 fmt::format("{:.6f}", *s.availability) + "\n";
  }
  gauges += "# HELP cjhub_endpoint_up 0 while an outage of the endpoint is open (a failed attempt or probe not yet "
         "followed by a success), else 1.\n# TYPE cjhub_endpoint_up gauge\n" + up;
  gauges += "# HELP cjhub_endpoint_availability_ratio Share of the month so far (UTC) the endpoint was up.\n"
            "# TYPE cjhub_endpoint_availability_ratio gauge\n" + ratio;
  // Submitters: silence and the last accepted submission (agencies that never had one: no series).
  std::string silent, last;
  for (const auto& x : submitter_scores(conn, month->first, month->second, silence, std::nullopt)) {
    const auto l = "{agency=\"" + metrics::label_value(x.ori) + "\"}";
    silent += "cjhub_submitter_silent" + l + (x.silent ? " 1\n" : " 0\n");
    if (!x.last_submission_at.empty()) {
      last += "cjhub_submitter_last_submission_timestamp_seconds" + l + " " +
              fmt::format("{:.3f}", x.last_submission_epoch) + "\n";
    }
  }
  gauges += "# HELP cjhub_submitter_silent 1 when an agency that usually submits has had nothing accepted for "
            "watchers.silence_after_hours.\n# TYPE cjhub_submitter_silent gauge\n" + silent;
  gauges += "# HELP cjhub_submitter_last_submission_timestamp_seconds When the agency's last submission was accepted "
            "(Unix time).\n# TYPE cjhub_submitter_last_submission_timestamp_seconds gauge\n" + last;
  return gauges;
}

std::vector<EndpointBacklog> endpoint_backlogs(Connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<EndpointBacklog> out;
    for (const auto& r : tx.exec(sql::kEndpointBacklogs)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<bool>(), r[3].as<long long>(),
                     r[4].as<double>()});
    }
    return out;
  });
}

std::vector<EndpointState> endpoint_states(Connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<EndpointState> out;
    for (const auto& r : tx.exec(sql::kEndpointStatus)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<bool>(),
                     text(r[4]), r[5].as<int>(), r[6].as<long long>(), r[7].as<long long>(), text(r[8]), text(r[9]),
                     text(r[10])});
    }
    return out;
  });
}

std::vector<ThroughputMinute> throughput_minutes(Connection& conn, int minutes) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<ThroughputMinute> out;
    for (const auto& r : tx.exec_params(sql::kThroughputMinutes, minutes)) {
      out.push_back({r[0].as<std::string>(), r[1].as<long long>(), r[2].as<long long>(), r[3].as<long long>()});
    }
    return out;
  });
}

}  // namespace cjhub::store
