// A message's recipient as the API shows it: the status page (`GET /v1/messages/{id}`) and the
// search (`GET /v1/messages`) use the same fields; the status page adds each one's attempts.
#pragma once

#include <boost/json.hpp>

#include "cjhub/store/deliveries_repo.hpp"

namespace cjhub::api {

inline boost::json::object recipient_json(const store::DeliveryStatus& d) {
  boost::json::object r{{"delivery_id", d.delivery_id},
                        {"recipient_ori", d.recipient_ori},
                        {"endpoint", d.endpoint},
                        // "queued" is internal: waiting behind an earlier message of the case.
                        {"state", d.state == "queued" ? "pending" : d.state},
                        {"waiting_for_earlier_message", d.state == "queued"},
                        {"attempts", d.attempts},
                        {"ack_required", d.ack_required}};
  if (d.last_status) r["last_status"] = *d.last_status;
  if (!d.last_error.empty()) r["last_error"] = d.last_error;
  if (!d.delivered_at.empty()) r["delivered_at"] = d.delivered_at;
  if (!d.acknowledged_at.empty()) r["acknowledged_at"] = d.acknowledged_at;
  if (!d.ack_status.empty()) r["ack_status"] = d.ack_status;
  if (!d.ack_reason.empty()) r["ack_reason"] = d.ack_reason;
  if (d.state == "pending" || d.state == "queued") r["next_attempt_at"] = d.next_attempt_at;
  return r;
}

// A recipient's attempts, oldest first, for the message's page (the search leaves them out).
inline boost::json::array attempts_json(const std::vector<store::AttemptRecord>& history) {
  boost::json::array out;
  for (const auto& a : history) {
    boost::json::object o{{"at", a.at}, {"took_ms", a.took_ms}};
    if (a.status) o["status"] = *a.status;
    if (!a.error.empty()) o["error"] = a.error;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace cjhub::api
