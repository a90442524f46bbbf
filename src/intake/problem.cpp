#include "cjhub/intake/problem.hpp"

#include <iterator>
#include <memory>
#include <mutex>

namespace cjhub::intake {

const ProblemInfo& info(Problem p) {
  static const ProblemInfo table[] = {
      {400, "malformed-xml", "The body is not well-formed XML"},
      {400, "forbidden-markup", "DOCTYPE declarations and entities are not accepted"},
      {400, "limit-exceeded", "The document exceeds a structural limit"},
      {400, "bad-request", "The request is not valid"},
      {400, "idempotency-key-required", "Documents of this type carry no message id: send an Idempotency-Key header"},
      {401, "client-certificate-required", "A client certificate is required"},
      {403, "unknown-client", "The client certificate is not registered to an agency"},
      {403, "client-disabled", "The agency of this certificate is disabled"},
      {403, "type-not-allowed", "This agency may not publish this message type"},
      {403, "origin-mismatch", "The document's originating agency is not the sending agency"},
      {403, "forbidden", "Not allowed for this agency"},
      {404, "not-found", "No such resource"},
      {405, "method-not-allowed", "Method not allowed on this resource"},
      {403, "ack-not-addressed", "This agency was not sent the message it acknowledges"},
      {422, "idempotency-conflict", "The idempotency key was already used for a different body"},
      {409, "case-erased", "The case was erased by operation of law"},
      {411, "length-required", "Content-Length is required; chunked bodies are not accepted"},
      {413, "payload-too-large", "The body exceeds the size limit"},
      {415, "unsupported-media-type", "Messages must be sent as application/xml"},
      {422, "unknown-message-type", "The root element is not a registered message type"},
      {422, "schema-invalid", "The document is not valid against its schema"},
      {422, "unknown-reference", "The acknowledged message is not known to the hub"},
      {422, "missing-reference", "An acknowledgement must name the message it acknowledges"},
      {422, "bad-routing-key", "A routing key is empty, or holds invisible or control characters"},
      {431, "header-too-large", "The request header exceeds the size limit"},
      {429, "rate-limited", "This agency is sending faster than its rate; retry after the given time"},
      {503, "overloaded", "The hub is at capacity; retry shortly"},
      {503, "database-unavailable", "The message store is unavailable; nothing was stored"},
      {503, "outcome-unknown", "The store did not confirm the commit; retry with the same idempotency key"},
      {503, "shutting-down", "The hub is shutting down; retry against another instance"},
      {503, "directory-stale", "The hub cannot confirm who may call it; retry shortly"},
      {410, "payload-removed", "The document was removed: erased by operation of law, or past retention"},
      {401, "session-required", "Requests from a browser need the console's session; open the console"},
      {401, "session-expired", "The console session ended after a time without activity; reload the console"},
      {403, "cross-origin", "Requests from a page of another origin are refused"},
      {500, "internal-error", "Internal error"},
  };
  static_assert(std::size(table) == static_cast<std::size_t>(Problem::internal_error) + 1,
                "one row per Problem, in enum order");
  return table[static_cast<std::size_t>(p)];
}

namespace {
// Written once before the listeners start, read by every request afterwards.
std::mutex g_base_mutex;
std::shared_ptr<const std::string> g_base = std::make_shared<const std::string>("https://localhost/problems/");
}  // namespace

void set_problem_base(const std::string& public_url) {
  auto base = std::make_shared<const std::string>(public_url + "/problems/");
  std::lock_guard lock(g_base_mutex);
  g_base = std::move(base);
}

std::string type_uri(Problem p) {
  std::shared_ptr<const std::string> base;
  {
    std::lock_guard lock(g_base_mutex);
    base = g_base;
  }
  return *base + info(p).slug;
}

const std::vector<Problem>& all_problems() {
  static const std::vector<Problem> all = [] {
    std::vector<Problem> v;
    for (std::size_t i = 0; i <= static_cast<std::size_t>(Problem::internal_error); ++i) v.push_back(static_cast<Problem>(i));
    return v;
  }();
  return all;
}

}  // namespace cjhub::intake
