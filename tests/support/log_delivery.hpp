// The dispatcher's normal path, done by hand for database tests: lease every endpoint's cursor,
// read at most `per_endpoint` entries of its log and record them as delivered (an entry without a
// payload as suppressed), moving the cursor past them (or, `move_cursor` false, recording them by
// their answers alone, as a round between two moves of the cursor does).
#pragma once

#include <string>
#include <vector>

#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/log_repo.hpp"

namespace cjhub::test {

struct LogDelivered {
  std::string message_id;
  std::string recipient_ori;
  std::string case_key;
};

inline std::vector<LogDelivered> deliver_from_log(store::Connection& c, const std::string& hub = "test-hub",
                                                  int per_endpoint = 1000, bool move_cursor = true) {
  std::vector<LogDelivered> out;
  const auto endpoints = store::load_endpoints(c);
  for (const auto& l : store::lease_cursors(c, hub, 60000, 1000).held) {
    std::string ori;
    for (const auto& e : endpoints) {
      if (e.id == l.endpoint_id) ori = e.ori;
    }
    const auto batch = store::read_log(c, l.endpoint_id, hub, l.position, per_endpoint);
    store::LogRound round;
    round.endpoint_id = l.endpoint_id;
    round.recipient_ori = ori;
    round.position = batch.read_through;
    round.move_cursor = move_cursor;
    for (const auto& e : batch.entries) {
      store::LogOutcome o;
      o.kind = e.body ? store::LogOutcome::Kind::delivered : store::LogOutcome::Kind::suppressed;
      o.seq = e.seq;
      o.message_id = e.message_id;
      o.case_key = e.case_key;
      o.subscription_id = e.subscription_id;
      o.http_status = 200;
      round.outcomes.push_back(o);
      if (e.body) out.push_back({e.message_id, ori, e.case_key});
    }
    store::complete_log(c, hub, round, 1000);
  }
  store::release_cursors(c, hub);
  return out;
}

}  // namespace cjhub::test
