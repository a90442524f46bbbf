#include "cjhub/api/admission.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <boost/json.hpp>

#include "cjhub/common/crypto.hpp"
#include "cjhub/common/log.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

bool truthy(const std::string& v) { return v == "true" || v == "1"; }

// Whether the `erasure` indicators erase the whole case. Without a `charges` key: when every
// indicator is true. With one, decided per charge element: every charge must hold at least one
// indicator and all of its indicators must be true (two indicators on one charge and none on
// another erase only that charge). Indicators that no charge element encloses (a type whose
// `erasure` path lies outside its `charges` path) are counted instead: one true indicator per
// charge.
bool erases_whole_case(const std::vector<std::string>& flags, const validation::Outcome& outcome) {
  const bool all_true = std::all_of(flags.begin(), flags.end(), truthy);
  const auto charges = outcome.keys.find("charges");
  if (charges == outcome.keys.end()) return all_true;
  const std::size_t n = charges->second.size();
  if (n == 0) return false;
  const auto within = outcome.within.find("erasure");
  const bool grouped = within != outcome.within.end() && within->second.size() == flags.size() &&
                       std::all_of(within->second.begin(), within->second.end(),
                                   [&](long c) { return c >= 0 && static_cast<std::size_t>(c) < n; });
  if (!grouped) return all_true && flags.size() == n;
  std::vector<int> charge(n, 0);  // 0: no indicator, 1: only true ones, 2: a false one
  for (std::size_t i = 0; i < flags.size(); ++i) {
    auto& c = charge[static_cast<std::size_t>(within->second[i])];
    c = truthy(flags[i]) ? (c == 0 ? 1 : c) : 2;
  }
  return std::all_of(charge.begin(), charge.end(), [](int c) { return c == 1; });
}

Problem problem_for(validation::Verdict v) {
  switch (v) {
    case validation::Verdict::malformed: return Problem::malformed_xml;
    case validation::Verdict::forbidden_markup: return Problem::forbidden_markup;
    case validation::Verdict::limit_exceeded: return Problem::limit_exceeded;
    case validation::Verdict::unknown_type: return Problem::unknown_message_type;
    case validation::Verdict::invalid: return Problem::schema_invalid;
    case validation::Verdict::internal_error: return Problem::internal_error;
    case validation::Verdict::ok: break;
  }
  return Problem::internal_error;
}

}  // namespace

std::variant<store::NewMessage, Refusal> admit(const config::Config& config,
                                               validation::SchemaHolder& schemas,
                                               const identity::Agency& agency, std::string body,
                                               const std::string& idempotency_key, SystemTime received_at) {
  auto lg = log::get("api");
  // One SAX pass: well-formedness, the schema, the type (from the root) and the routing keys.
  auto& validator = validation::Validator::for_this_thread(schemas.current());
  auto outcome = validator.validate(body);
  schemas.renew_if_grown();
  if (!outcome.ok()) {
    json::array errors;
    for (const auto& i : outcome.issues) {
      errors.push_back(json::object{{"line", i.line}, {"column", i.column}, {"message", i.message}});
    }
    const auto p = problem_for(outcome.verdict);
    const auto& first = outcome.issues.empty() ? validation::Issue{} : outcome.issues.front();
    lg->info("refused document from {}: {} at line {} column {}", agency.ori, info(p).slug, first.line,
             first.column);
    json::object ext{{"errors", std::move(errors)}};
    if (!outcome.type_name.empty()) ext["message_type"] = outcome.type_name;
    return Refusal{p,
                   outcome.issues.empty()
                       ? std::string(validation::to_string(outcome.verdict))
                       : fmt::format("line {}, column {}: {}", first.line, first.column, first.message),
                   std::move(ext)};
  }

  if (!agency.publish.count(outcome.type_name)) {
    lg->warn("refused {} from {}: type not allowed", outcome.type_name, agency.ori);
    return Refusal{Problem::type_not_allowed,
                   fmt::format("agency {} may not publish {}", agency.ori, outcome.type_name), {}};
  }

  // An agency speaks only for itself.
  const auto* type = config.find_type(outcome.type_name);
  const auto origin = outcome.first("origin_ori");
  if (type != nullptr && type->origin_must_match_sender && origin != agency.ori) {
    lg->warn("refused {} from {}: document names another agency as its origin", outcome.type_name, agency.ori);
    return Refusal{Problem::origin_mismatch,
                   fmt::format("the document's originating agency ORI is \"{}\" but the certificate "
                               "belongs to {}",
                               origin.substr(0, 32), agency.ori),
                   {}};
  }

  store::NewMessage msg;
  msg.id = Uuid::v7();
  msg.type = outcome.type_name;
  msg.sender_ori = agency.ori;
  msg.document_id = outcome.first("message_id");
  msg.idempotency_key = !idempotency_key.empty() ? idempotency_key : msg.document_id;
  if (msg.idempotency_key.empty()) {
    return Refusal{Problem::schema_invalid,
                   "the document carries no message id and no Idempotency-Key header was sent", {}};
  }
  msg.case_key = outcome.first("case_key");
  msg.origin_ori = origin;
  msg.jurisdiction = outcome.first("jurisdiction");
  if (auto it = outcome.keys.find("erasure"); it != outcome.keys.end() && !it->second.empty()) {
    const auto& flags = it->second;
    const auto flagged = static_cast<std::size_t>(std::count_if(flags.begin(), flags.end(), truthy));
    msg.erasure = erases_whole_case(flags, outcome);
    msg.erasure_charges = !msg.erasure && flagged > 0;
  }
  msg.type_ack_required = type != nullptr && type->ack_required;
  msg.ack_ref = outcome.first("ack_ref");
  if (!msg.ack_ref.empty()) {
    msg.ack_status = outcome.first("ack_status");
    msg.ack_reason = outcome.first("ack_reason");
    if (msg.ack_status != "received" && msg.ack_status != "completed" && msg.ack_status != "rejected") {
      return Refusal{Problem::schema_invalid,
                     "an acknowledgement's status must be received, completed or rejected", {}};
    }
  }
  msg.body_sha256 = sha256(body);
  msg.received_at = received_at;
  msg.body = std::move(body);
  return msg;
}

}  // namespace cjhub::api
