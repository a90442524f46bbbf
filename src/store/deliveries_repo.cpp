#include "cjhub/store/deliveries_repo.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <set>

#include "cjhub/common/metrics.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "store/sql.hpp"
#include "store/values.hpp"

namespace cjhub::store {

using values::int_array;
using values::opt;
using values::opt_int;
using values::text;
using values::text_array;

void lock_cases(pqxx::work& tx, std::vector<std::string> case_keys);

namespace {

void promote_lane(pqxx::work& tx, long long endpoint_id, const std::string& case_key) {
  if (case_key.empty()) return;
  tx.exec_params0(sql::kPromoteLane, endpoint_id, case_key);
}

// Locks every case first, in case-key order (the order writers use too), then promotes.
void promote_lanes(pqxx::work& tx, const std::set<std::pair<long long, std::string>>& lanes) {
  std::vector<std::string> cases;
  for (const auto& l : lanes) cases.push_back(l.second);
  lock_cases(tx, cases);
  for (const auto& [endpoint, case_key] : lanes) promote_lane(tx, endpoint, case_key);
}

}  // namespace

void lock_cases(pqxx::work& tx, std::vector<std::string> case_keys) {
  case_keys.erase(std::remove(case_keys.begin(), case_keys.end(), std::string()), case_keys.end());
  std::sort(case_keys.begin(), case_keys.end());
  case_keys.erase(std::unique(case_keys.begin(), case_keys.end()), case_keys.end());
  if (case_keys.empty()) return;
  if (case_keys.size() == 1) {
    tx.exec_params(sql::kLockCase, case_keys.front());
    return;
  }
  tx.exec_params(sql::kLockCases, text_array(case_keys));
}

std::size_t route_messages(pqxx::work& tx, const std::vector<RouteInput>& in) {
  if (in.empty()) return 0;
  std::vector<std::string> ids, types, senders;
  std::vector<std::optional<std::string>> origins, cases, jurisdictions;
  std::vector<bool> acks;
  for (const auto& m : in) {
    ids.push_back(m.message_id);
    types.push_back(m.type);
    senders.push_back(m.sender_ori);
    origins.push_back(opt(m.origin_ori));
    cases.push_back(opt(m.case_key));
    jurisdictions.push_back(opt(m.jurisdiction));
    acks.push_back(m.type_ack_required);
  }
  const auto r = tx.exec_prepared(sql::kRouteMessagesName, text_array(ids), text_array(types), text_array(senders),
                                  values::opt_text_array(origins), values::opt_text_array(cases),
                                  values::opt_text_array(jurisdictions), values::bool_array(acks));
  return r.affected_rows();
}

std::string ack_target_case(pqxx::work& tx, const std::string& acker, const std::string& reference) {
  const bool by_id = Uuid::parse(reference).has_value();
  const auto r = by_id ? tx.exec_params(sql::kAckTargetCaseById, reference, acker)
                       : tx.exec_params(sql::kAckTargetCaseByDocument, reference, acker);
  return r.empty() ? std::string() : text(r[0][0]);
}

AckTarget find_ack_target(pqxx::work& tx, const std::string& acker, const std::string& reference) {
  AckTarget t;
  const bool by_id = Uuid::parse(reference).has_value();
  const auto r = by_id ? tx.exec_params(sql::kAckTargetById, reference, acker)
                       : tx.exec_params(sql::kAckTargetByDocument, reference, acker);
  if (!r.empty()) {
    t.status = AckTargetStatus::found;
    t.delivery_id = r[0][0].as<std::string>();
    t.endpoint_id = r[0][1].as<long long>();
    t.case_key = text(r[0][2]);
    t.original_sender = r[0][3].as<std::string>();
    return t;
  }
  const auto exists = by_id ? tx.exec_params1(sql::kMessageExistsById, reference)
                            : tx.exec_params1(sql::kMessageExistsByDocument, reference);
  t.status = exists[0].as<long long>() > 0 ? AckTargetStatus::not_addressed : AckTargetStatus::unknown_reference;
  return t;
}

void apply_ack(pqxx::work& tx, const AckTarget& target, const std::string& status,
               const std::string& reason, const std::string& ack_message_id) {
  tx.exec_params0(sql::kApplyAck, target.delivery_id, status, opt(reason), ack_message_id);
  promote_lane(tx, target.endpoint_id, target.case_key);
}

std::size_t route_receipt(pqxx::work& tx, const std::string& ack_message_id,
                          const std::string& original_sender, const std::string& ack_type) {
  return tx.exec_prepared(sql::kRouteReceiptsName, text_array({ack_message_id}), text_array({original_sender}),
                          text_array({ack_type}))
      .affected_rows();
}

void notify_deliveries(pqxx::work& tx) { tx.exec0(sql::kNotifyDeliveries); }

std::vector<EndpointRow> load_endpoints(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<EndpointRow> out;
    for (const auto& r : tx.exec(sql::kLoadEndpoints)) {
      out.push_back({r[0].as<long long>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<int>(), r[5].as<int>(), r[6].as<bool>()});
    }
    return out;
  });
}

std::vector<Claimed> claim(pqxx::connection& conn, const std::vector<ClaimRequest>& requests,
                           const std::string& leased_by) {
  if (requests.empty()) return {};
  std::vector<long long> ids;
  std::vector<int> caps, leases;
  std::vector<long long> after;
  for (const auto& r : requests) {
    ids.push_back(r.endpoint_id);
    caps.push_back(r.capacity);
    leases.push_back(r.lease_ms);
    after.push_back(r.due_after_us);
  }
  return translate_errors([&] {
    pqxx::work tx(conn, "claim");
    tx.exec0(sql::kClaimAsyncCommit);
    const auto r = tx.exec_prepared(sql::kClaimName, int_array(ids), int_array(caps), int_array(leases), leased_by,
                                    int_array(after));
    tx.commit();
    std::vector<Claimed> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      Claimed c;
      c.delivery_id = row[0].as<std::string>();
      c.message_id = row[1].as<std::string>();
      c.endpoint_id = row[2].as<long long>();
      c.attempt = row[3].as<int>();
      c.case_key = text(row[4]);
      c.ack_required = row[5].as<bool>();
      c.message_type = row[6].as<std::string>();
      c.sender_ori = row[7].as<std::string>();
      if (!row[8].is_null()) {
        const pqxx::binarystring b(row[8]);
        c.body = b.str();
      }
      c.recipient_ori = row[9].as<std::string>();
      c.due_at_us = row[10].as<long long>();
      out.push_back(std::move(c));
    }
    return out;
  });
}

std::vector<CompletionResult> complete(pqxx::connection& conn, const std::vector<Completion>& batch,
                                       const std::string& leased_by, unsigned pause_after_failures) {
  if (batch.empty()) return {};
  return translate_errors([&] {
    pqxx::work tx(conn, "complete");
    // Case locks first, in order, like the writers: never a row lock held while waiting for one.
    std::vector<std::string> cases;
    for (const auto& c : batch) cases.push_back(c.case_key);
    lock_cases(tx, cases);
    std::vector<CompletionResult> out;
    out.reserve(batch.size());
    std::set<std::pair<long long, std::string>> lanes;
    std::set<long long> succeeded;
    std::map<long long, int> failures;
    std::string failure_reason;
    // Acknowledgements that came in the answers (case locks are held). One acknowledges the
    // delivery when it names the message delivered (by the hub's id, or by the document's id
    // through a look-up that must land on this same delivery); anything else must be POSTed.
    std::map<std::string, std::string> ack_outcome;  // by delivery id
    std::vector<const Completion*> acking;
    std::vector<const NewMessage*> ack_messages;
    for (const auto& c : batch) {
      if (c.kind != Completion::Kind::delivered || !c.ack) continue;
      bool found = c.ack->ack_ref == c.message_id;
      if (!found) {
        const auto target = find_ack_target(tx, c.ack->sender_ori, c.ack->ack_ref);
        found = target.status == AckTargetStatus::found && target.delivery_id == c.delivery_id;
      }
      if (!found) {
        ack_outcome[c.delivery_id] = "ignored: it does not acknowledge the message delivered";
        continue;
      }
      acking.push_back(&c);
      ack_messages.push_back(c.ack.get());
    }
    std::map<std::string, std::string> ack_message_of;  // delivery id -> the stored acknowledgement
    std::vector<std::string> receipt_ids, receipt_senders, receipt_types;
    const auto stored = insert_messages(tx, ack_messages);
    for (std::size_t i = 0; i < acking.size(); ++i) {
      const Completion& c = *acking[i];
      if (stored[i].status == InsertStatus::inserted) {
        ack_message_of[c.delivery_id] = stored[i].message_id;
        ack_outcome[c.delivery_id] = "stored";
        receipt_ids.push_back(stored[i].message_id);
        receipt_senders.push_back(c.sender_ori);
        receipt_types.push_back(c.ack->type);
      } else {
        ack_outcome[c.delivery_id] =
            stored[i].status == InsertStatus::duplicate ? "duplicate" : "refused: idempotency conflict";
      }
    }
    // Every delivered one, with its acknowledgement, in a single statement.
    {
      std::vector<std::string> ids;
      std::vector<int> statuses;
      std::vector<std::optional<std::string>> ack_status, ack_reason, ack_id;
      for (const auto& c : batch) {
        if (c.kind != Completion::Kind::delivered) continue;
        ids.push_back(c.delivery_id);
        statuses.push_back(c.http_status.value_or(200));
        succeeded.insert(c.endpoint_id);
        const auto it = ack_message_of.find(c.delivery_id);
        if (it == ack_message_of.end()) {
          ack_status.emplace_back();
          ack_reason.emplace_back();
          ack_id.emplace_back();
        } else {
          ack_status.emplace_back(c.ack->ack_status);
          ack_reason.emplace_back(opt(c.ack->ack_reason));
          ack_id.emplace_back(it->second);
        }
      }
      if (!ids.empty()) {
        std::map<std::string, std::string> written;
        for (const auto& r : tx.exec_prepared(sql::kMarkDeliveredManyName, text_array(ids), int_array(statuses),
                                              values::opt_text_array(ack_status), values::opt_text_array(ack_reason),
                                              values::opt_text_array(ack_id))) {
          written[r[0].as<std::string>()] = r[3].as<std::string>();
          if (!r[2].is_null()) lanes.insert({r[1].as<long long>(), r[2].as<std::string>()});
        }
        for (const auto& id : ids) {
          const auto w = written.find(id);
          CompletionResult res{id, w == written.end() ? "" : w->second, false, ""};
          if (const auto a = ack_outcome.find(id); a != ack_outcome.end()) res.ack_outcome = a->second;
          out.push_back(std::move(res));
        }
      }
    }
    for (const auto& c : batch) {
      if (c.kind == Completion::Kind::delivered) continue;
      CompletionResult res{c.delivery_id, "", false, ""};
      pqxx::result r;
      switch (c.kind) {
        case Completion::Kind::delivered:
          break;  // written above
        case Completion::Kind::retry:
          r = tx.exec_prepared(sql::kMarkRetryName, c.delivery_id, c.http_status, c.error,
                               static_cast<long long>(c.retry_delay.count()), leased_by);
          if (!r.empty()) res.state = r[0][0].as<std::string>();
          break;
        case Completion::Kind::dead:
          r = tx.exec_prepared(sql::kMarkDeadName, c.delivery_id, c.http_status, c.error, leased_by);
          if (!r.empty()) res.state = "dead";
          break;
        case Completion::Kind::suppressed:
          r = tx.exec_params(sql::kMarkSuppressed, c.delivery_id, leased_by);
          if (!r.empty()) res.state = "suppressed";
          break;
      }
      if (c.endpoint_failure) {
        ++failures[c.endpoint_id];
        failure_reason = c.error;
      }
      // A finished delivery frees its lane. (A retried one stays the head of its lane.)
      if (!r.empty() && res.state != "pending") {
        const std::string case_key = r[0][r[0].size() - 1].is_null() ? "" : r[0][r[0].size() - 1].as<std::string>();
        if (!case_key.empty()) lanes.insert({c.endpoint_id, case_key});
      }
      out.push_back(std::move(res));
    }
    // Receipts of the acknowledgements to their original senders.
    std::size_t receipts = 0;
    if (!receipt_ids.empty()) {
      receipts = tx.exec_prepared(sql::kRouteReceiptsName, text_array(receipt_ids), text_array(receipt_senders),
                                  text_array(receipt_types))
                     .affected_rows();
    }
    // The audit trail, in this same transaction: every attempt's outcome.
    {
      std::map<std::string, const Completion*> by_id;
      for (const auto& c : batch) by_id[c.delivery_id] = &c;
      std::vector<AuditEvent> events;
      events.reserve(out.size());
      for (const auto& res : out) {
        const Completion* c = by_id.at(res.delivery_id);
        std::string outcome = res.state.empty() ? "lease-lost" : res.state == "pending" ? "retry" : res.state;
        std::string detail = c->http_status ? "HTTP " + std::to_string(*c->http_status) : std::string();
        if (!c->error.empty()) detail += (detail.empty() ? "" : "; ") + c->error.substr(0, 200);
        if (!res.ack_outcome.empty()) detail += (detail.empty() ? "" : "; ") + ("acknowledgement " + res.ack_outcome);
        events.push_back({"hub:" + leased_by, c->recipient_ori, "delivery", std::move(outcome),
                          "delivery " + c->delivery_id + " message " + c->message_id,
                          "endpoint " + std::to_string(c->endpoint_id), std::move(detail)});
      }
      insert_audit(tx, events);
    }
    if (receipts > 0) tx.exec0(sql::kNotifyDeliveries);
    if (!lanes.empty()) {  // case locks are held
      std::vector<long long> lane_endpoints;
      std::vector<std::string> lane_cases;
      for (const auto& [endpoint, case_key] : lanes) {
        lane_endpoints.push_back(endpoint);
        lane_cases.push_back(case_key);
      }
      tx.exec_params0(sql::kPromoteLanes, int_array(lane_endpoints), text_array(lane_cases));
    }
    for (const auto id : succeeded) tx.exec_params0(sql::kEndpointSuccess, id);
    for (const auto& [id, n] : failures) {
      for (int i = 0; i < n; ++i) {
        const auto r = tx.exec_params1(sql::kEndpointFailure, id, static_cast<int>(pause_after_failures),
                                       "paused after " + std::to_string(pause_after_failures) +
                                           " consecutive failures; last: " + failure_reason.substr(0, 200));
        if (r[0].as<int>() == static_cast<int>(pause_after_failures) && r[1].as<bool>()) {
          for (auto& res : out) {
            const auto it = std::find_if(batch.begin(), batch.end(),
                                         [&](const Completion& c) { return c.delivery_id == res.delivery_id; });
            if (it != batch.end() && it->endpoint_id == id) {
              res.endpoint_paused_now = true;
              break;
            }
          }
        }
      }
    }
    if (!lanes.empty()) tx.exec0(sql::kNotifyDeliveries);
    commit_durably(tx);  // acknowledgements in answers are recorded here
    return out;
  });
}

std::size_t release_expired_leases(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::work tx(conn, "release_expired");
    const auto n = tx.exec(sql::kReleaseExpiredLeases).size();
    if (n > 0) tx.exec0(sql::kNotifyDeliveries);
    tx.commit();
    return n;
  });
}

std::size_t release_leases_of(pqxx::connection& conn, const std::string& leased_by) {
  return translate_errors([&] {
    pqxx::work tx(conn, "release_mine");
    const auto n = tx.exec_params(sql::kReleaseLeasesOf, leased_by).size();
    if (n > 0) tx.exec0(sql::kNotifyDeliveries);
    tx.commit();
    return n;
  });
}

std::vector<DeliveryStatus> deliveries_of(pqxx::connection& conn, const Uuid& message_id) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<DeliveryStatus> out;
    for (const auto& r : tx.exec_prepared(sql::kDeliveriesOfMessageName, message_id.str())) {
      DeliveryStatus d;
      d.delivery_id = r[0].as<std::string>();
      d.recipient_ori = r[1].as<std::string>();
      d.endpoint = r[2].as<std::string>();
      d.state = r[3].as<std::string>();
      d.attempts = r[4].as<int>();
      d.last_status = opt_int(r[5]);
      d.last_error = text(r[6]);
      d.delivered_at = text(r[7]);
      d.acknowledged_at = text(r[8]);
      d.ack_status = text(r[9]);
      d.ack_reason = text(r[10]);
      d.ack_required = r[11].as<bool>();
      d.next_attempt_at = text(r[12]);
      out.push_back(std::move(d));
    }
    return out;
  });
}

std::vector<DeadLetter> list_dead(pqxx::connection& conn, const DeadLetterFilter& f) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<DeadLetter> out;
    const std::string q = std::string(sql::kListDeadPrefix) + sql::kDeadFilter + sql::kListDeadSuffix;
    for (const auto& r : tx.exec_params(q, f.delivery_id, f.ori, f.endpoint, f.since, f.until, f.limit)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<int>(), opt_int(r[6]),
                     text(r[7]), text(r[8]), text(r[9])});
    }
    return out;
  });
}

std::vector<std::string> replay_dead(pqxx::connection& conn, const DeadLetterFilter& f) {
  return translate_errors([&] {
    pqxx::work tx(conn, "replay");
    const std::string q = std::string(sql::kReplayPrefix) + sql::kDeadFilter + sql::kReplaySuffix;
    const auto r = tx.exec_params(q, f.delivery_id, f.ori, f.endpoint, f.since, f.until);
    std::vector<std::string> ids;
    std::set<std::pair<long long, std::string>> lanes;
    for (const auto& row : r) {
      ids.push_back(row[0].as<std::string>());
      if (!row[2].is_null()) lanes.insert({row[1].as<long long>(), row[2].as<std::string>()});
    }
    promote_lanes(tx, lanes);
    if (!ids.empty()) tx.exec0(sql::kNotifyDeliveries);
    tx.commit();
    return ids;
  });
}

bool set_endpoint_paused(pqxx::connection& conn, const std::string& ori, const std::string& name,
                         bool paused, const std::string& reason) {
  return translate_errors([&] {
    pqxx::work tx(conn, "pause");
    const auto r = tx.exec_params(sql::kSetEndpointPaused, ori, name, paused, reason);
    if (!paused && !r.empty()) tx.exec0(sql::kNotifyDeliveries);
    tx.commit();
    return !r.empty();
  });
}

std::string database_gauges(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::string out;
    const auto label = metrics::label_value;
    std::string backlog, oldest, paused, dead;
    for (const auto& r : tx.exec(sql::kEndpointGauges)) {
      const auto l = "{agency=\"" + label(r[0].as<std::string>()) + "\",endpoint=\"" + label(r[1].as<std::string>()) + "\"}";
      backlog += "cjhub_endpoint_backlog" + l + " " + r[3].as<std::string>() + "\n";
      oldest += "cjhub_endpoint_oldest_pending_seconds" + l + " " + std::to_string(r[4].as<double>()) + "\n";
      paused += "cjhub_endpoint_paused" + l + " " + (r[2].as<bool>() ? "1" : "0") + "\n";
      dead += "cjhub_endpoint_dead_letters" + l + " " + r[5].as<std::string>() + "\n";
    }
    out += "# HELP cjhub_endpoint_backlog Deliveries not yet finished (queued, pending, in flight).\n"
           "# TYPE cjhub_endpoint_backlog gauge\n" + backlog;
    out += "# HELP cjhub_endpoint_oldest_pending_seconds Age of the oldest unfinished delivery.\n"
           "# TYPE cjhub_endpoint_oldest_pending_seconds gauge\n" + oldest;
    out += "# HELP cjhub_endpoint_paused 1 when the endpoint is paused.\n# TYPE cjhub_endpoint_paused gauge\n" + paused;
    out += "# HELP cjhub_endpoint_dead_letters Dead letters waiting for an operator.\n"
           "# TYPE cjhub_endpoint_dead_letters gauge\n" + dead;
    std::string awaiting, overdue;
    for (const auto& r : tx.exec(sql::kErasureGauges)) {
      const auto l = "{agency=\"" + label(r[0].as<std::string>()) + "\"}";
      awaiting += "cjhub_erasures_awaiting_confirmation" + l + " " + r[1].as<std::string>() + "\n";
      overdue += "cjhub_erasures_overdue" + l + " " + r[2].as<std::string>() + "\n";
    }
    out += "# HELP cjhub_erasures_awaiting_confirmation Erasure notices not yet confirmed, within the deadline.\n"
           "# TYPE cjhub_erasures_awaiting_confirmation gauge\n" + awaiting;
    out += "# HELP cjhub_erasures_overdue Erasure notices not confirmed by the statutory deadline.\n"
           "# TYPE cjhub_erasures_overdue gauge\n" + overdue;
    return out;
  });
}

std::vector<EndpointBacklog> endpoint_backlogs(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<EndpointBacklog> out;
    for (const auto& r : tx.exec(sql::kEndpointBacklogs)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<bool>(), r[3].as<long long>(),
                     r[4].as<double>()});
    }
    return out;
  });
}

std::vector<EndpointState> endpoint_states(pqxx::connection& conn) {
  return translate_errors([&] {
    pqxx::read_transaction tx(conn);
    std::vector<EndpointState> out;
    for (const auto& r : tx.exec(sql::kEndpointStatus)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<bool>(),
                     text(r[4]), r[5].as<int>(), r[6].as<long long>(), r[7].as<long long>()});
    }
    return out;
  });
}

}  // namespace cjhub::store
