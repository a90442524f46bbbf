// End-to-end tier, faults: the scorecard against outages of known length. DCJ's endpoint (a real
// `cjhub sink`) refuses connections while traffic flows, then, with no traffic, hangs and answers
// 503; the hub's deliveries and its probes of the idle endpoint (every second here) must find each
// outage, and the scorecard (API, CLI, metrics) must report what the test did.
#include <boost/json.hpp>
#include <thread>

#include "e2e/delivery_fixture.hpp"
#include "support/pg_control.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class Scorecard : public DeliverySuite {};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

const boost::json::object* find_endpoint(const boost::json::value& card, const std::string& ori) {
  for (const auto& a : card.at("agencies").as_array()) {
    if (a.at("agency").as_string() == ori) return &a.at("endpoints").as_array().at(0).as_object();
  }
  return nullptr;
}

TEST_F(Scorecard, OutagesOfKnownLengthWhileTrafficFlowsAndWhileIdleAreMeasuredWithinSeconds) {
  start_sinks();
  start_hub({{"CJHUB_WATCH_INTERVAL_S", "1"}, {"CJHUB_WATCH_FLUSH_S", "1"}});
  auto hpd = client("hartford-pd");
  auto ops = client("operator");
  std::vector<std::string> ids;
  int n = 0;
  const auto post_one = [&] {
    const auto r = post(hpd, "CT0064000", arrest_packet("OTN-SC-" + std::to_string(n), n));
    ++n;
    ASSERT_EQ(r.status, 202u) << r.body;
    ids.push_back(message_id(r));
  };
  // Traffic flows; DCJ refuses connections for about 6 s in the middle of it.
  for (int i = 0; i < 5; ++i) post_one();
  const auto refused_from = Clock::now();
  dcj_->stop();
  while (Clock::now() - refused_from < 6s) {
    post_one();
    std::this_thread::sleep_for(200ms);
  }
  dcj_->start();
  const auto refused_to = Clock::now();
  for (int i = 0; i < 5; ++i) post_one();
  const auto report = wait_for_all(ids, 60s);
  ASSERT_TRUE(report.ok()) << report.summary();

  // Idle: nothing is sent to DCJ now. It hangs for about 6 s (each probe times out after the
  // endpoint's 2 s), answers again for 4 s, then answers 503 for about 5 s.
  std::this_thread::sleep_for(2s);
  const auto hung_from = Clock::now();
  dcj_->stop();
  dcj_->start({"--hang"});
  std::this_thread::sleep_for(6s);
  dcj_->stop();
  dcj_->start();
  const auto hung_to = Clock::now();
  std::this_thread::sleep_for(4s);
  const auto failing_from = Clock::now();
  dcj_->stop();
  dcj_->start({"--status", "503"});
  std::this_thread::sleep_for(5s);
  dcj_->stop();
  dcj_->start();
  const auto failing_to = Clock::now();
  // The next probe (within a second or two) finds it up, and the outage ends.
  HttpResult card_r;
  boost::json::value card;
  const auto until = Clock::now() + 20s;
  do {
    std::this_thread::sleep_for(500ms);
    card_r = ops.request("GET", "/v1/admin/scorecard");
    ASSERT_EQ(card_r.status, 200u) << card_r.body;
    card = boost::json::parse(card_r.body);
  } while (Clock::now() < until && !(find_endpoint(card, "CTDCJ0000") &&
                                     find_endpoint(card, "CTDCJ0000")->at("up").as_bool() &&
                                     find_endpoint(card, "CTDCJ0000")->at("outages").as_int64() >= 3));
  const auto* dcj = find_endpoint(card, "CTDCJ0000");
  ASSERT_NE(dcj, nullptr) << card_r.body;
  EXPECT_TRUE(dcj->at("up").as_bool()) << card_r.body;
  ASSERT_EQ(dcj->at("outages").as_int64(), 3) << card_r.body;
  // In the order they happened, each within 3 s of what the test did (a probe interval, a probe
  // timeout, the sink's restart), far inside the one-minute bucket the issue allows.
  std::vector<boost::json::object> outages;
  for (const auto& o : dcj->at("longest_outages").as_array()) outages.push_back(o.as_object());
  ASSERT_EQ(outages.size(), 3u);
  std::sort(outages.begin(), outages.end(), [](const auto& a, const auto& b) {
    return a.at("started_at").as_string() < b.at("started_at").as_string();
  });
  for (const auto& o : outages) EXPECT_FALSE(o.at("ended_at").is_null());
  const double refused = seconds_between(refused_from, refused_to);
  const double hung = seconds_between(hung_from, hung_to);
  const double failing = seconds_between(failing_from, failing_to);
  std::map<std::string, double> by_cause{{"refused", outages[0].at("seconds").to_number<double>()},
                                         {"hang", outages[1].at("seconds").to_number<double>()},
                                         {"503", outages[2].at("seconds").to_number<double>()}};
  // The first outage was found by deliveries, the others by probes.
  EXPECT_NE(outages[0].at("cause").as_string().find("probe:"), 0u) << card_r.body;
  EXPECT_EQ(outages[1].at("cause").as_string().find("probe:"), 0u) << card_r.body;
  // (The first and last failure of an idle phase may be the sink's restart refusing a probe; what
  // the probes found in between is in the hub's log, checked below.)
  EXPECT_GE(outages[1].at("failures").as_int64(), 2) << card_r.body;
  EXPECT_GE(outages[2].at("failures").as_int64(), 2) << card_r.body;
  EXPECT_NEAR(by_cause["refused"], refused, 3.0) << card_r.body;
  EXPECT_NEAR(by_cause["hang"], hung, 3.0) << card_r.body;
  EXPECT_NEAR(by_cause["503"], failing, 3.0) << card_r.body;
  EXPECT_NE(hub_->log().find("probe found it down (probe: timeout"), std::string::npos);
  EXPECT_NE(hub_->log().find("probe found it down (probe: HTTP 503"), std::string::npos);
  const double down = dcj->at("down_seconds").to_number<double>();
  EXPECT_NEAR(down, by_cause["refused"] + by_cause["hang"] + by_cause["503"], 0.01);
  const double watched = dcj->at("watched_seconds").to_number<double>();
  EXPECT_NEAR(dcj->at("availability").to_number<double>(), 1.0 - down / watched, 1e-6);
  EXPECT_LT(dcj->at("budget_left").to_number<double>(), 1.0);
  // Probes were made and counted; deliveries and their answer times too.
  EXPECT_GT(dcj->at("probes").at("down").as_int64(), 0) << card_r.body;
  EXPECT_GT(dcj->at("probes").at("up").as_int64(), 0) << card_r.body;
  EXPECT_GT(dcj->at("attempts").at("up").as_int64(), 0) << card_r.body;
  EXPECT_GT(dcj->at("attempts").at("down").as_int64(), 0) << card_r.body;
  EXPECT_FALSE(dcj->at("answer_ms").at("p99").is_null()) << card_r.body;
  // DESPP never failed.
  const auto* despp = find_endpoint(card, "CTDESPP00");
  ASSERT_NE(despp, nullptr);
  EXPECT_EQ(despp->at("outages").as_int64(), 0);
  EXPECT_EQ(despp->at("availability").to_number<double>(), 1.0);

  // An agency sees its own endpoints only; the CLI and the metrics say the same.
  const auto own = hpd.request("GET", "/v1/scorecard");
  ASSERT_EQ(own.status, 200u) << own.body;
  const auto own_card = boost::json::parse(own.body);
  ASSERT_EQ(own_card.at("agencies").as_array().size(), 1u) << own.body;
  EXPECT_EQ(own_card.at("agencies").as_array()[0].at("agency").as_string(), "CT0064000");
  EXPECT_EQ(hpd.request("GET", "/v1/admin/scorecard").status, 403u);
  EXPECT_EQ(ops.request("GET", "/v1/admin/scorecard?month=2026-13").status, 400u);
  std::string csv;
  ASSERT_EQ(hub_->run_command({"scorecard", "-c", (source_dir() / "config/cjhub.example.yaml").string(), "--format",
                               "csv", "--agency", "CTDCJ0000"},
                              &csv),
            0)
      << csv;
  EXPECT_NE(csv.find("CTDCJ0000"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",1,"), std::string::npos) << csv;  // up now
  EXPECT_EQ(csv.find("CTDESPP00"), std::string::npos) << csv;
  const auto metrics = ops.request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("cjhub_endpoint_up{agency=\"CTDCJ0000\",endpoint=\"main\"} 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("cjhub_endpoint_availability_ratio{agency=\"CTDESPP00\",endpoint=\"main\",window=\"month\"} "
                              "1.000000"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("cjhub_endpoint_probes_total{result=\"down\"}"), std::string::npos);
  std::cout << "outages measured: refused " << by_cause["refused"] << " s (test: " << refused << " s), hung "
            << by_cause["hang"] << " s (" << hung << " s), 503 " << by_cause["503"] << " s (" << failing
            << " s); availability " << dcj->at("availability").to_number<double>() << "\n";
}

}  // namespace
}  // namespace cjhub::test

namespace cjhub::test {
namespace {

const boost::json::object* find_submitter(const boost::json::value& card, const std::string& ori) {
  for (const auto& a : card.at("agencies").as_array()) {
    if (a.at("agency").as_string() == ori && a.as_object().contains("submitter")) {
      return &a.at("submitter").as_object();
    }
  }
  return nullptr;
}

TEST_F(Scorecard, ASilentSubmitterIsFlaggedUntilItSubmitsAndItsOutcomesAreCountedByReason) {
  start_sinks();
  start_hub({{"CJHUB_WATCH_FLUSH_S", "1"}});
  // History: Hartford PD usually sends 50 packets a day and has sent nothing for 30 hours; New
  // Haven PD sends 3 a day (under the threshold of 10) and was as quiet.
  {
    auto conn = db_->connect();
    store::Transaction tx(*conn);
    tx.exec0("INSERT INTO submitter_days (ori, day, outcome, n) "
             "SELECT o, (now() AT TIME ZONE 'UTC')::date - d, 'accepted', CASE o WHEN 'CT0064000' THEN 50 ELSE 3 END "
             "FROM unnest(ARRAY['CT0064000', 'CT0093000']) o, generate_series(2, 15) d");
    tx.exec0("UPDATE agencies SET last_submission_at = now() - interval '30 hours' "
             "WHERE ori IN ('CT0064000', 'CT0093000')");
    tx.commit();
  }
  auto ops = client("operator");
  auto card_r = ops.request("GET", "/v1/admin/scorecard");
  ASSERT_EQ(card_r.status, 200u) << card_r.body;
  auto card = boost::json::parse(card_r.body);
  const auto* hpd_card = find_submitter(card, "CT0064000");
  ASSERT_NE(hpd_card, nullptr) << card_r.body;
  EXPECT_TRUE(hpd_card->at("silent").as_bool()) << card_r.body;
  EXPECT_NEAR(hpd_card->at("usual_daily").to_number<double>(), 50.0, 1e-9);
  const auto* nh_card = find_submitter(card, "CT0093000");
  ASSERT_NE(nh_card, nullptr) << card_r.body;
  EXPECT_FALSE(nh_card->at("silent").as_bool()) << "3 a day is under silence_min_daily";
  auto metrics = ops.request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("cjhub_submitter_silent{agency=\"CT0064000\"} 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("cjhub_submitter_silent{agency=\"CT0093000\"} 0"), std::string::npos);

  // Hartford PD submits again: one accepted, one refused by validation.
  auto hpd = client("hartford-pd");
  ASSERT_EQ(post(hpd, "CT0064000", arrest_packet("OTN-SILENT-1", 1)).status, 202u);
  ASSERT_EQ(hpd.request("POST", "/v1/messages", sample("invalid/bad-date.xml"), {{"Idempotency-Key", "silent-2"}}).status,
            422u);
  const auto today = [] {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return std::string(buf);
  }();
  const boost::json::object* today_row = nullptr;
  const auto until = std::chrono::steady_clock::now() + 15s;
  do {
    std::this_thread::sleep_for(300ms);
    card_r = ops.request("GET", "/v1/admin/scorecard");
    card = boost::json::parse(card_r.body);
    hpd_card = find_submitter(card, "CT0064000");
    today_row = nullptr;
    for (const auto& d : hpd_card->at("days").as_array()) {
      if (d.at("day").as_string() == today) today_row = &d.as_object();
    }
  } while (std::chrono::steady_clock::now() < until &&
           !(today_row && today_row->at("accepted").as_int64() == 1 && today_row->at("refused").as_int64() == 1));
  ASSERT_NE(today_row, nullptr) << card_r.body;
  EXPECT_EQ(today_row->at("accepted").as_int64(), 1) << card_r.body;
  EXPECT_EQ(today_row->at("refused").as_int64(), 1) << card_r.body;
  EXPECT_EQ(hpd_card->at("refused_by_reason").at("schema-invalid").as_int64(), 1) << card_r.body;
  EXPECT_FALSE(hpd_card->at("silent").as_bool()) << card_r.body;
  EXPECT_EQ(std::string(hpd_card->at("last_submission_at").as_string()).substr(0, 10), today);
  metrics = ops.request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("cjhub_submitter_silent{agency=\"CT0064000\"} 0"), std::string::npos);
  EXPECT_NE(metrics.body.find("cjhub_submitter_last_submission_timestamp_seconds{agency=\"CT0064000\"}"),
            std::string::npos);
  // An agency reads its own card; the submitters' CSV names the refusals' count.
  const auto own = boost::json::parse(hpd.request("GET", "/v1/scorecard").body);
  ASSERT_NE(find_submitter(own, "CT0064000"), nullptr);
  EXPECT_EQ(find_submitter(own, "CT0093000"), nullptr);
  std::string csv;
  ASSERT_EQ(hub_->run_command({"scorecard", "-c", (source_dir() / "config/cjhub.example.yaml").string(), "--format",
                               "csv", "--submitters", "--agency", "CT0064000"},
                              &csv),
            0)
      << csv;
  EXPECT_NE(csv.find("CT0064000"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",1,50.0,0\n"), std::string::npos) << "refused 1, usual 50 a day, not silent: " << csv;
}

}  // namespace
}  // namespace cjhub::test

namespace cjhub::test {
namespace {

const boost::json::object* find_component(const boost::json::value& card, const std::string& name) {
  for (const auto& c : card.at("hub").at("components").as_array()) {
    if (c.at("component").as_string() == name) return &c.as_object();
  }
  return nullptr;
}

TEST_F(Scorecard, TheHubsOwnAvailabilityCountsADatabaseOutageOfKnownLength) {
  PgControl pg;  // whatever happens below, the cluster comes back for the other tests
  if (!pg.available()) {
    if (env("CJHUB_REQUIRE_ALL_TIERS")) FAIL() << "CJHUB_TEST_PG_CTL is not set (scripts/test sets it)";
    GTEST_SKIP() << "CJHUB_TEST_PG_CTL is not set";
  }
  start_sinks();
  start_hub({{"CJHUB_WATCH_FLUSH_S", "1"}});
  auto ops = client("operator");
  std::this_thread::sleep_for(3s);
  const auto down_from = std::chrono::steady_clock::now();
  ASSERT_TRUE(pg.stop());
  std::this_thread::sleep_for(6s);
  ASSERT_TRUE(pg.start());
  const auto down_to = std::chrono::steady_clock::now();
  const double outage = std::chrono::duration<double>(down_to - down_from).count();
  // The seconds sampled while the database was away are written once it is back.
  boost::json::value card;
  const boost::json::object* db = nullptr;
  const auto until = std::chrono::steady_clock::now() + 30s;
  do {
    std::this_thread::sleep_for(500ms);
    const auto r = ops.request("GET", "/v1/admin/scorecard");
    if (r.status != 200u) continue;
    card = boost::json::parse(r.body);
    db = find_component(card, "database");
  } while (std::chrono::steady_clock::now() < until &&
           !(db && db->at("down_seconds").to_number<double>() >= outage - 3.0));
  ASSERT_NE(db, nullptr) << boost::json::serialize(card);
  const double down = db->at("down_seconds").to_number<double>();
  EXPECT_NEAR(down, outage, 3.0) << boost::json::serialize(card);
  EXPECT_LT(db->at("availability").to_number<double>(), 1.0);
  EXPECT_EQ(db->at("hubs").as_int64(), 1);
  const auto* overall = find_component(card, "overall");
  ASSERT_NE(overall, nullptr);
  EXPECT_GE(overall->at("down_seconds").to_number<double>(), down - 1.0);
  const auto* tls = find_component(card, "tls");
  ASSERT_NE(tls, nullptr);
  EXPECT_LT(tls->at("down_seconds").to_number<double>(), 2.0) << "only the database was away";
  // An agency's own card has no hub part.
  auto hpd = client("hartford-pd");
  const auto own = boost::json::parse(hpd.request("GET", "/v1/scorecard").body);
  EXPECT_FALSE(own.as_object().contains("hub"));
  std::cout << "database stopped for " << outage << " s; the hub's scorecard counts " << down << " s down\n";
}

}  // namespace
}  // namespace cjhub::test
