// POST /v1/sandbox/court/{type}: the sandbox's court sends a document of that type about the
// calling sandbox agency's case, so a vendor can exercise the court's side of the workflow alone
// (a case update, an erasure notice and the acknowledgements it owes). The document is made from
// the configured template (sandbox.templates) and then admitted and stored exactly as if the
// sandbox court had posted it: validated, routed among sandbox agencies, erasures in the ledger.
//
// Request: {"case_key": "<the case key as the vendor's documents carry it>"}
// Answer: what POST /v1/messages answers the court (202 with the court's message id).
#include <boost/json.hpp>
#include <fstream>
#include <iterator>

#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/intake/template.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxCaseKey = 100;

bool printable(const std::string& s) {
  for (const unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

void Handlers::sandbox_court(const Request& req, const std::string& type, Respond respond) {
  const auto instance = "/v1/sandbox/court/" + type.substr(0, 64);
  const auto who = caller(req, instance, respond);
  if (!who) return;
  if (!who->sandbox) {
    audit(req, who->ori, "authorization", "refused:forbidden", "POST " + instance, "not a sandbox agency");
    return respond(problem(Problem::forbidden, "only a sandbox agency may ask the sandbox court", instance));
  }
  const auto& sb = deps_.config->sandbox;
  const auto tmpl = sb.templates.find(type);
  if (sb.court_ori.empty() || tmpl == sb.templates.end()) {
    return respond(problem(Problem::not_found,
                           sb.court_ori.empty() ? "this hub has no sandbox court"
                                                : "the sandbox court sends no " + type.substr(0, 64),
                           instance));
  }
  // The request: {"case_key": "..."}.
  json::error_code ec;
  const auto body = json::parse(req.body, ec);
  const json::string* key = nullptr;
  if (!ec && body.is_object()) {
    if (const auto* v = body.as_object().if_contains("case_key"); v && v->is_string()) key = &v->as_string();
  }
  if (key == nullptr || key->empty() || key->size() > kMaxCaseKey || !printable(std::string(*key))) {
    return respond(problem(Problem::bad_request,
                           "send {\"case_key\": \"...\"}: the case key as your documents carry it (1 to 100 "
                           "characters, none of them control characters)",
                           instance, {{"parameter", "case_key"}}));
  }
  const auto court = deps_.directory->current()->find(sb.court_ori);
  if (!court || !court->sandbox) {
    log::get("api")->error("sandbox.court_ori {} is not an active sandbox agency: the sandbox court cannot send",
                           sb.court_ori);
    return respond(problem(Problem::internal_error,
                           "the sandbox court is not set up on this hub (its agency is missing or not a sandbox "
                           "agency); tell the hub's operators",
                           instance));
  }
  // The document, from its template.
  std::ifstream in(tmpl->second, std::ios::binary);
  if (!in) {
    log::get("api")->error("sandbox court template {} cannot be read", tmpl->second.string());
    return respond(problem(Problem::internal_error,
                           "the sandbox court's template for " + type + " cannot be read; tell the hub's operators",
                           instance));
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string document;
  try {
    document = intake::fill_template(
        text, intake::sandbox_court_values(court->ori + "-SB-" + Uuid::v7().str(), std::string(*key), court->ori,
                                           who->ori, rfc3339(now_utc())));
  } catch (const intake::TemplateError& e) {
    log::get("api")->error("sandbox court template {}: {}", tmpl->second.string(), e.what());
    return respond(problem(Problem::internal_error,
                           "the sandbox court's template for " + type + " is broken; tell the hub's operators",
                           instance));
  }
  log::info(log::get("api"), {{"request_id", req.request_id}, {"agency", who->ori}},
            "sandbox court {} sends a {} for {}", court->ori, type, who->ori);
  admit_and_store(req, *court, std::move(document), "", instance, std::move(respond));
}

}  // namespace cjhub::api
