// Receiving endpoints as their agencies and the operators see them.
//   GET /v1/endpoints         an agency's own endpoints (operators: every endpoint)
//   GET /v1/admin/endpoints   every endpoint (operators; admin.cpp routes it here)
// Each with whether it is paused and why, its backlog and dead letters, when it last answered
// and last failed, and its three latest outages with their causes.
#include <boost/json.hpp>

#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/operations_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

json::object endpoint_json(const store::EndpointState& e) {
  json::object o{{"agency", e.ori},
                 {"endpoint", e.name},
                 {"url", e.url},
                 {"paused", e.paused},
                 {"paused_reason", e.paused_reason},
                 {"consecutive_failures", e.consecutive_failures},
                 {"backlog", e.backlog},
                 {"dead_letters", e.dead}};
  if (!e.last_success_at.empty()) o["last_success_at"] = e.last_success_at;
  if (!e.last_failure_at.empty()) o["last_failure_at"] = e.last_failure_at;
  json::value outages = json::array{};
  try {
    if (!e.recent_outages_json.empty()) outages = json::parse(e.recent_outages_json);
  } catch (const std::exception& ex) {
    log::get("api")->error("endpoint {}/{}: its outages did not read as JSON: {}", e.ori, e.name, ex.what());
  }
  o["recent_outages"] = std::move(outages);
  return o;
}

}  // namespace

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
