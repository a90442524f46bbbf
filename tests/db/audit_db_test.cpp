// Database tier: the audit trail's hash chain against a real PostgreSQL: sealing in blocks of whole
// transactions (records never updated), verification, and detection of altered, deleted and
// added records; retention keeps the chain verifiable; a trail sealed record by record before
// blocks keeps verifying.
#include <gtest/gtest.h>

#include <thread>

#include <pqxx/pqxx>

#include "cjhub/audit/audit_log.hpp"
#include "cjhub/store/audit_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
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
  // `n` records in one transaction (or, with `each_alone`, one transaction each).
  void record(int n, const std::string& action = "submission", bool each_alone = false) {
    std::vector<store::AuditEvent> events;
    for (int i = 0; i < n; ++i) {
      events.push_back({"urn:cjhub:ori:CT0064000", "CT0064000", action, "accepted",
                        "message " + std::to_string(i), "127.0.0.1:1", "ArrestPacket"});
      if (each_alone) {
        store::record_audit(*conn_, events);
        events.clear();
      }
    }
    store::record_audit(*conn_, events);
  }
  // Sealing takes only the records of transactions below the cluster's snapshot horizon, which any
  // transaction of the cluster, in any database, holds back while it runs. Waits (at most 60 s)
  // until every record written so far is below the horizon as the sealing connection sees it.
  bool horizon_passed() {
    for (int i = 0; i < 1200; ++i) {
      {
        store::Transaction tx(*conn_);
        if (tx.exec1("SELECT coalesce(pg_snapshot_xmin(pg_current_snapshot()) > (SELECT max(xid) FROM audit_log), true)")[0]
                .as<bool>()) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Seals once every record written so far can be (see horizon_passed).
  std::size_t seal(std::size_t max_rows) {
    EXPECT_TRUE(horizon_passed()) << "the cluster's snapshot horizon stayed below the records for 60 s; "
                                  << horizon_holders();
    return store::seal_audit(*conn_, max_rows);
  }
  // The transactions that hold the horizon back: their database, application, age and statement.
  std::string horizon_holders() {
    return "held by " + db_->scalar("SELECT coalesce(string_agg(format('%s in %s (%s, %s old): %s', backend_xid, datname, "
                                    "application_name, now() - xact_start, left(query, 120)), '; ' ORDER BY "
                                    "age(backend_xid) DESC), 'nothing now') FROM pg_stat_activity WHERE backend_xid IS "
                                    "NOT NULL AND pid <> pg_backend_pid()");
  }
  // What sealing saw, for a failure's message: the horizon, the blocks' bounds, the records' ids.
  std::string seal_context() {
    return "horizon " + db_->scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text") + "; blocks end at " +
           db_->scalar("SELECT string_agg(xid_to::text, ',' ORDER BY block_seq) FROM audit_blocks") +
           "; record transactions " + db_->scalar("SELECT string_agg(xid::text, ',' ORDER BY xid, id) FROM audit_log") +
           "; " + horizon_holders();
  }
  // The id of the record at a chain position (from the block that lists it).
  std::string id_at(int pos) {
    return db_->scalar("SELECT ids[" + std::to_string(pos) + " - first_pos + 1] FROM audit_blocks WHERE first_pos <= " +
                       std::to_string(pos) + " ORDER BY block_seq DESC LIMIT 1");
  }
  long long unsealed() {
    return db_->count("SELECT count(*) FROM audit_log a WHERE NOT EXISTS "
                      "(SELECT 1 FROM audit_blocks b WHERE a.id = ANY (b.ids))");
  }
  void sql(const std::string& q) {
    store::Transaction tx(*conn_);
    tx.exec0(q);
    tx.commit();
  }
  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
};

TEST_F(AuditDb, SealedRecordsVerify) {
  record(25, "submission", true);
  EXPECT_EQ(seal(10), 10u);
  EXPECT_EQ(seal(100), 15u);
  EXPECT_EQ(seal(100), 0u);
  record(5, "delivery");
  EXPECT_EQ(seal(100), 5u);
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.records, 30);
  EXPECT_EQ(v.first_seq, 1);
  EXPECT_EQ(v.last_seq, 30);
  EXPECT_EQ(v.head_hash, db_->scalar("SELECT encode(hash, 'hex') FROM audit_blocks ORDER BY block_seq DESC LIMIT 1"));
  EXPECT_EQ(unsealed(), 0);
  // Sealing wrote three blocks and left the records as they were written.
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_blocks"), 3);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE chain_seq IS NOT NULL OR hash IS NOT NULL"), 0);
  // The export gives each record its chain position and its hash, from its block.
  long long expected_pos = 0;
  store::export_audit(*conn_, std::nullopt, std::nullopt, [&](const store::AuditRow& r) {
    ++expected_pos;
    EXPECT_EQ(r.chain_seq.value_or(-1), expected_pos) << "record " << r.id;
    EXPECT_EQ(r.hash, db_->scalar("SELECT encode(hashes[" + std::to_string(expected_pos) +
                                  " - first_pos + 1], 'hex') FROM audit_blocks WHERE first_pos <= " +
                                  std::to_string(expected_pos) + " ORDER BY block_seq DESC LIMIT 1"));
  });
  EXPECT_EQ(expected_pos, 30);
}

// A block holds whole transactions: one transaction with more records than a block's size is
// sealed whole, and the records of a transaction still running wait for the next block.
TEST_F(AuditDb, ABlockHoldsWholeTransactionsAndWaitsForTheOnesStillRunning) {
  record(3, "submission", true);
  record(12);  // one transaction
  EXPECT_EQ(seal(5), 3u) << "the three single ones; the next transaction does not fit";
  EXPECT_EQ(seal(5), 12u) << "a transaction larger than a block, whole";
  auto other = store::connect(db_->url(), std::chrono::milliseconds(3000));
  store::Transaction open(*other);
  store::insert_audit(open, {{"hub", "", "delivery", "delivered", "d1", "", ""}});
  record(2, "submission", true);  // committed after the open transaction began
  EXPECT_EQ(store::seal_audit(*conn_, 100), 0u) << "nothing after a transaction still running is sealed";
  open.commit();
  EXPECT_EQ(seal(100), 3u);
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.records, 18);
  EXPECT_EQ(unsealed(), 0);
}

// Blocks follow the transactions' ids as numbers where their digits change (9 to 10, 99 to 100):
// as text, "10" sorts before "9", and a block cut there would leave records out of every block.
// The ids are given (the cluster's own cannot be steered to such a crossing); all lie below the
// horizon, so every record is sealable.
TEST_F(AuditDb, BlocksFollowTransactionIdsAsNumbersWhereTheirDigitsChange) {
  const std::vector<int> xids{8, 9, 10, 11, 12, 98, 99, 99, 100, 101};  // 99: one transaction, two records
  for (int x : xids) {
    sql("INSERT INTO audit_log (actor, ori, action, outcome, object, xid) VALUES ('urn:cjhub:ori:CT0064000', "
        "'CT0064000', 'submission', 'accepted', 'message " + std::to_string(x) + "', '" + std::to_string(x) + "')");
  }
  EXPECT_EQ(seal(4), 4u) << seal_context();  // 8 to 11
  EXPECT_EQ(seal(4), 4u) << seal_context();  // 12, 98 and the two of 99
  EXPECT_EQ(seal(4), 2u) << seal_context();  // 100 and 101
  EXPECT_EQ(seal(4), 0u);
  EXPECT_EQ(db_->scalar("SELECT string_agg(xid_to::text, ',' ORDER BY block_seq) FROM audit_blocks WHERE block_seq < 3"),
            "12,100");
  EXPECT_EQ(unsealed(), 0) << seal_context();
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_blocks b, unnest(b.ids) i"), 10) << "each record in one block";
  // Chain positions follow the transactions' ids.
  EXPECT_EQ(db_->scalar("SELECT string_agg(a.xid::text, ',' ORDER BY b.first_pos + p.o - 1) FROM audit_blocks b, "
                        "unnest(b.ids) WITH ORDINALITY p(id, o) JOIN audit_log a ON a.id = p.id"),
            "8,9,10,11,12,98,99,99,100,101");
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.records, 10);
  // A record whose transaction lies outside the range of the block that lists it is named.
  const auto moved = db_->scalar("SELECT id FROM audit_log WHERE xid = '8'");
  sql("UPDATE audit_log SET xid = '100' WHERE id = " + moved);
  const auto after = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.problems[0].find("record " + moved + " is in block 1, which sealed the transactions from 0 up to 12 "
                                   "(not included), but its transaction is 100"),
            std::string::npos)
      << after.problems[0];
}

// A record inserted afterwards among the transactions a block sealed is named.
TEST_F(AuditDb, ARecordAddedAfterItsTransactionsWereSealedIsNamed) {
  record(4, "submission", true);
  seal(100);
  const auto xid = db_->scalar("SELECT min(xid)::text FROM audit_log");
  sql("INSERT INTO audit_log (actor, action, outcome, xid) VALUES ('forger', 'admin', 'paused', '" + xid + "')");
  const auto forged = db_->scalar("SELECT id FROM audit_log WHERE actor = 'forger'");
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].find("record " + forged + " is not in block 1, which sealed its transaction"),
            std::string::npos)
      << v.problems[0];
}

TEST_F(AuditDb, AnAlteredRecordIsNamed) {
  record(10);
  seal(100);
  const auto id = id_at(4);
  sql("UPDATE audit_log SET outcome = 'refused:forbidden' WHERE id = " + id);
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("record " + id + " (chain position 4) was altered"), std::string::npos)
      << v.problems[0];
}

TEST_F(AuditDb, ARecordAlteredWithItsHashBreaksTheBlockAndTheNextLink) {
  record(10, "submission", true);
  seal(5);
  seal(5);
  // Rewriting the record and its hash in the block still leaves the block's own hash, and the
  // next block's link, pointing at the old content.
  const auto id = id_at(3);
  sql("UPDATE audit_log SET detail = 'CaseUpdate' WHERE id = " + id);
  sql("UPDATE audit_blocks SET hashes[3] = sha256(hashes[3]) WHERE block_seq = 1");
  auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  std::string all;
  for (const auto& p : v.problems) all += p + "\n";
  EXPECT_NE(all.find("record " + id + " (chain position 3) was altered"), std::string::npos) << all;
  EXPECT_NE(all.find("block 1 was altered"), std::string::npos) << all;
  // The block's hash rewritten too: the next block no longer links to it.
  sql("UPDATE audit_blocks SET hash = sha256(hash) WHERE block_seq = 1");
  v = store::verify_audit(*conn_, std::chrono::seconds(60));
  all.clear();
  for (const auto& p : v.problems) all += p + "\n";
  EXPECT_NE(all.find("block 2 does not link to the block before it"), std::string::npos) << all;
}

TEST_F(AuditDb, ADeletedRecordIsNamed) {
  record(10);
  seal(100);
  const auto next = id_at(6);
  sql("DELETE FROM audit_log WHERE id = " + id_at(5));
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].find("chain positions 5 to 5 are missing (deleted) before record " + next),
            std::string::npos)
      << v.problems[0];
  // The first record too.
  sql("DELETE FROM audit_log WHERE id = " + id_at(1));
  const auto w = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_NE(w.problems.at(0).find("chain positions 1 to 1 are missing"), std::string::npos) << w.problems[0];
}

TEST_F(AuditDb, RetentionRemovesOldRecordsAndTheChainStillVerifies) {
  record(6, "submission", true);
  sql("UPDATE audit_log SET at = now() - interval '500 days' WHERE id IN (SELECT id FROM audit_log ORDER BY id LIMIT 4)");
  seal(2);
  seal(2);
  seal(2);
  const auto cutoff = db_->scalar("SELECT (now() - interval '400 days')::text");
  EXPECT_EQ(store::prune_audit(*conn_, cutoff), 4u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_block_anchor WHERE block_seq = 2 AND next_pos = 5"), 1);
  // The pruning is itself recorded, and sealed after the rest.
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'audit' AND outcome = 'pruned'"), 1);
  seal(100);
  const auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.first_seq, 5);
  EXPECT_EQ(v.records, 3);
  // Nothing more to remove; and deleting the first record kept is still caught.
  EXPECT_EQ(store::prune_audit(*conn_, cutoff), 0u);
  sql("DELETE FROM audit_log WHERE id = " + id_at(5));
  EXPECT_FALSE(store::verify_audit(*conn_, std::chrono::seconds(60)).ok());
}

// A trail sealed record by record before blocks (migration 0012) keeps verifying: its chain, then
// the blocks linked to its head; its unsealed records go into the first block; an alteration in
// the old part is still named.
TEST_F(AuditDb, ATrailSealedBeforeBlocksKeepsVerifyingAndTheFirstBlockLinksToIt) {
  record(5);
  // As migration 0009's sealer left them: chain positions 1 to 3 sealed one by one, 4 and 5 not,
  // no transaction ids.
  sql("UPDATE audit_log SET xid = NULL");
  std::string prev(64, '0');
  for (int pos = 1; pos <= 3; ++pos) {
    store::AuditRecord r;
    {
      store::Transaction tx(*conn_);
      const auto row = tx.exec1("SELECT id, (extract(epoch FROM at) * 1000000)::bigint, actor, ori, action, outcome, "
                                "object, source, detail FROM audit_log ORDER BY id OFFSET " + std::to_string(pos - 1) +
                                " LIMIT 1");
      const auto opt = [](const pqxx::field& f) {
        return f.is_null() ? std::nullopt : std::optional<std::string>(f.as<std::string>());
      };
      r.id = row[0].as<long long>();
      r.at_us = row[1].as<long long>();
      r.actor = opt(row[2]), r.ori = opt(row[3]), r.action = opt(row[4]), r.outcome = opt(row[5]);
      r.object = opt(row[6]), r.source = opt(row[7]), r.detail = opt(row[8]);
    }
    r.chain_seq = pos;
    const auto h = store::audit_hash(prev, r);
    sql("UPDATE audit_log SET chain_seq = " + std::to_string(pos) + ", prev_hash = decode('" + prev +
        "', 'hex'), hash = decode('" + h + "', 'hex') WHERE id = " + std::to_string(r.id));
    prev = h;
  }
  record(2, "delivery");
  EXPECT_EQ(seal(100), 4u) << "the two left unsealed, then the new transaction";
  EXPECT_EQ(db_->count("SELECT first_pos FROM audit_blocks WHERE block_seq = 1"), 4);
  EXPECT_EQ(db_->scalar("SELECT encode(prev_hash, 'hex') FROM audit_blocks WHERE block_seq = 1"), prev);
  auto v = store::verify_audit(*conn_, std::chrono::seconds(60));
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.records, 7);
  EXPECT_EQ(v.first_seq, 1);
  EXPECT_EQ(v.last_seq, 7);
  sql("UPDATE audit_log SET outcome = 'refused:forbidden' WHERE chain_seq = 2");
  v = store::verify_audit(*conn_, std::chrono::seconds(60));
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].find("(chain position 2) was altered"), std::string::npos) << v.problems[0];
}

// Chain positions (records sealed one by one, before the blocks) stay unique; a record written
// since has none and adds no entry to their index (migration 0025).
TEST_F(AuditDb, ChainPositionsStayUniqueAndARecordWithoutOneAddsNoIndexEntry) {
  record(3);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE chain_seq IS NULL"), 3);
  const auto def = db_->scalar("SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_log' "
                               "AND indexdef LIKE '%btree (chain_seq)%'");
  EXPECT_NE(def.find("UNIQUE"), std::string::npos) << def;
  EXPECT_NE(def.find("WHERE (chain_seq IS NOT NULL)"), std::string::npos) << def;
  sql("UPDATE audit_log SET chain_seq = 1 WHERE id = (SELECT min(id) FROM audit_log)");
  EXPECT_THROW(sql("UPDATE audit_log SET chain_seq = 1 WHERE id = (SELECT max(id) FROM audit_log)"), std::exception)
      << "a position given twice";
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE chain_seq = 1"), 1);
}

// The running hub's periodic check (ops::AuditVerifier): only the most recent blocks, within a
// record budget, starting from the end of the block before them.
TEST_F(AuditDb, TheRecentCheckReadsTheLastBlocksWithinItsBudgetAndNamesAnAlterationThere) {
  EXPECT_TRUE(store::verify_audit_recent(*conn_, 100, 100).ok()) << "nothing sealed is intact";
  EXPECT_EQ(store::verify_audit_recent(*conn_, 100, 100).records, 0);
  record(30, "submission", true);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(seal(5), 5u) << seal_context();  // blocks 1..6, 5 records each
  auto v = store::verify_audit_recent(*conn_, 12, 100);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.records, 10) << "two blocks fit in 12 records";
  EXPECT_EQ(v.first_seq, 21);
  EXPECT_EQ(v.last_seq, 30);
  EXPECT_EQ(store::verify_audit_recent(*conn_, 100, 3).records, 15) << "at most 3 blocks";
  EXPECT_EQ(store::verify_audit_recent(*conn_, 1, 100).records, 5) << "the last block even when it exceeds the budget";
  EXPECT_EQ(store::verify_audit_recent(*conn_, 1000, 1000).records, 30) << "from the first block";
  // An alteration in the window is named; one before it is the full verification's to find.
  sql("UPDATE audit_log SET outcome = 'refused:forbidden' WHERE id = " + id_at(3));
  EXPECT_TRUE(store::verify_audit_recent(*conn_, 12, 100).ok());
  EXPECT_FALSE(store::verify_audit(*conn_, std::chrono::seconds(60)).ok());
  sql("UPDATE audit_log SET detail = 'x' WHERE id = " + id_at(27));
  v = store::verify_audit_recent(*conn_, 12, 100);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("was altered"), std::string::npos) << v.problems[0];
  EXPECT_NE(v.problems[0].find("chain position 27"), std::string::npos) << v.problems[0];
  // A block rewritten in the window, a deleted record and a deleted block before the window.
  sql("UPDATE audit_log SET detail = 'ArrestPacket' WHERE id = " + id_at(27));
  ASSERT_TRUE(store::verify_audit_recent(*conn_, 12, 100).ok());
  sql("DELETE FROM audit_log WHERE id = " + id_at(22));
  EXPECT_FALSE(store::verify_audit_recent(*conn_, 12, 100).ok());
  sql("DELETE FROM audit_blocks WHERE block_seq = 4");
  v = store::verify_audit_recent(*conn_, 12, 100);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].find("block 4 is missing"), std::string::npos) << v.problems[0];
}

TEST_F(AuditDb, TheRecentCheckStartsAtTheAnchorRetentionLeft) {
  record(6, "submission", true);
  sql("UPDATE audit_log SET at = now() - interval '500 days' WHERE id IN (SELECT id FROM audit_log ORDER BY id LIMIT 4)");
  for (int i = 0; i < 3; ++i) seal(2);
  const auto cutoff = db_->scalar("SELECT (now() - interval '400 days')::text");
  ASSERT_EQ(store::prune_audit(*conn_, cutoff), 4u);  // blocks 1 and 2 go, the anchor remembers block 2
  seal(100);
  const auto v = store::verify_audit_recent(*conn_, 1000, 1000);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front());
  EXPECT_EQ(v.first_seq, 5);
  EXPECT_EQ(v.records, 3);
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
  EXPECT_EQ(unsealed(), 0) << "sealed";
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
