#include "cjhub/ops/scorecard.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <stdexcept>

#include "cjhub/common/csv.hpp"

namespace cjhub::ops {

namespace json = boost::json;

namespace {

json::value opt(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object endpoint_json(const store::EndpointScore& e) {
  json::array longest;
  for (const auto& o : e.longest) {
    json::object x{{"started_at", o.started_at},
                   {"seconds", o.seconds},
                   {"cause", o.cause},
                   {"last_cause", o.last_cause},
                   {"failures", o.failures}};
    x["ended_at"] = o.ended_at.empty() ? json::value(nullptr) : json::value(o.ended_at);
    longest.push_back(std::move(x));
  }
  return {{"endpoint", e.endpoint},
          {"url", e.url},
          {"up", e.up},
          {"availability", opt(e.availability)},
          {"watched_seconds", e.period_seconds},
          {"down_seconds", e.down_seconds},
          {"budget_seconds", e.budget_seconds},
          {"budget_left", e.budget_left},
          {"met", e.availability.has_value() && e.budget_left >= 0},
          {"outages", e.outages},
          {"longest_outages", std::move(longest)},
          {"attempts", json::object{{"up", e.attempts_up}, {"down", e.attempts_down}, {"other", e.attempts_other}}},
          {"probes", json::object{{"up", e.probes_up}, {"down", e.probes_down}}},
          {"answer_ms", json::object{{"p50", opt(e.answer_p50_ms)}, {"p99", opt(e.answer_p99_ms)}}}};
}

std::string pct(const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v * 100.0) : "-"; }

std::string duration(double secs) {
  const auto s = static_cast<long long>(secs + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

}  // namespace

Scorecard read_scorecard(store::Connection& conn, const std::string& month, double objective,
                         const std::optional<std::string>& ori) {
  Scorecard s;
  s.month = month.empty() ? store::current_month() : month;
  const auto period = store::month_period(s.month);
  if (!period) throw std::invalid_argument("month must be YYYY-MM");
  s.from = period->first;
  s.to = period->second;
  s.objective = objective;
  s.endpoints = store::endpoint_scores(conn, s.from, s.to, objective, ori);
  return s;
}

json::object to_json(const Scorecard& s) {
  json::array agencies;
  for (std::size_t i = 0; i < s.endpoints.size();) {
    const auto& first = s.endpoints[i];
    json::array eps;
    for (; i < s.endpoints.size() && s.endpoints[i].ori == first.ori; ++i) eps.push_back(endpoint_json(s.endpoints[i]));
    agencies.push_back(json::object{{"agency", first.ori}, {"name", first.agency}, {"endpoints", std::move(eps)}});
  }
  return {{"month", s.month}, {"from", s.from}, {"to", s.to}, {"objective", s.objective},
          {"agencies", std::move(agencies)}};
}

std::string to_csv(const Scorecard& s) {
  std::string out =
      "month,agency,agency_name,endpoint,up,availability,down_seconds,budget_seconds,budget_left,outages,"
      "longest_outage_seconds,longest_outage_cause,attempts_up,attempts_down,probes_up,probes_down,answer_p50_ms,"
      "answer_p99_ms\n";
  const auto num = [](const std::optional<double>& v) { return v ? fmt::format("{:.6f}", *v) : std::string(); };
  for (const auto& e : s.endpoints) {
    const bool any = !e.longest.empty();
    // Texts go through csv_cell (quoted, formula-safe); numbers are written as they are.
    out += csv_cell(s.month) + ',' + csv_cell(e.ori) + ',' + csv_cell(e.agency) + ',' + csv_cell(e.endpoint) + ',' +
           (e.up ? "1" : "0") + ',' + num(e.availability) + ',' + fmt::format("{:.0f}", e.down_seconds) + ',' +
           fmt::format("{:.0f}", e.budget_seconds) + ',' + fmt::format("{:.6f}", e.budget_left) + ',' +
           std::to_string(e.outages) + ',' + (any ? fmt::format("{:.0f}", e.longest.front().seconds) : "") + ',' +
           (any ? csv_cell(e.longest.front().cause) : "") + ',' + std::to_string(e.attempts_up) + ',' +
           std::to_string(e.attempts_down) + ',' + std::to_string(e.probes_up) + ',' + std::to_string(e.probes_down) +
           ',' + num(e.answer_p50_ms) + ',' + num(e.answer_p99_ms) + "\n";
  }
  return out;
}

std::string to_table(const Scorecard& s) {
  std::string out = fmt::format("Scorecard {} (UTC), objective {:.3f} %\n", s.month, s.objective * 100.0);
  out += fmt::format("{:<9}  {:<12}  {:<4}  {:>8}  {:>8}  {:>7}  {:>7}  {:>9}  {:>8}  {}\n", "AGENCY", "ENDPOINT", "NOW",
                     "AVAIL%", "DOWN", "BUDGET", "OUTAGES", "LONGEST", "P99 MS", "CAUSE OF LONGEST");
  for (const auto& e : s.endpoints) {
    const bool any = !e.longest.empty();
    out += fmt::format("{:<9}  {:<12}  {:<4}  {:>8}  {:>8}  {:>6.0f}%  {:>7}  {:>9}  {:>8}  {}\n", e.ori, e.endpoint,
                       e.up ? "up" : "DOWN", pct(e.availability), duration(e.down_seconds),
                       std::max(-999.0, e.budget_left * 100.0), e.outages,
                       any ? duration(e.longest.front().seconds) : "-",
                       e.answer_p99_ms ? fmt::format("{:.0f}", *e.answer_p99_ms) : "-",
                       any ? e.longest.front().cause : "");
  }
  return out;
}

}  // namespace cjhub::ops
