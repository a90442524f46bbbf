#include "cjhub/api/handlers.hpp"

#include <boost/json.hpp>

#include "cjhub/api/problem.hpp"
#include "cjhub/common/crypto.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kMessagesPath = "/v1/messages";

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

bool truthy(const std::string& v) { return v == "true" || v == "1"; }

Problem problem_for(validation::Verdict v) {
  switch (v) {
    case validation::Verdict::malformed: return Problem::malformed_xml;
    case validation::Verdict::forbidden_markup: return Problem::forbidden_markup;
    case validation::Verdict::limit_exceeded: return Problem::limit_exceeded;
    case validation::Verdict::unknown_type: return Problem::unknown_message_type;
    case validation::Verdict::invalid: return Problem::schema_invalid;
    case validation::Verdict::ok: break;
  }
  return Problem::internal_error;
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

Handlers::Handlers(HandlerDeps deps) : deps_(std::move(deps)) {}

void Handlers::handle(Request req, Respond respond) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  auto wrong_method = [&](const char* allow) {
    auto r = problem(Problem::method_not_allowed, "allowed: " + std::string(allow), path);
    r.headers.emplace_back("Allow", allow);
    respond(std::move(r));
  };
  if (path == "/healthz") {
    if (req.method != "GET") return wrong_method("GET");
    return respond(json_response(200, json::object{{"status", "ok"}}));
  }
  if (path == "/readyz") {
    if (req.method != "GET") return wrong_method("GET");
    return respond(readyz());
  }
  if (path == kMessagesPath) {
    if (req.method != "POST") return wrong_method("POST");
    return post_message(std::move(req), std::move(respond));
  }
  if (path.rfind(std::string(kMessagesPath) + "/", 0) == 0) {
    if (req.method != "GET") return wrong_method("GET");
    return get_message(req, path.substr(kMessagesPath.size() + 1), std::move(respond));
  }
  respond(problem(Problem::not_found, "no resource at " + path, path));
}

Response Handlers::readyz() const {
  json::object comps;
  bool all_ok = true;
  std::string failing;
  if (deps_.readiness != nullptr) {
    for (const auto& c : deps_.readiness->components()) {
      comps[c.name] = json::object{{"ok", c.ok}, {"detail", c.detail}};
      if (!c.ok) {
        all_ok = false;
        failing += (failing.empty() ? "" : ", ") + c.name;
      }
    }
  }
  json::object body{{"status", all_ok ? "ready" : "not ready"}, {"components", comps}};
  if (!all_ok) body["failing"] = failing;
  return json_response(all_ok ? 200 : 503, body);
}

void Handlers::post_message(Request req, Respond respond) {
  auto lg = log::get("api");
  const auto instance = std::string(kMessagesPath);
  auto refuse = [&](Problem p, const std::string& detail, json::object ext = {}) {
    stats_.refused.fetch_add(1);
    respond(problem(p, detail, instance, std::move(ext)));
  };

  // 1. Who is calling.
  const auto who = deps_.directory->resolve(req.peer);
  if (who.result != identity::Resolution::ok) {
    lg->warn("refused submission from {}: certificate {} ({})", req.remote, req.peer.sha256,
             identity::to_string(who.result));
    if (who.result == identity::Resolution::disabled) {
      return refuse(Problem::client_disabled, "this certificate's agency is disabled");
    }
    if (who.result == identity::Resolution::no_certificate) {
      return refuse(Problem::no_client_certificate, "no client certificate was presented");
    }
    return refuse(Problem::unknown_client,
                  who.result == identity::Resolution::ambiguous
                      ? "this certificate matches more than one agency"
                      : "this certificate is not registered to any agency");
  }
  const auto& agency = *who.agency;

  // 2. What was sent.
  if (!is_xml_media_type(req.content_type)) {
    return refuse(Problem::unsupported_media_type,
                  "Content-Type must be application/xml (got \"" + req.content_type.substr(0, 100) + "\")");
  }
  if (!req.idempotency_key.empty() && !valid_idempotency_key(req.idempotency_key)) {
    return refuse(Problem::bad_request,
                  "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces");
  }

  // 3. Is it a valid message of a registered type (one SAX pass also reads the routing keys).
  auto& validator = validation::Validator::for_this_thread(deps_.schemas->current());
  auto outcome = validator.validate(req.body);
  deps_.schemas->renew_if_grown();
  if (!outcome.ok()) {
    json::array errors;
    for (const auto& i : outcome.issues) {
      errors.push_back(json::object{{"line", i.line}, {"column", i.column}, {"message", i.message}});
    }
    const auto p = problem_for(outcome.verdict);
    const auto& first = outcome.issues.empty() ? validation::Issue{} : outcome.issues.front();
    lg->info("refused submission from {} ({}): {} at line {} column {}", agency.ori, req.remote,
             info(p).slug, first.line, first.column);
    std::string detail = outcome.issues.empty()
                             ? std::string(validation::to_string(outcome.verdict))
                             : fmt::format("line {}, column {}: {}", first.line, first.column, first.message);
    json::object ext{{"errors", std::move(errors)}};
    if (!outcome.type_name.empty()) ext["message_type"] = outcome.type_name;
    return refuse(p, detail, std::move(ext));
  }

  // 4. May this agency publish it.
  if (!agency.publish.count(outcome.type_name)) {
    lg->warn("refused {} from {}: type not allowed", outcome.type_name, agency.ori);
    return refuse(Problem::type_not_allowed,
                  fmt::format("agency {} may not publish {}", agency.ori, outcome.type_name));
  }

  // 5. An agency speaks only for itself.
  const auto* type = deps_.config->find_type(outcome.type_name);
  const auto origin = outcome.first("origin_ori");
  if (type != nullptr && type->origin_must_match_sender && origin != agency.ori) {
    lg->warn("refused {} from {}: document names {} as its origin", outcome.type_name, agency.ori,
             origin.substr(0, 32));
    return refuse(Problem::origin_mismatch,
                  fmt::format("the document's originating agency ORI is \"{}\" but the certificate "
                              "belongs to {}",
                              origin.substr(0, 32), agency.ori));
  }

  // 6. Store it; answer after COMMIT.
  store::NewMessage msg;
  msg.id = Uuid::v7();
  msg.type = outcome.type_name;
  msg.sender_ori = agency.ori;
  msg.document_id = outcome.first("message_id");
  msg.idempotency_key = !req.idempotency_key.empty() ? req.idempotency_key : msg.document_id;
  if (msg.idempotency_key.empty()) {
    return refuse(Problem::schema_invalid,
                  "the document carries no message id and no Idempotency-Key header was sent");
  }
  msg.case_key = outcome.first("case_key");
  msg.origin_ori = outcome.first("origin_ori");
  msg.jurisdiction = outcome.first("jurisdiction");
  if (auto it = outcome.keys.find("erasure"); it != outcome.keys.end() && !it->second.empty()) {
    msg.erasure = std::all_of(it->second.begin(), it->second.end(), truthy);
  }
  msg.body_sha256 = sha256(req.body);
  msg.received_at = req.received_at;
  msg.body = std::move(req.body);

  deps_.ingest->submit(std::move(msg), [this, respond = std::move(respond), instance,
                                        ori = agency.ori](outbox::Result r) {
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
        log::get("api")->error("message from {} failed to store (see outbox log)", ori);
        return respond(problem(Problem::internal_error, "nothing was stored", instance));
    }
  });
}

void Handlers::get_message(const Request& req, const std::string& id_text, Respond respond) {
  const auto instance = std::string(kMessagesPath) + "/" + id_text.substr(0, 64);
  const auto who = deps_.directory->resolve(req.peer);
  if (who.result != identity::Resolution::ok) {
    return respond(problem(who.result == identity::Resolution::disabled ? Problem::client_disabled
                                                                        : Problem::unknown_client,
                           "", instance));
  }
  const auto id = Uuid::parse(id_text);
  if (!id) return respond(problem(Problem::not_found, "not a message id", instance));
  auto agency = who.agency;
  deps_.reader->find(
      *id,
      [respond, agency, instance](std::optional<store::MessageRecord> rec) {
        // Senders see their own messages; operators see all. Others learn nothing, not even
        // that the message exists.
        if (!rec || (!agency->is_operator() && rec->sender_ori != agency->ori)) {
          return respond(problem(Problem::not_found, "no such message for this agency", instance));
        }
        json::object o{{"message_id", rec->id},
                       {"type", rec->type},
                       {"sender_ori", rec->sender_ori},
                       {"document_id", rec->document_id},
                       {"idempotency_key", rec->idempotency_key},
                       {"case_key", rec->case_key},
                       {"origin_ori", rec->origin_ori},
                       {"jurisdiction", rec->jurisdiction},
                       {"erasure", rec->erasure},
                       {"body_size", rec->body_size},
                       {"body_sha256", rec->body_sha256_hex},
                       {"received_at", rec->received_at},
                       {"stored_at", rec->stored_at},
                       {"payload_removed", rec->payload_removed},
                       {"status", "accepted"},
                       {"recipients", json::array{}}};
        respond(json_response(200, o));
      },
      [respond, instance](std::exception_ptr e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          if (store::is_connection_failure(ex)) {
            return respond(problem(Problem::database_unavailable, "", instance));
          }
          log::get("api")->error("status query failed: {}", ex.what());
        } catch (...) {
          log::get("api")->error("status query failed with an unknown exception");
        }
        respond(problem(Problem::internal_error, "", instance));
      });
}

}  // namespace cjhub::api
