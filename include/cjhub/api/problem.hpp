// Refusals as HTTP responses: an intake::Problem (the one table of problem types and statuses,
// intake/problem.hpp) becomes an RFC 9457 problem+json response. Handlers and the ingress layer
// name a Problem; nothing else chooses status codes for errors.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "cjhub/api/http_types.hpp"
#include "cjhub/intake/problem.hpp"

namespace cjhub::api {

using intake::info;
using intake::Problem;
using intake::ProblemInfo;
using intake::type_uri;

// 405 with the `Allow` header (RFC 9110 requires it) naming the methods the resource takes.
Response method_not_allowed(const std::string& allow, const std::string& instance);

// problem+json body with type, title, status, detail, instance and any extension members.
Response problem(Problem p, const std::string& detail, const std::string& instance = {},
                 boost::json::object extensions = {});

}  // namespace cjhub::api
