// Database tier: endpoint availability. Outages open at the first failed exchange (a delivery's or
// a probe's) and end at the next successful one; the scorecard counts the seconds of outage inside
// a period exactly; the minute buckets add up across hubs and roll up by hour and day; retention
// keeps the tables bounded.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "cjhub/common/ids.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/availability_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/log_repo.hpp"
#include "cjhub/store/messages_repo.hpp"
#include "store/connection_impl.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;
using test::TestDatabase;
using Clock = std::chrono::system_clock;

class AvailabilityDb : public ::testing::Test {
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
        "    endpoints: [{name: main, url: 'https://localhost:9/inbox'}]\n",
        {"ArrestPacket"}));
    despp_ = db_->count("SELECT id FROM endpoints WHERE ori = 'CTDESPP00'");
    dcj_ = db_->count("SELECT id FROM endpoints WHERE ori = 'CTDCJ0000'");
    // Both were watched from two days ago (the period tests below start a day ago).
    sql("UPDATE endpoints SET watched_since = now() - interval '2 days'");
  }
  void sql(const std::string& q) {
    store::Transaction tx(*conn_);
    tx.exec0(q);
    tx.commit();
  }
  std::string store_message(const std::string& key) {
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
    m.received_at = now_utc();
    store::Transaction tx(*conn_);
    store::ingest_group(tx, {&m});
    tx.commit();
    return m.id.str();
  }
  // DESPP's dispatcher sends the next entry of its log; `ok` or a failure, begun at `at`.
  void send_next(bool ok, Clock::time_point at) {
    const auto l = store::lease_cursors(*conn_, "hub-a", 60000, 10).held;
    ASSERT_FALSE(l.empty());
    const auto& cursor = *std::find_if(l.begin(), l.end(), [&](const auto& c) { return c.endpoint_id == despp_; });
    const auto batch = store::read_log(*conn_, despp_, "hub-a", cursor.position, 1);
    ASSERT_EQ(batch.entries.size(), 1u);
    store::LogRound round;
    round.endpoint_id = despp_;
    round.recipient_ori = "CTDESPP00";
    round.position = batch.read_through;
    store::LogOutcome o;
    o.kind = ok ? store::LogOutcome::Kind::delivered : store::LogOutcome::Kind::retry;
    o.seq = batch.entries[0].seq;
    o.message_id = batch.entries[0].message_id;
    o.case_key = batch.entries[0].case_key;
    o.subscription_id = batch.entries[0].subscription_id;
    if (!ok) {
      o.endpoint_failure = true;
      o.error = "connect: Connection refused";
      o.delay = 100ms;
    } else {
      o.http_status = 200;
    }
    o.attempted_at = at;
    round.outcomes.push_back(o);
    store::complete_log(*conn_, "hub-a", round, 1000);
  }
  static std::string iso(Clock::time_point t) { return rfc3339(std::chrono::time_point_cast<std::chrono::microseconds>(t)); }
  double epoch(const std::string& expr) const {
    return std::stod(db_->scalar("SELECT extract(epoch FROM " + expr + ")::text"));
  }
  static double secs(Clock::time_point t) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count()) /
           1e6;
  }
  const store::EndpointScore& score_of(const std::vector<store::EndpointScore>& v, const std::string& ori) {
    const auto it = std::find_if(v.begin(), v.end(), [&](const auto& s) { return s.ori == ori; });
    EXPECT_NE(it, v.end()) << ori;
    return *it;
  }

  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr conn_;
  long long despp_ = 0, dcj_ = 0;
};

TEST_F(AvailabilityDb, AFailedDeliveryOpensAnOutageWhereItBeganAndTheNextSuccessEndsIt) {
  for (int i = 0; i < 4; ++i) store_message("m" + std::to_string(i));
  const auto t0 = Clock::now() - 30min;
  send_next(false, t0);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_outages WHERE ended_at IS NULL"), 1);
  // A second failure is counted in the same outage; its start stays where the first one began.
  // (The failed entry became a retry row; the next entry, of another case, is sent next.)
  send_next(false, t0 + 5min);
  const auto t1 = t0 + 12min;
  send_next(true, t1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_outages"), 1);
  EXPECT_EQ(db_->count("SELECT failures FROM endpoint_outages"), 2);
  EXPECT_NEAR(epoch("(SELECT started_at FROM endpoint_outages)"), secs(t0), 0.001);
  EXPECT_NEAR(epoch("(SELECT ended_at FROM endpoint_outages)"), secs(t1), 0.001);
  EXPECT_EQ(db_->scalar("SELECT cause FROM endpoint_outages"), "connect: Connection refused");
  EXPECT_EQ(db_->count("SELECT consecutive_failures FROM endpoints WHERE id = " + std::to_string(despp_)), 0);

  // Over the last day: 12 minutes down of 24 hours, and the budget of 99.9 % (86.4 s) spent 8 times over.
  const auto to = Clock::now();
  const auto scores = store::endpoint_scores(*conn_, iso(to - 24h), iso(to + 1s), 0.999, std::nullopt);
  const auto& s = score_of(scores, "CTDESPP00");
  EXPECT_TRUE(s.up);
  EXPECT_NEAR(s.down_seconds, 720, 0.01);
  ASSERT_TRUE(s.availability.has_value());
  EXPECT_NEAR(*s.availability, 1.0 - 720.0 / s.period_seconds, 1e-6);
  EXPECT_NEAR(s.budget_seconds, 0.001 * (86400 + 1), 0.01);
  EXPECT_NEAR(s.budget_left, 1.0 - 720.0 / s.budget_seconds, 1e-6);
  EXPECT_EQ(s.outages, 1);
  ASSERT_EQ(s.longest.size(), 1u);
  EXPECT_NEAR(s.longest[0].seconds, 720, 0.01);
  EXPECT_EQ(s.longest[0].cause, "connect: Connection refused");
  EXPECT_EQ(s.longest[0].failures, 2);
  const auto& dcj = score_of(scores, "CTDCJ0000");
  EXPECT_TRUE(dcj.up);
  EXPECT_EQ(dcj.down_seconds, 0);
  EXPECT_EQ(dcj.availability, 1.0);
}

TEST_F(AvailabilityDb, ProbesOpenAndEndOutagesButNeverMoveTheFailureCountThatPauses) {
  const auto t0 = Clock::now() - 2h;
  store::record_probe(*conn_, dcj_, false, "probe: timeout: no answer", t0);
  store::record_probe(*conn_, dcj_, false, "probe: HTTP 503", t0 + 5min);
  EXPECT_EQ(db_->count("SELECT consecutive_failures FROM endpoints WHERE id = " + std::to_string(dcj_)), 0);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoints WHERE paused"), 0);
  auto scores = store::endpoint_scores(*conn_, iso(t0 - 1h), iso(Clock::now() + 1h), 0.999, "CTDCJ0000");
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_FALSE(scores[0].up);
  ASSERT_EQ(scores[0].longest.size(), 1u);
  EXPECT_EQ(scores[0].longest[0].ended_at, "");
  EXPECT_EQ(scores[0].longest[0].cause, "probe: timeout: no answer");
  EXPECT_EQ(scores[0].longest[0].last_cause, "probe: HTTP 503");
  EXPECT_NEAR(scores[0].down_seconds, 7200, 5);  // open: counted up to now
  store::record_probe(*conn_, dcj_, true, "", t0 + 45min);
  scores = store::endpoint_scores(*conn_, iso(t0 - 1h), iso(Clock::now() + 1h), 0.999, "CTDCJ0000");
  EXPECT_TRUE(scores[0].up);
  EXPECT_NEAR(scores[0].down_seconds, 2700, 0.01);
  // A probe that succeeds while nothing is open changes nothing.
  store::record_probe(*conn_, dcj_, true, "", t0 + 50min);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_outages"), 1);
}

TEST_F(AvailabilityDb, OnlyThePartOfAnOutageInsideThePeriodCountsAndOutagesNeverOverlap) {
  const auto from = Clock::now() - 24h;
  // 30 minutes before the period and 20 minutes into it: 20 minutes count.
  store::record_probe(*conn_, despp_, false, "probe: HTTP 502", from - 30min);
  store::record_probe(*conn_, despp_, true, "", from + 20min);
  // A failure of an exchange that began before the last outage ended starts no earlier than that end.
  store::record_probe(*conn_, despp_, false, "probe: HTTP 500", from + 10min);
  store::record_probe(*conn_, despp_, true, "", from + 25min);
  EXPECT_NEAR(epoch("(SELECT started_at FROM endpoint_outages ORDER BY id DESC LIMIT 1)"), secs(from + 20min), 0.001);
  const auto scores = store::endpoint_scores(*conn_, iso(from), iso(from + 24h), 0.999, "CTDESPP00");
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_NEAR(scores[0].down_seconds, 25 * 60, 0.01);
  EXPECT_EQ(scores[0].outages, 2);
  ASSERT_EQ(scores[0].longest.size(), 2u);
  EXPECT_NEAR(scores[0].longest[0].seconds, 20 * 60, 0.01);  // longest first, clipped to the period
  EXPECT_NEAR(scores[0].longest[1].seconds, 5 * 60, 0.01);
  // Not watched before the endpoint existed: a period before watched_since has nothing to score.
  sql("UPDATE endpoints SET watched_since = now() WHERE id = " + std::to_string(despp_));
  const auto before = store::endpoint_scores(*conn_, iso(from - 48h), iso(from - 24h), 0.999, "CTDESPP00");
  ASSERT_EQ(before.size(), 1u);
  EXPECT_FALSE(before[0].availability.has_value());
}

TEST_F(AvailabilityDb, BucketsAddUpAcrossHubsAndRollUpByHourAndDay) {
  // Two hubs saw DESPP in the same minute; one of them in the next minute too.
  const std::int64_t day = (Clock::to_time_t(Clock::now()) / 86400 - 1) * 86400;  // yesterday, 00:00 UTC
  store::EndpointBucket a;
  a.endpoint_id = despp_;
  a.minute = day + 3600 + 120;
  a.attempts_up = 10;
  a.attempts_down = 2;
  a.answer_ms[1] = 10;  // 10-25 ms
  store::EndpointBucket b = a;
  b.attempts_up = 5;
  b.attempts_down = 0;
  b.probes_up = 1;
  b.answer_ms = {};
  b.answer_ms[1] = 4;
  b.answer_ms[6] = 1;  // 500-1000 ms
  store::EndpointBucket c = b;
  c.minute += 60;
  store::record_buckets(*conn_, {a});
  store::record_buckets(*conn_, {b, c});
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_minutes"), 2);
  EXPECT_EQ(db_->count("SELECT attempts_up FROM endpoint_minutes ORDER BY bucket LIMIT 1"), 15);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_hours"), 1);
  EXPECT_EQ(db_->count("SELECT attempts_up FROM endpoint_hours"), 20);
  EXPECT_EQ(db_->scalar("SELECT answer_ms::text FROM endpoint_days"), "{0,18,0,0,0,0,2,0,0,0,0}");
  EXPECT_EQ(db_->count("SELECT extract(epoch FROM bucket)::bigint FROM endpoint_days"), day);
  const auto from = Clock::from_time_t(day);
  const auto scores = store::endpoint_scores(*conn_, iso(from), iso(from + 48h), 0.999, "CTDESPP00");
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_EQ(scores[0].attempts_up, 20);
  EXPECT_EQ(scores[0].attempts_down, 2);
  EXPECT_EQ(scores[0].probes_up, 2);
  ASSERT_TRUE(scores[0].answer_p50_ms.has_value());
  EXPECT_GT(*scores[0].answer_p50_ms, 10);
  EXPECT_LE(*scores[0].answer_p50_ms, 25);
  EXPECT_GT(*scores[0].answer_p99_ms, 500);
  EXPECT_LE(*scores[0].answer_p99_ms, 1000);
}

TEST_F(AvailabilityDb, RetentionRemovesOldBucketsAndEndedOutagesButNeverAnOpenOne) {
  const auto now = Clock::to_time_t(Clock::now()) / 60 * 60;
  std::vector<store::EndpointBucket> old_and_new;
  for (const std::int64_t age_days : {40, 1}) {
    store::EndpointBucket b;
    b.endpoint_id = despp_;
    b.minute = now - age_days * 86400;
    b.attempts_up = 1;
    old_and_new.push_back(b);
  }
  store::record_buckets(*conn_, old_and_new);
  store::record_probe(*conn_, despp_, false, "probe: HTTP 503", Clock::now() - 24h * 40);
  store::record_probe(*conn_, despp_, true, "", Clock::now() - 24h * 39);
  store::record_probe(*conn_, dcj_, false, "probe: HTTP 503", Clock::now() - 24h * 40);  // still open
  const auto cut = iso(Clock::now() - 24h * 30);
  EXPECT_EQ(store::prune_availability(*conn_, cut, cut, cut, cut), 4u);  // a minute, an hour, a day, an outage
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_minutes"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_days"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_outages WHERE ended_at IS NULL"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM endpoint_outages"), 1);
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

TEST_F(AvailabilityDb, TheHubsComponentsCountTheBestHubOfEachMinuteAndMinutesNoHubSampledAsDown) {
  // Three whole minutes an hour ago: in the first hub A is down 30 s and hub B up all along (the
  // best counts: up); in the second only A reports, down 20 s; the third no hub sampled; then A
  // again, all up, until two minutes ago.
  const std::int64_t m0 = (Clock::to_time_t(Clock::now()) / 60 - 60) * 60;
  using C = store::ComponentSeconds;
  store::record_component_seconds(*conn_, "hub-a", {C{m0, "database", 30, 30}, C{m0 + 60, "database", 40, 20}});
  store::record_component_seconds(*conn_, "hub-b", {C{m0, "database", 60, 0}});
  std::vector<C> later;
  for (std::int64_t m = m0 + 180; m < m0 + 60 * 60; m += 60) later.push_back(C{m, "database", 60, 0});
  store::record_component_seconds(*conn_, "hub-a", later);
  // Written twice (a hub's flush retried after an unknown outcome adds up; here: the same minute later).
  store::record_component_seconds(*conn_, "hub-a", {C{m0 + 60, "database", 0, 0}});
  const auto scores = store::component_scores(*conn_, iso(Clock::from_time_t(m0 - 3600)), iso(Clock::now() + 1h));
  ASSERT_EQ(scores.size(), 1u);
  const auto& s = scores[0];
  EXPECT_EQ(s.component, "database");
  EXPECT_EQ(s.instances, 2);
  // Down: 20 s in the second minute, 60 s for the minute nobody sampled.
  EXPECT_NEAR(s.watched_seconds - s.up_seconds, 80, 0.01);
  ASSERT_TRUE(s.availability.has_value());
  EXPECT_NEAR(*s.availability, s.up_seconds / s.watched_seconds, 1e-9);
  EXPECT_GE(s.watched_seconds, 59 * 60 - 120);
  const auto cut = iso(Clock::now());
  EXPECT_GT(store::prune_component_minutes(*conn_, cut), 0u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM hub_component_minutes"), 0);
}

}  // namespace
}  // namespace cjhub
