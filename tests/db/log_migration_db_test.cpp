// Database tier: moving a database with deliveries in every state to the delivery log (migration
// 0013) loses none of them. The rows stay rows and drain through claims as before; the log starts
// at its end, so nothing routed before is sent again; dead letters stay listed and replayable.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <chrono>

#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/log_repo.hpp"
#include "cjhub/store/migrations.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "store/connection_impl.hpp"
#include "store/migrations_data.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;
using test::TestDatabase;

TEST(LogMigrationDb, PendingRetryingQueuedInFlightAndDeadDeliveriesSurviveTheMoveToTheLog) {
  CJHUB_REQUIRE_CLUSTER();
  TestDatabase db;
  auto c = store::connect(db.url(), 3000ms);
  // The schema as it was before the log: every migration up to 0012.
  {
    store::Transaction tx(*c);
    tx.exec0("CREATE TABLE cjhub_schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL "
             "DEFAULT now())");
    for (const auto& m : store::embedded_migrations()) {
      if (m.name >= "0013") break;
      tx.exec0(m.sql);
      tx.exec_params0("INSERT INTO cjhub_schema_migrations (name) VALUES ($1)", m.name);
    }
    tx.commit();
  }
  ASSERT_EQ(store::pending_migrations(*c).size(), store::embedded_migrations().size() - 12);
  {
    // Agencies, endpoints and subscriptions, and five messages with one delivery each, in every
    // state a delivery can be in while work is left (rows as the hub before the log wrote them).
    store::Transaction tx(*c);
    tx.exec0("INSERT INTO agencies (ori, name, role, active) VALUES ('CT0064000', 'Hartford', 'agency', true), "
             "('CTDESPP00', 'DESPP', 'agency', true)");
    tx.exec0("INSERT INTO endpoints (id, ori, name, url, max_in_flight, timeout_ms) "
             "VALUES (1, 'CTDESPP00', 'main', 'https://localhost:9/d', 4, 10000)");
    tx.exec0("INSERT INTO subscriptions (id, ori, name, endpoint_id, message_types, ack_required, retry_window) "
             "VALUES (1, 'CTDESPP00', 'all', 1, '{ArrestPacket}', NULL, interval '72 hours')");
    int n = 0;
    for (const char* state : {"pending", "retrying", "queued", "in_flight", "dead"}) {
      ++n;
      const std::string id = "00000000-0000-7000-8000-00000000000" + std::to_string(n);
      tx.exec0("INSERT INTO messages (id, message_type, sender_ori, idempotency_key, case_key, origin_ori, body, "
               "body_sha256, body_size, received_at) VALUES ('" + id + "', 'ArrestPacket', 'CT0064000', 'k" +
               std::to_string(n) + "', 'OTN-" + (std::string(state) == "queued" ? std::string("pending") : std::string(state)) +
               "', 'CT0064000', 'body', '\\x00', 4, now())");  // the queued one waits behind the pending one
      const std::string real = std::string(state) == "retrying" ? "pending" : state;
      tx.exec0("INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, "
               "state, ack_required, attempts, next_attempt_at, expires_at, leased_by, lease_until, dead_at, "
               "last_error) SELECT cjhub_uuid_v7(), id, 1, 1, 'CTDESPP00', case_key, seq, '" + real + "', false, " +
               (std::string(state) == "pending" || std::string(state) == "queued" ? "0" : "1") +
               ", now(), now() + interval '72 hours', " +
               (real == "in_flight" ? "'old-hub', now() - interval '1 minute'" : "NULL, NULL") + ", " +
               (real == "dead" ? "now(), 'HTTP 400'" : "NULL, NULL") + " FROM messages WHERE id = '" + id + "'");
    }
    tx.commit();
  }
  const auto before = db.count("SELECT count(*) FROM deliveries");
  ASSERT_EQ(before, 5);

  EXPECT_EQ(store::migrate(*c).size(), store::embedded_migrations().size() - 12);

  // Nothing lost, nothing changed state.
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries"), before);
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries WHERE state = 'pending'"), 2);
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries WHERE state = 'pending' AND attempts = 1"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries WHERE state = 'queued'"), 1);
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries WHERE state = 'in_flight'"), 1);
  EXPECT_EQ(store::list_dead(*c, {}).size(), 1u);
  // The endpoint's log starts at its end: what was routed before is not sent a second time.
  EXPECT_EQ(db.count("SELECT position FROM endpoint_cursors WHERE endpoint_id = 1"),
            db.count("SELECT max(seq) FROM messages"));
  const auto leases = store::lease_cursors(*c, "new-hub", 60000, 10);
  ASSERT_EQ(leases.held.size(), 1u);
  EXPECT_TRUE(store::read_log(*c, 1, "new-hub", leases.held[0].position, 100).entries.empty());
  // Every delivery still at work drains as before: the expired lease comes back, the two pending
  // ones (and then the queued one behind its lane) are claimed and delivered.
  EXPECT_EQ(store::release_expired_leases(*c), 1u);
  int delivered = 0;
  for (int round = 0; round < 3; ++round) {
    const auto claimed = store::claim(*c, {{1, 10, 60000, 0}}, "new-hub");
    std::vector<store::Completion> done;
    for (const auto& k : claimed) {
      store::Completion d;
      d.kind = store::Completion::Kind::delivered;
      d.delivery_id = k.delivery_id;
      d.endpoint_id = k.endpoint_id;
      d.case_key = k.case_key;
      d.message_id = k.message_id;
      d.recipient_ori = k.recipient_ori;
      d.http_status = 200;
      done.push_back(d);
    }
    delivered += static_cast<int>(store::complete(*c, done, "new-hub", 100).size());
  }
  EXPECT_EQ(delivered, 4) << "pending, retrying, in flight (its lease expired) and queued";
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries WHERE state = 'delivered'"), 4);
  // The dead letter is replayed like any other.
  EXPECT_EQ(store::replay_dead(*c, {}).size(), 1u);
  EXPECT_EQ(db.count("SELECT count(*) FROM deliveries WHERE state IN ('pending', 'queued')"), 1);
}

}  // namespace
}  // namespace cjhub
