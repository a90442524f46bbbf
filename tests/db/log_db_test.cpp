// Database tier: the delivery log. A plain message records its recipients on its own row and
// writes no delivery rows; a type that owes an acknowledgement still gets rows. `seq` is commit
// order under concurrent writers. Cursors are leased by one hub at a time, read in order within a
// window, and only move forward, and only for the hub holding the lease.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>

#include "cjhub/common/time.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "cjhub/store/log_repo.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "cjhub/store/retention_repo.hpp"
#include "support/log_delivery.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;
using test::TestDatabase;

class LogDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    conn_ = store::connect(db_->url(), 3000ms);
    apply({});
  }
  // Hartford publishes; DESPP takes arrest packets and erasure notices, DCJ arrest packets; `more`
  // adds agencies.
  void apply(const std::string& more) {
    store::apply_agencies(*conn_, config::parse_agencies(
        "agencies:\n"
        "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n"
        "    publish: [ArrestPacket, ErasureNotice]\n"
        "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/d'}]\n"
        "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket, ErasureNotice]}]\n"
        "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:j'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/j'}]\n"
        "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket]}]\n" + more,
        {"ArrestPacket", "ErasureNotice"}));
  }
  static store::NewMessage message(const std::string& key, const std::string& case_key,
                                   const std::string& type = "ArrestPacket") {
    store::NewMessage m;
    m.id = Uuid::v7();
    m.type = type;
    m.sender_ori = m.origin_ori = "CT0064000";
    m.idempotency_key = m.document_id = key;
    m.case_key = case_key;
    m.body = "<" + type + ">" + key + "</" + type + ">";
    m.body_sha256 = sha256(m.body);
    m.received_at = now_utc();
    m.type_ack_required = type == "ErasureNotice";
    return m;
  }
  void store_all(store::Connection& c, std::vector<store::NewMessage> ms) {
    std::vector<const store::NewMessage*> p;
    for (auto& m : ms) p.push_back(&m);
    store::store_group(c, p);
  }
  long long endpoint(const std::string& ori) {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1("SELECT id FROM endpoints WHERE ori = '" + ori + "'")[0].as<long long>();
  }
  long long count(const std::string& q) {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1(q)[0].as<long long>();
  }
  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
};

TEST_F(LogDb, APlainMessageRecordsItsRecipientsAndWritesNoDeliveryRows) {
  store_all(*conn_, {message("A1", "OTN-1"), message("A2", "OTN-2")});
  EXPECT_EQ(count("SELECT count(*) FROM deliveries"), 0);
  const auto despp = endpoint("CTDESPP00"), dcj = endpoint("CTDCJ0000");
  pqxx::nontransaction tx(*conn_);
  const auto r = tx.exec("SELECT recipients::text, array_length(routes, 1) FROM messages ORDER BY seq");
  ASSERT_EQ(r.size(), 2u);
  const auto expected = "{" + std::to_string(std::min(despp, dcj)) + "," + std::to_string(std::max(despp, dcj)) + "}";
  EXPECT_EQ(r[0][0].as<std::string>(), expected);
  EXPECT_EQ(r[0][1].as<int>(), 2) << "one subscription per recipient";
}

TEST_F(LogDb, ATypeThatOwesAnAcknowledgementStillGetsRowsQueuedBehindUnsentLogEntries) {
  store_all(*conn_, {message("A1", "OTN-1")});
  store_all(*conn_, {message("E1", "OTN-1", "ErasureNotice")});
  pqxx::nontransaction tx(*conn_);
  const auto r = tx.exec("SELECT recipient_ori, state, ack_required FROM deliveries ORDER BY recipient_ori");
  ASSERT_EQ(r.size(), 1u) << "DESPP subscribes to erasure notices; the notice owes an acknowledgement";
  EXPECT_EQ(r[0][0].as<std::string>(), "CTDESPP00");
  EXPECT_EQ(r[0][1].as<std::string>(), "queued") << "the arrest packet before it is still unsent on the log";
  EXPECT_TRUE(r[0][2].as<bool>());
  EXPECT_EQ(tx.exec1("SELECT recipients IS NULL FROM messages WHERE message_type = 'ErasureNotice'")[0].as<bool>(),
            true);
}

// The notice's row waits behind the arrest packet still unsent on the log; once that entry is
// recorded, the row goes on although nothing after it moves the cursor past the notice's own
// position (a notice is no log entry: no later entry may ever come for the endpoint).
TEST_F(LogDb, ARowQueuedBehindALogEntryGoesOnOnceThatEntryIsRecordedThoughNothingFollowsIt) {
  store_all(*conn_, {message("A1", "OTN-1")});
  store_all(*conn_, {message("E1", "OTN-1", "ErasureNotice")});
  ASSERT_EQ(count("SELECT count(*) FROM deliveries WHERE state = 'queued'"), 1);
  ASSERT_EQ(test::deliver_from_log(*conn_).size(), 2u) << "the arrest packet, to DESPP and DCJ";
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE recipient_ori = 'CTDESPP00' AND state = 'pending'"), 1)
      << "the erasure notice's row still waits behind an entry that was recorded";
  EXPECT_LT(count("SELECT max(position) FROM endpoint_cursors"), count("SELECT max(seq) FROM messages"))
      << "the cursor stays before the notice's position: the row went on by its lane, not by the cursor";
  // A later message of another case changes nothing for the row (it is no longer queued), and a
  // second round finds nothing more to promote.
  store_all(*conn_, {message("A2", "OTN-2")});
  ASSERT_EQ(test::deliver_from_log(*conn_).size(), 2u);
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE state = 'queued'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE state = 'pending'"), 1);
}

// The same, recorded by a round that does not move the cursor (it moves on a clock): the entry is
// finished by its answer, and the row goes on with the round.
TEST_F(LogDb, ARowQueuedBehindALogEntryGoesOnOnceARoundThatDoesNotMoveTheCursorRecordsIt) {
  store_all(*conn_, {message("A1", "OTN-1")});
  store_all(*conn_, {message("E1", "OTN-1", "ErasureNotice")});
  ASSERT_EQ(count("SELECT count(*) FROM deliveries WHERE state = 'queued'"), 1);
  const auto positions = count("SELECT sum(position) FROM endpoint_cursors");
  ASSERT_EQ(test::deliver_from_log(*conn_, "test-hub", 1000, false).size(), 2u);
  EXPECT_EQ(count("SELECT sum(position) FROM endpoint_cursors"), positions) << "no cursor moved";
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE recipient_ori = 'CTDESPP00' AND state = 'pending'"), 1)
      << "the erasure notice's row goes on behind the answered entry";
}

// The same row, routed by a writer whose transaction is still open while the round recording the
// entry before it runs and commits: neither saw the other's work when it looked (the round saw no
// row; the writer saw the entry unsent), so the row must go on once both have committed, without
// waiting for a later round of the endpoint.
TEST_F(LogDb, ARowRoutedWhileTheEntryBeforeItWasBeingRecordedGoesOnOnceBothHaveCommitted) {
  store_all(*conn_, {message("A1", "OTN-1")});
  auto writer = store::connect(db_->url(), 3000ms);
  auto notice = message("E1", "OTN-1", "ErasureNotice");
  auto held = std::make_unique<store::Transaction>(*writer);
  store::ingest_group(*held, {&notice});
  ASSERT_EQ(held->exec1("SELECT count(*) FROM deliveries WHERE state = 'queued'")[0].as<long long>(), 1)
      << "inside the writer's transaction: queued behind the arrest packet, still unsent";
  auto round = std::async(std::launch::async, [&] {
    auto c = store::connect(db_->url(), 3000ms);
    return test::deliver_from_log(*c).size();
  });
  ASSERT_EQ(round.wait_for(10s), std::future_status::ready) << "the round does not wait for the writer";
  ASSERT_EQ(round.get(), 2u) << "the arrest packet, to DESPP and DCJ, recorded before the writer commits";
  held->commit();
  held.reset();
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE recipient_ori = 'CTDESPP00' AND state = 'pending'"), 1)
      << "the notice's row must not wait for the endpoint's next round";
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE state = 'queued'"), 0);
}

TEST_F(LogDb, SeqIsCommitOrderUnderConcurrentWriters) {
  // A writer that stored first but commits late holds back every later one: nobody can commit a
  // higher seq before it.
  auto slow = store::connect(db_->url(), 3000ms);
  store::Transaction held(*slow);
  auto m1 = message("S1", "OTN-S");
  store::ingest_group(held, {&m1});
  auto later = std::async(std::launch::async, [&] {
    auto c = store::connect(db_->url(), 3000ms);
    store_all(*c, {message("S2", "OTN-T")});
  });
  EXPECT_EQ(later.wait_for(300ms), std::future_status::timeout) << "the later writer waits for the append lock";
  EXPECT_EQ(count("SELECT count(*) FROM messages"), 0);
  held.commit();
  later.get();
  pqxx::nontransaction tx(*conn_);
  const auto r = tx.exec("SELECT idempotency_key FROM messages ORDER BY seq");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0][0].as<std::string>(), "S1");
  EXPECT_EQ(r[1][0].as<std::string>(), "S2");
}

TEST_F(LogDb, AMessageOffTheLogNeitherWaitsForTheAppendLockNorMovesTheEndOfTheLog) {
  const auto despp = endpoint("CTDESPP00");
  const auto start = count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp));
  auto slow = store::connect(db_->url(), 3000ms);
  store::Transaction held(*slow);
  auto m1 = message("S1", "OTN-S");  // a log entry (two recipients), its transaction still open
  store::ingest_group(held, {&m1});
  // An erasure notice owes acknowledgements: its recipients are rows, it is nobody's log entry.
  auto other = std::async(std::launch::async, [&] {
    auto c = store::connect(db_->url(), 3000ms);
    store_all(*c, {message("E1", "OTN-E", "ErasureNotice")});
  });
  ASSERT_EQ(other.wait_for(5s), std::future_status::ready) << "no append lock for a message off the log";
  other.get();
  const auto e1 = count("SELECT seq FROM messages WHERE idempotency_key = 'E1'");
  EXPECT_EQ(count("SELECT count(*) FROM messages WHERE idempotency_key = 'E1' AND recipients IS NULL"), 1);
  // A reader now must not pass the open entry, though a message with a higher position committed.
  store::lease_cursors(*conn_, "hub-a", 60000, 10);
  const auto first = store::read_log(*conn_, despp, "hub-a", start, 10);
  EXPECT_TRUE(first.entries.empty());
  EXPECT_EQ(first.read_through, start) << "the end of the log is its last committed entry, not position " << e1;
  held.commit();
  const auto second = store::read_log(*conn_, despp, "hub-a", first.read_through, 10);
  ASSERT_EQ(second.entries.size(), 1u);
  EXPECT_EQ(second.entries[0].message_id, m1.id.str());
  EXPECT_LT(second.entries[0].seq, e1) << "the entry's position was drawn before the notice's";
}

TEST_F(LogDb, AReadStopsOnceItsPayloadsReachItsByteBudgetAndSaysThereIsMore) {
  const auto despp = endpoint("CTDESPP00");
  const auto start = count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp));
  store_all(*conn_, {message("B1", "OTN-B1"), message("B2", "OTN-B2"), message("B3", "OTN-B3")});
  const auto each = static_cast<std::size_t>(count("SELECT max(body_size) FROM messages WHERE idempotency_key = 'B1'"));
  ASSERT_GT(each, 0u);
  store::lease_cursors(*conn_, "hub-a", 60000, 10);
  // A budget of one and a half bodies: two entries (the one that reaches it is the last).
  const auto first = store::read_log(*conn_, despp, "hub-a", start, 10, 50000, {}, each + each / 2);
  ASSERT_EQ(first.entries.size(), 2u);
  EXPECT_TRUE(first.full) << "the rest is still to read";
  EXPECT_EQ(first.read_through, first.entries.back().seq) << "the third was not read";
  // A budget below one body still reads one: the log never stalls on a large message.
  const auto second = store::read_log(*conn_, despp, "hub-a", first.read_through, 10, 50000, {}, 1);
  ASSERT_EQ(second.entries.size(), 1u);
  EXPECT_GT(second.entries[0].seq, first.entries.back().seq);
  EXPECT_TRUE(second.full);
  const auto rest = store::read_log(*conn_, despp, "hub-a", second.read_through, 10, 50000, {}, 1u << 30);
  EXPECT_TRUE(rest.entries.empty());
  EXPECT_FALSE(rest.full);
}

TEST_F(LogDb, ACursorIsReadInOrderByOneHubAndOnlyMovesForward) {
  const auto despp = endpoint("CTDESPP00");
  const auto start = count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp));
  store_all(*conn_, {message("A1", "OTN-1"), message("A2", "OTN-2"), message("A3", "OTN-1")});

  // Each hub on its own session (a hub counts as alive while its session is).
  auto hub_a = store::connect(db_->url(), 3000ms);
  auto hub_b = store::connect(db_->url(), 3000ms);
  const auto a = store::lease_cursors(*hub_a, "hub-a", 60000, 10);
  ASSERT_EQ(a.held.size(), 2u);
  EXPECT_EQ(a.share, 2);
  const auto b_first = store::lease_cursors(*hub_b, "hub-b", 60000, 10);
  EXPECT_TRUE(b_first.held.empty()) << "both cursors are hub A's";
  EXPECT_EQ(b_first.share, 1) << "two hubs alive: one endpoint each";
  EXPECT_EQ(store::lease_cursors(*hub_a, "hub-a", 60000, 10).share, 1) << "hub A learns its share is one now";

  auto batch = store::read_log(*hub_a, despp, "hub-a", start, 2);
  ASSERT_EQ(batch.entries.size(), 2u);
  EXPECT_EQ(batch.entries[0].message_type, "ArrestPacket");
  EXPECT_EQ(batch.entries[0].case_key, "OTN-1");
  EXPECT_EQ(batch.entries[0].body, "<ArrestPacket>A1</ArrestPacket>");
  EXPECT_GT(batch.entries[0].subscription_id, 0);
  EXPECT_LT(batch.entries[0].seq, batch.entries[1].seq);
  EXPECT_EQ(batch.read_through, batch.entries[1].seq) << "the limit was reached: read through the last entry";
  const auto rest = store::read_log(*hub_a, despp, "hub-a", batch.read_through, 10);
  ASSERT_EQ(rest.entries.size(), 1u);
  EXPECT_EQ(rest.entries[0].body, "<ArrestPacket>A3</ArrestPacket>");
  EXPECT_EQ(rest.read_through, rest.entries[0].seq);

  {
    store::Transaction tx(*conn_);
    EXPECT_FALSE(store::advance_cursor(tx, despp, "hub-b", rest.read_through)) << "not hub B's lease";
    EXPECT_TRUE(store::advance_cursor(tx, despp, "hub-a", rest.read_through));
    EXPECT_TRUE(store::advance_cursor(tx, despp, "hub-a", start)) << "a lower position changes nothing";
    tx.commit();
  }
  EXPECT_EQ(count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp)),
            rest.read_through);
  EXPECT_TRUE(store::read_log(*hub_a, despp, "hub-a", rest.read_through, 10).entries.empty());
  EXPECT_TRUE(store::read_log(*hub_b, despp, "hub-b", start, 10).lease_lost) << "only the lease holder reads";

  // Hub A gives one up (beyond its share): hub B takes it, and no more than its share.
  EXPECT_EQ(store::release_cursors(*hub_a, "hub-a", {endpoint("CTDCJ0000")}), 1u);
  EXPECT_EQ(store::lease_cursors(*hub_b, "hub-b", 60000, 10).held.size(), 1u);
  EXPECT_EQ(store::lease_cursors(*hub_a, "hub-a", 60000, 10).held.size(), 1u);
  // Hub A stops: all its cursors go back and it no longer counts; hub B takes over where hub A left.
  EXPECT_EQ(store::release_cursors(*hub_a, "hub-a"), 1u);
  const auto b = store::lease_cursors(*hub_b, "hub-b", 60000, 10).held;
  ASSERT_EQ(b.size(), 2u);
  for (const auto& l : b) {
    if (l.endpoint_id == despp) {
      EXPECT_EQ(l.position, rest.read_through);
    }
  }
}

// A long snapshot (a backup) keeps every row version written after it began: a hub looking at its
// leases four times a second rewrites a cursor only when its lease is due for renewal.
TEST_F(LogDb, ALeaseIsRewrittenOnlyWhenDueForRenewal) {
  auto hub = store::connect(db_->url(), 3000ms);
  const auto despp = std::to_string(endpoint("CTDESPP00")), dcj = std::to_string(endpoint("CTDCJ0000"));
  // The transaction that wrote a row's current version.
  const auto version = [&](const std::string& where) {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1("SELECT xmin::text FROM " + where)[0].as<std::string>();
  };
  const auto cursor = [&](const std::string& id) { return version("endpoint_cursors WHERE endpoint_id = " + id); };
  const auto alive = [&] { return version("dispatchers WHERE instance_id = 'hub-a'"); };

  ASSERT_EQ(store::lease_cursors(*hub, "hub-a", 60000, 10, 2000).held.size(), 2u);
  const auto despp_v = cursor(despp), dcj_v = cursor(dcj), alive_v = alive();
  for (int i = 0; i < 3; ++i) {
    const auto again = store::lease_cursors(*hub, "hub-a", 60000, 10, 2000);
    EXPECT_EQ(again.held.size(), 2u) << "both cursors still held";
    EXPECT_EQ(again.share, 2);
  }
  EXPECT_EQ(cursor(despp), despp_v) << "not rewritten within the interval";
  EXPECT_EQ(cursor(dcj), dcj_v) << "not rewritten within the interval";
  EXPECT_EQ(alive(), alive_v) << "the hub's liveness row not rewritten within a second";

  // One lease has run longer than the interval: it alone is renewed, for the whole lease again.
  count("WITH u AS (UPDATE endpoint_cursors SET lease_until = now() + interval '57 seconds' WHERE endpoint_id = " +
        despp + " RETURNING 1) SELECT count(*) FROM u");
  const auto despp_due = cursor(despp);
  EXPECT_EQ(store::lease_cursors(*hub, "hub-a", 60000, 10, 2000).held.size(), 2u);
  EXPECT_NE(cursor(despp), despp_due) << "renewed";
  EXPECT_EQ(count("SELECT count(*) FROM endpoint_cursors WHERE endpoint_id = " + despp +
                  " AND lease_until > now() + interval '59 seconds'"), 1) << "for the whole lease";
  EXPECT_EQ(cursor(dcj), dcj_v) << "the lease not due is the row it was";

  // A lease that ran out is renewed before it is returned as held (another hub may take it).
  count("WITH u AS (UPDATE endpoint_cursors SET lease_until = now() - interval '1 second' RETURNING 1) "
        "SELECT count(*) FROM u");
  EXPECT_EQ(store::lease_cursors(*hub, "hub-a", 60000, 10, 2000).held.size(), 2u);
  EXPECT_EQ(count("SELECT count(*) FROM endpoint_cursors WHERE lease_until > now() + interval '59 seconds'"), 2);
}

TEST_F(LogDb, AReadThatFindsNothingNewLeavesTheCursorAsItWas) {
  const auto despp = endpoint("CTDESPP00");
  const auto where = " FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp);
  const auto version = [&] {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1("SELECT xmin::text" + where)[0].as<std::string>();
  };
  store_all(*conn_, {message("A1", "OTN-1")});
  auto hub = store::connect(db_->url(), 3000ms);
  store::lease_cursors(*hub, "hub-a", 60000, 10);
  const auto first = store::read_log(*hub, despp, "hub-a", count("SELECT position" + where), 10);
  ASSERT_EQ(first.entries.size(), 1u);
  EXPECT_EQ(count("SELECT read_through" + where), first.read_through) << "what it read is recorded";

  const auto before = version();
  const auto again = store::read_log(*hub, despp, "hub-a", first.read_through, 10);
  EXPECT_TRUE(again.entries.empty());
  EXPECT_FALSE(again.lease_lost);
  EXPECT_EQ(again.read_through, first.read_through);
  EXPECT_EQ(version(), before) << "nothing new: the cursor is not rewritten";

  auto other = store::connect(db_->url(), 3000ms);
  EXPECT_TRUE(store::read_log(*other, despp, "hub-b", first.read_through, 10).lease_lost)
      << "a hub not holding the lease is told so, with nothing new to read as well";

  store_all(*conn_, {message("A2", "OTN-2")});
  const auto next = store::read_log(*hub, despp, "hub-a", first.read_through, 10);
  ASSERT_EQ(next.entries.size(), 1u);
  EXPECT_EQ(count("SELECT read_through" + where), next.read_through) << "a read that finds more records it";
  EXPECT_NE(version(), before);
}

// A round between two moves of the cursor records its delivered entries by their answers and
// leaves the cursor's row as it was (no version a long snapshot keeps). Everything that asks
// whether an entry is finished counts those entries as finished: a hub's look at its leases, the
// message's status (and `delivery_states`), the endpoint's backlog, what removing the endpoint
// would dead-letter, the payload's retention, an acknowledgement posted for the entry, an erasure
// notice's place in its lane, and the hub that takes the cursor over (which must not send them
// again).
TEST_F(LogDb, EntriesARoundAnsweredAreFinishedBeforeTheCursorMovesPastThem) {
  const auto despp = endpoint("CTDESPP00"), dcj = endpoint("CTDCJ0000");
  const auto where = [](long long id) { return " FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(id); };
  const auto version = [&](long long id) {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1("SELECT xmin::text" + where(id))[0].as<std::string>();
  };
  auto old = message("A0", "OTN-1");
  old.received_at = now_utc() - std::chrono::hours(24 * 40);
  const auto a1 = message("A1", "OTN-1"), a2 = message("A2", "OTN-2");
  store_all(*conn_, {old, a1, a2});
  const auto start = count("SELECT position" + where(despp));
  ASSERT_EQ(start, count("SELECT position" + where(dcj)));

  auto hub = store::connect(db_->url(), 3000ms);
  ASSERT_EQ(store::lease_cursors(*hub, "hub-a", 60000, 10).held.size(), 2u);
  // Reads an endpoint's log and records everything read as delivered, without moving the cursor.
  const auto answer = [&](long long id, const std::string& ori) {
    const auto batch = store::read_log(*hub, id, "hub-a", start, 10);
    store::LogRound round;
    round.endpoint_id = id;
    round.recipient_ori = ori;
    round.position = batch.read_through;
    round.move_cursor = false;
    for (const auto& e : batch.entries) {
      store::LogOutcome o;
      o.seq = e.seq;
      o.message_id = e.message_id;
      o.case_key = e.case_key;
      o.subscription_id = e.subscription_id;
      o.http_status = 200;
      o.attempted_at = std::chrono::system_clock::now();
      round.outcomes.push_back(o);
    }
    const auto before = version(id);
    const auto res = store::complete_log(*hub, "hub-a", round, 1000);
    EXPECT_TRUE(res.lease_held);
    EXPECT_EQ(res.delivered, 3u);
    EXPECT_EQ(version(id), before) << ori << ": the cursor's row is not rewritten";
    EXPECT_EQ(count("SELECT position" + where(id)), start) << ori << ": the cursor stays";
    return round;
  };
  auto round = answer(despp, "CTDESPP00");
  {
    auto other = store::connect(db_->url(), 3000ms);
    round.outcomes.resize(1);
    EXPECT_FALSE(store::complete_log(*other, "hub-b", round, 1000).lease_held)
        << "a hub not holding the lease records nothing, whether it moves the cursor or not";
    EXPECT_EQ(count("SELECT count(*) FROM log_answers"), 1);
  }

  // Hub A looking at its leases learns what is finished on a cursor it does not read yet (renewed
  // or not), and is not told again for one it reads.
  for (const int renew_every : {0, 2000}) {
    for (const auto& l : store::lease_cursors(*hub, "hub-a", 60000, 10, renew_every, {dcj}).held) {
      EXPECT_EQ(l.done.size(), l.endpoint_id == despp ? 3u : 0u) << l.endpoint_id << " renew every " << renew_every;
    }
  }

  // The message's status: delivered to DESPP (when its round was recorded), pending for DCJ.
  for (const auto& d : store::deliveries_of(*conn_, a1.id)) {
    EXPECT_EQ(d.state, d.recipient_ori == "CTDESPP00" ? "delivered" : "pending") << d.recipient_ori;
    EXPECT_EQ(d.delivered_at.empty(), d.recipient_ori != "CTDESPP00") << d.recipient_ori;
  }
  EXPECT_EQ(count("SELECT count(*) FROM delivery_states WHERE recipient_ori = 'CTDESPP00' AND state = 'delivered' "
                  "AND attempts = 1 AND delivered_at IS NOT NULL"), 3)
      << "operators' view of every delivery says the same";
  EXPECT_EQ(count("SELECT count(*) FROM delivery_states WHERE recipient_ori = 'CTDCJ0000' AND state <> 'delivered'"),
            3);
  // The backlog: nothing waits for DESPP, three messages for DCJ.
  for (const auto& b : store::endpoint_backlogs(*conn_)) {
    EXPECT_EQ(b.backlog, b.ori == "CTDESPP00" ? 0 : 3) << b.ori;
  }
  // Removing both endpoints would dead-letter DCJ's three messages, none of DESPP's.
  const auto plan = store::plan_agencies(*conn_, config::parse_agencies(
      "agencies:\n"
      "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n"
      "    publish: [ArrestPacket, ErasureNotice]\n"
      "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
      "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:j'}]\n",
      {"ArrestPacket", "ErasureNotice"}));
  int removed = 0;
  for (const auto& c : plan.changes) {
    if (c.kind != "endpoint" || c.action != "removed") continue;
    ++removed;
    EXPECT_EQ(c.dead_log_messages, c.ori == "CTDESPP00" ? 0 : 3) << c.ori;
  }
  EXPECT_EQ(removed, 2);

  // DCJ's round too: the old message's payload is no longer needed by anyone.
  answer(dcj, "CTDCJ0000");
  EXPECT_EQ(store::purge_payloads(*conn_, rfc3339(now_utc() - std::chrono::hours(24 * 30)), 1000), 1u);

  // DESPP acknowledges A2, delivered on the log: the delivery is settled, not still to be sent.
  store::NewMessage ack = message("K1", "", "Acknowledgement");
  ack.sender_ori = ack.origin_ori = "CTDESPP00";
  ack.case_key.clear();
  ack.acknowledgement = true;
  ack.ack_ref = a2.id.str();
  ack.ack_status = "completed";
  {
    store::Transaction tx(*conn_);
    ASSERT_EQ(store::ingest_group(tx, {&ack}).results[0].status, store::InsertStatus::inserted);
    tx.commit();
  }
  EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE message_id = '" + a2.id.str() +
                  "' AND state = 'acknowledged' AND attempts = 1"), 1);

  // An erasure notice for OTN-1: DESPP's row goes at once (the case's entries are answered).
  store_all(*conn_, {message("E1", "OTN-1", "ErasureNotice")});
  EXPECT_EQ(count("SELECT count(*) FROM deliveries d JOIN messages m ON m.id = d.message_id "
                  "WHERE m.message_type = 'ErasureNotice' AND d.recipient_ori = 'CTDESPP00' AND d.state = 'pending'"),
            1);

  // Hub A stops without moving the cursors; hub B takes them and finds every entry finished.
  store::release_cursors(*hub, "hub-a");
  auto hub_b = store::connect(db_->url(), 3000ms);
  const auto taken = store::lease_cursors(*hub_b, "hub-b", 60000, 10).held;
  ASSERT_EQ(taken.size(), 2u);
  for (const auto& l : taken) {
    EXPECT_EQ(l.position, start);
    const std::set<long long> done(l.done.begin(), l.done.end());
    for (const auto& e : store::read_log(*hub_b, l.endpoint_id, "hub-b", l.position, 10).entries) {
      EXPECT_TRUE(done.count(e.seq)) << "endpoint " << l.endpoint_id << " would send entry " << e.seq << " again";
    }
  }
}

TEST_F(LogDb, AHubWhoseSessionIsGoneLosesItsCursorsAtOnce) {
  auto hub_a = store::connect(db_->url(), 3000ms);
  ASSERT_EQ(store::lease_cursors(*hub_a, "hub-a", 600000, 10).held.size(), 2u);
  auto hub_b = store::connect(db_->url(), 3000ms);
  EXPECT_TRUE(store::lease_cursors(*hub_b, "hub-b", 600000, 10).held.empty()) << "hub A is alive, its leases hold";
  hub_a.reset();  // the process died: its connections closed with it
  store::CursorLeases b;
  for (int i = 0; i < 50 && b.held.size() < 2; ++i) {
    std::this_thread::sleep_for(20ms);
    b = store::lease_cursors(*hub_b, "hub-b", 600000, 10);
  }
  EXPECT_EQ(b.held.size(), 2u) << "taken over long before the ten-minute lease ran out";
  EXPECT_EQ(b.share, 2) << "hub A no longer counts";
}

TEST_F(LogDb, AnEntryBehindOpenRowsOfItsLaneSaysSo) {
  const auto despp = endpoint("CTDESPP00");
  const auto start = count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp));
  store_all(*conn_, {message("E1", "OTN-9", "ErasureNotice")});  // a pending row in DESPP's lane of OTN-9
  store_all(*conn_, {message("A1", "OTN-9"), message("A2", "OTN-8")});
  store::lease_cursors(*conn_, "hub-a", 60000, 10);
  const auto batch = store::read_log(*conn_, despp, "hub-a", start, 10);
  ASSERT_EQ(batch.entries.size(), 2u);
  EXPECT_TRUE(batch.entries[0].lane_has_rows);
  EXPECT_FALSE(batch.entries[1].lane_has_rows);
}

TEST_F(LogDb, ABodyTheReaderHoldsIsNotReadAgainUnlessItsPayloadWasRemoved) {
  const auto despp = endpoint("CTDESPP00");
  const auto start = count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(despp));
  store_all(*conn_, {message("A1", "OTN-1"), message("A2", "OTN-2"), message("A3", "OTN-3")});
  {
    pqxx::work tx(*conn_);
    tx.exec0("UPDATE messages SET body = NULL WHERE idempotency_key = 'A2'");  // erased meanwhile
    tx.commit();
  }
  store::lease_cursors(*conn_, "hub-a", 60000, 10);
  // The reader holds every body but the third's.
  const auto batch = store::read_log(*conn_, despp, "hub-a", start, 10, 50000,
                                     [&](long long seq) { return seq <= start + 2; });
  ASSERT_EQ(batch.entries.size(), 3u);
  EXPECT_FALSE(batch.entries[0].body.has_value()) << "held: not read again";
  EXPECT_TRUE(batch.entries[0].body_held);
  EXPECT_FALSE(batch.entries[1].body.has_value());
  EXPECT_FALSE(batch.entries[1].body_held) << "a removed payload is said so, held or not";
  ASSERT_TRUE(batch.entries[2].body.has_value());
  EXPECT_FALSE(batch.entries[2].body_held);
  EXPECT_NE(batch.entries[2].body->find("<"), std::string::npos);
}

TEST_F(LogDb, AnAcknowledgementPostedForAMessageDeliveredOnTheLogSettlesIt) {
  store_all(*conn_, {message("A1", "OTN-1")});
  ASSERT_EQ(test::deliver_from_log(*conn_).size(), 2u);
  // DESPP acknowledges the arrest packet it received on the log (POSTed, through the writer).
  const auto packet = count("SELECT count(*) FROM messages");  // one message so far
  ASSERT_EQ(packet, 1);
  std::string packet_id;
  {
    pqxx::nontransaction tx(*conn_);
    packet_id = tx.exec1("SELECT id::text FROM messages")[0].as<std::string>();
  }
  store::NewMessage ack = message("K1", "", "Acknowledgement");
  ack.sender_ori = ack.origin_ori = "CTDESPP00";
  ack.case_key.clear();
  ack.acknowledgement = true;
  ack.ack_ref = packet_id;
  ack.ack_status = "completed";
  store::Transaction tx(*conn_);
  const auto g = store::ingest_group(tx, {&ack});
  tx.commit();
  ASSERT_EQ(g.results[0].status, store::InsertStatus::inserted) << "not refused as ack-not-addressed";
  {
    pqxx::nontransaction q(*conn_);
    const auto r = q.exec("SELECT recipient_ori, state, ack_status FROM deliveries");
    ASSERT_EQ(r.size(), 1u) << "the acknowledged entry became a row";
    EXPECT_EQ(r[0][0].as<std::string>(), "CTDESPP00");
    EXPECT_EQ(r[0][1].as<std::string>(), "acknowledged");
    EXPECT_EQ(r[0][2].as<std::string>(), "completed");
  }
  // An agency it was never sent to is still refused.
  store::NewMessage other = message("K2", "", "Acknowledgement");
  other.sender_ori = other.origin_ori = "CT0064000";
  other.case_key.clear();
  other.acknowledgement = true;
  other.ack_ref = packet_id;
  other.ack_status = "completed";
  store::Transaction tx2(*conn_);
  EXPECT_EQ(store::ingest_group(tx2, {&other}).results[0].status, store::InsertStatus::ack_not_addressed);
  tx2.commit();
}

TEST_F(LogDb, AnEndpointAddedLaterStartsAtTheEndOfTheLog) {
  store_all(*conn_, {message("A1", "OTN-1")});
  apply("  - ori: CT0093000\n    name: New Haven\n    identities: [{san_uri: 'urn:n'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/n'}]\n"
        "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket]}]\n");
  const auto nh = endpoint("CT0093000");
  EXPECT_EQ(count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(nh)),
            count("SELECT max(seq) FROM messages"));
  store_all(*conn_, {message("A2", "OTN-2")});
  store::lease_cursors(*conn_, "hub-a", 60000, 10);
  const auto batch = store::read_log(*conn_, nh, "hub-a",
                                     count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + std::to_string(nh)), 10);
  ASSERT_EQ(batch.entries.size(), 1u);
  EXPECT_EQ(batch.entries[0].body, "<ArrestPacket>A2</ArrestPacket>");
}

}  // namespace
}  // namespace cjhub
