#include "support/invariants.hpp"

#include <fmt/format.h>

#include <pqxx/pqxx>
#include <set>

namespace cjhub::test {

std::string InvariantReport::summary() const {
  auto s = fmt::format(
      "accepted={} stored={} expected_deliveries={} delivered={} receipts={} duplicates={} lost={} "
      "order_violations={} id_mismatches={}",
      accepted, stored, expected_deliveries, delivered, receipts, duplicates, lost, order_violations, id_mismatches);
  for (const auto& p : problems) s += "\n  " + p;
  return s;
}

InvariantReport check_delivery_invariants(const TestDatabase& db, const std::vector<std::string>& accepted_ids,
                                          const std::map<std::string, std::vector<boost::json::object>>& receipts_by_ori) {
  InvariantReport r;
  r.accepted = static_cast<long long>(accepted_ids.size());
  auto note = [&](std::string p) {
    if (r.problems.size() < 10) r.problems.push_back(std::move(p));
  };

  struct Expected {
    std::string message_id, case_key, recipient;
    long long seq;
  };
  std::map<std::string, Expected> by_delivery;                      // delivery id -> expectation
  std::map<std::pair<std::string, std::string>, std::string> delivery_of;  // (recipient, message) -> delivery id
  {
    std::string ids = "{";
    for (std::size_t i = 0; i < accepted_ids.size(); ++i) ids += (i ? "," : "") + accepted_ids[i];
    ids += "}";
    auto conn = db.connect();
    pqxx::nontransaction tx(*conn);
    r.stored = tx.exec_params1("SELECT count(*) FROM messages WHERE id = ANY ($1::uuid[])", ids)[0].as<long long>();
    for (const auto& row : tx.exec_params(
             "SELECT d.id::text, m.id::text, coalesce(m.case_key, ''), d.recipient_ori, m.seq "
             "FROM deliveries d JOIN messages m ON m.id = d.message_id "
             "WHERE m.id = ANY ($1::uuid[]) AND d.state <> 'suppressed'",
             ids)) {
      Expected e{row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<long long>()};
      delivery_of[{e.recipient, e.message_id}] = row[0].as<std::string>();
      by_delivery[row[0].as<std::string>()] = std::move(e);
    }
  }
  if (r.stored != r.accepted) note(fmt::format("{} accepted message(s) not stored", r.accepted - r.stored));
  r.lost += r.accepted - r.stored;
  r.expected_deliveries = static_cast<long long>(by_delivery.size());

  std::set<std::string> seen;
  for (const auto& [ori, lines] : receipts_by_ori) {
    // Per case: the (index of the first, index of the last) receipt of each message.
    std::map<std::string, std::map<long long, std::pair<std::size_t, std::size_t>>> spans;
    std::map<std::string, int> copies;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const auto& l = lines[i];
      const std::string delivery(l.at("delivery_id").as_string());
      const std::string message(l.at("message_id").as_string());
      const auto it = delivery_of.find({ori, message});
      if (it == delivery_of.end()) continue;  // not one of the messages under test
      ++r.receipts;
      if (it->second != delivery) {
        ++r.id_mismatches;
        note(fmt::format("{} received message {} as delivery {}, expected {}", ori, message, delivery, it->second));
        continue;
      }
      if (++copies[delivery] > 1) ++r.duplicates;
      seen.insert(delivery);
      const auto& e = by_delivery.at(delivery);
      if (e.case_key.empty()) continue;
      auto& span = spans[e.case_key];
      auto [pos, inserted] = span.try_emplace(e.seq, i, i);
      if (!inserted) pos->second.second = i;
    }
    for (const auto& [case_key, by_seq] : spans) {
      // Stored order is seq order: every copy of an earlier message precedes the first copy of a later one.
      std::size_t last_end = 0;
      bool first = true;
      long long prev_seq = 0;
      for (const auto& [seq, span] : by_seq) {
        if (!first && span.first < last_end) {
          ++r.order_violations;
          note(fmt::format("{}: case {}: message seq {} arrived before (a copy of) seq {} had", ori, case_key, seq,
                           prev_seq));
        }
        last_end = std::max(last_end, span.second);
        prev_seq = seq;
        first = false;
      }
    }
  }
  for (const auto& [delivery, e] : by_delivery) {
    if (seen.count(delivery)) {
      ++r.delivered;
    } else {
      ++r.lost;
      note(fmt::format("delivery {} of message {} to {} never arrived", delivery, e.message_id, e.recipient));
    }
  }
  return r;
}

}  // namespace cjhub::test
