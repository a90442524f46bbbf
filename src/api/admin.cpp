// The operators' API: dead letters and endpoints. Operator certificates only.
//   GET  /v1/admin/dead-letters?agency=&endpoint=&since=&until=&limit=
//   POST /v1/admin/dead-letters/replay   {"delivery_id"|"agency"|"endpoint"|"since"|"until"}
//   GET  /v1/admin/endpoints                     (endpoints.cpp)
//   POST /v1/admin/endpoints/{ori}/{name}/pause   {"reason": "..."}
//   POST /v1/admin/endpoints/{ori}/{name}/resume
//   GET  /v1/admin/scorecard?month=YYYY-MM (scorecard.cpp)
#include <boost/json.hpp>

#include "cjhub/api/handlers.hpp"
#include "cjhub/api/resource_json.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "api/query.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

Response json_ok(const json::value& v) {
  Response r;
  r.body = json::serialize(v);
  return r;
}

}  // namespace

void Handlers::admin(const Request& req, const std::string& path, Respond respond) {
  const auto who = deps_.directory->resolve(req.peer);
  if (who.result != identity::Resolution::ok || !who.agency->is_operator()) {
    log::warn(log::get("api"),
              {{"request_id", req.request_id},
               {"peer", req.remote},
               {"agency", who.agency ? who.agency->ori : std::string()},
               {"certificate", req.peer.sha256},
               {"status", 403}},
              "admin request {} {} refused: {}", req.method, path,
              who.agency ? "not an operator" : identity::to_string(who.result));
    audit(req, who.agency ? who.agency->ori : "", "authorization", "refused:forbidden", req.method + " " + path,
          "operators only");
    return respond(problem(Problem::forbidden, "operators only", path));
  }
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", path));
  const auto operator_id = who.agency->ori;
  auto lg = log::get("api");

  if (path == "/v1/admin/dead-letters") {
    if (req.method != "GET") return respond(method_not_allowed("GET", path));
    const auto q = query_params(req.target);
    store::DeadLetterFilter f;
    f.ori = get(q, "agency");
    f.endpoint = get(q, "endpoint");
    f.since = get(q, "since");
    f.until = get(q, "until");
    if (auto l = get(q, "limit")) f.limit = std::clamp(std::atoll(l->c_str()), 1LL, 10000LL);
    if (const char* bad = bad_timestamp({{"since", &f.since}, {"until", &f.until}})) {
      return respond(problem(Problem::bad_request, std::string(bad) + " must be an ISO 8601 timestamp", path));
    }
    return deps_.db->run(
        [f](store::Connection& c) {
          json::array items;
          for (const auto& d : store::list_dead(c, f)) items.push_back(dead_letter_json(d));
          return json_ok(json::object{{"dead_letters", std::move(items)}});
        },
        std::move(respond));
  }
  if (path == "/v1/admin/dead-letters/replay") {
    if (req.method != "POST") return respond(method_not_allowed("POST", path));
    store::DeadLetterFilter f;
    try {
      const auto body = json::parse(req.body.empty() ? "{}" : req.body).as_object();
      auto str = [&](const char* k) -> std::optional<std::string> {
        const auto* v = body.if_contains(k);
        return v && v->is_string() ? std::optional<std::string>(std::string(v->as_string())) : std::nullopt;
      };
      f.delivery_id = str("delivery_id");
      f.ori = str("agency");
      f.endpoint = str("endpoint");
      f.since = str("since");
      f.until = str("until");
    } catch (const std::exception&) {
      return respond(problem(Problem::bad_request, "the body must be a JSON object", path));
    }
    if (const char* bad = bad_timestamp({{"since", &f.since}, {"until", &f.until}})) {
      return respond(problem(Problem::bad_request, std::string(bad) + " must be an ISO 8601 timestamp", path));
    }
    if (f.delivery_id && !Uuid::parse(*f.delivery_id)) {
      return respond(problem(Problem::bad_request, "delivery_id must be a delivery id", path));
    }
    if (!f.delivery_id && !f.ori && !f.endpoint && !f.since && !f.until) {
      return respond(problem(Problem::bad_request,
                             "name what to replay: delivery_id, agency, endpoint, since or until", path));
    }
    return deps_.db->run(
        [this, req, path, f, operator_id, lg](store::Connection& c) {
          const auto ids = store::replay_dead(c, f);
          log::info(lg,
                    {{"request_id", req.request_id},
                     {"operator", operator_id},
                     {"delivery_id", f.delivery_id ? *f.delivery_id : std::string()},
                     {"agency", f.ori ? *f.ori : std::string()},
                     {"endpoint", f.endpoint ? *f.endpoint : std::string()}},
                    "replayed {} dead letter(s)", ids.size());
          audit(req, operator_id, "admin", "replayed", "dead letters: " + std::to_string(ids.size()),
                "POST " + path + (f.delivery_id ? " delivery " + *f.delivery_id : "") +
                    (f.ori ? " agency " + *f.ori : "") + (f.endpoint ? " endpoint " + *f.endpoint : ""));
          json::array a;
          for (const auto& id : ids) a.push_back(json::value(id));
          return json_ok(json::object{{"replayed", ids.size()}, {"delivery_ids", std::move(a)}});
        },
        std::move(respond));
  }
  if (path == "/v1/admin/scorecard") return scorecard(req, path, std::nullopt, std::move(respond));
  if (path == "/v1/admin/endpoints") {
    if (req.method != "GET") return respond(method_not_allowed("GET", path));
    return endpoints(path, std::nullopt, std::move(respond));
  }
  // /v1/admin/endpoints/{ori}/{name}/(pause|resume)
  const std::string prefix = "/v1/admin/endpoints/";
  if (path.rfind(prefix, 0) == 0) {
    const auto rest = path.substr(prefix.size());
    const auto s1 = rest.find('/');
    const auto s2 = s1 == std::string::npos ? std::string::npos : rest.find('/', s1 + 1);
    if (s2 != std::string::npos) {
      const auto ori = percent_decode(rest.substr(0, s1));
      const auto name = percent_decode(rest.substr(s1 + 1, s2 - s1 - 1));
      const auto action = rest.substr(s2 + 1);
      if ((action == "pause" || action == "resume") && req.method == "POST") {
        std::string reason = "paused by operator " + operator_id;
        try {
          if (!req.body.empty()) {
            const auto body = json::parse(req.body).as_object();
            if (const auto* r = body.if_contains("reason"); r && r->is_string()) {
              reason += ": " + std::string(r->as_string());
            }
          }
        } catch (const std::exception&) {
          return respond(problem(Problem::bad_request, "the body must be a JSON object", path));
        }
        const bool pause = action == "pause";
        return deps_.db->run(
            [=, this](store::Connection& c) {
              if (!store::set_endpoint_paused(c, ori, name, pause, reason)) {
                return problem(Problem::not_found, "no active endpoint " + name + " of agency " + ori, path);
              }
              log::warn(lg,
                        {{"request_id", req.request_id}, {"operator", operator_id}, {"agency", ori}, {"endpoint", name}},
                        "endpoint {}/{} {} by an operator", ori, name, pause ? "paused" : "resumed");
              audit(req, operator_id, "admin", pause ? "paused" : "resumed", "endpoint " + ori + "/" + name, reason);
              return json_ok(json::object{{"agency", ori}, {"endpoint", name}, {"paused", pause}});
            },
            std::move(respond));
      }
    }
  }
  respond(problem(Problem::not_found, "no admin resource at " + path, path));
}

}  // namespace cjhub::api
