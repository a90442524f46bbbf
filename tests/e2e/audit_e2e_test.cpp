// End to end: the running hub records submissions (accepted and refused), authorization failures
// and delivery outcomes in the audit trail, seals them, and `cjhub audit verify` fails naming a
// record altered or deleted in SQL.
#include <chrono>
#include <set>
#include <thread>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class Audit : public HubSuite {
 protected:
  static void SetUpTestSuite() {
    start_hub({{}, {}, {{"CJHUB_AUDIT_SEAL_INTERVAL_MS", "100"}, {"CJHUB_LOG_FORMAT", "json"}}, {}});
  }
  static std::string config() { return (source_dir() / "config/cjhub.example.yaml").string(); }
  // Waits until `n` records match `where`. Refusals reach the database from the audit thread's
  // queue, after the answer: until then every record already written can be sealed while they
  // are still on their way.
  static void wait_recorded(const std::string& where, int n) {
    for (int i = 0; i < 100; ++i) {
      if (db_->count("SELECT count(*) FROM audit_log WHERE " + where) >= n) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "fewer than " << n << " audit record(s) where " << where;
  }
  // Waits until every record written is sealed.
  static void wait_sealed() {
    for (int i = 0; i < 100; ++i) {
      if (db_->count("SELECT count(*) FROM audit_log a WHERE NOT EXISTS "
                     "(SELECT 1 FROM audit_blocks b WHERE a.id = ANY (b.ids))") == 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "audit records were not sealed";
  }
  // The chain position (or the record id) `back` places before the end of the chain.
  static std::string from_the_end(int back, const char* what) {
    return db_->scalar(std::string("SELECT ") + what +
                       " FROM audit_blocks b, unnest(b.ids) WITH ORDINALITY u(id, o) "
                       "ORDER BY b.block_seq DESC, u.o DESC OFFSET " + std::to_string(back) + " LIMIT 1");
  }
};

TEST_F(Audit, SubmissionsRefusalsAndAdminAttemptsAreRecordedAndTheChainVerifies) {
  auto hpd = client("hartford-pd");
  const auto ok = hpd.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml"));
  ASSERT_EQ(ok.status, 202u) << ok.body;
  const std::string id(json(ok).at("message_id").as_string());
  EXPECT_EQ(hpd.request("POST", "/v1/messages", "<not-xml").status, 400u);
  // A refused document full of personal data (schema-invalid: a charge's elements out of order).
  const auto refused_doc = sample("invalid/out-of-order-charge.xml");
  ASSERT_NE(refused_doc.find("Marcus"), std::string::npos);
  ASSERT_NE(refused_doc.find("1994-07-19"), std::string::npos);
  EXPECT_EQ(hpd.request("POST", "/v1/messages", refused_doc).status, 422u);
  EXPECT_EQ(hpd.request("GET", "/v1/admin/dead-letters").status, 403u);
  wait_recorded("outcome LIKE 'refused:%'", 3);
  wait_sealed();
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'submission' AND outcome = 'accepted' "
                       "AND object = 'message " + id + "' AND ori = 'CT0064000' AND actor LIKE '%sha256:%' "
                       "AND source LIKE '127.0.0.1:%'"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'submission' AND outcome = 'refused:malformed-xml' "
                       "AND ori = 'CT0064000'"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'authorization' AND outcome = 'refused:forbidden' "
                       "AND object = 'GET /v1/admin/dead-letters'"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'submission' AND outcome = "
                       "'refused:schema-invalid' AND ori = 'CT0064000'"), 1);
  // Nothing of either document's content is in the trail, accepted or refused.
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE concat_ws(' ', actor, ori, action, outcome, object, "
                       "source, detail) ~* 'Marcus|1994-07-19'"), 0);

  std::string out;
  ASSERT_EQ(hub_->run_command({"audit", "verify", "-c", config()}, &out), 0) << out;
  EXPECT_NE(out.find("audit trail intact"), std::string::npos) << out;

  std::string csv;
  ASSERT_EQ(hub_->run_command({"audit", "export", "-c", config(), "--format", "csv"}, &csv), 0) << csv;
  EXPECT_NE(csv.find("message " + id), std::string::npos) << csv;
}

TEST_F(Audit, VerifyFailsNamingAnAlteredOrDeletedRecord) {
  auto hpd = client("hartford-pd");
  // Three refusals of different kinds: three records (repeats of one kind would be aggregated).
  EXPECT_EQ(hpd.request("GET", "/v1/admin/endpoints").status, 403u);
  EXPECT_EQ(hpd.request("POST", "/v1/messages", "<not-xml").status, 400u);
  EXPECT_EQ(hpd.request("POST", "/v1/messages", "{}", {}, "application/json").status, 415u);
  wait_recorded("outcome LIKE 'refused:%'", 3);
  wait_sealed();
  const auto altered = from_the_end(1, "u.id");
  const auto original = db_->scalar("SELECT outcome FROM audit_log WHERE id = " + altered);
  {
    auto c = db_->connect();
    pqxx::work tx(*c);
    tx.exec0("UPDATE audit_log SET outcome = 'accepted:forged' WHERE id = " + altered);
    tx.commit();
  }
  std::string out;
  EXPECT_EQ(hub_->run_command({"audit", "verify", "-c", config()}, &out), 1) << out;
  EXPECT_NE(out.find("record " + altered + " "), std::string::npos) << out;
  EXPECT_NE(out.find("was altered"), std::string::npos) << out;
  {
    auto c = db_->connect();
    pqxx::work tx(*c);
    tx.exec0("UPDATE audit_log SET outcome = " + tx.quote(original) + " WHERE id = " + altered);
    tx.commit();
  }
  ASSERT_EQ(hub_->run_command({"audit", "verify", "-c", config()}, &out), 0) << out;
  const auto deleted_seq = from_the_end(2, "b.first_pos + u.o - 1");
  const auto deleted = from_the_end(2, "u.id");
  {
    auto c = db_->connect();
    pqxx::work tx(*c);
    tx.exec0("DELETE FROM audit_log WHERE id = " + deleted);
    tx.commit();
  }
  EXPECT_EQ(hub_->run_command({"audit", "verify", "-c", config()}, &out), 1) << out;
  EXPECT_NE(out.find("chain positions " + deleted_seq + " to " + deleted_seq + " are missing"), std::string::npos)
      << out;
}

// The same hub logs JSON lines (logging.format: json): every line is one object with time, level,
// module and message; refusals name ids and problems, never the document's content.
TEST_F(Audit, EveryLogLineIsAJsonObjectNamingItsModule) {
  auto hpd = client("hartford-pd");
  auto bad = sample("valid/arrest-packet-1.xml");
  bad.replace(bad.find("<nc:PersonGivenName>"), 20, "<nc:PersonGivenNam>");  // not well-formed, names in it
  const auto refused = hpd.request("POST", "/v1/messages", bad);
  EXPECT_TRUE(refused.status == 400u || refused.status == 422u) << refused.status;
  const auto log = hub_->log();
  const auto parsed = json_log_lines(log);
  const auto lines = parsed.size();
  std::set<std::string> modules;
  for (const auto& o : parsed) modules.insert(std::string(o.at("module").as_string()));
  EXPECT_GT(lines, 5u);
  EXPECT_TRUE(modules.count("app") && modules.count("ingress")) << lines;
  EXPECT_EQ(log.find("Marcus"), std::string::npos);
  EXPECT_EQ(log.find("1994-07-19"), std::string::npos);
}

}  // namespace
}  // namespace cjhub::test
