// The transport-neutral request and response the handlers work on. The ingress layer builds a
// Request from the wire (after TLS, limits and framing checks) and writes the Response back.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cjhub/common/time.hpp"
#include "cjhub/identity/directory.hpp"

namespace cjhub::api {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string content_type;
  std::string idempotency_key;
  std::vector<std::pair<std::string, std::string>> headers;  // every header field, as received
  std::string body;
  identity::PeerCertificate peer;
  std::string remote;  // "ip:port"
  SystemTime received_at{};
  // The client's X-Request-Id when valid, else one the listener made; in every answer's
  // X-Request-Id (set by the listener), in the log lines and stored with a POSTed message.
  std::string request_id;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after writing
  // The connection's next request is read no sooner than this after the answer (a client told to
  // retry later that sends again at once on the same connection waits here, costing nothing).
  std::chrono::milliseconds pace{0};
};

using Respond = std::function<void(Response)>;

// What is known of a request once its head is read, before its body.
struct RequestHead {
  std::string method;
  std::string target;
  identity::PeerCertificate peer;
  std::string remote;
  std::string request_id;
};

// Anything that answers requests: the hub's handlers, the reference sink, test doubles.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // `respond` is called exactly once, possibly on another thread.
  virtual void handle(Request req, Respond respond) = 0;
  // Called with the head, before the body is read: an answer refuses the request at once (its
  // body is then read only to be discarded, within a bound), so who may send a body and how often
  // is decided before it costs the hub memory. Must not block.
  virtual std::optional<Response> precheck(const RequestHead&) { return std::nullopt; }
};

}  // namespace cjhub::api
