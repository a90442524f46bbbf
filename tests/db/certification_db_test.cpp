// Database tier: what the certification kit reads of one sandbox agency (its audited submissions,
// its documents, what its endpoint was sent and answered, its erasure obligations) and the
// duplicate it sends: the endpoint's latest 2xx entry on the log becomes a pending row with the
// log's delivery id, audited; a second one is never made of the same entry.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "cjhub/store/certification_repo.hpp"
#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;

TEST(CertificationDb, TheKitReadsAnAgencysTrafficAndSendsOneDuplicateOfItsLatestDelivery) {
  CJHUB_REQUIRE_CLUSTER();
  test::TestDatabase db;
  db.migrate();
  auto c = store::connect(db.url(), 3000ms);
  {
    store::Transaction tx(*c);
    tx.exec0("INSERT INTO agencies (ori, name, role, active, sandbox, certificate_not_after) VALUES "
             "('CTSBX0001', 'Sandbox RMS', 'agency', true, true, '2030-01-01T00:00:00Z'), "
             "('CTJUD0000', 'Sandbox court', 'agency', true, true, NULL)");
    tx.exec0("INSERT INTO endpoints (id, ori, name, url, max_in_flight, timeout_ms) "
             "VALUES (7, 'CTSBX0001', 'main', 'https://localhost:9/v', 4, 10000)");
    tx.exec0("INSERT INTO subscriptions (id, ori, name, endpoint_id, message_types, ack_required, retry_window) "
             "VALUES (3, 'CTSBX0001', 'own', 7, '{CaseUpdate}', NULL, interval '72 hours')");
    // The vendor's own arrest notification, and two court updates of its case sent to its endpoint.
    tx.exec0("INSERT INTO messages (id, message_type, sender_ori, idempotency_key, document_id, case_key, origin_ori, "
             "body, body_sha256, body_size, received_at) VALUES ('00000000-0000-7000-8000-000000000001', "
             "'EarlyArrestNotification', 'CTSBX0001', 'k1', 'DOC-1', 'sandbox:OTN-1', 'CTSBX0001', '<x/>', '\\x00', 4, now())");
    for (int i = 2; i <= 3; ++i) {
      tx.exec0("INSERT INTO messages (id, message_type, sender_ori, idempotency_key, case_key, origin_ori, body, "
               "body_sha256, body_size, received_at, recipients, routes) VALUES ('00000000-0000-7000-8000-00000000000" +
               std::to_string(i) + "', 'CaseUpdate', 'CTJUD0000', 'k" + std::to_string(i) +
               "', 'sandbox:OTN-1', 'CTJUD0000', '<u/>', '\\x00', 4, now(), '{7}', '{3}')");
    }
    tx.exec0("UPDATE endpoint_cursors SET position = (SELECT max(seq) FROM messages) WHERE endpoint_id = 7");
    tx.exec0("INSERT INTO log_answers (endpoint_id, seqs, attempt_at, statuses, took_ms) SELECT 7, array_agg(seq ORDER BY seq), "
             "array_agg(now() ORDER BY seq), array_agg(200 ORDER BY seq), array_agg(5 ORDER BY seq) FROM messages "
             "WHERE recipients IS NOT NULL");
    tx.exec0("INSERT INTO audit_log (actor, ori, action, outcome, object) VALUES "
             "('urn:cjhub:ori:CTSBX0001', 'CTSBX0001', 'submission', 'refused:schema-invalid', NULL), "
             "('urn:cjhub:ori:CTSBX0001', 'CTSBX0001', 'submission', 'accepted', 'message 00000000-0000-7000-8000-000000000001'), "
             "('urn:cjhub:ori:CTJUD0000', 'CTJUD0000', 'submission', 'accepted', 'message x')");
    tx.commit();
  }
  const auto since = (std::chrono::system_clock::now() - 1h).time_since_epoch() / 1us;

  const auto agency = store::certified_agency(*c, "CTSBX0001");
  ASSERT_TRUE(agency);
  EXPECT_TRUE(agency->sandbox);
  EXPECT_EQ(agency->certificate_not_after, 1893456000);
  EXPECT_FALSE(store::certified_agency(*c, "CTNONE000"));

  const auto subs = store::submissions_of(*c, "CTSBX0001", since, 100);
  ASSERT_EQ(subs.size(), 2u) << "its own submissions only, oldest first";
  EXPECT_EQ(subs[0].outcome, "refused:schema-invalid");
  EXPECT_EQ(subs[1].outcome, "accepted");

  const auto sent = store::messages_from(*c, "CTSBX0001", since, 100);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].document_id, "DOC-1");
  ASSERT_TRUE(sent[0].body);
  EXPECT_EQ(*sent[0].body, "<x/>");

  auto received = store::deliveries_to(*c, "CTSBX0001", since, 100);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].message_id, "00000000-0000-7000-8000-000000000002");
  EXPECT_EQ(received[1].delivery.state, "delivered");
  ASSERT_EQ(received[1].delivery.history.size(), 1u);
  EXPECT_EQ(received[1].delivery.history[0].status, 200);
  EXPECT_TRUE(store::erasure_obligations(*c, "CTSBX0001", since, 100).empty());

  const auto dup = store::redeliver_latest(*c, "CTSBX0001", "cli:test");
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->message_id, "00000000-0000-7000-8000-000000000003") << "the latest entry answered 2xx";
  EXPECT_EQ(dup->endpoint, "main");
  EXPECT_EQ(db.scalar("SELECT cjhub_log_delivery_id(7, seq)::text FROM messages WHERE id = '" + dup->message_id + "'"),
            dup->delivery_id)
      << "the same delivery as the log's: the endpoint sees a duplicate";
  EXPECT_EQ(db.scalar("SELECT state || ' ' || attempts FROM deliveries WHERE id = '" + dup->delivery_id + "'"), "pending 1");
  EXPECT_EQ(db.count("SELECT count(*) FROM audit_log WHERE action = 'admin' AND outcome = 'redelivered' AND ori = 'CTSBX0001'"), 1);
  received = store::deliveries_to(*c, "CTSBX0001", since, 100);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[1].delivery.state, "pending") << "the row now speaks for the entry";
  EXPECT_EQ(received[1].delivery.history.size(), 1u) << "the log's 2xx stays on its timeline";

  const auto again = store::redeliver_latest(*c, "CTSBX0001", "cli:test");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->message_id, "00000000-0000-7000-8000-000000000002") << "never the same entry twice";
  EXPECT_FALSE(store::redeliver_latest(*c, "CTJUD0000", "cli:test")) << "an agency without an endpoint: nothing to send";

  // A later update that left the log's path (retried, then answered 2xx) is the latest: its row is
  // sent again, as the same delivery with its next attempt.
  {
    store::Transaction tx(*c);
    tx.exec0("INSERT INTO messages (id, message_type, sender_ori, idempotency_key, case_key, origin_ori, body, "
             "body_sha256, body_size, received_at, recipients, routes) VALUES ('00000000-0000-7000-8000-000000000004', "
             "'CaseUpdate', 'CTJUD0000', 'k4', 'sandbox:OTN-1', 'CTJUD0000', '<u/>', '\\x00', 4, now(), '{7}', '{3}')");
    tx.exec0("UPDATE endpoint_cursors SET position = (SELECT max(seq) FROM messages) WHERE endpoint_id = 7");
    tx.exec0("INSERT INTO deliveries (id, message_id, subscription_id, endpoint_id, recipient_ori, case_key, seq, state, "
             "ack_required, attempts, expires_at, last_status, delivered_at, attempt_at, attempt_status, attempt_ms, "
             "attempt_error) SELECT '00000000-0000-7000-8000-0000000000d4', id, 3, 7, 'CTSBX0001', case_key, seq, "
             "'delivered', false, 2, now() + interval '1 day', 200, now(), ARRAY[now(), now()], '{503,200}', '{5,5}', "
             "'{\"HTTP 503\",\"\"}' FROM messages WHERE id = '00000000-0000-7000-8000-000000000004'");
    tx.commit();
  }
  const auto row = store::redeliver_latest(*c, "CTSBX0001", "cli:test");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->message_id, "00000000-0000-7000-8000-000000000004");
  EXPECT_EQ(row->delivery_id, "00000000-0000-7000-8000-0000000000d4");
  EXPECT_EQ(db.scalar("SELECT state || ' ' || attempts FROM deliveries WHERE id = '" + row->delivery_id + "'"),
            "pending 2")
      << "the next attempt is the third";
  EXPECT_FALSE(store::redeliver_latest(*c, "CTSBX0001", "cli:test")) << "every 2xx answer has been sent again";
}

}  // namespace
}  // namespace cjhub
