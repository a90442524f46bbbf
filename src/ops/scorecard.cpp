#include "cjhub/ops/scorecard.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <map>
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

store::SilenceRule silence_rule(const config::Watchers& w) {
  return {w.silence_baseline_days, w.silence_min_daily, w.silence_after};
}

Scorecard read_scorecard(store::Connection& conn, const std::string& month, const config::Watchers& w,
                         const std::optional<std::string>& ori) {
  Scorecard s;
  s.month = month.empty() ? store::current_month() : month;
  const auto period = store::month_period(s.month);
  if (!period) throw std::invalid_argument("month must be YYYY-MM");
  s.from = period->first;
  s.to = period->second;
  s.objective = w.objective;
  s.endpoints = store::endpoint_scores(conn, s.from, s.to, w.objective, ori);
  s.submitters = store::submitter_scores(conn, s.from, s.to, silence_rule(w), ori);
  s.with_hub = !ori.has_value();
  if (s.with_hub) s.hub = store::component_scores(conn, s.from, s.to);
  return s;
}

json::object submitter_json(const store::SubmitterScore& x) {
  json::object refused;
  for (const auto& [reason, n] : x.refused_by_reason) refused[reason] = n;
  json::array days;
  for (const auto& d : x.days) {
    days.push_back(json::object{{"day", d.day}, {"accepted", d.accepted}, {"duplicates", d.duplicates},
                                {"refused", d.refused}});
  }
  json::object o{{"accepted", x.accepted},           {"duplicates", x.duplicates}, {"refused", x.refused},
                 {"refused_by_reason", std::move(refused)}, {"days", std::move(days)}, {"usual_daily", x.usual_daily},
                 {"silent", x.silent}};
  o["last_submission_at"] = x.last_submission_at.empty() ? json::value(nullptr) : json::value(x.last_submission_at);
  return o;
}

json::object to_json(const Scorecard& s) {
  // Every agency with an endpoint or the right to publish, by ORI.
  std::map<std::string, json::object> by_ori;
  const auto entry = [&](const std::string& ori, const std::string& name) -> json::object& {
    auto [it, fresh] = by_ori.try_emplace(ori);
    if (fresh) it->second = json::object{{"agency", ori}, {"name", name}, {"endpoints", json::array{}}};
    return it->second;
  };
  for (const auto& e : s.endpoints) entry(e.ori, e.agency)["endpoints"].as_array().push_back(endpoint_json(e));
  for (const auto& x : s.submitters) entry(x.ori, x.agency)["submitter"] = submitter_json(x);
  json::array agencies;
  for (auto& [ori, o] : by_ori) agencies.push_back(std::move(o));
  json::object out{{"month", s.month}, {"from", s.from}, {"to", s.to}, {"objective", s.objective},
                   {"agencies", std::move(agencies)}};
  if (s.with_hub) {
    json::array components;
    for (const auto& c : s.hub) {
      components.push_back(json::object{{"component", c.component},
                                        {"availability", opt(c.availability)},
                                        {"watched_seconds", c.watched_seconds},
                                        {"down_seconds", c.watched_seconds - c.up_seconds},
                                        {"hubs", c.instances}});
    }
    out["hub"] = json::object{{"components", std::move(components)}};
  }
  return out;
}

std::string to_csv(const Scorecard& s, bool submitters) {
  if (submitters) {
    std::string out = "month,agency,agency_name,last_submission_at,accepted,duplicates,refused,usual_daily,silent\n";
    for (const auto& x : s.submitters) {
      out += csv_cell(s.month) + ',' + csv_cell(x.ori) + ',' + csv_cell(x.agency) + ',' + x.last_submission_at + ',' +
             std::to_string(x.accepted) + ',' + std::to_string(x.duplicates) + ',' + std::to_string(x.refused) + ',' +
             fmt::format("{:.1f}", x.usual_daily) + ',' + (x.silent ? "1" : "0") + "\n";
    }
    return out;
  }
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
  if (!s.hub.empty()) {
    out += fmt::format("\n{:<12}  {:>8}  {:>8}  {:>4}   (the hub itself: best health across its hubs)\n", "COMPONENT",
                       "AVAIL%", "DOWN", "HUBS");
    for (const auto& c : s.hub) {
      out += fmt::format("{:<12}  {:>8}  {:>8}  {:>4}\n", c.component, pct(c.availability),
                         duration(c.watched_seconds - c.up_seconds), c.instances);
    }
  }
  if (s.submitters.empty()) return out;
  out += fmt::format("\n{:<9}  {:<20}  {:>9}  {:>9}  {:>8}  {:>7}  {}\n", "AGENCY", "LAST SUBMISSION", "ACCEPTED",
                     "REFUSED", "USUAL/D", "SILENT", "TOP REFUSAL");
  for (const auto& x : s.submitters) {
    std::string top;
    long long most = 0;
    for (const auto& [reason, n] : x.refused_by_reason) {
      if (n > most) {
        most = n;
        top = fmt::format("{} ({})", reason, n);
      }
    }
    out += fmt::format("{:<9}  {:<20}  {:>9}  {:>9}  {:>8.1f}  {:>7}  {}\n", x.ori,
                       x.last_submission_at.empty() ? "never" : x.last_submission_at, x.accepted, x.refused,
                       x.usual_daily, x.silent ? "SILENT" : "-", top);
  }
  return out;
}

}  // namespace cjhub::ops
