// The 99.9 % scorecard: for a month (UTC), every endpoint's availability, error budget left against
// the objective, outages (count, the longest with their causes), volumes and answer times, grouped
// by agency; read from the store (store::endpoint_scores) and rendered as JSON (the API and
// `cjhub scorecard --format json`), CSV or a table. Free of transport.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cjhub/config/config.hpp"
#include "cjhub/store/availability_repo.hpp"
#include "cjhub/store/connection.hpp"
#include "cjhub/store/submitters_repo.hpp"

namespace cjhub::ops {

struct Scorecard {
  std::string month;  // YYYY-MM
  std::string from, to;  // the month's bounds (ISO 8601, UTC)
  double objective = 0.999;
  std::vector<store::EndpointScore> endpoints;  // by agency, then endpoint name
  std::vector<store::SubmitterScore> submitters;  // agencies that may publish, by agency
  std::vector<store::ComponentScore> hub;          // the hub's own components (`overall` first)
  bool with_hub = true;                            // false for an agency's own card
};

// Throws std::invalid_argument when `month` is not YYYY-MM (empty: the current month).
Scorecard read_scorecard(store::Connection& conn, const std::string& month, const config::Watchers& w,
                         const std::optional<std::string>& ori = std::nullopt);

store::SilenceRule silence_rule(const config::Watchers& w);

boost::json::object to_json(const Scorecard& s);
// One line per endpoint (or, `submitters`, per agency that may publish), with a header line.
std::string to_csv(const Scorecard& s, bool submitters = false);
std::string to_table(const Scorecard& s);  // for people at a terminal: endpoints, then submitters

}  // namespace cjhub::ops
