// Database tier: erasure at its edges. Who holds a case outlives retention; an erased case does
// not come back through a later charge-level update; acknowledgements never route by subscription.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <tuple>

#include "cjhub/common/time.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/erasures_repo.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "cjhub/store/retention_repo.hpp"
#include "support/log_delivery.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::TestDatabase;

class ErasureDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    conn_ = store::connect(db_->url(), std::chrono::milliseconds(3000));
    store::apply_agencies(*conn_, config::parse_agencies(agencies_yaml(), kTypes));
  }
  static inline const std::vector<std::string> kTypes{"ArrestPacket", "CaseUpdate", "ErasureNotice", "Acknowledgement"};
  virtual std::string agencies_yaml() const {
    // DESPP takes arrest packets only (no erasure notices); DCJ takes erasure notices, but only
    // from Hartford PD (its origin filter excludes the court); New Britain PD takes every
    // erasure notice and never got anything of the case.
    return "agencies:\n"
        "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n"
        "    publish: [ArrestPacket, CaseUpdate, Acknowledgement]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/h'}]\n"
        "    subscriptions: [{name: receipts, endpoint: main, types: [Acknowledgement]}]\n"
        "  - ori: CTJUD0000\n    name: Judicial\n    identities: [{san_uri: 'urn:j'}]\n"
        "    publish: [ErasureNotice, CaseUpdate]\n"
        "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
        "    publish: [Acknowledgement]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/d'}]\n"
        "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket, Acknowledgement]}]\n"
        "  - ori: CTDCJ0000\n    name: DCJ\n    identities: [{san_uri: 'urn:c'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/c'}]\n"
        "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket, CaseUpdate, ErasureNotice], "
        "origin_oris: [CT0064000]}]\n"
        "  - ori: CT0089000\n    name: New Britain\n    identities: [{san_uri: 'urn:n'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/n'}]\n"
        "    subscriptions: [{name: erasures, endpoint: main, types: [ErasureNotice]}]\n";
  }

  store::NewMessage message(const std::string& key, const std::string& type, const std::string& sender,
                            const std::string& case_key) {
    store::NewMessage m;
    m.id = Uuid::v7();
    m.type = type;
    m.sender_ori = sender;
    m.idempotency_key = key;
    m.document_id = key;
    m.case_key = case_key;
    m.origin_ori = sender;
    m.body = "<" + type + ">" + key + " about " + case_key + "</" + type + ">";
    m.body_sha256 = sha256(m.body);
    m.received_at = now_utc();
    return m;
  }
  store::GroupResult ingest(const std::vector<const store::NewMessage*>& batch, store::ErasurePolicy policy = {}) {
    store::Transaction tx(*conn_);
    auto g = store::ingest_group(tx, batch, policy);
    tx.commit();
    return g;
  }
  // Claims whatever is due on every endpoint and completes it as delivered, and does the same for
  // every endpoint's log (the dispatcher's round).
  std::vector<store::Claimed> deliver_all() {
    std::vector<store::ClaimRequest> req;
    for (const auto& e : store::load_endpoints(*conn_)) req.push_back({e.id, 100, 60000, 0});
    auto claimed = store::claim(*conn_, req, "test-hub");
    std::vector<store::Completion> done;
    for (const auto& c : claimed) {
      store::Completion k;
      k.kind = store::Completion::Kind::delivered;
      k.delivery_id = c.delivery_id;
      k.endpoint_id = c.endpoint_id;
      k.case_key = c.case_key;
      k.message_id = c.message_id;
      k.sender_ori = c.sender_ori;
      k.recipient_ori = c.recipient_ori;
      k.http_status = 200;
      done.push_back(std::move(k));
    }
    if (!done.empty()) store::complete(*conn_, done, "test-hub", 1000);
    // And the log's entries.
    for (const auto& d : test::deliver_from_log(*conn_)) {
      store::Claimed c;
      c.message_id = d.message_id;
      c.recipient_ori = d.recipient_ori;
      c.case_key = d.case_key;
      claimed.push_back(std::move(c));
    }
    return claimed;
  }
  std::set<std::string> ledger_recipients(const std::string& erasure_id) {
    std::set<std::string> out;
    pqxx::nontransaction tx(*conn_);
    for (const auto& r : tx.exec_params("SELECT recipient_ori FROM deliveries WHERE erasure_id = $1::uuid", erasure_id)) {
      out.insert(r[0].as<std::string>());
    }
    return out;
  }
  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
};

TEST_F(ErasureDb, EveryHolderIsToldAfterRetentionRemovedTheDeliveriesThatMadeItOne) {
  const auto arrest = message("A1", "ArrestPacket", "CT0064000", "OTN-R");
  ingest({&arrest});
  const auto sent = deliver_all();
  ASSERT_EQ(sent.size(), 2u) << "DESPP and DCJ each get the arrest packet";
  EXPECT_EQ(store::holders_of(*conn_, "OTN-R"), (std::set<std::string>{"CTDESPP00", "CTDCJ0000"}));
  // Retention (a cut-off in the future: everything counts as old) removes the finished deliveries.
  for (store::PruneResult r{1, 0}; r.scanned > 0;) r = store::prune_deliveries(*conn_, rfc3339(now_utc() + std::chrono::hours(24)), 100);
  ASSERT_EQ(db_->count("SELECT count(*) FROM deliveries"), 0) << "retention should have removed them";

  auto notice = message("E1", "ErasureNotice", "CTJUD0000", "OTN-R");
  notice.erasure = true;
  ASSERT_EQ(ingest({&notice}).results[0].status, store::InsertStatus::inserted);
  // DESPP (no erasure subscription) and DCJ (its origin filter excludes the court) hold the case
  // and owe a confirmation; New Britain is told through its subscription.
  EXPECT_EQ(ledger_recipients(notice.id.str()), (std::set<std::string>{"CTDESPP00", "CTDCJ0000", "CT0089000"}));
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE erasure_id = '" + notice.id.str() + "' AND NOT ack_required"), 0);
  // And they receive it: the next round sends the notice to all three.
  std::set<std::string> told;
  for (const auto& c : deliver_all()) {
    if (c.message_id == notice.id.str()) told.insert(c.recipient_ori);
  }
  EXPECT_EQ(told, (std::set<std::string>{"CTDESPP00", "CTDCJ0000", "CT0089000"}));
}

TEST_F(ErasureDb, AnAgencyThatWasNeverSentTheCaseIsNotAHolder) {
  const auto arrest = message("A2", "ArrestPacket", "CT0064000", "OTN-S");
  ingest({&arrest});  // routed, never attempted
  EXPECT_TRUE(store::holders_of(*conn_, "OTN-S").empty());
  auto notice = message("E2", "ErasureNotice", "CTJUD0000", "OTN-S");
  notice.erasure = true;
  ingest({&notice});
  // The unsent arrest packets are suppressed; only New Britain's subscription routes the notice.
  EXPECT_EQ(ledger_recipients(notice.id.str()), (std::set<std::string>{"CT0089000"}));
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE message_id = '" + arrest.id.str() +
                       "' AND state = 'suppressed'"), 2);
}

// After a whole-case erasure, a case update that flags some charges of the case must not store the
// document again nor send it to the agencies just told to delete it.
TEST_F(ErasureDb, AChargeLevelUpdateOfAnErasedCaseIsRefusedAndSentToNoOne) {
  const auto arrest = message("A3", "ArrestPacket", "CT0064000", "OTN-T");
  ingest({&arrest});
  deliver_all();
  auto notice = message("E3", "ErasureNotice", "CTJUD0000", "OTN-T");
  notice.erasure = true;
  ingest({&notice});
  const auto messages_before = db_->count("SELECT count(*) FROM messages");
  const auto deliveries_before = db_->count("SELECT count(*) FROM deliveries");
  auto update = message("U3", "CaseUpdate", "CTJUD0000", "OTN-T");
  update.erasure_charges = true;
  const auto g = ingest({&update});
  EXPECT_EQ(g.results[0].status, store::InsertStatus::case_erased);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), messages_before) << "the document was stored again";
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries"), deliveries_before) << "it was routed";
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE case_key = 'OTN-T'"), 1);
  // In the same group as the erasure, too.
  const auto arrest2 = message("A4", "ArrestPacket", "CT0064000", "OTN-U");
  ingest({&arrest2});
  auto notice2 = message("E4", "ErasureNotice", "CTJUD0000", "OTN-U");
  notice2.erasure = true;
  auto update2 = message("U4", "CaseUpdate", "CTJUD0000", "OTN-U");
  update2.erasure_charges = true;
  const auto g2 = ingest({&notice2, &update2});
  EXPECT_EQ(g2.results[0].status, store::InsertStatus::inserted);
  EXPECT_EQ(g2.results[1].status, store::InsertStatus::case_erased);
  // A second whole-case erasure is still taken (the court may erase again).
  auto again = message("E5", "ErasureNotice", "CTJUD0000", "OTN-T");
  again.erasure = true;
  EXPECT_EQ(ingest({&again}).results[0].status, store::InsertStatus::inserted);
}

// Under `later_messages: accept` a later message about an erased case is kept as a record without
// its content and routed nowhere.
TEST_F(ErasureDb, UnderAcceptALaterMessageIsKeptWithoutContentAndRoutedNowhere) {
  store::ErasurePolicy accept;
  accept.reject_later_messages = false;
  const auto arrest = message("A6", "ArrestPacket", "CT0064000", "OTN-V");
  ingest({&arrest}, accept);
  deliver_all();
  auto notice = message("E6", "ErasureNotice", "CTJUD0000", "OTN-V");
  notice.erasure = true;
  ingest({&notice}, accept);
  const auto later = message("A7", "ArrestPacket", "CT0064000", "OTN-V");
  auto update = message("U7", "CaseUpdate", "CTJUD0000", "OTN-V");
  update.erasure_charges = true;
  const auto g = ingest({&later, &update}, accept);
  for (const auto& r : g.results) EXPECT_EQ(r.status, store::InsertStatus::inserted);
  for (const store::NewMessage* m : {&later, static_cast<const store::NewMessage*>(&update)}) {
    EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + m->id.str() +
                         "' AND body IS NULL AND redacted_at IS NOT NULL AND body_sha256 IS NOT NULL"), 1);
    EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE message_id = '" + m->id.str() + "'"), 0);
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE case_key = 'OTN-V'"), 1) << "the update recorded an erasure";
}

// An agency cannot confirm away a notice it never received: its acknowledgement is recorded, the
// notice is still sent, and only then does the ledger count the confirmation.
TEST_F(ErasureDb, ANoticeAcknowledgedBeforeItWasSentIsStillSentAndOnlyThenConfirmed) {
  auto notice = message("E8", "ErasureNotice", "CTJUD0000", "OTN-W");
  notice.erasure = true;
  ingest({&notice});
  auto ack = message("K8", "Acknowledgement", "CT0089000", "");
  ack.acknowledgement = true;
  ack.ack_ref = notice.id.str();
  ack.ack_status = "completed";
  ASSERT_EQ(ingest({&ack}).results[0].status, store::InsertStatus::inserted);
  const std::string where = " FROM deliveries WHERE message_id = '" + notice.id.str() + "' AND recipient_ori = 'CT0089000'";
  EXPECT_EQ(db_->scalar("SELECT state" + where), "pending") << "still to be sent";
  EXPECT_EQ(db_->scalar("SELECT ack_status" + where), "completed") << "the acknowledgement is kept";
  store::ErasureFilter f;
  auto ledger = store::list_erasures(*conn_, f);
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].confirmed, 0);
  EXPECT_NE(ledger[0].status, "complete");

  bool sent = false;
  for (const auto& c : deliver_all()) sent |= c.message_id == notice.id.str() && c.recipient_ori == "CT0089000";
  EXPECT_TRUE(sent) << "the notice goes out although it was acknowledged";
  EXPECT_EQ(db_->scalar("SELECT state" + where), "acknowledged");
  EXPECT_EQ(db_->scalar("SELECT ack_status" + where), "completed");
  ledger = store::list_erasures(*conn_, f);
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].confirmed, 1);
  EXPECT_EQ(ledger[0].status, "complete");
}

// Sandbox and production: each side's messages reach only its own agencies, by the log and by rows,
// and an erasure on one side (its case keys are its own: intake prefixes a sandbox agency's) never
// touches the other's messages nor tells the other's holders. An agency's environment is fixed.
class SandboxDb : public ErasureDb {
 protected:
  std::string agencies_yaml() const override {
    std::string out = "agencies:\n";
    for (const auto& [env, vendor, court, despp] :
         std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
             {"production", "CT0064000", "CTJUD0000", "CTDESPP00"}, {"sandbox", "CTSBX0001", "CTSBXJUD0", "CTSBXDSP0"}}) {
      out += "  - {ori: " + vendor + ", name: RMS " + env + ", environment: " + env + ", identities: [{san_uri: 'urn:v:" +
             env + "'}], publish: [ArrestPacket, CaseUpdate]}\n";
      out += "  - {ori: " + court + ", name: Court " + env + ", environment: " + env + ", identities: [{san_uri: 'urn:c:" +
             env + "'}], publish: [ErasureNotice, CaseUpdate]}\n";
      out += "  - ori: " + despp + "\n    name: DESPP " + env + "\n    environment: " + env +
             "\n    identities: [{san_uri: 'urn:d:" + env + "'}]\n"
             "    endpoints: [{name: main, url: 'https://localhost:9/" + env + "'}]\n"
             "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket, ErasureNotice]}, "
             "{name: updates, endpoint: main, types: [CaseUpdate], ack_required: true}]\n";
    }
    return out;
  }
  std::set<std::string> recipients_of(const std::vector<store::Claimed>& sent, const store::NewMessage& m) {
    std::set<std::string> out;
    for (const auto& c : sent) {
      if (c.message_id == m.id.str()) out.insert(c.recipient_ori);
    }
    return out;
  }
};

TEST_F(SandboxDb, EachSidesMessagesReachOnlyItsOwnAgenciesOnTheLogAndAsRows) {
  const auto prod_arrest = message("P1", "ArrestPacket", "CT0064000", "OTN-1");
  const auto sbx_arrest = message("S1", "ArrestPacket", "CTSBX0001", "sandbox:OTN-1");
  ingest({&prod_arrest, &sbx_arrest});
  auto sent = deliver_all();
  EXPECT_EQ(recipients_of(sent, prod_arrest), (std::set<std::string>{"CTDESPP00"}));
  EXPECT_EQ(recipients_of(sent, sbx_arrest), (std::set<std::string>{"CTSBXDSP0"}));
  // Case updates owe an acknowledgement here: routed as rows.
  const auto prod_update = message("P2", "CaseUpdate", "CTJUD0000", "OTN-1");
  const auto sbx_update = message("S2", "CaseUpdate", "CTSBXJUD0", "sandbox:OTN-1");
  ingest({&sbx_update, &prod_update});
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE message_id = '" + prod_update.id.str() +
                       "' AND recipient_ori = 'CTDESPP00'"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE message_id = '" + sbx_update.id.str() +
                       "' AND recipient_ori = 'CTSBXDSP0'"), 1);
  sent = deliver_all();
  EXPECT_EQ(recipients_of(sent, prod_update), (std::set<std::string>{"CTDESPP00"}));
  EXPECT_EQ(recipients_of(sent, sbx_update), (std::set<std::string>{"CTSBXDSP0"}));
  EXPECT_EQ(store::holders_of(*conn_, "OTN-1"), (std::set<std::string>{"CTDESPP00"}));
  EXPECT_EQ(store::holders_of(*conn_, "sandbox:OTN-1"), (std::set<std::string>{"CTSBXDSP0"}));
}

TEST_F(SandboxDb, AnErasureOnOneSideLeavesTheOtherSidesCaseAndHoldersAlone) {
  const auto prod_arrest = message("P1", "ArrestPacket", "CT0064000", "OTN-7");
  const auto sbx_arrest = message("S1", "ArrestPacket", "CTSBX0001", "sandbox:OTN-7");
  ingest({&prod_arrest, &sbx_arrest});
  deliver_all();
  auto sbx_notice = message("SE", "ErasureNotice", "CTSBXJUD0", "sandbox:OTN-7");
  sbx_notice.erasure = true;
  ASSERT_EQ(ingest({&sbx_notice}).results[0].status, store::InsertStatus::inserted);
  EXPECT_EQ(ledger_recipients(sbx_notice.id.str()), (std::set<std::string>{"CTSBXDSP0"}));
  auto body_kept = [&](const store::NewMessage& m) {
    return db_->count("SELECT count(*) FROM messages WHERE id = '" + m.id.str() + "' AND redacted_at IS NULL") == 1;
  };
  EXPECT_FALSE(body_kept(sbx_arrest)) << "the sandbox's own case is erased";
  EXPECT_TRUE(body_kept(prod_arrest)) << "a sandbox erasure removed a production message";
  // And the other way: the production court's erasure of its case tells production only.
  auto prod_notice = message("PE", "ErasureNotice", "CTJUD0000", "OTN-7");
  prod_notice.erasure = true;
  ASSERT_EQ(ingest({&prod_notice}).results[0].status, store::InsertStatus::inserted);
  EXPECT_EQ(ledger_recipients(prod_notice.id.str()), (std::set<std::string>{"CTDESPP00"}));
  EXPECT_FALSE(body_kept(prod_arrest));
  std::set<std::string> told;
  for (const auto& c : deliver_all()) told.insert(c.recipient_ori + " " + (c.message_id == sbx_notice.id.str() ? "sandbox" : "production"));
  EXPECT_EQ(told, (std::set<std::string>{"CTSBXDSP0 sandbox", "CTDESPP00 production"}));
}

TEST_F(SandboxDb, AnAgencysEnvironmentCannotChange) {
  auto yaml = agencies_yaml();
  const std::string from = "{ori: CTSBX0001, name: RMS sandbox, environment: sandbox,";
  ASSERT_NE(yaml.find(from), std::string::npos);
  yaml.replace(yaml.find(from), from.size(), "{ori: CTSBX0001, name: RMS sandbox, environment: production,");
  try {
    store::apply_agencies(*conn_, config::parse_agencies(yaml, kTypes));
    ADD_FAILURE() << "a sandbox agency was made a production one";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("CTSBX0001 is a sandbox agency"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM agencies WHERE ori = 'CTSBX0001' AND sandbox"), 1) << "nothing applied";
}

}  // namespace
}  // namespace cjhub
