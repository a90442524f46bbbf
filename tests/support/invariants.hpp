// The delivery invariants, stated once and checked after every delivery and fault test:
//   1. every message the hub answered 202 is stored, and reaches every recipient it was routed to
//      at least once;
//   2. at every recipient, the messages of one case arrive in the order they were stored (no copy
//      of an earlier message arrives after a later one has);
//   3. a duplicate carries the same delivery id as the first copy.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

#include "support/test_db.hpp"

namespace cjhub::test {

struct InvariantReport {
  long long accepted = 0;          // 202 answers
  long long stored = 0;            // of those, rows found
  long long expected_deliveries = 0;
  long long delivered = 0;         // expected deliveries seen at their recipient
  long long receipts = 0;          // everything the sinks logged for these messages
  long long duplicates = 0;        // receipts beyond the first per delivery
  long long lost = 0;              // expected deliveries never seen + accepted messages not stored
  long long order_violations = 0;
  long long id_mismatches = 0;     // a copy of a message with another delivery id
  std::vector<std::string> problems;  // the first few, for the failure message

  bool ok() const { return lost == 0 && order_violations == 0 && id_mismatches == 0 && stored == accepted; }
  std::string summary() const;
};

// `receipts_by_ori`: each recipient agency's sink log lines, in the order they were written.
InvariantReport check_delivery_invariants(
    const TestDatabase& db, const std::vector<std::string>& accepted_ids,
    const std::map<std::string, std::vector<boost::json::object>>& receipts_by_ori);

}  // namespace cjhub::test
