// Database tier: retention removes only what nothing needs any more.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "cjhub/common/time.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/retention_repo.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::TestDatabase;

class RetentionDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    conn_ = store::connect(db_->url(), std::chrono::milliseconds(3000));
    store::apply_agencies(*conn_, config::parse_agencies(
        "agencies:\n"
        "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n    publish: [ArrestPacket]\n"
        "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
        "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket]}]\n"
        "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:c'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
        "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket], ack_required: true}]\n",
        {"ArrestPacket"}));
  }
  // A message received `days_ago`, routed to both agencies.
  std::string store_message(const std::string& key, int days_ago) {
    store::NewMessage m;
    m.id = Uuid::v7();
    m.type = "ArrestPacket";
    m.sender_ori = "CT0064000";
    m.idempotency_key = key;
    m.document_id = key;
    m.case_key = "OTN-" + key;
    m.origin_ori = "CT0064000";
    m.body = "<arrest>" + key + "</arrest>";
    m.body_sha256 = sha256(m.body);
    m.received_at = now_utc() - std::chrono::hours(24 * days_ago);
    store::Transaction tx(*conn_);
    store::ingest_group(tx, {&m});
    tx.commit();
    return m.id.str();
  }
  void sql(const std::string& q) {
    store::Transaction tx(*conn_);
    tx.exec0(q);
    tx.commit();
  }
  bool has_body(const std::string& id) {
    return db_->count("SELECT count(*) FROM messages WHERE id = '" + id + "' AND body IS NOT NULL") == 1;
  }
  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
};

TEST_F(RetentionDb, PayloadsGoOnlyWhenEveryRecipientHasThemAndHasAcknowledgedWhereRequired) {
  const auto done = store_message("done", 40);        // delivered to DESPP, acknowledged by DCJ
  const auto owed = store_message("owed", 40);        // DCJ has it but has not acknowledged
  const auto pending = store_message("pending", 40);  // DESPP has not received it yet
  const auto dead = store_message("dead", 40);        // a dead letter may be replayed
  const auto young = store_message("young", 2);       // too recent
  // DESPP takes them on the log: its cursor has finished done, owed and young, not pending; dead
  // left the log as a dead letter (a row).
  const auto seq = [&](const std::string& id) { return "(SELECT seq FROM messages WHERE id = '" + id + "')"; };
  sql("UPDATE endpoint_cursors k SET position = " + seq(owed) + ", done = ARRAY[" + seq(young) + "] "
      "FROM endpoints e WHERE e.id = k.endpoint_id AND e.ori = 'CTDESPP00'");
  sql("INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, "
      "ack_required, attempts, next_attempt_at, expires_at) SELECT cjhub_log_delivery_id(e.id, m.seq), m.id, s.id, "
      "e.id, e.ori, m.case_key, m.seq, 'dead', false, 1, now(), now() FROM messages m, endpoints e "
      "JOIN subscriptions s ON s.endpoint_id = e.id WHERE m.id = '" + dead + "' AND e.ori = 'CTDESPP00'");
  sql("UPDATE deliveries SET state = 'acknowledged', ack_status = 'completed', attempts = 1 "
      "WHERE recipient_ori = 'CTDCJ0000'");
  sql("UPDATE deliveries SET state = 'delivered' WHERE recipient_ori = 'CTDCJ0000' AND message_id = '" + owed + "'");
  const auto cutoff = rfc3339(now_utc() - std::chrono::hours(24 * 30));
  EXPECT_EQ(store::purge_payloads(*conn_, cutoff, 1000), 1u);
  EXPECT_FALSE(has_body(done));
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + done + "' AND purged_at IS NOT NULL "
                       "AND body_sha256 IS NOT NULL"), 1);
  EXPECT_TRUE(has_body(owed));
  EXPECT_TRUE(has_body(pending));
  EXPECT_TRUE(has_body(dead));
  EXPECT_TRUE(has_body(young));
  // Once DCJ acknowledges, that payload goes too; a second pass finds nothing else.
  sql("UPDATE deliveries SET state = 'acknowledged', ack_status = 'completed' WHERE message_id = '" + owed + "'");
  EXPECT_EQ(store::purge_payloads(*conn_, cutoff, 1000), 1u);
  EXPECT_FALSE(has_body(owed));
  EXPECT_EQ(store::purge_payloads(*conn_, cutoff, 1000), 0u);
}

TEST_F(RetentionDb, FinishedDeliveriesArePrunedInBatchesButLedgersAndDeadLettersStay) {
  // Both agencies owe acknowledgements here, so every delivery is a row.
  store::apply_agencies(*conn_, config::parse_agencies(
      "agencies:\n"
      "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n    publish: [ArrestPacket]\n"
      "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket], ack_required: true}]\n"
      "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:c'}]\n"
      "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n"
      "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket], ack_required: true}]\n",
      {"ArrestPacket"}));
  for (int i = 0; i < 7; ++i) store_message("m" + std::to_string(i), 1);
  // 14 deliveries: make 10 finished, 2 dead, 2 erasure deliveries (the ledger).
  sql("UPDATE deliveries SET state = 'delivered', attempts = 1");
  sql("UPDATE deliveries SET state = 'dead' WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 2)");
  sql("INSERT INTO erasures (id, case_key, scope, requested_by, received_at, deadline_at, follow_up_at, "
      "redacted_messages, suppressed_deliveries) SELECT message_id, case_key, 'case', 'CT0064000', now(), now(), now(), 0, 0 "
      "FROM deliveries WHERE id IN (SELECT id FROM deliveries ORDER BY id DESC LIMIT 1)");
  sql("UPDATE deliveries SET erasure_id = message_id WHERE message_id IN (SELECT id FROM erasures)");
  ASSERT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE erasure_id IS NOT NULL"), 2);
  // Everything counts as old with a cut-off in the future.
  const auto cutoff = rfc3339(now_utc() + std::chrono::hours(24));
  std::size_t removed = 0, rounds = 0;
  for (store::PruneResult r{1, 0}; r.scanned > 0; ++rounds) {
    r = store::prune_deliveries(*conn_, cutoff, 5);
    removed += r.removed;
  }
  EXPECT_EQ(removed, 10u);
  EXPECT_EQ(rounds, 4u);  // 5 + 5 + 4 scanned, then nothing
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries"), 4);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE state = 'dead'"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE erasure_id IS NOT NULL"), 2);
  // Nothing older than a cut-off in the past.
  EXPECT_EQ(store::prune_deliveries(*conn_, rfc3339(now_utc() - std::chrono::hours(24)), 5).scanned, 0u);
}

TEST_F(RetentionDb, TheLogsAttemptRecordsArePrunedByAgeInBatches) {
  const auto endpoint = db_->count("SELECT min(id) FROM endpoints");
  ASSERT_GT(endpoint, 0);
  const auto e = std::to_string(endpoint);
  for (int i = 0; i < 7; ++i) {
    sql("INSERT INTO log_answers (endpoint_id, recorded_at, seqs, attempt_at, statuses, took_ms) VALUES (" + e +
        ", now() - interval '40 days', ARRAY[" + std::to_string(i) + "]::bigint[], ARRAY[now()], ARRAY[200], ARRAY[3])");
  }
  sql("INSERT INTO log_answers (endpoint_id, seqs, attempt_at, statuses, took_ms) VALUES (" + e +
      ", ARRAY[99]::bigint[], ARRAY[now()], ARRAY[200], ARRAY[3])");
  // An old round that answered entries after the cursor (it never moved past them since): what says
  // they are finished, so it stays; one whose entries the cursor passed goes.
  const auto position = db_->count("SELECT position FROM endpoint_cursors WHERE endpoint_id = " + e);
  for (const auto last : {position + 5, position}) {
    sql("INSERT INTO log_answers (endpoint_id, recorded_at, seqs, attempt_at, statuses, took_ms, last_seq) VALUES (" +
        e + ", now() - interval '40 days', ARRAY[" + std::to_string(last) + "]::bigint[], ARRAY[now()], ARRAY[200], "
        "ARRAY[3], " + std::to_string(last) + ")");
  }
  const auto cutoff = rfc3339(now_utc() - std::chrono::hours(24 * 30));
  EXPECT_EQ(store::prune_log_answers(*conn_, cutoff, 5), 5u);
  EXPECT_EQ(store::prune_log_answers(*conn_, cutoff, 5), 3u);
  EXPECT_EQ(store::prune_log_answers(*conn_, cutoff, 5), 0u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM log_answers"), 2) << "the young round stays, and the one after the cursor";
  EXPECT_EQ(db_->count("SELECT count(*) FROM log_answers WHERE last_seq = " + std::to_string(position + 5)), 1);
}

TEST_F(RetentionDb, OneHubAtATime) {
  auto other = store::connect(db_->url(), std::chrono::milliseconds(3000));
  EXPECT_TRUE(store::try_retention_lock(*conn_));
  EXPECT_FALSE(store::try_retention_lock(*other));
  store::retention_unlock(*conn_);
  EXPECT_TRUE(store::try_retention_lock(*other));
  store::retention_unlock(*other);
}

}  // namespace
}  // namespace cjhub
