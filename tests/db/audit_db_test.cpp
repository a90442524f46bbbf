// Database tier: the audit trail's hash chain against a real PostgreSQL: sealing, verification,
// and detection of altered and deleted records; retention keeps the chain verifiable.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "cjhub/audit/audit_log.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/database.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::TestDatabase;

class AuditDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    conn_ = store::connect(db_->url(), std::chrono::milliseconds(3000));
  }
  void record(int n, const std::string& action = "submission") {
    std::vector<store::AuditEvent> events;
    for (int i = 0; i < n; ++i) {
      events.push_back({"urn:cjhub:ori:CT0064000", "CT0064000", action, "accepted",
                        "message " + std::to_string(i), "127.0.0.1:1", "ArrestPacket"});
    }
    store::record_audit(*conn_, events);
  }
  void sql(const std::string& q) {
    pqxx::work tx(*conn_);
    tx.exec0(q);
    tx.commit();
  }
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(AuditDb, SealedRecordsVerify) {
  record(25);
  EXPECT_EQ(store::seal_audit(*conn_, 10), 10u);
  EXPECT_EQ(store::seal_audit(*conn_, 100), 15u);
  EXPECT_EQ(store::seal_audit(*conn_, 100), 0u);
  record(5, "delivery");
  EXPECT_EQ(store::seal_audit(*conn_, 100), 5u);
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.records, 30);
  EXPECT_EQ(v.first_seq, 1);
  EXPECT_EQ(v.last_seq, 30);
  EXPECT_EQ(v.head_hash, db_->scalar("SELECT encode(hash, 'hex') FROM audit_log WHERE chain_seq = 30"));
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE chain_seq IS NULL"), 0);
}

TEST_F(AuditDb, AnAlteredRecordIsNamed) {
  record(10);
  store::seal_audit(*conn_, 100);
  const auto id = db_->scalar("SELECT id FROM audit_log WHERE chain_seq = 4");
  sql("UPDATE audit_log SET outcome = 'refused:forbidden' WHERE chain_seq = 4");
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("record " + id + " (chain position 4) was altered"), std::string::npos)
      << v.problems[0];
}

TEST_F(AuditDb, ARecordAlteredWithItsHashBreaksTheNextLink) {
  record(10);
  store::seal_audit(*conn_, 100);
  // Rewriting the record and its own hash still leaves the next record pointing at the old hash.
  sql("UPDATE audit_log SET detail = 'CaseUpdate', hash = sha256(hash) WHERE chain_seq = 6");
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  std::string all;
  for (const auto& p : v.problems) all += p + "\n";
  EXPECT_NE(all.find("(chain position 6) was altered"), std::string::npos) << all;
  EXPECT_NE(all.find("(chain position 7) does not link"), std::string::npos) << all;
}

TEST_F(AuditDb, ADeletedRecordIsNamed) {
  record(10);
  store::seal_audit(*conn_, 100);
  const auto next = db_->scalar("SELECT id FROM audit_log WHERE chain_seq = 6");
  sql("DELETE FROM audit_log WHERE chain_seq = 5");
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].find("chain positions 5 to 5 are missing (deleted) before record " + next),
            std::string::npos)
      << v.problems[0];
  // The first record too.
  sql("DELETE FROM audit_log WHERE chain_seq = 1");
  const auto w = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_NE(w.problems.at(0).find("chain positions 1 to 1 are missing"), std::string::npos) << w.problems[0];
}

TEST_F(AuditDb, RetentionRemovesOldRecordsAndTheChainStillVerifies) {
  record(6);
  sql("UPDATE audit_log SET at = now() - interval '500 days' WHERE id IN (SELECT id FROM audit_log ORDER BY id LIMIT 4)");
  store::seal_audit(*conn_, 100);
  const auto cutoff = db_->scalar("SELECT (now() - interval '400 days')::text");
  EXPECT_EQ(store::prune_audit(*conn_, cutoff), 4u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_anchor WHERE chain_seq = 4"), 1);
  // The pruning is itself recorded, and sealed after the rest.
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'audit' AND outcome = 'pruned'"), 1);
  store::seal_audit(*conn_, 100);
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.first_seq, 5);
  EXPECT_EQ(v.records, 3);
  // Nothing more to remove; and deleting the first record kept is still caught.
  EXPECT_EQ(store::prune_audit(*conn_, cutoff), 0u);
  sql("DELETE FROM audit_log WHERE chain_seq = 5");
  EXPECT_FALSE(store::verify_audit(*conn_, std::chrono::seconds(60)).ok());
}

TEST_F(AuditDb, UnsealedRecordsPastTheGraceAreCounted) {
  record(3);
  sql("UPDATE audit_log SET at = now() - interval '10 minutes'");
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, 0);
  EXPECT_EQ(v.unsealed_stale, 3);
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

class AuditLogDb : public AuditDb {
 protected:
  audit::Settings settings() {
    audit::Settings s;
    s.db_url = db_->url();
    s.flush_interval = std::chrono::milliseconds(20);
    s.seal_interval = std::chrono::milliseconds(50);
    return s;
  }
};

TEST_F(AuditLogDb, EveryFieldIsCappedAndValidUtf8) {
  audit::AuditLog log(settings());
  log.start();
  const std::string path(16 * 1024, '/');
  log.record({"CN=" + std::string(4000, 'x'), "CT0064000", "authorization", "refused:not-found",
              "GET " + path, "10.0.0.1:1234", std::string("bad \xff\xfe bytes ") + std::string(2000, 'd')});
  log.stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  ASSERT_EQ(db_->count("SELECT count(*) FROM audit_log"), 1);
  EXPECT_LE(db_->count("SELECT octet_length(object) FROM audit_log"), 512);
  EXPECT_LE(db_->count("SELECT octet_length(actor) FROM audit_log"), 256);
  EXPECT_LE(db_->count("SELECT octet_length(detail) FROM audit_log"), 500);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE detail LIKE 'bad \uFFFD\uFFFD bytes %' "
                       "AND object LIKE '%...'"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE chain_seq IS NOT NULL"), 1) << "sealed";
}

TEST_F(AuditLogDb, AFloodOfRefusalsIsAggregatedAndNeverCrowdsOutAStateChange) {
  auto s = settings();
  s.queue_capacity = 50;  // small: a flood that shared the queue would crowd the admin events out
  audit::AuditLog log(s);
  log.start();
  for (int i = 0; i < 60000; ++i) {
    log.record({"urn:cjhub:ori:CT0064000", "CT0064000", "submission", "refused:malformed-xml", "",
                "10.0.0.1:" + std::to_string(1024 + i % 60000), ""});
    if (i % 2000 == 0) {
      log.record({"cli:ops", "CTDCJ0000", "admin", "paused", "endpoint CTDCJ0000/main", "local",
                  "flood " + std::to_string(i)});
    }
    if (i % 10000 == 0) {  // another peer, another reason: itemised too
      log.record({"urn:cjhub:ori:CTDESPP00", "CTDESPP00", "authorization", "refused:forbidden", "GET /metrics",
                  "10.0.0.2:4000", "operators only"});
    }
  }
  log.stop(std::chrono::steady_clock::now() + std::chrono::seconds(20));
  EXPECT_EQ(log.stats().dropped.load(), 0u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'admin'"), 30) << "every state change kept";
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE outcome = 'refused:malformed-xml'"), 2)
      << "the first refusal itemised, the others in one summary";
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE outcome = 'refused:malformed-xml' "
                       "AND source = '10.0.0.1' AND detail LIKE '59999 more refusal(s) like this from 10.0.0.1 %'"),
            1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE outcome = 'refused:forbidden'"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE detail LIKE '5 more refusal(s)%from 10.0.0.2%'"), 1);
  EXPECT_EQ(log.stats().aggregated.load(), 59999u + 5u);
  EXPECT_LT(db_->count("SELECT count(*) FROM audit_log"), 40) << "60,000 refusals do not make 60,000 records";
}

TEST_F(AuditLogDb, DistinctRefusalsBeyondTheCapAreCountedInOneRecord) {
  auto s = settings();
  s.max_refusal_keys = 100;
  audit::AuditLog log(s);
  log.start();
  for (int i = 0; i < 1000; ++i) {
    log.record({"(no certificate)", "", "connection", "refused:tls", "", "10.1." + std::to_string(i / 250) + "." +
                std::to_string(i % 250) + ":443", "handshake failed"});
  }
  log.stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE outcome = 'refused:tls'"), 100);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE outcome = 'refusals-not-itemised' "
                       "AND detail LIKE '900 refusal(s) beyond 100 distinct%'"), 1);
}

}  // namespace
}  // namespace cjhub
