// The scorecard: availability, error budget and outages per endpoint for a month (UTC).
//   GET /v1/scorecard?month=YYYY-MM          an agency's own endpoints (any active agency)
//   GET /v1/admin/scorecard?month=YYYY-MM    every agency (operators; routed from admin.cpp)
#include <boost/json.hpp>

#include "api/query.hpp"
#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/ops/scorecard.hpp"

namespace cjhub::api {

void Handlers::scorecard(const Request& req, const std::string& path, std::optional<std::string> ori,
                         Respond respond) {
  if (req.method != "GET") return respond(method_not_allowed("GET", path));
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", path));
  const auto q = query_params(req.target);
  const auto month = get(q, "month").value_or("");
  if (!month.empty() && !store::month_period(month)) {
    return respond(problem(Problem::bad_request, "month must be YYYY-MM (2000-01 to 2999-12)", path));
  }
  const auto watchers = deps_.config ? deps_.config->watchers : config::Watchers{};
  deps_.db->run(
      [month, watchers, ori](store::Connection& c) {
        Response r;
        r.body = boost::json::serialize(ops::to_json(ops::read_scorecard(c, month, watchers, ori)));
        return r;
      },
      std::move(respond));
}

}  // namespace cjhub::api
