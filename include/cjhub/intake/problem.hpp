// The refusal vocabulary: every reason the hub refuses a document or a request, each with its
// RFC 9457 problem type (slug, title) and the HTTP status it is answered with. Admission names a
// Problem; the api layer turns it into a response (api/problem.hpp); the dispatcher logs its slug.
#pragma once

#include <string>
#include <vector>

namespace cjhub::intake {

enum class Problem {
  malformed_xml,           // 400
  forbidden_markup,        // 400 DOCTYPE / entities
  limit_exceeded,          // 400 nesting depth, key size
  bad_request,             // 400 other request errors (bad id, bad header)
  idempotency_key_required,  // 400 the type has no message id and no Idempotency-Key was sent
  no_client_certificate,   // 401 (only reachable where TLS lets a client in without one)
  unknown_client,          // 403 certificate not mapped to an agency
  client_disabled,         // 403 agency disabled
  type_not_allowed,        // 403 agency may not publish this type
  origin_mismatch,         // 403 the document names another agency as its origin
  forbidden,               // 403 operator-only resource
  not_found,               // 404
  method_not_allowed,      // 405
  ack_not_addressed,       // 403 acknowledging a message not delivered to this agency
  idempotency_conflict,    // 422 same key, different body (IETF Idempotency-Key draft)
  case_erased,             // 409 the case was erased by operation of law
  length_required,         // 411 no Content-Length (chunked bodies are refused)
  payload_too_large,       // 413
  unsupported_media_type,  // 415
  unknown_message_type,    // 422 root element not registered
  schema_invalid,          // 422 XSD validation failed
  unknown_reference,       // 422 acknowledging a message the hub does not know
  missing_reference,       // 422 an acknowledgement that names no message (empty or nil reference)
  bad_routing_key,         // 422 a routing key is empty where required, or holds invisible/control characters
  header_too_large,        // 431
  rate_limited,            // 429 the agency's submission rate is exhausted
  overloaded,              // 503 ingest queue full
  database_unavailable,    // 503
  outcome_unknown,         // 503 commit result unknown: retry with the same idempotency key
  shutting_down,           // 503
  directory_stale,         // 503 the agency directory could not be confirmed recently: fail closed
  payload_removed,         // 410 the document was removed (erased, or past retention)
  session_required,        // 401 a browser's request without the console's session token
  session_expired,         // 401 the console session was idle past its timeout (or the hub restarted)
  cross_origin,            // 403 a browser request from a page of another origin
  internal_error,          // 500 (a bug: logged as an error)
};

struct ProblemInfo {
  unsigned status;
  const char* slug;   // the last part of the type URI
  const char* title;
};

const ProblemInfo& info(Problem p);
// The problem's type: "<base>/problems/<slug>", an https URI documented in docs/problems.md and
// served by the hub at that path. The base is the hub's listener.public_url, set once at start
// (set_problem_base); until then "https://localhost".
std::string type_uri(Problem p);
void set_problem_base(const std::string& public_url);
// Every problem, in enum order (the documentation page and its tests list them).
const std::vector<Problem>& all_problems();

}  // namespace cjhub::intake
