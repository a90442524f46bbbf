// The request handlers: plain functions from Request to Response (through a completion, since
// ingest answers only after COMMIT). No sockets here; the same code serves tests directly.
#pragma once

#include <atomic>
#include <memory>

#include "cjhub/api/http_types.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/api/rate_limit.hpp"
#include "cjhub/audit/audit_log.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/console/sessions.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/outbox/writer.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/validation/schema_holder.hpp"

namespace cjhub::ops {
class SubmitterWatch;
}

namespace cjhub::api {

// A message and where it went.
struct MessageView {
  store::MessageRecord message;
  std::vector<store::DeliveryStatus> recipients;
};

// Reads the handlers need from the store (the seam tests replace).
class MessageReader {
 public:
  virtual ~MessageReader() = default;
  // Calls `done` with the view (nullopt = none) or `fail` when the store is unreachable.
  virtual void find(const Uuid& id, std::function<void(std::optional<MessageView>)> done,
                    std::function<void(std::exception_ptr)> fail) = 0;
};

// Runs a job against the database off the I/O threads (the seam tests replace). The job's
// exceptions become 503 (database unreachable) or 500.
class DbRunner {
 public:
  virtual ~DbRunner() = default;
  virtual void run(std::function<Response(store::Connection&)> job, Respond respond) = 0;
};

// The total backlog of every endpoint at one moment (counted up to 10,000 per endpoint).
struct BacklogSample {
  SystemTime at;
  long long backlog = 0;
};

// What /readyz reports; kept current by the readiness probe.
class Readiness {
 public:
  virtual ~Readiness() = default;
  struct ComponentState {
    std::string name;
    bool ok = false;
    std::string detail;
    bool warning = false;  // ready, but an operator should act (a certificate about to expire, ...)
    // Named facts shown as fields of the component (the database's node and replication).
    std::vector<std::pair<std::string, std::string>> facts = {};
  };
  virtual std::vector<ComponentState> components() const = 0;
  // The backlog this process sampled, oldest first (the console's chart; none: not watched here).
  virtual std::vector<BacklogSample> backlog_history() const { return {}; }
};

struct HandlerDeps {
  const config::Config* config = nullptr;
  identity::Directory* directory = nullptr;
  validation::SchemaHolder* schemas = nullptr;
  outbox::IngestQueue* ingest = nullptr;
  MessageReader* reader = nullptr;
  DbRunner* db = nullptr;  // operators' admin API
  const Readiness* readiness = nullptr;
  audit::Recorder* audit = nullptr;  // refusals, authorization failures, admin actions
  // A directory older than this is not trusted: requests that need an identity get 503
  // directory-stale (zero: no limit).
  std::chrono::milliseconds directory_max_age{0};
  RateLimiter* rate_limiter = nullptr;  // per-agency submission rate (none: unlimited)
  ops::SubmitterWatch* submitters = nullptr;  // submission outcomes per agency (none: not counted)
  const console::Sessions* sessions = nullptr;  // the console's sessions (none: browsers are refused)
};

struct HandlerStats {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> refused{0};
};

// Request headers by name, case-insensitively (null: absent); console.cpp.
const std::string* header(const Request& req, std::string_view name);
// Whether a browser made this request (it names an origin or a fetch's mode or site).
bool from_browser(const Request& req);
// The console's security headers: CSP, no sniffing, no referrer, no framing.
void add_console_headers(Response& r);

class Handlers final : public RequestHandler {
 public:
  explicit Handlers(HandlerDeps deps);
  // Routes and answers one request; `respond` is called exactly once, possibly on another thread.
  void handle(Request req, Respond respond) override;
  // POST /v1/messages and POST /v1/sandbox/court/{type}: the certificate must be an active agency's, and
  // the agency within its rate.
  std::optional<Response> precheck(const RequestHead& head) override;
  const HandlerStats& stats() const { return stats_; }

 private:
  void post_message(Request req, Respond respond);
  // Admits `body` as sent by `agency` (validation, rights, origin, keys) and stores it: 202 after
  // COMMIT, or the refusal. The request says who asked and from where (audit, metrics).
  void admit_and_store(const Request& req, const identity::Agency& agency, std::string body,
                       const std::string& idempotency_key, const std::string& instance, Respond respond);
  // Answers a submission's refusal, counted (metrics, the agency's telemetry) and audited.
  void refuse_submission(const Request& req, const std::string& ori, const std::string& type, Problem p,
                         const std::string& detail, boost::json::object ext, const std::string& instance,
                         const Respond& respond);
  // POST /v1/sandbox/court/{type}: the sandbox court sends a document about the caller's case
  // (sandbox_court.cpp).
  void sandbox_court(const Request& req, const std::string& type, Respond respond);
  // GET /v1/messages/{id} and its document (message_status.cpp).
  void get_message(const Request& req, const std::string& id, Respond respond);
  void get_document(const Request& req, const std::string& id, Respond respond);
  // GET /v1/endpoints and /v1/admin/endpoints: one agency's endpoints (`ori`) or all (endpoints.cpp).
  void endpoints(const std::string& path, std::optional<std::string> ori, Respond respond);
  // GET /v1/series: accepted, delivered and backlog over time, for the console (series.cpp).
  void series(const Request& req, const std::string& path, Respond respond);
  // /console and /console/*: the page, its assets and its sessions (console.cpp).
  void console(const Request& req, const std::string& path, Respond respond);
  // A browser's request: refused (the answer) unless it comes from the hub's own origin and, when
  // `needs_session`, carries a live console session; `refreshed` is then the token to send back.
  std::optional<Response> judge_browser(const Request& req, const std::string& path, bool needs_session,
                                        std::string& refreshed) const;
  // GET /v1/messages: the search (messages_search.cpp).
  void search_messages(const Request& req, Respond respond);
  Response readyz(bool details) const;  // details: the components, for operators
  void admin(const Request& req, const std::string& path, Respond respond);
  void erasures(const Request& req, const std::string& path, Respond respond);
  // The month's scorecard of one agency's endpoints (`ori`), or of every agency.
  void scorecard(const Request& req, const std::string& path, std::optional<std::string> ori, Respond respond);
  // Counts a submission's outcome for its agency's telemetry (when the agency is known).
  // `certificate_not_after`: the client certificate's (Unix seconds; 0 unknown).
  void count_submission(const std::string& ori, const std::string& outcome, std::int64_t certificate_not_after) const;
  // The agency whose certificate made this request; when there is none, the refusal (403 naming
  // why, audited against `instance`, the method and target refused) is answered and null returned.
  std::shared_ptr<const identity::Agency> caller(const Request& req, const std::string& instance,
                                                 Respond& respond) const;
  // Records an audit event about this request (who, from where); no-op without a recorder.
  void audit(const Request& req, const std::string& ori, std::string action, std::string outcome,
             std::string object, std::string detail) const;

  HandlerDeps deps_;
  HandlerStats stats_;
};

}  // namespace cjhub::api
