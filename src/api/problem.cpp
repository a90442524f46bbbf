#include "cjhub/api/problem.hpp"

#include <boost/json/serialize.hpp>

namespace cjhub::api {

Response method_not_allowed(const std::string& allow, const std::string& instance) {
  auto r = problem(Problem::method_not_allowed, "allowed: " + allow, instance);
  r.headers.emplace_back("Allow", allow);
  return r;
}

Response problem(Problem p, const std::string& detail, const std::string& instance,
                 boost::json::object extensions) {
  const auto& i = info(p);
  boost::json::object o = std::move(extensions);
  o["type"] = type_uri(p);
  o["title"] = i.title;
  o["status"] = i.status;
  if (!detail.empty()) o["detail"] = detail;
  if (!instance.empty()) o["instance"] = instance;
  Response r;
  r.status = i.status;
  r.content_type = "application/problem+json";
  r.body = boost::json::serialize(o);
  if (i.status == 503) r.headers.emplace_back("Retry-After", p == Problem::overloaded ? "1" : "5");
  if (p == Problem::payload_too_large || p == Problem::length_required ||
      p == Problem::header_too_large) {
    r.close = true;  // the rest of the request was not read
  }
  return r;
}

}  // namespace cjhub::api
