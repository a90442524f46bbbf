// Database tier: migrations, agencies, group commit and idempotency against a real PostgreSQL
// started by the harness (scripts/test).
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "cjhub/config/agencies.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/outbox/writer.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "store/translate.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/migrations.hpp"
#include "support/log_delivery.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::TestDatabase;

config::AgenciesFile two_agencies() {
  return config::parse_agencies(
      "agencies:\n"
      "  - ori: CT0064000\n    name: Hartford Police Department\n"
      "    identities: [{san_uri: 'urn:cjhub:ori:CT0064000'}]\n    publish: [ArrestPacket]\n"
      "  - ori: CTJUD0000\n    name: Judicial Branch\n"
      "    identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}]\n    publish: [CaseUpdate]\n",
      {"ArrestPacket", "CaseUpdate"});
}

store::NewMessage message(const std::string& key, const std::string& body,
                          const std::string& sender = "CT0064000") {
  store::NewMessage m;
  m.id = Uuid::v7();
  m.type = "ArrestPacket";
  m.sender_ori = sender;
  m.idempotency_key = key;
  m.document_id = key;
  m.case_key = "OTN-" + key;
  m.origin_ori = sender;
  m.body = body;
  m.body_sha256 = sha256(body);
  m.received_at = now_utc();
  return m;
}

outbox::WriterSettings writer_settings(std::string url, int connect_ms, std::size_t group, std::size_t capacity) {
  outbox::WriterSettings w;
  w.db_url = std::move(url);
  w.connect_timeout = std::chrono::milliseconds(connect_ms);
  w.group_max_messages = group;
  w.queue_capacity = capacity;
  return w;
}

class DbTest : public ::testing::Test {
 protected:
  // Until a session of this database waits for a lock (a writer held inside its transaction).
  void wait_for_a_lock_wait() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (db_->count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                      "current_database()") == 0 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Every COMMIT that stored a message takes `seconds` longer (a deferred trigger), as one that
  // waits for a synchronous standby would.
  void slow_commits(const std::string& seconds) {
    auto c = db_->connect();
    store::Transaction tx(*c);
    tx.exec0("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
             "$$ BEGIN PERFORM pg_sleep(" + seconds + "); RETURN NULL; END $$");
    tx.exec0("CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON messages DEFERRABLE INITIALLY DEFERRED "
             "FOR EACH ROW EXECUTE FUNCTION slow_commit()");
    tx.commit();
  }
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    auto c = db_->connect();
    store::apply_agencies(*c, two_agencies());
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(DbTest, MigrationsAreAppliedOnceAndRecorded) {
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  EXPECT_TRUE(store::migrate(*c).empty());
  EXPECT_TRUE(store::pending_migrations(*c).empty());
  EXPECT_GE(db_->count("SELECT count(*) FROM cjhub_schema_migrations"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'messages'"), 1);
}

// The store reads SQLSTATEs in one place: a real deadlock between two transactions is a
// DbRetryable (40P01) for the one PostgreSQL rolls back, a serialization failure (40001) too, and
// another error (a unique violation) stays what it was.
TEST_F(DbTest, ADeadlockIsRetryableAndOtherErrorsAreNot) {
  {
    auto c = db_->connect();
    store::Transaction tx(*c);
    tx.exec0("CREATE TABLE dl (id int PRIMARY KEY); INSERT INTO dl VALUES (1), (2)");
    tx.commit();
  }
  auto a = db_->connect();
  auto b = db_->connect();
  store::Transaction ta(*a);
  store::Transaction tb(*b);
  ta.exec0("UPDATE dl SET id = id WHERE id = 1");
  tb.exec0("UPDATE dl SET id = id WHERE id = 2");
  const auto cross = [](store::Transaction& tx, int row) -> std::string {
    try {
      store::translate_errors([&] { tx.exec0("UPDATE dl SET id = id WHERE id = " + std::to_string(row)); });
      return "ok";
    } catch (const store::DbRetryable& e) {
      return "retryable " + e.state;
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
  };
  auto first = std::async(std::launch::async, [&] { return cross(ta, 2); });
  wait_for_a_lock_wait();
  const auto second = cross(tb, 1);
  if (second != "ok") tb.abort();  // lets the other one go on
  const auto first_result = first.get();
  ta.abort();  // neither keeps its row locks for what follows
  tb.abort();
  EXPECT_EQ((first_result == "ok") + (second == "ok"), 1) << first_result << " / " << second;
  EXPECT_TRUE(first_result == "retryable 40P01" || second == "retryable 40P01") << first_result << " / " << second;
  auto c = db_->connect();
  store::Transaction tx(*c);
  try {
    store::translate_errors([&] { tx.exec0("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$"); });
    ADD_FAILURE() << "no exception";
  } catch (const store::DbRetryable& e) {
    EXPECT_EQ(e.state, "40001");
  }
  auto c2 = db_->connect();
  store::Transaction tx2(*c2);
  EXPECT_THROW(store::translate_errors([&] { tx2.exec0("INSERT INTO dl VALUES (1)"); }), pqxx::unique_violation);
}

TEST_F(DbTest, ApplyAgenciesReportsChangesAndIsIdempotent) {
  auto c = db_->connect();
  auto again = store::apply_agencies(*c, two_agencies());
  EXPECT_FALSE(again.any_change());
  EXPECT_EQ(again.unchanged.size(), 2u);

  auto file = two_agencies();
  file.agencies[0].publish.push_back("CaseUpdate");
  file.agencies.pop_back();  // Judicial Branch removed from the file -> disabled
  config::Agency added{"CT0093000", "New Haven Police Department", config::Role::agency,
                       {{config::IdentityKind::sha256, std::string(64, 'b')}}, {}, {}, {}};
  file.agencies.push_back(added);
  const auto r = store::apply_agencies(*c, file);
  EXPECT_EQ(r.added, std::vector<std::string>{"CT0093000"});
  EXPECT_EQ(r.changed, std::vector<std::string>{"CT0064000"});
  EXPECT_EQ(r.disabled, std::vector<std::string>{"CTJUD0000"});
  EXPECT_EQ(db_->count("SELECT count(*) FROM agencies WHERE NOT active"), 1);
  // The disabled agency keeps its identity (its certificate is told "disabled")...
  EXPECT_EQ(db_->count("SELECT count(*) FROM agency_identities WHERE ori = 'CTJUD0000'"), 1);
  EXPECT_FALSE(store::apply_agencies(*c, file).any_change());
  // ...until another agency claims it.
  file.agencies[1].identities.push_back({config::IdentityKind::san_uri, "urn:cjhub:ori:CTJUD0000"});
  EXPECT_EQ(store::apply_agencies(*c, file).changed, std::vector<std::string>{"CT0093000"});
  EXPECT_EQ(db_->count("SELECT count(*) FROM agency_identities WHERE ori = 'CTJUD0000'"), 0);
}

TEST_F(DbTest, RemovingAnEndpointMakesItsUnsentDeliveriesDeadLetters) {
  auto file = config::parse_agencies(
      "agencies:\n"
      "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n    publish: [ArrestPacket]\n"
      "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket]}]\n",
      {"ArrestPacket"});
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  store::apply_agencies(*c, file);
  {
    store::Transaction tx(*c);
    const auto m = message("R1", "<r/>");
    store::ingest_group(tx, {&m});
    tx.commit();
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE array_length(recipients, 1) = 1"), 1)
      << "one recipient, waiting on the log";
  file.agencies[1].endpoints.clear();
  file.agencies[1].subscriptions.clear();
  store::apply_agencies(*c, file);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE state = 'dead' AND last_error LIKE 'endpoint removed%'"), 1);
  EXPECT_EQ(store::list_dead(*c, {}).size(), 1u);
}

TEST_F(DbTest, AnErasureRefusesLaterMessagesOfItsCaseEvenInTheSameGroup) {
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  const auto before = message("E0", "<before/>");
  auto erasure = message("E1", "<erase/>", "CTJUD0000");
  erasure.type = "ErasureNotice";
  erasure.case_key = before.case_key;
  erasure.erasure = true;
  auto later = message("E2", "<later/>");
  later.case_key = before.case_key;
  const auto retry = message("E0", "<before/>");  // the same message as `before`, sent again
  {
    store::Transaction tx(*c);
    store::ingest_group(tx, {&before});
    tx.commit();
  }
  store::Transaction tx(*c);
  const auto g = store::ingest_group(tx, {&erasure, &later, &retry});
  tx.commit();
  ASSERT_EQ(g.results.size(), 3u);
  EXPECT_EQ(g.results[0].status, store::InsertStatus::inserted);
  EXPECT_EQ(g.results[1].status, store::InsertStatus::case_erased);
  EXPECT_EQ(g.results[2].status, store::InsertStatus::duplicate);
  EXPECT_EQ(g.results[2].message_id, before.id.str());
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + before.id.str() + "' AND body IS NULL"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erased_cases"), 1);
}

// Several whole-case erasures in one group (as in a bulk run): payloads removed, unsent deliveries
// suppressed, one delivery per recipient (subscribers and earlier recipients), counts recorded per
// erasure, later messages refused.
TEST_F(DbTest, ErasuresOfSeveralCasesInOneGroupEachReachEveryRecipient) {
  auto file = config::parse_agencies(
      "agencies:\n"
      "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n    publish: [ArrestPacket]\n"
      "  - ori: CTJUD0000\n    name: Judicial\n    identities: [{san_uri: 'urn:j'}]\n    publish: [ErasureNotice]\n"
      "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket, ErasureNotice]}]\n"
      "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:c'}]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket]}]\n",
      {"ArrestPacket", "ErasureNotice"});
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  store::apply_agencies(*c, file);
  const auto a = message("A", "<a>Name A</a>"), b = message("B", "<b>Name B</b>"), u = message("C", "<c>Name C</c>");
  {
    store::Transaction tx(*c);
    EXPECT_EQ(store::ingest_group(tx, {&a, &b, &u}).deliveries, 6u);
    tx.commit();
  }
  // A's and B's arrests reached both agencies (each endpoint's first two entries on the log); C's
  // were never read.
  EXPECT_EQ(test::deliver_from_log(*c, "test-hub", 2).size(), 4u);
  std::vector<store::NewMessage> notices;
  for (const char* k : {"A", "B", "C", "D"}) {
    auto e = message(std::string("X") + k, std::string("<erase case='") + k + "'/>", "CTJUD0000");
    e.type = "ErasureNotice";
    e.case_key = std::string("OTN-") + k;
    e.erasure = true;
    notices.push_back(std::move(e));
  }
  store::Transaction tx(*c);
  const auto g = store::ingest_group(tx, {&notices[0], &notices[1], &notices[2], &notices[3]});
  tx.commit();
  ASSERT_EQ(g.results.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(g.results[i].status, store::InsertStatus::inserted) << i;
    EXPECT_EQ(g.results[i].message_id, notices[i].id.str()) << i;
  }
  // A and B: both agencies (DESPP subscribes, DCJ received the arrest); C: DESPP only (DCJ never
  // got it); D: DESPP only.
  EXPECT_EQ(g.deliveries, 6u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key IN ('OTN-A', 'OTN-B', 'OTN-C') "
                       "AND NOT erasure AND body IS NULL AND redacted_at IS NOT NULL"), 3);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE erasure AND body IS NOT NULL"), 4);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE case_key = 'OTN-C' AND erasure_id IS NULL "
                       "AND state = 'suppressed'"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE case_key = 'OTN-C' AND redacted_messages = 1 "
                       "AND suppressed_deliveries = 2"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE case_key IN ('OTN-A', 'OTN-B') AND redacted_messages = 1 "
                       "AND suppressed_deliveries = 0"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE case_key = 'OTN-D' AND redacted_messages = 0"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erased_cases"), 4);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE erasure_id IS NOT NULL AND ack_required "
                       "AND erasure_id = message_id AND state = 'pending'"), 6);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries d JOIN erasures x ON x.id = d.erasure_id "
                       "WHERE x.case_key = 'OTN-A' AND d.recipient_ori IN ('CTDESPP00', 'CTDCJ0000')"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries d JOIN erasures x ON x.id = d.erasure_id "
                       "WHERE x.case_key = 'OTN-C' AND d.recipient_ori = 'CTDESPP00'"), 1);
  // A later arrest about any of them is refused.
  auto late2 = message("L2", "<l/>");
  late2.case_key = "OTN-D";
  store::Transaction tx2(*c);
  const auto g2 = store::ingest_group(tx2, {&late2});
  tx2.commit();
  EXPECT_EQ(g2.results[0].status, store::InsertStatus::case_erased);
}

// A group's plain messages are stored and routed together; each lane of rows (here the
// subscriptions owe acknowledgements) still gets its deliveries in storing order: the first pending only if the lane has nothing open, the others queued behind
// it; a subscription's filter (own cases only) sees the group's earlier messages, not later ones.
TEST_F(DbTest, AGroupRoutedAtOnceKeepsEveryLaneInOrder) {
  auto file = config::parse_agencies(
      "agencies:\n"
      "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n    publish: [ArrestPacket]\n"
      "  - ori: CT0093000\n    name: New Haven\n    identities: [{san_uri: 'urn:n'}]\n    publish: [ArrestPacket]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: own, endpoint: main, types: [ArrestPacket], own_cases_only: true, "
      "ack_required: true}]\n"
      "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket], ack_required: true}]\n",
      {"ArrestPacket"});
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  store::apply_agencies(*c, file);
  // Case B already has an open delivery to DESPP from an earlier group.
  auto b0 = message("B0", "<b0/>");
  b0.case_key = "OTN-B";
  {
    store::Transaction tx(*c);
    EXPECT_EQ(store::ingest_group(tx, {&b0}).deliveries, 1u);
    tx.commit();
  }
  auto a1 = message("A1", "<a1/>"), a2 = message("A2", "<a2/>"), b1 = message("B1", "<b1/>"),
       a3 = message("A3", "<a3/>"), n1 = message("N1", "<n1/>", "CT0093000"), a4 = message("A4", "<a4/>");
  for (auto* m : {&a1, &a2, &a3, &a4}) m->case_key = "OTN-A";
  b1.case_key = "OTN-B";
  n1.case_key = "OTN-A";  // New Haven's own message about case A: from here on A is one of its cases
  const auto dup = message("A1", "<a1/>");  // a retry of a1 inside the same group
  store::Transaction tx(*c);
  const auto g = store::ingest_group(tx, {&a1, &a2, &b1, &a3, &dup, &n1, &a4});
  tx.commit();
  ASSERT_EQ(g.results.size(), 7u);
  EXPECT_EQ(g.results[4].status, store::InsertStatus::duplicate);
  EXPECT_EQ(g.results[4].message_id, a1.id.str());
  // DESPP: a1..a4, b1 and n1; New Haven: a4 only (a1..a3 came before it had a message of case A).
  EXPECT_EQ(g.deliveries, 7u);
  const auto lane = [&](const std::string& ori, const std::string& case_key) {
    store::Transaction r(*c);
    std::vector<std::string> out;
    for (const auto& row : r.exec("SELECT m.document_id || ':' || d.state FROM deliveries d JOIN messages m ON "
                                  "m.id = d.message_id WHERE d.recipient_ori = " + r.quote(ori) +
                                  " AND d.case_key = " + r.quote(case_key) + " ORDER BY d.seq")) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  };
  EXPECT_EQ(lane("CTDESPP00", "OTN-A"),
            (std::vector<std::string>{"A1:pending", "A2:queued", "A3:queued", "N1:queued", "A4:queued"}));
  EXPECT_EQ(lane("CTDESPP00", "OTN-B"), (std::vector<std::string>{"B0:pending", "B1:queued"}));
  EXPECT_EQ(lane("CT0093000", "OTN-A"), (std::vector<std::string>{"A4:pending"}));
}

// A restored or bulk-loaded database has tables with rows and no planner statistics; the hub
// analyzes them (at start and in `cjhub migrate`) and leaves empty and analyzed tables alone.
TEST_F(DbTest, TablesWithDataButNoStatisticsAreAnalyzed) {
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  const auto a = message("S1", "<s1/>"), b = message("S2", "<s2/>");
  {
    store::Transaction tx(*c);
    store::ingest_group(tx, {&a, &b});
    tx.commit();
  }
  const auto never_analyzed = [&](const std::string& table) {
    return db_->count("SELECT count(*) FROM pg_class WHERE relname = '" + table + "' AND reltuples < 0");
  };
  ASSERT_EQ(never_analyzed("messages"), 1);
  const auto analyzed = store::analyze_unanalyzed(*c);
  EXPECT_NE(std::find(analyzed.begin(), analyzed.end(), "messages"), analyzed.end());
  EXPECT_NE(std::find(analyzed.begin(), analyzed.end(), "audit_log"), analyzed.end());
  EXPECT_EQ(std::find(analyzed.begin(), analyzed.end(), "deliveries"), analyzed.end());  // empty
  EXPECT_EQ(never_analyzed("messages"), 0);
  EXPECT_EQ(db_->count("SELECT reltuples::bigint FROM pg_class WHERE relname = 'messages'"), 2);
  EXPECT_TRUE(store::analyze_unanalyzed(*c).empty());
}

TEST_F(DbTest, RunningDirectoryFollowsApplyWithoutRestart) {
  identity::Directory dir;
  identity::DirectoryRefresher refresher(dir, db_->url(), std::chrono::milliseconds(3000));
  refresher.start();
  identity::PeerCertificate cert;
  cert.present = true;
  cert.san_uris = {"urn:cjhub:ori:CT0093000"};
  EXPECT_EQ(dir.resolve(cert).result, identity::Resolution::unknown);

  auto file = two_agencies();
  file.agencies.push_back({"CT0093000", "New Haven Police Department", config::Role::agency,
                           {{config::IdentityKind::san_uri, "urn:cjhub:ori:CT0093000"}}, {"ArrestPacket"}, {}, {}});
  auto c = db_->connect();
  store::apply_agencies(*c, file);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (dir.resolve(cert).result != identity::Resolution::ok && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(dir.resolve(cert).result, identity::Resolution::ok);
  refresher.stop(std::chrono::steady_clock::now());
}

TEST_F(DbTest, InsertDetectsDuplicatesAndConflictsEvenInOneTransaction) {
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  const auto a = message("K1", "<a/>");
  const auto a_again = message("K1", "<a/>");
  const auto a_changed = message("K1", "<b/>");
  const auto other_sender = message("K1", "<a/>", "CTJUD0000");
  store::Transaction tx(*c);
  const auto r = store::insert_messages(tx, {&a, &a_again, &a_changed, &other_sender});
  tx.commit();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].status, store::InsertStatus::inserted);
  EXPECT_EQ(r[0].message_id, a.id.str());
  EXPECT_EQ(r[1].status, store::InsertStatus::duplicate);
  EXPECT_EQ(r[1].message_id, a.id.str());  // the first result, not a second message
  EXPECT_EQ(r[1].received_at, r[0].received_at);
  EXPECT_EQ(r[2].status, store::InsertStatus::conflict);
  EXPECT_EQ(r[2].message_id, a.id.str());
  EXPECT_EQ(r[3].status, store::InsertStatus::inserted);  // keys are per sender
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 2);
  const auto rec = store::find_message(*c, a.id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->body_size, 4);
  EXPECT_EQ(rec->body_sha256_hex, to_hex(sha256("<a/>")));
  EXPECT_EQ(rec->case_key, "OTN-K1");
  EXPECT_FALSE(store::find_message(*c, Uuid::v7()));
}

// The writer's transaction records every submission once, with its outcome: the messages a run
// stores are recorded by the run's own statement, the others (duplicates and conflicts, in the
// group or against a message committed before, and everything about an erased case) afterwards.
TEST_F(DbTest, AGroupRecordsEachSubmissionOnceWithItsOutcome) {
  auto c = store::connect(db_->url(), std::chrono::milliseconds(3000));
  const auto earlier = message("R0", "<earlier/>");
  ASSERT_EQ(store::store_group(*c, {&earlier}).results.at(0).status, store::InsertStatus::inserted);
  const auto a = message("R1", "<a/>");
  const auto a_again = message("R1", "<a/>");
  const auto a_changed = message("R1", "<changed/>");
  const auto earlier_again = message("R0", "<earlier/>");
  const auto earlier_changed = message("R0", "<changed/>");
  const auto b = message("R2", "<b/>", "CTJUD0000");
  auto erasure = message("R3", "<erase/>", "CTJUD0000");
  erasure.type = "ErasureNotice";
  erasure.case_key = "OTN-R9";
  erasure.erasure = true;
  auto after_erasure = message("R4", "<after/>");
  after_erasure.case_key = "OTN-R9";
  const auto g = store::store_group(
      *c, {&a, &a_again, &a_changed, &earlier_again, &earlier_changed, &b, &erasure, &after_erasure});
  ASSERT_EQ(g.results.size(), 8u);
  EXPECT_EQ(g.results[0].status, store::InsertStatus::inserted);
  EXPECT_EQ(g.results[1].status, store::InsertStatus::duplicate);
  EXPECT_EQ(g.results[2].status, store::InsertStatus::conflict);
  EXPECT_EQ(g.results[3].status, store::InsertStatus::duplicate);
  EXPECT_EQ(g.results[4].status, store::InsertStatus::conflict);
  EXPECT_EQ(g.results[5].status, store::InsertStatus::inserted);
  EXPECT_EQ(g.results[6].status, store::InsertStatus::inserted);
  EXPECT_EQ(g.results[7].status, store::InsertStatus::case_erased);
  const auto records = [&](const std::string& outcome, const std::string& object) {
    return db_->count("SELECT count(*) FROM audit_log WHERE action = 'submission' AND outcome = '" + outcome +
                      "' AND object " + (object.empty() ? "IS NULL" : "= 'message " + object + "'"));
  };
  EXPECT_EQ(records("accepted", earlier.id.str()), 1);
  EXPECT_EQ(records("accepted", a.id.str()), 1);
  EXPECT_EQ(records("duplicate", a.id.str()), 1);
  EXPECT_EQ(records("refused:idempotency-conflict", a.id.str()), 1);
  EXPECT_EQ(records("duplicate", earlier.id.str()), 1);
  EXPECT_EQ(records("refused:idempotency-conflict", earlier.id.str()), 1);
  EXPECT_EQ(records("accepted", b.id.str()), 1);
  EXPECT_EQ(records("accepted", erasure.id.str()), 1);
  EXPECT_EQ(records("refused:case-erased", ""), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'submission'"), 9);
  // Each record names its actor, agency and message type.
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'submission' AND object = 'message " +
                       b.id.str() + "' AND actor = 'CTJUD0000' AND ori = 'CTJUD0000' AND detail = 'ArrestPacket'"),
            1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'erasure' AND object = 'erasure " +
                       erasure.id.str() + "'"),
            1);
}

TEST_F(DbTest, GroupCommitStoresEverythingFromManyThreadsInFewerTransactions) {
  outbox::GroupCommitWriter writer(writer_settings(db_->url(), 3000, 64, 100000));
  writer.start();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  std::vector<std::thread> threads;
  std::atomic<int> stored{0}, other{0};
  std::vector<std::promise<void>> done(kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        writer.submit(message("G" + std::to_string(n), "<m n='" + std::to_string(n) + "'/>"),
                      [&, n](outbox::Result r) {
                        (r.outcome == outbox::Outcome::stored ? stored : other).fetch_add(1);
                        done[static_cast<std::size_t>(n)].set_value();
                      });
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& p : done) {
    ASSERT_EQ(p.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  }
  writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(stored.load(), kThreads * kPerThread);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), kThreads * kPerThread);
  // Grouping happened: fewer transactions than messages, and some group held several.
  EXPECT_LT(writer.stats().groups.load(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_GT(writer.stats().largest_group.load(), 1u);
  EXPECT_LE(writer.stats().largest_group.load(), 64u);
}

TEST_F(DbTest, WriterAnswersUnavailableWhenTheDatabaseIsUnreachable) {
  const auto waits = metrics::registry().ingest_queue_wait.count();
  const auto commits = metrics::registry().ingest_commit.count();
  outbox::GroupCommitWriter writer(writer_settings("postgresql://nobody@127.0.0.1:1/none", 500, 8, 10));
  writer.start();
  std::promise<outbox::Result> p;
  writer.submit(message("U1", "<u/>"), [&](outbox::Result r) { p.set_value(r); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().outcome, outbox::Outcome::unavailable);
  writer.stop(std::chrono::steady_clock::now());
  // Refused with no database: no transaction began, so neither histogram has a sample of it.
  EXPECT_EQ(metrics::registry().ingest_queue_wait.count(), waits);
  EXPECT_EQ(metrics::registry().ingest_commit.count(), commits);
}

TEST_F(DbTest, WriterRefusesWhenStoppedOrFull) {
  // Not started: shutting_down.
  {
    outbox::GroupCommitWriter writer(writer_settings(db_->url(), 3000, 8, 10));
    std::promise<outbox::Result> p;
    writer.submit(message("S1", "<s/>"), [&](outbox::Result r) { p.set_value(r); });
    EXPECT_EQ(p.get_future().get().outcome, outbox::Outcome::shutting_down);
  }
  // Full: the writer is held inside its transaction (the messages table locked by another
  // session), its queue of 10 fills, the 11th submission is refused at once as overloaded, and
  // nothing queued before it is lost once the lock goes.
  outbox::GroupCommitWriter writer(writer_settings(db_->url(), 3000, 1, 10));
  writer.start();
  auto blocker = db_->connect();
  store::Transaction hold(*blocker);
  hold.exec0("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE");
  std::mutex m;
  std::map<std::string, outbox::Outcome> outcomes;
  auto submit = [&](const std::string& key) {
    // Two agencies, so that neither passes its share of the queue (half of it) before it is full.
    const std::string sender = std::stoi(key.substr(1)) % 2 == 0 ? "CT0064000" : "CTJUD0000";
    writer.submit(message(key, "<f/>", sender), [&, key](outbox::Result r) {
      std::lock_guard lock(m);
      outcomes[key] = r.outcome;
    });
  };
  submit("F0");  // taken by the writer, which then waits for the lock
  wait_for_a_lock_wait();
  for (int i = 1; i <= 10; ++i) submit("F" + std::to_string(i));  // the queue's capacity
  submit("F11");
  {
    std::lock_guard lock(m);
    ASSERT_EQ(outcomes.count("F11"), 1u) << "a full queue answers at once";
    EXPECT_EQ(outcomes["F11"], outbox::Outcome::overloaded);
    EXPECT_EQ(outcomes.size(), 1u) << "nothing else is answered while the writer is held";
  }
  hold.abort();
  writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  std::lock_guard lock(m);
  for (int i = 0; i <= 10; ++i) EXPECT_EQ(outcomes["F" + std::to_string(i)], outbox::Outcome::stored) << i;
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 11);
}

// One agency flooding fills only its share of the queue (half, by default): the others' messages
// still find room.
TEST_F(DbTest, AnAgencyMayHoldOnlyItsShareOfTheQueue) {
  outbox::GroupCommitWriter writer(writer_settings(db_->url(), 3000, 1, 10));
  writer.start();
  auto blocker = db_->connect();
  store::Transaction hold(*blocker);
  hold.exec0("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE");
  std::mutex m;
  std::map<std::string, outbox::Outcome> outcomes;
  auto submit = [&](const std::string& key, const std::string& sender) {
    writer.submit(message(key, "<f/>", sender), [&, key](outbox::Result r) {
      std::lock_guard lock(m);
      outcomes[key] = r.outcome;
    });
  };
  submit("A0", "CT0064000");  // taken by the writer, which then waits for the lock
  wait_for_a_lock_wait();
  for (int i = 1; i <= 8; ++i) submit("A" + std::to_string(i), "CT0064000");  // a flood
  for (int i = 1; i <= 5; ++i) submit("B" + std::to_string(i), "CTJUD0000");  // a steady agency
  {
    std::lock_guard lock(m);
    for (int i = 6; i <= 8; ++i) {
      EXPECT_EQ(outcomes["A" + std::to_string(i)], outbox::Outcome::overloaded) << "past its share: A" << i;
    }
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(outcomes.count("B" + std::to_string(i)), 0u) << "B" << i << " queued";
  }
  hold.abort();
  writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  std::lock_guard lock(m);
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(outcomes["A" + std::to_string(i)], outbox::Outcome::stored) << i;
    EXPECT_EQ(outcomes["B" + std::to_string(i)], outbox::Outcome::stored) << i;
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 11);
}

// A COMMIT that takes longer than statement_timeout (here a deferred trigger standing in for a
// wait on a synchronous standby) must not be cut short: the 202 it becomes must be true.
TEST_F(DbTest, TheWritersCommitIsNotCutShortByTheStatementTimeout) {
  slow_commits("0.6");
  auto settings = writer_settings(db_->url(), 3000, 8, 10);
  settings.statement_timeout = std::chrono::milliseconds(200);
  outbox::GroupCommitWriter writer(settings);
  writer.start();
  std::promise<outbox::Result> p;
  writer.submit(message("SLOW", "<slow/>"), [&](outbox::Result r) { p.set_value(r); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().outcome, outbox::Outcome::stored);
  writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE idempotency_key = 'SLOW'"), 1);
}

// A COMMIT that waits longer than answer_within (here a deferred trigger standing in for a lost
// synchronous standby under strict synchronous mode) is answered outcome-unknown once, at that
// time; the commit goes on, and a retry with the same key then finds the message stored.
TEST_F(DbTest, ACommitThatOutlastsItsAnswerTimeIsAnsweredOutcomeUnknownAndGoesOn) {
  slow_commits("2");
  auto settings = writer_settings(db_->url(), 3000, 8, 10);
  settings.answer_within = std::chrono::milliseconds(400);
  outbox::GroupCommitWriter writer(settings);
  writer.start();
  std::atomic<int> answers{0};
  std::promise<outbox::Result> p;
  const auto sent = std::chrono::steady_clock::now();
  writer.submit(message("STALL", "<stall/>"), [&](outbox::Result r) {
    if (answers.fetch_add(1) == 0) p.set_value(r);
  });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const auto waited = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(f.get().outcome, outbox::Outcome::outcome_unknown);
  EXPECT_GE(waited, std::chrono::milliseconds(400));
  EXPECT_LT(waited, std::chrono::milliseconds(1800)) << "answered at its time, not when the commit returned";
  // The commit returns later: stored, and answered nothing more.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (db_->count("SELECT count(*) FROM messages WHERE idempotency_key = 'STALL'") == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(db_->count("SELECT count(*) FROM messages WHERE idempotency_key = 'STALL'"), 1);
  // The retry finds it (a duplicate of the same body: the original 202).
  std::promise<outbox::Result> again;
  writer.submit(message("STALL", "<stall/>"), [&](outbox::Result r) { again.set_value(r); });
  auto g = again.get_future();
  ASSERT_EQ(g.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(g.get().outcome, outbox::Outcome::duplicate);
  writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(answers.load(), 1) << "the first submission is answered exactly once";
  EXPECT_EQ(writer.stats().answered_before_commit.load(), 1u);
}

TEST_F(DbTest, StopCommitsWhatWasQueued) {
  outbox::GroupCommitWriter writer(writer_settings(db_->url(), 3000, 16, 10000));
  writer.start();
  std::atomic<int> stored{0};
  for (int i = 0; i < 300; ++i) {
    writer.submit(message("D" + std::to_string(i), "<d/>"), [&](outbox::Result r) {
      if (r.outcome == outbox::Outcome::stored) stored.fetch_add(1);
    });
  }
  writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(stored.load(), 300);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 300);
}

}  // namespace
}  // namespace cjhub
