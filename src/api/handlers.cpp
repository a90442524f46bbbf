#include "cjhub/api/handlers.hpp"

#include "api/problem_docs.hpp"

#include <boost/json.hpp>

#include "cjhub/intake/admission.hpp"
#include "api/message_json.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/crypto.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/ops/scorecard.hpp"
#include "cjhub/ops/submitter_watch.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/operations_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kMessagesPath = "/v1/messages";
constexpr std::string_view kSandboxCourtPath = "/v1/sandbox/court/";
constexpr std::string_view kDocumentSuffix = "/document";

// The refusal of a submission whose certificate did not resolve to one active agency.
std::pair<Problem, std::string> identity_refusal(identity::Resolution r) {
  switch (r) {
    case identity::Resolution::disabled: return {Problem::client_disabled, "this certificate's agency is disabled"};
    case identity::Resolution::no_certificate:
      return {Problem::no_client_certificate, "no client certificate was presented"};
    case identity::Resolution::ambiguous:
      return {Problem::unknown_client, "this certificate matches more than one agency"};
    default: return {Problem::unknown_client, "this certificate is not registered to any agency"};
  }
}

Response json_response(unsigned status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json::serialize(v);
  return r;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_xml_media_type(const std::string& content_type) {
  auto mt = lower(content_type.substr(0, content_type.find(';')));
  while (!mt.empty() && mt.back() == ' ') mt.pop_back();
  return mt == "application/xml" || mt == "text/xml" ||
         (mt.rfind("application/", 0) == 0 && mt.size() > 4 && mt.ends_with("+xml"));
}

// Idempotency keys are opaque to the hub but bounded and printable.
bool valid_idempotency_key(const std::string& k) {
  if (k.empty() || k.size() > 200) return false;
  return std::all_of(k.begin(), k.end(), [](unsigned char c) { return c > 0x20 && c < 0x7F; });
}

json::object accepted_body(const store::InsertResult& r) {
  return {{"message_id", r.message_id},
          {"type", r.type},
          {"received_at", r.received_at},
          {"status_url", std::string(kMessagesPath) + "/" + r.message_id}};
}

}  // namespace

Handlers::Handlers(HandlerDeps deps) : deps_(std::move(deps)) {
  if (deps_.config != nullptr) intake::set_problem_base(deps_.config->listener.public_url);
}

void Handlers::audit(const Request& req, const std::string& ori, std::string action, std::string outcome,
                     std::string object, std::string detail) const {
  if (deps_.audit == nullptr) return;
  deps_.audit->record({audit::actor_of(req.peer.san_uris, req.peer.subject, req.peer.sha256), ori, std::move(action),
                       std::move(outcome), std::move(object), req.remote, std::move(detail)});
}

void Handlers::handle(Request req, Respond respond) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  // No answer is kept by a browser or a cache on the way: what the hub says about messages and
  // agencies must not outlive the screen it was shown on.
  respond = [inner = std::move(respond)](Response r) {
    if (std::none_of(r.headers.begin(), r.headers.end(), [](const auto& h) { return h.first == "Cache-Control"; })) {
      r.headers.emplace_back("Cache-Control", "no-store");
    }
    inner(std::move(r));
  };
  auto wrong_method = [&](const char* allow) { respond(method_not_allowed(allow, path)); };
  if (path == "/healthz") {
    if (req.method != "GET") return wrong_method("GET");
    return respond(json_response(200, json::object{{"status", "ok"}}));
  }
  // The problem types' documentation: what every problem type URI resolves to. Public within the
  // mutual-TLS listener (no agency needed: a vendor reads it before its certificate is registered).
  if (path == "/problems" || path.rfind("/problems/", 0) == 0) {
    if (req.method != "GET") return wrong_method("GET");
    auto html = path == "/problems" ? std::optional<std::string>(problems_page_html())
                                    : problem_page_html(std::string_view(path).substr(10));
    if (!html) return respond(problem(Problem::not_found, "no such problem type", path));
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::move(*html);
    r.headers.emplace_back("Cache-Control", "max-age=3600");
    add_console_headers(r);
    return respond(std::move(r));
  }
  // Fail closed: past its age limit the directory may still list an identity that was removed.
  const bool stale = deps_.directory_max_age.count() > 0 && deps_.directory->age() > deps_.directory_max_age;
  if (stale && path != "/readyz") {
    const auto age_s = std::chrono::duration_cast<std::chrono::seconds>(deps_.directory->age()).count();
    log::warn(log::get("api"), {{"peer", req.remote}, {"request_id", req.request_id}},
              "refused a request from {}: the agency directory was last confirmed {} s ago", req.remote, age_s);
    return respond(problem(Problem::directory_stale,
                           "the agency directory could not be confirmed for " + std::to_string(age_s) + " s", path));
  }
  if (path == "/console" || path.rfind("/console/", 0) == 0) return console(req, path, std::move(respond));
  if (from_browser(req)) {
    std::string refreshed;
    if (auto refused = judge_browser(req, path, true, refreshed)) return respond(std::move(*refused));
    respond = [inner = std::move(respond), refreshed](Response r) {
      r.headers.emplace_back("X-Cjhub-Session", refreshed);
      inner(std::move(r));
    };
  }
  if (path == "/metrics") {
    if (req.method != "GET") return wrong_method("GET");
    const auto who = deps_.directory->resolve(req.peer);
    if (who.result != identity::Resolution::ok || !who.agency->is_operator()) {
      audit(req, who.agency ? who.agency->ori : "", "authorization", "refused:forbidden", "GET " + path, "operators only");
      return respond(problem(Problem::forbidden, "operators only", path));
    }
    std::string own;
    metrics::registry().render(own);  // the process's figures (the database's are added below)
    if (deps_.db == nullptr) {
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = std::move(own);
      return respond(std::move(r));
    }
    const std::string up = "# HELP cjhub_database_up 1 when the database answered this scrape.\n"
                           "# TYPE cjhub_database_up gauge\ncjhub_database_up ";
    // Without the database the process counters are still worth having (that is when they matter).
    return deps_.db->run(
        [own, up, rule = ops::silence_rule(deps_.config ? deps_.config->watchers : config::Watchers{})](
            store::Connection& c) {
          Response r;
          r.content_type = "text/plain; version=0.0.4";
          r.body = own + store::database_gauges(c, rule) + up + "1\n";
          return r;
        },
        [respond = std::move(respond), own, up](Response r) {
          if (r.status != 200) {
            r = Response{};
            r.content_type = "text/plain; version=0.0.4";
            r.body = own + up + "0\n";
          }
          respond(std::move(r));
        });
  }
  if (path == "/readyz") {
    if (req.method != "GET") return wrong_method("GET");
    // Components name endpoints, backlogs and certificate dates: operators see them, anybody
    // else (an agency, a load balancer's probe) the status alone.
    const auto who = deps_.directory->resolve(req.peer);
    const bool details = who.result == identity::Resolution::ok && who.agency->is_operator();
    return respond(readyz(details));
  }
  if (path == kMessagesPath) {
    if (req.method == "GET") return search_messages(req, std::move(respond));
    if (req.method != "POST") return wrong_method("GET, POST");
    return post_message(std::move(req), std::move(respond));
  }
  if (path.rfind("/v1/admin/", 0) == 0) return admin(req, path, std::move(respond));
  if (path.rfind(kSandboxCourtPath, 0) == 0) {
    if (req.method != "POST") return wrong_method("POST");
    return sandbox_court(req, path.substr(kSandboxCourtPath.size()), std::move(respond));
  }
  if (path == "/v1/erasures" || path.rfind("/v1/erasures/", 0) == 0) return erasures(req, path, std::move(respond));
  if (path == "/v1/series") return series(req, path, std::move(respond));
  if (path == "/v1/endpoints") {
    if (req.method != "GET") return wrong_method("GET");
    const auto who = caller(req, path, respond);
    if (!who) return;
    return endpoints(path, who->is_operator() ? std::nullopt : std::optional<std::string>(who->ori),
                     std::move(respond));
  }
  if (path == "/v1/scorecard") {
    const auto who = caller(req, path, respond);
    if (!who) return;
    return scorecard(req, path, who->ori, std::move(respond));
  }
  if (path.rfind(std::string(kMessagesPath) + "/", 0) == 0) {
    if (req.method != "GET") return wrong_method("GET");
    auto id = path.substr(kMessagesPath.size() + 1);
    if (id.ends_with(kDocumentSuffix)) {
      return get_document(req, id.substr(0, id.size() - kDocumentSuffix.size()), std::move(respond));
    }
    return get_message(req, id, std::move(respond));
  }
  respond(problem(Problem::not_found, "no resource at " + path, path));
}

Response Handlers::readyz(bool details) const {
  json::object comps;
  bool all_ok = true;
  std::string failing, warnings;
  if (deps_.readiness != nullptr) {
    for (const auto& c : deps_.readiness->components()) {
      json::object comp{{"ok", c.ok}, {"state", !c.ok ? "failing" : c.warning ? "warning" : "ok"}, {"detail", c.detail}};
      for (const auto& [k, v] : c.facts) comp[k] = v;
      comps[c.name] = std::move(comp);
      if (!c.ok) {
        all_ok = false;
        failing += (failing.empty() ? "" : ", ") + c.name;
      } else if (c.warning) {
        warnings += (warnings.empty() ? "" : ", ") + c.name;
      }
    }
  }
  json::object body{{"status", all_ok ? "ready" : "not ready"}};
  if (!details) return json_response(all_ok ? 200 : 503, body);
  body["components"] = std::move(comps);
  if (!all_ok) body["failing"] = failing;
  if (!warnings.empty()) body["warnings"] = warnings;
  return json_response(all_ok ? 200 : 503, body);
}

void Handlers::count_submission(const std::string& ori, const std::string& outcome,
                                std::int64_t certificate_not_after) const {
  if (deps_.submitters != nullptr && !ori.empty()) {
    deps_.submitters->count(ori, outcome, std::chrono::system_clock::now(), certificate_not_after);
  }
}

std::optional<Response> Handlers::precheck(const RequestHead& head) {
  const auto path = head.target.substr(0, head.target.find('?'));
  // Submissions, and what a sandbox agency asks the sandbox court to submit: both cost the hub a
  // document, so both count against the asking agency's rate.
  if (head.method != "POST" || (path != kMessagesPath && path.rfind(kSandboxCourtPath, 0) != 0)) return std::nullopt;
  Request req;  // for the audit record: no body
  req.method = head.method;
  req.target = head.target;
  req.peer = head.peer;
  req.remote = head.remote;
  auto refuse = [&](Problem p, const std::string& ori, const std::string& detail) {
    stats_.refused.fetch_add(1);
    metrics::registry().submissions.add({"unknown", std::string("refused:") + info(p).slug});
    count_submission(ori, std::string("refused:") + info(p).slug, head.peer.not_after);
    audit(req, ori, "submission", std::string("refused:") + info(p).slug, "", "before the body was read");
    return problem(p, detail, path);
  };
  // Who is calling, before the body costs anything.
  const auto who = deps_.directory->resolve(head.peer);
  if (who.result != identity::Resolution::ok) {
    const auto [p, detail] = identity_refusal(who.result);
    return refuse(p, "", detail);
  }
  // Within its rate?
  if (deps_.rate_limiter != nullptr) {
    if (const auto wait = deps_.rate_limiter->take(who.agency->ori); wait.count() > 0) {
      const auto seconds = (wait.count() + 999) / 1000;
      auto r = refuse(Problem::rate_limited, who.agency->ori,
                      "agency " + who.agency->ori + " is over its submission rate; retry in " +
                          std::to_string(seconds) + " s");
      r.headers.emplace_back("Retry-After", std::to_string(seconds));
      // The connection waits for the request's turn (at most what the client was told), so the
      // agency's waiting connections come back one by one as its tokens arrive.
      r.pace = wait;
      return r;
    }
  }
  return std::nullopt;
}

void Handlers::refuse_submission(const Request& req, const std::string& ori, const std::string& type, Problem p,
                                 const std::string& detail, json::object ext, const std::string& instance,
                                 const Respond& respond) {
  stats_.refused.fetch_add(1);
  const std::string slug = info(p).slug;
  metrics::registry().submissions.add({type, "refused:" + slug});
  count_submission(ori, "refused:" + slug, req.peer.not_after);
  if (p == Problem::malformed_xml || p == Problem::forbidden_markup || p == Problem::schema_invalid ||
      p == Problem::limit_exceeded || p == Problem::unknown_message_type) {
    metrics::registry().validation_failures.add({slug});
  }
  // The audit record and the log name the problem, never its detail (which may quote the document).
  log::info(log::get("api"),
            {{"request_id", req.request_id}, {"agency", ori}, {"peer", req.remote}, {"status", info(p).status}},
            "refused {}: {}", type, slug);
  audit(req, ori, "submission", std::string("refused:") + slug, "", "");
  respond(problem(p, detail, instance, std::move(ext)));
}

void Handlers::post_message(Request req, Respond respond) {
  auto lg = log::get("api");
  const auto instance = std::string(kMessagesPath);
  auto refuse = [&](const std::string& ori, Problem p, const std::string& detail) {
    refuse_submission(req, ori, "unknown", p, detail, {}, instance, respond);
  };

  // 1. Who is calling.
  const auto who = deps_.directory->resolve(req.peer);
  if (who.result != identity::Resolution::ok) {
    log::warn(lg, {{"peer", req.remote}, {"request_id", req.request_id}, {"certificate", req.peer.sha256}},
              "refused submission from {}: certificate {} ({})", req.remote, req.peer.sha256,
              identity::to_string(who.result));
    const auto [p, detail] = identity_refusal(who.result);
    return refuse("", p, detail);
  }
  const auto& agency = *who.agency;

  // 2. What was sent.
  if (!is_xml_media_type(req.content_type)) {
    return refuse(agency.ori, Problem::unsupported_media_type,
                  "Content-Type must be application/xml (got \"" + req.content_type.substr(0, 100) + "\")");
  }
  if (!req.idempotency_key.empty() && !valid_idempotency_key(req.idempotency_key)) {
    return refuse(agency.ori, Problem::bad_request,
                  "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces");
  }
  auto body = std::move(req.body);
  admit_and_store(req, agency, std::move(body), req.idempotency_key, instance, std::move(respond));
}

void Handlers::admit_and_store(const Request& req, const identity::Agency& agency, std::string body,
                               const std::string& idempotency_key, const std::string& instance, Respond respond) {
  std::string type_name = "unknown";  // known once admitted
  // 3. Validation, type rights, origin, keys.
  auto admitted = intake::admit(*deps_.config, *deps_.schemas, agency, std::move(body), idempotency_key,
                                req.received_at);
  if (auto* refusal = std::get_if<intake::Refusal>(&admitted)) {
    if (!refusal->message_type.empty()) type_name = refusal->message_type;
    return refuse_submission(req, agency.ori, type_name, refusal->problem, refusal->detail,
                             std::move(refusal->extensions), instance, respond);
  }
  auto msg = std::move(std::get<store::NewMessage>(admitted));
  type_name = msg.type;
  const auto actor = audit::actor_of(req.peer.san_uris, req.peer.subject, req.peer.sha256);
  msg.actor = actor;
  msg.source = req.remote;
  msg.request_id = req.request_id;

  // 4. Store it; answer after COMMIT.
  deps_.ingest->submit(std::move(msg), [this, respond = std::move(respond), instance, ori = agency.ori,
                                        actor, remote = req.remote, type = type_name, not_after = req.peer.not_after,
                                        received = req.received_at, request_id = req.request_id](outbox::Result r) {
    auto& m = metrics::registry();
    m.ingest_latency.observe(std::chrono::duration<double>(now_utc() - received).count());
    const auto outcome = r.outcome == outbox::Outcome::stored      ? std::string("accepted")
                         : r.outcome == outbox::Outcome::duplicate ? std::string("duplicate")
                                                                   : std::string("refused:") + outbox::to_string(r.outcome);
    m.submissions.add({type, outcome});
    count_submission(ori, outcome, not_after);
    if (r.outcome == outbox::Outcome::stored || r.outcome == outbox::Outcome::duplicate) {
      log::info(log::get("api"),
                {{"message_id", r.stored.message_id}, {"request_id", request_id}, {"agency", ori}, {"peer", remote}},
                "{} {}", r.outcome == outbox::Outcome::stored ? "accepted" : "accepted again (a repeat)", type);
    } else if (r.outcome != outbox::Outcome::case_erased && r.outcome != outbox::Outcome::failed) {
      log::info(log::get("api"), {{"request_id", request_id}, {"agency", ori}, {"peer", remote}}, "refused {}: {}",
                type, outbox::to_string(r.outcome));
    }
    // Outcomes the storing transaction recorded itself are not audited again here.
    const bool in_store = r.outcome == outbox::Outcome::stored || r.outcome == outbox::Outcome::duplicate ||
                          r.outcome == outbox::Outcome::conflict || r.outcome == outbox::Outcome::case_erased ||
                          r.outcome == outbox::Outcome::ack_unknown_reference ||
                          r.outcome == outbox::Outcome::ack_not_addressed;
    if (!in_store && deps_.audit != nullptr) {
      deps_.audit->record({actor, ori, "submission", std::string("refused:") + outbox::to_string(r.outcome), "", remote,
                           "nothing stored"});
    }
    switch (r.outcome) {
      case outbox::Outcome::stored: {
        stats_.accepted.fetch_add(1);
        auto resp = json_response(202, accepted_body(r.stored));
        resp.headers.emplace_back("Location", std::string(kMessagesPath) + "/" + r.stored.message_id);
        return respond(std::move(resp));
      }
      case outbox::Outcome::duplicate: {
        stats_.duplicates.fetch_add(1);
        auto resp = json_response(202, accepted_body(r.stored));
        resp.headers.emplace_back("Location", std::string(kMessagesPath) + "/" + r.stored.message_id);
        resp.headers.emplace_back("Idempotent-Replayed", "true");
        return respond(std::move(resp));
      }
      case outbox::Outcome::conflict:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::idempotency_conflict,
                               "this idempotency key was used for message " + r.stored.message_id +
                                   " with a different body",
                               instance, {{"existing_message_id", r.stored.message_id}}));
      case outbox::Outcome::ack_unknown_reference:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::unknown_reference,
                               "no message with that id was accepted by the hub", instance));
      case outbox::Outcome::ack_not_addressed:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::ack_not_addressed,
                               "only an agency the message was delivered to may acknowledge it", instance));
      case outbox::Outcome::case_erased:
        stats_.refused.fetch_add(1);
        log::warn(log::get("api"), {{"request_id", request_id}, {"agency", ori}, {"peer", remote}},
                  "refused a message from {} about an erased case", ori);
        return respond(problem(Problem::case_erased,
                               "the case was erased by operation of law; nothing was stored", instance));
      case outbox::Outcome::unavailable:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::database_unavailable, "nothing was stored; retry later", instance));
      case outbox::Outcome::outcome_unknown:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::outcome_unknown, "", instance));
      case outbox::Outcome::overloaded:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::overloaded, "nothing was stored; retry shortly", instance));
      case outbox::Outcome::shutting_down:
        stats_.refused.fetch_add(1);
        return respond(problem(Problem::shutting_down, "nothing was stored", instance));
      case outbox::Outcome::failed:
        stats_.refused.fetch_add(1);
        log::error(log::get("api"), {{"request_id", request_id}, {"agency", ori}, {"peer", remote}},
                   "message from {} failed to store (see outbox log)", ori);
        return respond(problem(Problem::internal_error, "nothing was stored", instance));
    }
  });
}

std::shared_ptr<const identity::Agency> Handlers::caller(const Request& req, const std::string& instance,
                                                         Respond& respond) const {
  auto who = deps_.directory->resolve(req.peer);
  if (who.result == identity::Resolution::ok) return who.agency;
  audit(req, "", "authorization", std::string("refused:") + identity::to_string(who.result),
        req.method + " " + instance, "");
  const auto [p, detail] = identity_refusal(who.result);
  respond(problem(p == Problem::client_disabled ? p : Problem::unknown_client, detail, instance));
  return nullptr;
}

}  // namespace cjhub::api
