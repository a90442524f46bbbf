#include "cjhub/intake/admission.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include <boost/json.hpp>

#include "cjhub/common/crypto.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/common/utf8.hpp"

namespace cjhub::intake {

namespace json = boost::json;

namespace {

bool truthy(const std::string& v) { return v == "true" || v == "1"; }

// A character that cannot be seen, or is not text: controls (C0, DEL, C1), spaces other than the
// ASCII one, zero-width and joiner characters, bidirectional controls, variation selectors, the
// byte order mark, tags. Two keys that look alike but differ in such a character would name two
// cases, and an erasure of one would miss the other.
bool invisible(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || c == 0x34F || c == 0x61C || c == 0x115F ||
         c == 0x1160 || c == 0x17B4 || c == 0x17B5 || c == 0x180E || (c >= 0x2000 && c <= 0x200F) ||
         (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0x3164 ||
         (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || c == 0xFFA0 || (c >= 0xFFF0 && c <= 0xFFFF) ||
         (c >= 0xE0000 && c <= 0xE0FFF);
}

// The first invisible character of a UTF-8 value (the validator hands over valid UTF-8), if any.
std::optional<char32_t> first_invisible(const std::string& v) {
  for (std::size_t i = 0; i < v.size();) {
    const auto b = static_cast<unsigned char>(v[i]);
    const std::size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < n && i + k < v.size(); ++k) c = (c << 6) | (static_cast<unsigned char>(v[i + k]) & 0x3F);
    if (invisible(c)) return c;
    i += n;
  }
  return std::nullopt;
}

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
    case validation::Verdict::too_large: return Problem::payload_too_large;
    case validation::Verdict::internal_error: return Problem::internal_error;
    case validation::Verdict::ok: break;
  }
  return Problem::internal_error;
}

// What configuration says of the keys beyond their paths: fixed values, and values translated by
// the type's maps (a value a map does not name is refused).
std::optional<Refusal> apply_configured_keys(const config::Config& config, validation::Outcome& outcome) {
  const auto type = config.find_type(outcome.type_name);
  if (type == nullptr) {
    // Validated by a schema set that still knows a type a reload has just removed.
    return Refusal{Problem::unknown_message_type,
                   fmt::format("{} is no longer a registered message type", outcome.type_name), {}};
  }
  for (const auto& [key, value] : type->constants) {
    outcome.keys[key] = {value};
    outcome.within[key] = {-1};
  }
  for (const auto& [key, map] : type->value_maps) {
    const auto it = outcome.keys.find(key);
    if (it == outcome.keys.end()) continue;
    for (auto& v : it->second) {
      const auto m = map.find(v);
      if (m == map.end()) {
        std::string known;
        for (const auto& [from, to] : map) known += (known.empty() ? "" : ", ") + from;
        return Refusal{Problem::bad_routing_key,
                       fmt::format("the value \"{}\" of routing key '{}' is not one this type knows ({})",
                                   utf8_capped(v, 64), key, known),
                       {}};
      }
      v = m->second;
    }
  }
  return std::nullopt;
}

// The checks after validation: rights, origin, keys; then the message itself.
std::variant<store::NewMessage, Refusal> admit_valid(const config::Config& config, const identity::Agency& agency,
                                                     const validation::Outcome& outcome, std::string body,
                                                     const std::string& idempotency_key, SystemTime received_at) {
  auto lg = log::get("intake");
  if (!agency.publish.count(outcome.type_name)) {
    log::warn(lg, {{"agency", agency.ori}}, "refused {} from {}: type not allowed", outcome.type_name, agency.ori);
    return Refusal{Problem::type_not_allowed,
                   fmt::format("agency {} may not publish {}", agency.ori, outcome.type_name), {}};
  }

  // An agency speaks only for itself.
  const auto type = config.find_type(outcome.type_name);
  // A type without an origin key: the sending agency is the origin.
  const bool origin_keyed = type == nullptr || type->constants.count("origin_ori") != 0 ||
                            std::any_of(type->spec.keys.begin(), type->spec.keys.end(),
                                        [](const auto& k) { return k.name == "origin_ori"; });
  const auto origin = origin_keyed ? outcome.first("origin_ori") : agency.ori;
  if (type != nullptr && type->origin_must_match_sender && origin != agency.ori) {
    log::warn(lg, {{"agency", agency.ori}}, "refused {} from {}: document names another agency as its origin",
              outcome.type_name, agency.ori);
    return Refusal{Problem::origin_mismatch,
                   fmt::format("the document's originating agency ORI is \"{}\" but the certificate "
                               "belongs to {}",
                               utf8_capped(origin, 32), agency.ori),
                   {}};
  }

  // Routing keys name cases and agencies: no key may hide a character that cannot be seen, and a
  // case key that is present must say something (an empty one would put the message in no case,
  // out of reach of any erasure). A document without the element (where its schema allows that,
  // as NIBRS does for Group B arrests) simply has no case.
  for (const auto& [name, values] : outcome.keys) {
    if (name == "charges") continue;  // its text is not used
    for (const auto& v : values) {
      if (const auto c = first_invisible(v)) {
        log::warn(lg, {{"agency", agency.ori}}, "refused {} from {}: routing key {} holds U+{:04X}", outcome.type_name,
                  agency.ori, name, static_cast<unsigned>(*c));
        return Refusal{Problem::bad_routing_key,
                       fmt::format("the routing key '{}' holds the invisible or control character U+{:04X}", name,
                                   static_cast<unsigned>(*c)),
                       {}};
      }
    }
  }
  if (const auto ck = outcome.keys.find("case_key");
      ck != outcome.keys.end() && std::any_of(ck->second.begin(), ck->second.end(), [](const auto& v) { return v.empty(); })) {
    log::warn(lg, {{"agency", agency.ori}}, "refused {} from {}: empty case key", outcome.type_name, agency.ori);
    return Refusal{Problem::bad_routing_key, "the document's case key element is empty", {}};
  }

  if (const auto ck = outcome.first("case_key"); !agency.sandbox && ck.rfind(kSandboxCasePrefix, 0) == 0) {
    log::warn(lg, {{"agency", agency.ori}}, "refused {} from {}: case key in the sandbox's namespace",
              outcome.type_name, agency.ori);
    return Refusal{Problem::bad_routing_key,
                   fmt::format("a case key may not begin with \"{}\" (reserved for sandbox agencies)",
                               kSandboxCasePrefix),
                   {}};
  }

  store::NewMessage msg;
  msg.id = Uuid::v7();
  msg.type = outcome.type_name;
  msg.sender_ori = agency.ori;
  msg.document_id = outcome.first("message_id");
  msg.idempotency_key = !idempotency_key.empty() ? idempotency_key : msg.document_id;
  if (msg.idempotency_key.empty()) {
    return Refusal{Problem::idempotency_key_required,
                   fmt::format("{} documents carry no message id here: send an Idempotency-Key header (a key of "
                               "your own, the same on every retry of this document)",
                               outcome.type_name),
                   {}};
  }
  msg.case_key = outcome.first("case_key");
  if (agency.sandbox && !msg.case_key.empty()) msg.case_key = std::string(kSandboxCasePrefix) + msg.case_key;
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
  // A type with an `ack_ref` key is an acknowledgement: it must name what it acknowledges (an
  // empty, blank or nil reference would otherwise make it a plain message, routed by subscription).
  msg.acknowledgement = type != nullptr && std::any_of(type->spec.keys.begin(), type->spec.keys.end(),
                                                       [](const auto& k) { return k.name == "ack_ref"; });
  if (msg.acknowledgement && msg.ack_ref.empty()) {
    log::warn(lg, {{"agency", agency.ori}}, "refused {} from {}: the acknowledgement names no message",
              outcome.type_name, agency.ori);
    return Refusal{Problem::missing_reference,
                   "the acknowledgement's reference to the acknowledged message is empty or missing", {}};
  }
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

}  // namespace

std::variant<store::NewMessage, Refusal> admit(const config::Config& config,
                                               validation::SchemaHolder& schemas,
                                               const identity::Agency& agency, std::string body,
                                               const std::string& idempotency_key, SystemTime received_at) {
  auto lg = log::get("intake");
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
    log::info(lg, {{"agency", agency.ori}}, "refused document from {}: {} at line {} column {}", agency.ori,
              info(p).slug, first.line, first.column);
    json::object ext{{"errors", std::move(errors)}};
    if (!outcome.type_name.empty()) ext["message_type"] = outcome.type_name;
    return Refusal{p,
                   outcome.issues.empty()
                       ? std::string(validation::to_string(outcome.verdict))
                       : fmt::format("line {}, column {}: {}", first.line, first.column, first.message),
                   std::move(ext), outcome.type_name};
  }
  if (auto refusal = apply_configured_keys(config, outcome)) {
    refusal->message_type = outcome.type_name;
    return *refusal;
  }
  auto admitted = admit_valid(config, agency, outcome, std::move(body), idempotency_key, received_at);
  // Once the type is known, a refusal is counted under it.
  if (auto* refusal = std::get_if<Refusal>(&admitted)) refusal->message_type = outcome.type_name;
  return admitted;
}

}  // namespace cjhub::intake
