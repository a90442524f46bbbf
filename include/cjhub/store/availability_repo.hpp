// Endpoint availability: what the dispatchers observed per minute (attempts, probes, answer
// times), the probes' outcomes (which open and close outages like delivery attempts do), and the
// scorecard read from them: availability, error budget, outages and answer times per endpoint over
// a period. Tables in migration 0016; outages are written with each attempt's outcome by
// src/store/endpoint_health.cpp.
#pragma once

#include "cjhub/store/connection.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cjhub::store {

// Upper bounds (milliseconds, inclusive) of the answer-time buckets; one more bucket counts the rest.
inline constexpr std::array<int, 10> kAnswerBoundsMs{10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
using AnswerCounts = std::array<long long, kAnswerBoundsMs.size() + 1>;

// What one hub saw of one endpoint in one minute.
struct EndpointBucket {
  long long endpoint_id = 0;
  std::int64_t minute = 0;  // Unix seconds, a multiple of 60
  long long attempts_up = 0;     // answered 2xx
  long long attempts_down = 0;   // refused, TLS failure, timeout, reset, 408/429/5xx
  long long attempts_other = 0;  // answered, refusing the message (other 4xx)
  long long probes_up = 0;
  long long probes_down = 0;
  AnswerCounts answer_ms{};  // answer times of attempts and probes that got an HTTP answer
};

// Adds the buckets to their minute, hour and day rows, in one transaction (several hubs add to the
// same rows).
void record_buckets(Connection& conn, const std::vector<EndpointBucket>& buckets);

// A probe's outcome: up closes the endpoint's open outage at `at`, down opens one at `at` (or
// counts another failure in it). Probes never move the failure count that pauses an endpoint.
void record_probe(Connection& conn, long long endpoint_id, bool up, const std::string& cause,
                  std::chrono::system_clock::time_point at);

struct Outage {
  std::string started_at;  // ISO 8601, UTC
  std::string ended_at;    // empty: still open
  double seconds = 0;      // within the period asked about
  std::string cause;
  std::string last_cause;
  long long failures = 0;
};
struct EndpointScore {
  long long endpoint_id = 0;
  std::string ori, agency, endpoint, url;
  bool up = true;                 // no outage open now
  double period_seconds = 0;      // watched within the period, up to now
  double down_seconds = 0;
  std::optional<double> availability;  // none before the period began
  double budget_seconds = 0;      // downtime the objective allows over the whole period
  double budget_left = 1;         // 1 - down / budget (negative when spent)
  long long outages = 0;
  std::vector<Outage> longest;    // the longest ones (at most 5), longest first
  long long attempts_up = 0, attempts_down = 0, attempts_other = 0, probes_up = 0, probes_down = 0;
  std::optional<double> answer_p50_ms, answer_p99_ms;
};
// Every active endpoint (of `ori` only, when given) over [from, to) (timestamptz texts).
// Volumes and answer times come from the day rows of the period (`from` and `to` at midnight UTC
// count whole days).
std::vector<EndpointScore> endpoint_scores(Connection& conn, const std::string& from, const std::string& to,
                                           double objective, const std::optional<std::string>& ori);

// The hub's own availability: seconds each /readyz component was ok and down in a minute, as one
// hub sampled them (`overall`: every component ok at once).
struct ComponentSeconds {
  std::int64_t minute = 0;  // Unix seconds, a multiple of 60
  std::string component;
  long long ok_s = 0, down_s = 0;
};
void record_component_seconds(Connection& conn, const std::string& instance, const std::vector<ComponentSeconds>& rows);
struct ComponentScore {
  std::string component;
  double watched_seconds = 0;  // seconds sampled (by the best hub of each minute), plus 60 for each
                               // whole minute since the period's first sample that no hub sampled
  double up_seconds = 0;       // per minute, the best hub's seconds ok
  std::optional<double> availability;
  long long instances = 0;     // hubs that reported the component in the period
};
// Best health across the hubs: a minute counts as well as its best hub; minutes no hub reported
// (all stopped) count as down.
std::vector<ComponentScore> component_scores(Connection& conn, const std::string& from, const std::string& to);

// A month "YYYY-MM" as [first day, first day of the next month), both at midnight UTC (ISO 8601
// texts); none when the text is not such a month (years 2000-2999).
std::optional<std::pair<std::string, std::string>> month_period(const std::string& month);
std::string current_month();  // "YYYY-MM", UTC

// A quantile (0..1) of an answer-time histogram, interpolated within its bucket; none when empty.
std::optional<double> answer_quantile(const AnswerCounts& counts, double q);

// Retention: buckets older than their cutoffs (timestamptz texts) and outages that ended before
// `outages_before`, at most `batch` rows of each table per call (oldest first). Returns the rows
// removed; call again until it returns 0.
std::size_t prune_availability(Connection& conn, const std::string& minutes_before, const std::string& hours_before,
                               const std::string& days_before, const std::string& outages_before,
                               long long batch = 10000);
std::size_t prune_component_minutes(Connection& conn, const std::string& before, long long batch = 10000);

}  // namespace cjhub::store
