#include "cjhub/api/resource_json.hpp"

#include <boost/json.hpp>

#include "cjhub/common/log.hpp"

namespace cjhub::api {

namespace json = boost::json;

json::object dead_letter_json(const store::DeadLetter& d) {
  json::object o{{"delivery_id", d.delivery_id}, {"message_id", d.message_id},
                 {"message_type", d.message_type}, {"recipient_ori", d.recipient_ori},
                 {"endpoint", d.endpoint},       {"attempts", d.attempts},
                 {"last_error", d.last_error},   {"dead_at", d.dead_at},
                 {"case_key", d.case_key}};
  if (d.last_status) o["last_status"] = *d.last_status;
  return o;
}

json::object endpoint_json(const store::EndpointState& e) {
  json::object o{{"agency", e.ori},
                 {"endpoint", e.name},
                 {"url", e.url},
                 {"paused", e.paused},
                 {"paused_reason", e.paused_reason},
                 {"consecutive_failures", e.consecutive_failures},
                 {"backlog", e.backlog},
                 {"dead_letters", e.dead}};
  if (!e.last_success_at.empty()) o["last_success_at"] = e.last_success_at;
  if (!e.last_failure_at.empty()) o["last_failure_at"] = e.last_failure_at;
  json::value outages = json::array{};
  try {
    if (!e.recent_outages_json.empty()) outages = json::parse(e.recent_outages_json);
  } catch (const std::exception& ex) {
    log::get("api")->error("endpoint {}/{}: its outages did not read as JSON: {}", e.ori, e.name, ex.what());
  }
  o["recent_outages"] = std::move(outages);
  return o;
}

json::object erasure_json(const store::ErasureSummary& s) {
  json::object o{{"erasure_id", s.id},
          {"case_key", s.case_key},
          {"scope", s.scope},
          {"requested_by", s.requested_by},
          {"received_at", s.received_at},
          {"deadline_at", s.deadline_at},
          {"follow_up_at", s.follow_up_at},
          {"status", s.status},
          {"view", s.view},
          {"recipients", s.recipients},
          {"delivered", s.delivered},
          {"acknowledged", s.acknowledged},
          {"confirmed", s.confirmed},
          {"rejected", s.rejected},
          {"overdue", s.overdue}};
  // What the erasure did at the hub and to other holders is the requester's and the operators'.
  if (s.view != "owed") {
    o["redacted_messages"] = s.redacted_messages;
    o["suppressed_deliveries"] = s.suppressed_deliveries;
  }
  return o;
}

json::object erasure_recipient_json(const store::ErasureRecipient& r) {
  json::object o{{"recipient_ori", r.recipient_ori}, {"endpoint", r.endpoint},
                 {"delivery_id", r.delivery_id},     {"state", r.state == "queued" ? "pending" : r.state},
                 {"attempts", r.attempts},           {"overdue", r.overdue},
                 {"follow_up_due", r.follow_up_due}};
  if (!r.delivered_at.empty()) o["delivered_at"] = r.delivered_at;
  if (!r.acknowledged_at.empty()) o["acknowledged_at"] = r.acknowledged_at;
  if (!r.ack_status.empty()) o["ack_status"] = r.ack_status;
  if (!r.ack_reason.empty()) o["ack_reason"] = r.ack_reason;
  if (!r.last_error.empty()) o["last_error"] = r.last_error;
  return o;
}

}  // namespace cjhub::api
