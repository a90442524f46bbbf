// One endpoint's log as the dispatcher holds it (no I/O): a case strictly in order, its next entry
// only once the previous outcome is recorded, and nothing read ever unaccounted for when the
// database goes away between two endpoints' rounds.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cjhub/delivery/endpoint_log.hpp"

namespace cjhub::delivery {
namespace {

using Kind = store::LogOutcome::Kind;

store::LogEntry entry(long long seq, const std::string& case_key) {
  store::LogEntry e;
  e.seq = seq;
  e.message_id = "m" + std::to_string(seq);
  e.case_key = case_key;
  e.body = "<body/>";
  return e;
}

EndpointLog endpoint_log(long long read_through) {
  EndpointLog le;
  le.endpoint.id = 1;
  le.endpoint.ori = "CTDESPP00";
  le.endpoint.max_in_flight = 8;
  le.read_through = read_through;
  return le;
}

// Sends everything ready, as the dispatcher does: the seqs now in flight.
std::set<long long> send_ready(EndpointLog& le) {
  std::set<long long> sent;
  while (!le.ready.empty()) sent.insert(le.pop_ready().seq);
  return sent;
}

store::LogOutcome delivered(const EndpointLog&, long long seq, const std::string& case_key) {
  store::LogOutcome o;
  o.kind = Kind::delivered;
  o.seq = seq;
  o.message_id = "m" + std::to_string(seq);
  o.case_key = case_key;
  return o;
}

// Every entry read and not finished is ready, waiting or in flight (else it holds the cursor and
// its case for ever); returns those that are none of them.
std::set<long long> unaccounted(const EndpointLog& le, const std::set<long long>& in_flight) {
  std::set<long long> out = le.open;
  for (const auto& e : le.ready) out.erase(e.seq);
  for (const auto& [c, q] : le.waiting) {
    for (const auto& e : q) out.erase(e.seq);
  }
  for (const auto s : in_flight) out.erase(s);
  return out;
}

TEST(EndpointLog, LargePayloadsWaitingToBeSentStopFurtherReadsUntilTheyAreSent) {
  auto le = endpoint_log(0);
  const std::size_t mb = 1u << 20;
  auto big = [&](long long seq, const std::string& c) {
    auto e = entry(seq, c);
    e.body = std::string(5 * mb, 'x');
    return e;
  };
  le.take(big(1, "A"));
  EXPECT_TRUE(le.has_room(256, 8 * mb)) << "5 MB waiting, budget 8 MB";
  le.take(big(2, "B"));
  le.take(big(3, "B"));  // behind B's entry: waiting, and counted too
  EXPECT_EQ(le.held_bytes, 15 * mb);
  EXPECT_FALSE(le.has_room(256, 8 * mb)) << "15 MB waiting";
  EXPECT_TRUE(le.has_room(256)) << "no budget: only the counts apply";
  EXPECT_EQ(send_ready(le), (std::set<long long>{1, 2}));
  EXPECT_EQ(le.held_bytes, 5 * mb) << "only the entry waiting behind its case is still held";
  EXPECT_TRUE(le.has_room(256, 8 * mb));
  // Finished and recorded: the waiting entry is handed back and no longer counted here.
  le.finished(delivered(le, 2, "B"));
  const auto r = le.round(1);
  ASSERT_TRUE(r.has_value());
  const auto released = le.recorded(*r);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(le.held_bytes, 0u);
}

TEST(EndpointLog, ACaseGoesInOrderAndItsNextEntryOnlyOnceThePreviousOutcomeIsRecorded) {
  auto le = endpoint_log(3);
  le.take(entry(1, "A"));
  le.take(entry(2, "A"));
  le.take(entry(3, "B"));
  auto sent = send_ready(le);
  EXPECT_EQ(sent, (std::set<long long>{1, 3})) << "one entry per case in flight";
  ASSERT_EQ(le.waiting.at("A").size(), 1u);
  le.finished(delivered(le, 1, "A"));
  EXPECT_TRUE(le.ready.empty()) << "the case's next entry waits until the outcome is recorded";
  auto r = le.round(1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->position, 1) << "entry 2 is open: the cursor stops before it";
  auto freed = le.recorded(*r);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].seq, 2);
  EXPECT_TRUE(le.sending.count("A")) << "the case stays held until its entries are looked at again";
  le.release(std::move(freed), {});
  ASSERT_EQ(le.ready.size(), 1u);
  EXPECT_EQ(le.ready.front().seq, 2);
  EXPECT_TRUE(unaccounted(le, {3}).empty());
}

// The stored cursor is written on a clock: a round in between records its outcomes (their
// answers finish them) without moving it; a round with nothing to record does not happen until the
// move is due; an endpoint being given up, or a hub stopping, moves it at once.
TEST(EndpointLog, TheStoredCursorMovesOnAClockNotAtEveryRound) {
  using std::chrono::milliseconds;
  const auto t0 = std::chrono::steady_clock::now();
  const milliseconds every{1000};
  auto le = endpoint_log(6);
  for (long long s = 1; s <= 6; ++s) le.take(entry(s, "C" + std::to_string(s)));
  EXPECT_EQ(send_ready(le).size(), 6u);

  le.finished(delivered(le, 1, "C1"));
  auto r = le.round(1, t0, every);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->move_cursor) << "never moved since the lease was taken";
  EXPECT_EQ(r->position, 1);
  le.recorded(*r);
  EXPECT_EQ(le.stored, 1);

  le.finished(delivered(le, 2, "C2"));
  r = le.round(1, t0 + milliseconds(100), every);
  ASSERT_TRUE(r.has_value()) << "an outcome is recorded at once";
  EXPECT_FALSE(r->move_cursor) << "moved 100 ms ago";
  EXPECT_EQ(r->position, 2) << "the lanes the round passes";
  ASSERT_EQ(r->outcomes.size(), 1u);
  le.recorded(*r);
  EXPECT_EQ(le.position, 2);
  EXPECT_EQ(le.stored, 1) << "the stored cursor lags; entry 2 is finished by its answer";
  EXPECT_FALSE(le.idle());

  EXPECT_FALSE(le.round(1, t0 + milliseconds(600), every).has_value())
      << "nothing to record and the move not due: no transaction at all";

  r = le.round(1, t0 + milliseconds(1000), every);
  ASSERT_TRUE(r.has_value()) << "due: the cursor catches up without an outcome";
  EXPECT_TRUE(r->move_cursor);
  EXPECT_EQ(r->position, 2);
  EXPECT_TRUE(r->outcomes.empty());
  le.recorded(*r);
  EXPECT_EQ(le.stored, 2);
  EXPECT_FALSE(le.round(1, t0 + milliseconds(5000), every).has_value()) << "caught up: nothing to move";

  // A failed move is tried again at the next round, not a second later.
  le.finished(delivered(le, 3, "C3"));
  r = le.round(1, t0 + milliseconds(2100), every);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->move_cursor);
  le.unrecorded(*r);
  r = le.round(1, t0 + milliseconds(2150), every);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->move_cursor);
  EXPECT_EQ(r->position, 3);
  le.recorded(*r);

  // Everything finished and recorded, the cursor not moved: not idle (its lease may not go yet).
  le.finished(delivered(le, 4, "C4"));
  le.finished(delivered(le, 5, "C5"));
  le.finished(delivered(le, 6, "C6"));
  r = le.round(1, t0 + milliseconds(2200), every);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->move_cursor);
  le.recorded(*r);
  EXPECT_TRUE(le.open.empty());
  EXPECT_FALSE(le.idle()) << "the stored cursor is still at 3";
  // Being given up: the move goes at once, due or not, and then the endpoint is idle.
  le.leaving = true;
  r = le.round(1, t0 + milliseconds(2210), every);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->move_cursor);
  EXPECT_EQ(r->position, 6);
  le.recorded(*r);
  EXPECT_TRUE(le.idle());

  // Stopping: no clock at all (move_every zero).
  auto stop = endpoint_log(2);
  stop.take(entry(1, "A"));
  stop.take(entry(2, "B"));
  send_ready(stop);
  stop.finished(delivered(stop, 1, "A"));
  stop.recorded(*stop.round(1, t0, every));
  stop.finished(delivered(stop, 2, "B"));
  r = stop.round(1, t0 + milliseconds(10), milliseconds(0));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->move_cursor);
  EXPECT_EQ(r->position, 2);
}

// An endpoint that keeps up with the log reads it on a clock (each read that finds entries rewrites
// the cursor's row), remembering a read it held back; one whose last read was full reads at once.
TEST(EndpointLog, AnEndpointThatKeepsUpReadsOnAClockAndOneCatchingUpReadsAtOnce) {
  using std::chrono::milliseconds;
  const auto t0 = std::chrono::steady_clock::now();
  const milliseconds every{50};
  auto le = endpoint_log(0);
  EXPECT_TRUE(le.may_read(false, t0, every)) << "a new reading reads at once";
  le.was_read(true, t0);
  le.more = false;
  EXPECT_FALSE(le.may_read(false, t0 + milliseconds(5), every)) << "nothing announced, nothing to read";
  EXPECT_FALSE(le.next_read(every).has_value());

  EXPECT_FALSE(le.may_read(true, t0 + milliseconds(10), every)) << "announced 10 ms after a read found entries";
  ASSERT_TRUE(le.next_read(every).has_value());
  EXPECT_EQ(*le.next_read(every), t0 + every) << "held back until the clock";
  EXPECT_FALSE(le.may_read(false, t0 + milliseconds(20), every)) << "still held back";
  EXPECT_TRUE(le.may_read(false, t0 + milliseconds(50), every)) << "the held-back read goes without a new announcement";
  le.was_read(false, t0 + milliseconds(50));
  EXPECT_FALSE(le.next_read(every).has_value());

  EXPECT_TRUE(le.may_read(true, t0 + milliseconds(60), every))
      << "the last read that found entries was 60 ms ago (one that found nothing wrote nothing)";
  le.was_read(true, t0 + milliseconds(60));
  le.more = true;  // that read was full: a backlog
  EXPECT_TRUE(le.may_read(false, t0 + milliseconds(61), every)) << "catching up reads at once";
}

TEST(EndpointLog, AReleasedEntryWhoseCaseWasErasedMeanwhileBecomesASuppressedRow) {
  auto le = endpoint_log(2);
  le.take(entry(1, "A"));
  le.take(entry(2, "A"));
  send_ready(le);
  le.finished(delivered(le, 1, "A"));
  auto r = le.round(1);
  ASSERT_TRUE(r.has_value());
  le.release(le.recorded(*r), {"m2"});
  EXPECT_TRUE(le.ready.empty());
  ASSERT_EQ(le.outcomes.size(), 1u);
  EXPECT_EQ(le.outcomes[0].kind, Kind::suppressed);
  EXPECT_EQ(le.outcomes[0].seq, 2);
  auto r2 = le.round(1);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->position, 2) << "nothing open: the cursor reaches what was read";
}

TEST(EndpointLog, AnEntryWhoseLaneHasRowsQueuesAsARowAndSoDoTheCasesLaterOnes) {
  auto le = endpoint_log(3);
  auto first = entry(1, "A");
  first.lane_has_rows = true;
  le.take(std::move(first));
  le.take(entry(2, "A"));
  le.take(entry(3, "B"));
  ASSERT_EQ(le.outcomes.size(), 2u);
  EXPECT_EQ(le.outcomes[0].kind, Kind::queued);
  EXPECT_EQ(le.outcomes[1].kind, Kind::queued);
  EXPECT_EQ(le.ready.size(), 1u) << "another case is not held up";
  EXPECT_TRUE(unaccounted(le, {}).empty());
}

// The database goes away between two endpoints' rounds: the first endpoint's round committed and
// released its case's next entry; the second failed. Nothing read may be left in no place.
TEST(RecordRounds, ADatabaseLostBetweenTwoEndpointsRoundsLeavesNothingReadUnaccountedFor) {
  std::mutex m;
  std::map<long long, EndpointLog> logs;
  logs[1] = endpoint_log(2);
  logs[2] = endpoint_log(1);
  logs[1].take(entry(1, "A"));
  logs[1].take(entry(2, "A"));
  logs[2].take(entry(1, "A"));
  auto sent1 = send_ready(logs[1]);
  auto sent2 = send_ready(logs[2]);
  logs[1].finished(delivered(logs[1], 1, "A"));
  logs[2].finished(delivered(logs[2], 1, "A"));
  sent1.erase(1);
  sent2.erase(1);
  std::vector<long long> committed;
  RoundRecording failing;
  failing.complete = [&](const store::LogRound& r) {
    if (r.endpoint_id == 2) throw std::runtime_error("server closed the connection unexpectedly");
    committed.push_back(r.endpoint_id);
    return store::LogRoundResult{};
  };
  failing.without_payload = [](const std::vector<std::string>&) -> std::set<std::string> {
    throw std::runtime_error("not connected");
  };
  EXPECT_THROW(record_rounds(logs, m, failing), std::runtime_error);
  EXPECT_EQ(committed, (std::vector<long long>{1}));
  EXPECT_EQ(logs[1].position, 1);
  EXPECT_TRUE(unaccounted(logs[1], sent1).empty()) << "entry 2 of endpoint 1 was dropped: its case and the "
                                                       "cursor would wait for it for ever";
  EXPECT_EQ(logs[2].outcomes.size(), 1u) << "the failed round's outcome is kept for the next try";
  EXPECT_EQ(logs[2].position, 0);

  // The database is back: everything is recorded, each cursor reaches what was read.
  RoundRecording working;
  std::map<long long, std::vector<store::LogOutcome>> recorded;
  working.complete = [&](const store::LogRound& r) {
    auto& into = recorded[r.endpoint_id];
    into.insert(into.end(), r.outcomes.begin(), r.outcomes.end());
    return store::LogRoundResult{};
  };
  working.without_payload = [](const std::vector<std::string>&) { return std::set<std::string>{}; };
  record_rounds(logs, m, working);
  EXPECT_EQ(logs[2].position, 1);
  ASSERT_EQ(recorded[2].size(), 1u);
  EXPECT_EQ(recorded[2][0].kind, Kind::delivered);
  // Endpoint 1's entry 2 was either sent again or became a queued row; either way it is accounted
  // for and the cursor passes it once it is finished.
  auto more = send_ready(logs[1]);
  for (const auto s : more) logs[1].finished(delivered(logs[1], s, "A"));
  record_rounds(logs, m, working);
  EXPECT_EQ(logs[1].position, 2);
  bool seen = false;
  for (const auto& o : recorded[1]) seen = seen || o.seq == 2;
  EXPECT_TRUE(seen) << "entry 2 of endpoint 1 was never recorded";
  EXPECT_TRUE(logs[1].sending.empty()) << "case A is still held";
}

TEST(RecordRounds, AnUnknownErasureStateTurnsTheReleasedEntriesIntoRowsAndALostLeaseDropsTheEndpoint) {
  std::mutex m;
  std::map<long long, EndpointLog> logs;
  logs[1] = endpoint_log(2);
  logs[2] = endpoint_log(1);
  logs[1].take(entry(1, "A"));
  logs[1].take(entry(2, "A"));
  logs[2].take(entry(1, "B"));
  send_ready(logs[1]);
  send_ready(logs[2]);
  logs[1].finished(delivered(logs[1], 1, "A"));
  logs[2].finished(delivered(logs[2], 1, "B"));
  RoundRecording how;
  std::vector<long long> lost;
  how.complete = [](const store::LogRound& r) {
    store::LogRoundResult res;
    res.lease_held = r.endpoint_id != 2;
    return res;
  };
  how.without_payload = [](const std::vector<std::string>&) -> std::set<std::string> {
    throw std::runtime_error("not connected");
  };
  how.on_lease_lost = [&](long long id) { lost.push_back(id); };
  EXPECT_THROW(record_rounds(logs, m, how), std::runtime_error);
  EXPECT_EQ(lost, (std::vector<long long>{2}));
  EXPECT_FALSE(logs.count(2)) << "another hub reads endpoint 2 now";
  ASSERT_EQ(logs[1].outcomes.size(), 1u);
  EXPECT_EQ(logs[1].outcomes[0].kind, Kind::queued);
  EXPECT_EQ(logs[1].outcomes[0].seq, 2);
  EXPECT_TRUE(logs[1].open.empty());
  EXPECT_TRUE(logs[1].blocked.count("A")) << "the case's later entries queue behind the row";
}

}  // namespace
}  // namespace cjhub::delivery
