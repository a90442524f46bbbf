// Message intake: everything that decides whether a document from an agency becomes a stored
// message (validation, type rights, origin, idempotency key, routing keys, erasure flags). Used by
// the api for POSTed messages and by delivery for acknowledgements that recipients return in a
// delivery's 2xx body; neither path knows the other.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cjhub/intake/problem.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/validation/schema_holder.hpp"

namespace cjhub::intake {

struct Refusal {
  Problem problem;
  std::string detail;
  boost::json::object extensions;
  std::string message_type = {};  // the document's type when it was recognised, else empty
};

// A sandbox agency's case keys are stored with this prefix, so its cases (their order, holders,
// erasures and the refusal of an erased case) never meet a production case of the same number.
// A production document's case key may not begin with it.
inline constexpr std::string_view kSandboxCasePrefix = "sandbox:";

// A message ready for the outbox, or why not. `body` is moved into the message.
std::variant<store::NewMessage, Refusal> admit(const config::Config& config,
                                               validation::SchemaHolder& schemas,
                                               const identity::Agency& agency, std::string body,
                                               const std::string& idempotency_key, SystemTime received_at);

}  // namespace cjhub::intake
