// Database tier: the audit trail's hash chain against a real PostgreSQL: sealing, verification,
// and detection of altered and deleted records; retention keeps the chain verifiable.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

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
