// Message intake: everything that decides whether a document from an agency becomes a stored
// message (validation, type rights, origin, idempotency key, routing keys, erasure flags). Used by
// the api for POSTed messages and by delivery for acknowledgements that recipients return in a
// delivery's 2xx body; neither path knows the other.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
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

// A message ready for the outbox, or why not. `body` is moved into the message.
std::variant<store::NewMessage, Refusal> admit(const config::Config& config,
                                               validation::SchemaHolder& schemas,
                                               const identity::Agency& agency, std::string body,
                                               const std::string& idempotency_key, SystemTime received_at);

}  // namespace cjhub::intake
