// What the console's overview charts: the last hour, per minute.
//   GET /v1/series?minutes=N   (operators; N from 5 to 1440, default 60)
// Messages accepted and delivery attempts answered and failed come from the store, as every hub
// wrote them; the backlog is what this hub's readiness probe sampled (every 10 s, the last hour),
// since the store keeps no history of it.
#include <boost/json.hpp>

#include "api/query.hpp"
#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/store/operations_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

void Handlers::series(const Request& req, const std::string& path, Respond respond) {
  if (req.method != "GET") return respond(method_not_allowed("GET", path));
  const auto who = caller(req, path, respond);
  if (!who) return;
  if (!who->is_operator()) {
    audit(req, who->ori, "authorization", "refused:forbidden", "GET " + path, "operators only");
    return respond(problem(Problem::forbidden, "operators only", path));
  }
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", path));
  const auto q = query_params(req.target);
  int minutes = 60;
  if (const auto m = get(q, "minutes")) {
    minutes = std::atoi(m->c_str());
    if (minutes < 5 || minutes > 1440) return respond(problem(Problem::bad_request, "minutes must be 5 to 1440", path));
  }
  auto backlog = deps_.readiness ? deps_.readiness->backlog_history() : std::vector<BacklogSample>{};
  deps_.db->run(
      [minutes, backlog = std::move(backlog)](store::Connection& c) {
        json::array points;
        for (const auto& m : store::throughput_minutes(c, minutes)) {
          points.push_back(json::object{
              {"at", m.at}, {"accepted", m.accepted}, {"delivered", m.delivered}, {"failed", m.failed}});
        }
        json::array samples;
        for (const auto& b : backlog) samples.push_back(json::object{{"at", rfc3339(b.at)}, {"backlog", b.backlog}});
        Response r;
        r.body = json::serialize(json::object{{"interval_s", 60}, {"points", std::move(points)},
                                              {"backlog_interval_s", 10}, {"backlog", std::move(samples)}});
        return r;
      },
      std::move(respond));
}

}  // namespace cjhub::api
