// Receiving endpoints as their agencies and the operators see them.
//   GET /v1/endpoints         an agency's own endpoints (operators: every endpoint)
//   GET /v1/admin/endpoints   every endpoint (operators; admin.cpp routes it here)
// Each with whether it is paused and why, its backlog and dead letters, when it last answered
// and last failed, and its three latest outages with their causes.
#include <boost/json.hpp>

#include "cjhub/api/handlers.hpp"
#include "cjhub/api/resource_json.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/operations_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

void Handlers::endpoints(const std::string& path, std::optional<std::string> ori, Respond respond) {
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", path));
  deps_.db->run(
      [ori = std::move(ori)](store::Connection& c) {
        json::array items;
        for (const auto& e : store::endpoint_states(c)) {
          if (!ori || e.ori == *ori) items.push_back(endpoint_json(e));
        }
        Response r;
        r.body = json::serialize(json::object{{"endpoints", std::move(items)}});
        return r;
      },
      std::move(respond));
}

}  // namespace cjhub::api
