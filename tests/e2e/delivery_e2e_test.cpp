// End to end: fan-out to real sinks over mutual TLS, retries, dead letters, acknowledgements,
// crashes and two hubs on one database. Every test ends with the delivery invariants.
#include <atomic>
#include <mutex>
#include <regex>

#include "cjhub/common/crypto.hpp"
#include "e2e/delivery_fixture.hpp"

#include <signal.h>

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class Delivery : public DeliverySuite {};

TEST_F(Delivery, FanOutToEverySubscriberWithStatusForTheSender) {
  start_sinks();
  start_hub();
  auto hpd = client("hartford-pd");
  const auto r = post(hpd, "CT0064000", sample("valid/arrest-packet-1.xml"));
  ASSERT_EQ(r.status, 202u) << r.body;
  const std::string id(message_id(r));

  const auto report = wait_for_all({id}, 20s);
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.expected_deliveries, 3);  // DESPP, DCJ, Judicial; not the sender itself
  ASSERT_EQ(despp_->receipts().size(), 1u);
  const auto got = despp_->receipts()[0];
  EXPECT_EQ(got.at("message_id").as_string(), id);
  EXPECT_EQ(got.at("message_type").as_string(), "ArrestPacket");
  EXPECT_EQ(got.at("sender_ori").as_string(), "CT0064000");
  EXPECT_EQ(got.at("case_key_sha256").as_string(), to_hex(sha256("OTN-2026-0000123")));
  EXPECT_EQ(got.at("attempt").as_int64(), 1);
  EXPECT_EQ(hartford_->receipts().size(), 0u);

  // The sender sees each recipient's state (each endpoint records its round on its own, after
  // its receiver has answered: wait for all three).
  const auto until = std::chrono::steady_clock::now() + 10s;
  const auto all_delivered = [&] {
    for (const char* ori : {"CTDESPP00", "CTDCJ0000", "CTJUD0000"}) {
      if (recipient_state(hpd, id, ori) != "delivered") return false;
    }
    return true;
  };
  while (!all_delivered() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  const auto s = boost::json::parse(hpd.request("GET", "/v1/messages/" + id).body);
  const auto& rec = s.at("recipients").as_array();
  ASSERT_EQ(rec.size(), 3u) << s;
  for (const auto& d : rec) {
    EXPECT_EQ(d.at("state").as_string(), "delivered") << d;
    EXPECT_EQ(d.at("attempts").as_int64(), 1) << d;
    EXPECT_TRUE(d.as_object().contains("delivered_at")) << d;
    // The one attempt on its timeline: when it began (after the message was received), the
    // receiver's 2xx and how long the answer took.
    const auto& history = d.at("attempt_history").as_array();
    ASSERT_EQ(history.size(), 1u) << d;
    const auto& a = history[0].as_object();
    EXPECT_GE(a.at("status").as_int64(), 200) << d;
    EXPECT_LT(a.at("status").as_int64(), 300) << d;
    EXPECT_GE(a.at("took_ms").as_int64(), 0) << d;
    EXPECT_LT(a.at("took_ms").as_int64(), 10000) << d;
    EXPECT_GE(std::string(a.at("at").as_string()), std::string(s.at("received_at").as_string())) << d;
    EXPECT_FALSE(a.contains("error")) << d;
  }
  // The search lists recipients without their attempts (the message's page has them).
  const auto found = boost::json::parse(hpd.request("GET", "/v1/messages?case_key=OTN-2026-0000123").body);
  for (const auto& m : found.at("messages").as_array()) {
    for (const auto& d : m.at("recipients").as_array()) EXPECT_FALSE(d.as_object().contains("attempt_history")) << d;
  }

  // A case update for Hartford's case also reaches Hartford (its own-cases subscription).
  auto jud = client("judicial");
  const auto u = post(jud, "CTJUD0000", sample("valid/case-update-1.xml"));
  ASSERT_EQ(u.status, 202u) << u.body;
  const std::string uid(boost::json::parse(u.body).at("message_id").as_string());
  const auto report2 = wait_for_all({id, uid}, 20s);
  EXPECT_TRUE(report2.ok()) << report2.summary();
  EXPECT_EQ(report2.expected_deliveries, 6);
  EXPECT_EQ(hartford_->receipts().size(), 1u);
}

TEST_F(Delivery, ASubscriberDownForAWhileGetsItsBacklogCompleteAndInOrder) {
  start_sinks();
  start_hub();
  dcj_->stop();
  auto hpd = client("hartford-pd");
  std::vector<std::string> ids;
  for (int i = 0; i < 24; ++i) {
    const auto r = post(hpd, "CT0064000", arrest_packet("OTN-DOWN-" + std::to_string(i % 4), i));
    ASSERT_EQ(r.status, 202u) << r.body;
    ids.emplace_back(message_id(r));
  }
  // The others are not held up by the missing one.
  const auto until = std::chrono::steady_clock::now() + 15s;
  while ((despp_->receipts().size() < ids.size() || judicial_->receipts().size() < ids.size()) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(despp_->receipts().size(), ids.size());
  EXPECT_EQ(judicial_->receipts().size(), ids.size());
  EXPECT_EQ(dcj_->receipts().size(), 0u);

  std::this_thread::sleep_for(1s);  // a few failed attempts
  dcj_->start();
  const auto report = wait_for_all(ids, 30s);
  EXPECT_EQ(report.expected_deliveries, 3 * static_cast<long long>(ids.size()))
      << "DESPP, DCJ and Judicial each get every arrest packet: " << report.summary();
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.delivered, 3 * 24);
  EXPECT_EQ(db_->count("SELECT count(*) FROM delivery_states WHERE recipient_ori = 'CTDCJ0000' AND attempts > 1"), 4)
      << "only the head of each of the 4 cases should have been retried";
  // The head's timeline: the attempts DCJ did not answer (no status, the error), then its 2xx.
  const auto head = boost::json::parse(hpd.request("GET", "/v1/messages/" + ids[0]).body);
  for (const auto& d : head.at("recipients").as_array()) {
    if (d.at("recipient_ori").as_string() != "CTDCJ0000") continue;
    const auto& history = d.at("attempt_history").as_array();
    ASSERT_GE(history.size(), 2u) << d;
    EXPECT_EQ(static_cast<long long>(history.size()), std::min<long long>(d.at("attempts").as_int64(), 20)) << d;
    for (std::size_t i = 0; i + 1 < history.size(); ++i) {
      EXPECT_FALSE(history[i].as_object().contains("status")) << "DCJ was down: " << d;
      EXPECT_FALSE(history[i].at("error").as_string().empty()) << d;
      EXPECT_LE(std::string(history[i].at("at").as_string()), std::string(history[i + 1].at("at").as_string())) << d;
    }
    EXPECT_EQ(history.back().at("status").as_int64() / 100, 2) << d;
  }
}

TEST_F(Delivery, A4xxIsADeadLetterThatAnOperatorReplaysAfterTheFix) {
  start_sinks();
  dcj_->stop();
  dcj_->start({"--status", "400"});
  start_hub();
  auto hpd = client("hartford-pd");
  const auto r = post(hpd, "CT0064000", sample("valid/arrest-packet-1.xml"));
  ASSERT_EQ(r.status, 202u);
  const std::string id(message_id(r));
  auto until = std::chrono::steady_clock::now() + 15s;
  while (recipient_state(hpd, id, "CTDCJ0000") != "dead" && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(recipient_state(hpd, id, "CTDCJ0000"), "dead");
  EXPECT_EQ(db_->count("SELECT attempts FROM delivery_states WHERE recipient_ori = 'CTDCJ0000'"), 1);  // at once

  // The dead letter shows in the CLI and the admin API; only operators may use the API.
  std::string out;
  EXPECT_EQ(hub_->run_command({"dlq", "list", "-c", (source_dir() / "config/cjhub.example.yaml").string()}, &out), 0)
      << out;
  EXPECT_NE(out.find("CTDCJ0000"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTP 400"), std::string::npos) << out;
  auto ops = client("operator");
  auto list = ops.request("GET", "/v1/admin/dead-letters?agency=CTDCJ0000");
  ASSERT_EQ(list.status, 200u) << list.body;
  const auto listed = boost::json::parse(list.body);
  const auto& dead = listed.at("dead_letters").as_array();
  ASSERT_EQ(dead.size(), 1u);
  const std::string delivery(dead[0].at("delivery_id").as_string());
  EXPECT_EQ(hpd.request("GET", "/v1/admin/dead-letters").status, 403u);

  // Fix the receiver, replay, delivered.
  dcj_->stop();
  dcj_->start();
  const auto replay = ops.request("POST", "/v1/admin/dead-letters/replay", "{\"delivery_id\":\"" + delivery + "\"}",
                                  {}, "application/json");
  ASSERT_EQ(replay.status, 200u) << replay.body;
  EXPECT_EQ(boost::json::parse(replay.body).at("replayed").as_int64(), 1);
  const auto report = wait_for_all({id}, 20s);
  EXPECT_TRUE(report.ok()) << report.summary();
  until = std::chrono::steady_clock::now() + 10s;
  while (recipient_state(hpd, id, "CTDCJ0000") != "delivered" && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(recipient_state(hpd, id, "CTDCJ0000"), "delivered");
  // Its timeline: the 400 that made it a dead letter, then the replay's 2xx.
  const auto s = boost::json::parse(hpd.request("GET", "/v1/messages/" + id).body);
  for (const auto& d : s.at("recipients").as_array()) {
    if (d.at("recipient_ori").as_string() != "CTDCJ0000") continue;
    const auto& history = d.at("attempt_history").as_array();
    ASSERT_EQ(history.size(), 2u) << d;
    EXPECT_EQ(history[0].at("status").as_int64(), 400) << d;
    EXPECT_FALSE(history[0].at("error").as_string().empty()) << d;
    EXPECT_EQ(history[1].at("status").as_int64() / 100, 2) << d;
  }
}

TEST_F(Delivery, AnEndpointThatKeepsFailingIsPausedAndResumedByAnOperator) {
  start_sinks();
  dcj_->stop();
  start_hub({{"CJHUB_PAUSE_AFTER_FAILURES", "5"}});
  auto hpd = client("hartford-pd");
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    const auto r = post(hpd, "CT0064000", arrest_packet("OTN-PAUSE-" + std::to_string(i), i));
    ASSERT_EQ(r.status, 202u);
    ids.emplace_back(message_id(r));
  }
  auto ops = client("operator");
  auto until = std::chrono::steady_clock::now() + 20s;
  bool paused = false;
  while (!paused && std::chrono::steady_clock::now() < until) {
    const auto eps = boost::json::parse(ops.request("GET", "/v1/admin/endpoints").body);
    for (const auto& e : eps.at("endpoints").as_array()) {
      if (e.at("agency").as_string() == "CTDCJ0000") paused = e.at("paused").as_bool();
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(paused);
  EXPECT_NE(hub_->log().find("paused after 5 consecutive failures"), std::string::npos);
  dcj_->start();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(dcj_->receipts().size(), 0u) << "a paused endpoint's backlog waits";
  EXPECT_EQ(ops.request("POST", "/v1/admin/endpoints/CTDCJ0000/main/resume").status, 200u);
  const auto report = wait_for_all(ids, 20s);
  EXPECT_EQ(report.expected_deliveries, 3 * static_cast<long long>(ids.size()))
      << "DESPP, DCJ and Judicial each get every arrest packet: " << report.summary();
  EXPECT_TRUE(report.ok()) << report.summary();
}

TEST_F(Delivery, ErasureNoticesAreAcknowledgedAndTheReceiptReachesTheCourt) {
  start_sinks();
  start_hub();
  auto hpd = client("hartford-pd");
  ASSERT_EQ(post(hpd, "CT0064000", sample("valid/arrest-packet-1.xml")).status, 202u);
  auto jud = client("judicial");
  const auto r = post(jud, "CTJUD0000", sample("valid/erasure-notice-1.xml"));
  ASSERT_EQ(r.status, 202u) << r.body;
  const std::string id(message_id(r));
  // The sinks acknowledge in their 2xx answer (sync): each recipient's state becomes acknowledged.
  const auto until = std::chrono::steady_clock::now() + 20s;
  auto all_acked = [&] {
    const auto s = boost::json::parse(jud.request("GET", "/v1/messages/" + id).body);
    const auto& rec = s.at("recipients").as_array();
    if (rec.size() != 3) return false;
    for (const auto& d : rec) {
      if (d.at("state").as_string() != "acknowledged") return false;
    }
    return true;
  };
  while (!all_acked() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(all_acked()) << jud.request("GET", "/v1/messages/" + id).body;
  const auto s = boost::json::parse(jud.request("GET", "/v1/messages/" + id).body);
  for (const auto& d : s.at("recipients").as_array()) {
    EXPECT_TRUE(d.at("ack_required").as_bool());
    EXPECT_EQ(d.at("ack_status").as_string(), "completed");
  }
  // Each acknowledgement travels back to the court as a receipt.
  const auto until2 = std::chrono::steady_clock::now() + 20s;
  auto receipts_at_court = [&] {
    int n = 0;
    for (const auto& l : judicial_->receipts()) n += l.at("message_type").as_string() == "Acknowledgement";
    return n;
  };
  while (receipts_at_court() < 3 && std::chrono::steady_clock::now() < until2) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(receipts_at_court(), 3);

  // Only an agency the message was delivered to may acknowledge it.
  auto nh = client("newhaven-pd");
  auto ack = sample("valid/ack-received.xml");
  replace_all(ack, "CTJUD0000-20270703-004512", id);
  replace_all(ack, "CTDCJ0000", "CT0093000");
  const auto wrong = nh.request("POST", "/v1/messages", ack);
  EXPECT_EQ(wrong.status, 403u) << wrong.body;
  EXPECT_NE(wrong.body.find("ack-not-addressed"), std::string::npos);
}

TEST_F(Delivery, KillNineDuringDeliveryLosesNothingAndKeepsCaseOrder) {
  start_sinks();
  for (auto* s : {despp_.get(), dcj_.get()}) {  // slow receivers: kills land mid-exchange
    s->stop();
    s->start({"--latency-ms", "30"});
  }
  start_hub();
  std::vector<std::string> ids;
  int n = 0;
  for (int round = 0; round < 4; ++round) {
    auto hpd = client("hartford-pd");
    for (int i = 0; i < 15; ++i, ++n) {
      const auto r = post(hpd, "CT0064000", arrest_packet("OTN-KILL-" + std::to_string(n % 5), n));
      ASSERT_EQ(r.status, 202u) << r.body;
      ids.emplace_back(message_id(r));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 70 * round));
    hub_->kill9();
    hub_->start();
  }
  const auto report = wait_for_all(ids, 60s);
  EXPECT_EQ(report.expected_deliveries, 3 * static_cast<long long>(ids.size()))
      << "DESPP, DCJ and Judicial each get every arrest packet: " << report.summary();
  EXPECT_TRUE(report.ok()) << report.summary();
  std::cout << "kill -9 x4 during delivery: " << report.summary() << "\n";
}

// SIGTERM under load: the hub stops taking requests, answers or refuses cleanly what is in
// progress, finishes or hands back its deliveries, exits 0; nothing accepted is lost and no
// delivery stays leased to the stopped process.
TEST_F(Delivery, SigtermUnderLoadExitsZeroLosesNothingAndLeavesNoLease) {
  start_sinks();
  for (auto* s : {despp_.get(), dcj_.get()}) {  // slow receivers: deliveries are in flight at the signal
    s->stop();
    s->start({"--latency-ms", "50"});
  }
  start_hub();
  std::mutex m;
  std::vector<std::string> ids;
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&, t] {
      auto c = client("hartford-pd");
      for (int i = 0; !stop; ++i) {
        try {
          const auto r = post(c, "CT0064000", arrest_packet("OTN-TERM-" + std::to_string((t * 7 + i) % 9), t * 10000 + i));
          if (r.status == 202u) {
            std::lock_guard lock(m);
            ids.emplace_back(message_id(r));
          } else {
            ++refused;  // 503 shutting-down: nothing stored, the client retries elsewhere
          }
        } catch (const std::exception&) {
          ++refused;  // the listener closed: nothing was accepted on this attempt
          c.close();
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  const auto t0 = std::chrono::steady_clock::now();
  const int status = hub_->terminate();
  const auto drained_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  stop = true;
  for (auto& t : senders) t.join();
  EXPECT_EQ(status, 0) << "exit status after SIGTERM";
  // Requests in progress are answered and connections closed well before the 20 s budget (an
  // answer posted while no I/O was pending used to wait for the deadline, and then be lost).
  EXPECT_LT(drained_ms.count(), 10000) << "the drain waited for its deadline";
  EXPECT_EQ(hub_->log().find("still open at the drain deadline"), std::string::npos);
  ASSERT_GT(ids.size(), 10u);
  // Every accepted message is stored; nothing is left leased or in flight.
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "'" : ",'") + id + "'";
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id IN (" + list + ")"), static_cast<long long>(ids.size()));
  EXPECT_EQ(db_->count("SELECT count(*) FROM delivery_states WHERE state = 'in_flight' OR leased_by IS NOT NULL"), 0);
  EXPECT_NE(hub_->log().find("draining"), std::string::npos);
  std::cout << "SIGTERM under load: accepted=" << ids.size() << " refused_or_closed=" << refused.load()
            << " drain_ms=" << drained_ms.count() << "\n";
  // A new process delivers the rest, in order, once each.
  hub_->start();
  const auto report = wait_for_all(ids, 60s);
  EXPECT_EQ(report.expected_deliveries, 3 * static_cast<long long>(ids.size()))
      << "DESPP, DCJ and Judicial each get every arrest packet: " << report.summary();
  EXPECT_TRUE(report.ok()) << report.summary();
}

TEST_F(Delivery, TwoHubsOnOneDatabaseShareTheWorkWithoutDoubleSends) {
  start_sinks();
  start_hub();
  // The second process runs two dispatchers: three in all share the work.
  hub2_ = std::make_unique<HubProcess>(hub_options({{"CJHUB_DISPATCHERS", "2"}}));
  hub2_->start();
  // The work is shared by endpoint (each reads its endpoints' logs): the first hub, alone at first,
  // gives the others their share within a second.
  for (int i = 0; i < 50 && db_->count("SELECT count(DISTINCT leased_by) FROM endpoint_cursors") < 3; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  std::vector<std::string> ids;
  for (int h = 0; h < 2; ++h) {
    auto c = client("hartford-pd", h == 0 ? hub_.get() : hub2_.get());
    for (int i = 0; i < 40; ++i) {
      const auto r = post(c, "CT0064000", arrest_packet("OTN-TWO-" + std::to_string(i % 8), h * 100 + i));
      ASSERT_EQ(r.status, 202u) << r.body;
      ids.emplace_back(message_id(r));
    }
  }
  const auto report = wait_for_all(ids, 40s);
  EXPECT_EQ(report.expected_deliveries, 3 * static_cast<long long>(ids.size()))
      << "DESPP, DCJ and Judicial each get every arrest packet: " << report.summary();
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.duplicates, 0) << "with both hubs alive nothing is sent twice";
  // Both hubs did part of the work: each delivery attempt is audited with the dispatcher that
  // made it (one record per delivery left on a row, one per batch with its count for those
  // delivered on the log), and each process logs the ids of its dispatchers.
  auto attempts_by = [&](HubProcess& h) {
    const std::regex started("dispatcher (\\S+) started");
    const auto log = h.log();
    long long n = 0;
    int dispatchers = 0;
    for (std::sregex_iterator it(log.begin(), log.end(), started), end; it != end; ++it, ++dispatchers) {
      n += db_->count(
          "SELECT coalesce(sum(CASE WHEN detail ~ '^[0-9]+ message\\(s\\) delivered$' "
          "THEN split_part(detail, ' ', 1)::bigint ELSE 1 END), 0) FROM audit_log WHERE action = 'delivery' "
          "AND actor = 'hub:" + (*it)[1].str() + "'");
    }
    EXPECT_GT(dispatchers, 0) << log;
    return n;
  };
  const auto first = attempts_by(*hub_);
  const auto second = attempts_by(*hub2_);
  EXPECT_GT(first, 0) << "the first hub sent nothing";
  EXPECT_GT(second, 0) << "the second hub sent nothing";
  EXPECT_EQ(first + second, 3 * static_cast<long long>(ids.size())) << "one attempt per delivery";
  std::cout << "two hubs: first sent " << first << ", second sent " << second << "\n";
  EXPECT_EQ(db_->count("SELECT count(*) FROM delivery_states WHERE state NOT IN ('delivered', 'acknowledged')"), 0);
}

// Delivery's two clocks are the operator's (delivery.read_log_every_ms, move_cursor_every_ms): a
// message stored just after an endpoint read its log waits for the next read, and the stored
// cursor stays where its last move put it while the rounds between record their deliveries (the
// sender's status says delivered), until the hub stops; with both at 0 every round moves it.
TEST_F(Delivery, TheReadClockAndTheCursorClockAreTheOperatorsToSet) {
  start_sinks();
  start_hub({{"CJHUB_READ_LOG_EVERY_MS", "1000"}, {"CJHUB_MOVE_CURSOR_EVERY_MS", "60000"}});
  auto hpd = client("hartford-pd");
  const std::vector<SinkProcess*> sinks{despp_.get(), dcj_.get(), judicial_.get()};
  const std::vector<std::string> oris{"CTDESPP00", "CTDCJ0000", "CTJUD0000"};
  const auto seq_of = [&](const std::string& id) { return db_->count("SELECT seq FROM messages WHERE id = '" + id + "'"); };
  const auto positions = [&] {
    std::vector<long long> out;
    for (const auto& ori : oris) {
      out.push_back(db_->count("SELECT c.position FROM endpoint_cursors c JOIN endpoints e ON e.id = c.endpoint_id "
                               "WHERE e.ori = '" + ori + "'"));
    }
    return out;
  };
  const auto all_delivered = [&](TlsClient& c, const std::string& id) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      bool all = true;
      for (const auto& ori : oris) all = all && recipient_state(c, id, ori) == "delivered";
      if (all || std::chrono::steady_clock::now() > until) return all;
      std::this_thread::sleep_for(20ms);
    }
  };

  // A is read (by each endpoint, at once: nothing was read before) after it was posted.
  const auto a_posted = std::chrono::steady_clock::now();
  const auto a = post(hpd, "CT0064000", arrest_packet("OTN-CLOCK-A", 1));
  ASSERT_EQ(a.status, 202u) << a.body;
  const auto a_id = message_id(a);
  ASSERT_TRUE(wait_for_all({a_id}, 20s).ok());
  ASSERT_TRUE(all_delivered(hpd, a_id));

  // B, of another case, is posted at once: each endpoint keeps up, so it reads B a second after
  // it read A (a few milliseconds of slack for reads that began just before A was committed).
  const auto b_posted = std::chrono::steady_clock::now();
  const auto b = post(hpd, "CT0064000", arrest_packet("OTN-CLOCK-B", 2));
  ASSERT_EQ(b.status, 202u) << b.body;
  const auto b_id = message_id(b);
  std::optional<std::chrono::steady_clock::time_point> first_b;
  for (const auto until = b_posted + 20s; !first_b && std::chrono::steady_clock::now() < until;) {
    for (auto* s : sinks) {
      if (s->receipts().size() >= 2) first_b = std::chrono::steady_clock::now();
    }
    if (!first_b) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(first_b.has_value()) << "B reached no endpoint";
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(*first_b - b_posted);
  const auto since_a = std::chrono::duration_cast<std::chrono::milliseconds>(b_posted - a_posted);
  EXPECT_GE(waited.count(), 1000 - since_a.count() - 200)
      << "B reached an endpoint " << waited.count() << " ms after it was posted, " << since_a.count()
      << " ms after A: read before the clock allowed";
  ASSERT_TRUE(wait_for_all({a_id, b_id}, 20s).ok());
  ASSERT_TRUE(all_delivered(hpd, b_id));

  // Delivered, and recorded as such, but no cursor has moved past B in the minute of its clock.
  const auto b_seq = seq_of(b_id);
  for (const auto p : positions()) EXPECT_LT(p, b_seq) << "a cursor moved before its clock allowed";
  EXPECT_EQ(db_->count("SELECT count(*) FROM delivery_states WHERE message_id = '" + b_id + "' AND state = 'delivered'"), 3);
  // A hub that stops moves its cursors where it finished.
  EXPECT_EQ(hub_->terminate(), 0);
  for (const auto p : positions()) EXPECT_GE(p, b_seq) << "a stopping hub left a cursor behind what it delivered";

  // Both clocks at 0: the round that records a delivery moves the cursor with it.
  start_hub({{"CJHUB_READ_LOG_EVERY_MS", "0"}, {"CJHUB_MOVE_CURSOR_EVERY_MS", "0"}});
  auto hpd2 = client("hartford-pd");
  for (int i = 0; i < 3; ++i) {
    const auto c = post(hpd2, "CT0064000", arrest_packet("OTN-CLOCK-C", 3 + i));
    ASSERT_EQ(c.status, 202u) << c.body;
    const auto c_id = message_id(c);
    ASSERT_TRUE(all_delivered(hpd2, c_id));
    const auto c_seq = seq_of(c_id);
    for (const auto p : positions()) EXPECT_GE(p, c_seq) << "message " << i << ": delivered, the cursor not moved";
  }
}

}  // namespace
}  // namespace cjhub::test
