// A message's status and its document, for the agencies that may see it.
//   GET /v1/messages/{id}            the message, its routing keys and each recipient's delivery
//   GET /v1/messages/{id}/document   the document as received (410 once erased or past retention)
#include <boost/json.hpp>

#include "api/message_json.hpp"
#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/messages_repo.hpp"

namespace cjhub::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kMessagesPath = "/v1/messages";

// Whether `agency` may see this message: its sender, one of its recipients, or an operator.
bool may_see(const identity::Agency& agency, const MessageView& view) {
  return agency.is_operator() || view.message.sender_ori == agency.ori ||
         std::any_of(view.recipients.begin(), view.recipients.end(),
                     [&](const auto& d) { return d.recipient_ori == agency.ori; });
}

// The answer to a store that failed to answer.
void store_failed(const Respond& respond, const std::string& instance, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    if (store::is_connection_failure(ex)) return respond(problem(Problem::database_unavailable, "", instance));
    log::get("api")->error("status query failed: {}", ex.what());
  } catch (...) {
    log::get("api")->error("status query failed with an unknown exception");
  }
  respond(problem(Problem::internal_error, "", instance));
}

}  // namespace

void Handlers::get_message(const Request& req, const std::string& id_text, Respond respond) {
  const auto instance = std::string(kMessagesPath) + "/" + id_text.substr(0, 64);
  const auto who = caller(req, instance, respond);
  if (!who) return;
  const auto id = Uuid::parse(id_text);
  if (!id) return respond(problem(Problem::not_found, "not a message id", instance));
  auto agency = who;
  deps_.reader->find(
      *id,
      [respond, agency, instance](std::optional<MessageView> view) {
        const auto* rec = view ? &view->message : nullptr;
        // Senders see their own messages with every recipient, recipients their own deliveries
        // of it, operators everything. Others learn nothing, not even that the message exists.
        if (!rec || !may_see(*agency, *view)) {
          return respond(problem(Problem::not_found, "no such message for this agency", instance));
        }
        const bool recipient_only = !agency->is_operator() && rec->sender_ori != agency->ori;
        if (recipient_only) {
          std::erase_if(view->recipients, [&](const auto& d) { return d.recipient_ori != agency->ori; });
        }
        json::object o{{"message_id", rec->id},
                       {"type", rec->type},
                       {"sender_ori", rec->sender_ori},
                       {"document_id", rec->document_id},
                       {"case_key", rec->case_key},
                       {"origin_ori", rec->origin_ori},
                       {"jurisdiction", rec->jurisdiction},
                       {"erasure", rec->erasure},
                       {"body_size", rec->body_size},
                       {"body_sha256", rec->body_sha256_hex},
                       {"received_at", rec->received_at},
                       {"stored_at", rec->stored_at},
                       {"payload_removed", rec->payload_removed},
                       {"status", "accepted"}};
        // The sender's own key for its retries: not the recipients' business.
        if (!recipient_only) o["idempotency_key"] = rec->idempotency_key;
        json::array recipients;
        for (const auto& d : view->recipients) {
          auto r = recipient_json(d);
          r["attempt_history"] = attempts_json(d.history);
          recipients.push_back(std::move(r));
        }
        o["recipients"] = std::move(recipients);
        Response r;
        r.body = json::serialize(o);
        respond(std::move(r));
      },
      [respond, instance](std::exception_ptr e) { store_failed(respond, instance, e); });
}

void Handlers::get_document(const Request& req, const std::string& id_text, Respond respond) {
  const auto instance = std::string(kMessagesPath) + "/" + id_text.substr(0, 64) + "/document";
  const auto who = caller(req, instance, respond);
  if (!who) return;
  const auto id = Uuid::parse(id_text);
  if (!id) return respond(problem(Problem::not_found, "not a message id", instance));
  if (deps_.db == nullptr) return respond(problem(Problem::database_unavailable, "", instance));
  // Who may see the message decides who may read its document (the same rule, the same answer).
  deps_.reader->find(
      *id,
      [this, respond, agency = who, instance, id = *id](std::optional<MessageView> view) {
        if (!view || !may_see(*agency, *view)) {
          return respond(problem(Problem::not_found, "no such message for this agency", instance));
        }
        deps_.db->run(
            [id, instance](store::Connection& c) {
              const auto doc = store::message_document(c, id);
              if (!doc) return problem(Problem::not_found, "no such message for this agency", instance);
              if (doc->removed) {
                return problem(Problem::payload_removed,
                               "the hub no longer holds this document (erased by operation of law, or past "
                               "its retention); its record and deliveries remain",
                               instance);
              }
              Response r;
              r.content_type = "application/xml";
              r.body = doc->body;
              return r;
            },
            respond);
      },
      [respond, instance](std::exception_ptr e) { store_failed(respond, instance, e); });
}

}  // namespace cjhub::api
