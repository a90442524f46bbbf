// Database tier: a completion counts only under the lease that claimed the delivery (a row: the
// subscription owes an acknowledgement). A hub whose
// lease ran out (stalled, partitioned) and was taken over cannot dead-letter or suppress what
// another hub now holds or has just delivered.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <chrono>
#include <thread>

#include "cjhub/common/time.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::TestDatabase;

class LeaseDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    conn_ = store::connect(db_->url(), std::chrono::milliseconds(3000));
    store::apply_agencies(*conn_, config::parse_agencies(
        "agencies:\n"
        "  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: 'urn:h'}]\n"
        "    publish: [ArrestPacket]\n"
        "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:d'}]\n"
        "    endpoints: [{name: main, url: 'https://localhost:9/d'}]\n"
        "    subscriptions: [{name: arrests, endpoint: main, types: [ArrestPacket], ack_required: true}]\n",
        {"ArrestPacket"}));
    store::NewMessage m;
    m.id = Uuid::v7();
    m.type = "ArrestPacket";
    m.sender_ori = m.origin_ori = "CT0064000";
    m.idempotency_key = m.document_id = "L1";
    m.case_key = "OTN-L";
    m.body = "<ArrestPacket/>";
    m.body_sha256 = sha256(m.body);
    m.received_at = now_utc();
    store::Transaction tx(*conn_);
    store::ingest_group(tx, {&m}, {});
    tx.commit();
  }

  std::vector<store::Claimed> claim(const std::string& hub, int lease_ms) {
    std::vector<store::ClaimRequest> req;
    for (const auto& e : store::load_endpoints(*conn_)) req.push_back({e.id, 10, lease_ms, 0});
    return store::claim(*conn_, req, hub);
  }
  // Hub A claims with a short lease, which runs out; hub B takes the delivery over.
  store::Claimed taken_over() {
    auto a = claim("hub-a", 50);
    EXPECT_EQ(a.size(), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    EXPECT_EQ(store::release_expired_leases(*conn_), 1u);
    auto b = claim("hub-b", 60000);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_EQ(b.at(0).delivery_id, a.at(0).delivery_id);
    return b.at(0);
  }
  store::Completion completion(const store::Claimed& c, store::Completion::Kind kind) {
    store::Completion k;
    k.kind = kind;
    k.delivery_id = c.delivery_id;
    k.endpoint_id = c.endpoint_id;
    k.case_key = c.case_key;
    k.message_id = c.message_id;
    k.sender_ori = c.sender_ori;
    k.recipient_ori = c.recipient_ori;
    k.http_status = kind == store::Completion::Kind::delivered ? 200 : 400;
    k.error = "HTTP 400 (not retryable)";
    return k;
  }
  std::string state() {
    pqxx::nontransaction tx(*conn_);
    return tx.exec1("SELECT state || '/' || coalesce(leased_by, '-') FROM deliveries")[0].as<std::string>();
  }

  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
};

TEST_F(LeaseDb, AStaleHubCannotDeadLetterADeliveryAnotherHubHolds) {
  const auto c = taken_over();
  const auto r = store::complete(*conn_, {completion(c, store::Completion::Kind::dead)}, "hub-a", 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, "") << "hub A's verdict is a lost lease, not a dead letter";
  EXPECT_EQ(state(), "in_flight/hub-b");
  // Hub B delivers it; a late dead verdict from A still changes nothing.
  store::complete(*conn_, {completion(c, store::Completion::Kind::delivered)}, "hub-b", 1000);
  EXPECT_EQ(state(), "delivered/-");
  store::complete(*conn_, {completion(c, store::Completion::Kind::dead)}, "hub-a", 1000);
  EXPECT_EQ(state(), "delivered/-");
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries WHERE dead_at IS NOT NULL"), 0);
}

TEST_F(LeaseDb, AStaleHubCannotSuppressADeliveryAnotherHubDelivered) {
  const auto c = taken_over();
  store::complete(*conn_, {completion(c, store::Completion::Kind::delivered)}, "hub-b", 1000);
  store::complete(*conn_, {completion(c, store::Completion::Kind::suppressed)}, "hub-a", 1000);
  EXPECT_EQ(state(), "delivered/-");
}

TEST_F(LeaseDb, TheHubHoldingTheLeaseDeadLettersIt) {
  const auto c = taken_over();
  const auto r = store::complete(*conn_, {completion(c, store::Completion::Kind::dead)}, "hub-b", 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, "dead");
  EXPECT_EQ(state(), "dead/-");
}

}  // namespace
}  // namespace cjhub
