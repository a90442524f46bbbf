// The delivery invariants, stated once and checked after every delivery and fault test:
//   1. every message the hub answered 202 is stored, and reaches every agency the test's own
//      routing model says must receive it, at least once;
//   2. no message reaches an agency the model does not name (a misdelivery);
//   3. at every recipient, the messages of one case arrive in the order the clients' answers
//      imply: a message answered 202 before another was sent was stored first, so no copy of it
//      may arrive after the first copy of the other;
//   4. every copy of a message at one recipient carries the same delivery id.
// The expectations come from the test (what it sent, and the fixture's subscription table), never
// from the hub's own routing records: a recipient that routing never wrote, a wrong suppression or
// a misdelivery fails the check.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "support/test_db.hpp"

namespace cjhub::test {

// One message a client sent and the hub answered 202, with what the document says of itself.
struct SentMessage {
  std::string id;          // the message id from the 202 answer
  std::string sender_ori;  // the agency whose certificate posted it
  std::string type;        // the document's root element (local name)
  std::string case_key;    // nc:CaseTrackingID, if any
  std::string ack_ref;     // for an acknowledgement: the message id it refers to
  std::chrono::steady_clock::time_point sent_at, answered_at;
  std::chrono::system_clock::time_point answered_wall;  // the same moment on the wall clock (latency)
};

// An RFC 3339 UTC time with optional fraction ("2026-12-02T19:28:50.578942Z"), as the sinks log it.
std::chrono::system_clock::time_point parse_utc(const std::string& text);

// Reads type, case key and acknowledgement reference from a CISS document (plain text search;
// the test's own view of what it sent).
SentMessage describe_sent(const std::string& sender_ori, const std::string& body);

// Everything the clients of one test got 202 for, in the order the answers came (thread-safe).
class SentLog {
 public:
  void add(SentMessage m);  // a message already here (a replayed answer) is kept as first added
  std::vector<SentMessage> all() const;
  std::vector<SentMessage> of(const std::vector<std::string>& ids) const;  // in the order of `ids`

 private:
  mutable std::mutex m_;
  std::vector<SentMessage> sent_;
};

// A subscription of the fixture's agencies file, as the test wrote it.
struct ModelSubscription {
  std::string ori, name;
  std::set<std::string> types;
  bool own_cases_only = false;
};

// The agencies that must receive `m`: subscribers of its type other than its sender (an
// own-cases subscription only if the subscriber sent a message of the case that was answered
// before `m` was sent); an acknowledgement goes only to the referenced message's sender, if that
// agency subscribes to acknowledgements. Erasure notices are not modelled (the erasure suite
// checks its recipients itself): describe them and the result names the gap in `problem`.
std::set<std::string> expected_recipients(const SentMessage& m, const std::vector<SentMessage>& log,
                                          const std::vector<ModelSubscription>& subscriptions, std::string* problem);

struct InvariantReport {
  long long accepted = 0;          // 202 answers under test
  long long stored = 0;            // of those, rows found
  long long expected_deliveries = 0;  // (message, recipient) pairs the model expects
  long long delivered = 0;         // expected pairs seen at their recipient
  long long receipts = 0;          // everything the sinks logged for these messages
  long long duplicates = 0;        // receipts beyond the first per (message, recipient)
  long long lost = 0;              // expected pairs never seen + accepted messages not stored
  long long unexpected = 0;        // receipts at an agency the model does not name
  long long order_violations = 0;
  long long id_mismatches = 0;     // a copy of a message with another delivery id than the first
  std::vector<std::string> problems;  // the first few, for the failure message

  bool ok() const {
    return accepted > 0 && expected_deliveries > 0 && lost == 0 && unexpected == 0 && order_violations == 0 &&
           id_mismatches == 0 && stored == accepted && problems.empty();
  }
  std::string summary() const;
};

// The receipts alone against the model (no database: `stored` is taken as `accepted`).
InvariantReport check_receipts(const std::vector<SentMessage>& under_test, const std::vector<SentMessage>& log,
                               const std::vector<ModelSubscription>& subscriptions,
                               const std::map<std::string, std::vector<boost::json::object>>& receipts_by_ori);

// The same, plus every accepted message stored. `under_test`: the messages checked; `log`: everything the test sent (for own-cases and
// acknowledgement routing); `receipts_by_ori`: each recipient agency's sink log lines, in the order
// they were written.
InvariantReport check_delivery_invariants(
    const TestDatabase& db, const std::vector<SentMessage>& under_test, const std::vector<SentMessage>& log,
    const std::vector<ModelSubscription>& subscriptions,
    const std::map<std::string, std::vector<boost::json::object>>& receipts_by_ori);

}  // namespace cjhub::test
