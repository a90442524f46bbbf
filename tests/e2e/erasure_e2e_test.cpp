// End to end: erasure by operation of law. One case travels from arrest to erasure; afterwards
// the hub holds no payload of it, sent nothing more of it, told every agency that had it, can
// prove who confirmed, and leaks the person's data nowhere.
#include <chrono>
#include <map>
#include <sstream>

#include "e2e/delivery_fixture.hpp"
#include "support/prometheus.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class Erasure : public DeliverySuite {};

const char* kCase = "OTN-2026-0000123";
// Personal data of the case's subject and charges, from tests/data/ciss/valid/arrest-packet-1.xml.
const std::vector<std::string> kPersonalData = {"Whitfield", "Marcus", "1994-07-19", "CT00472915",
                                                "734215KA9", "Carrying a dangerous weapon"};

TEST_F(Erasure, TheHubForgetsTheCaseAndProvesEveryAgencyWasTold) {
  start_sinks();
  // Hartford PD never acknowledges: with a short deadline it becomes overdue.
  hartford_->stop();
  hartford_->start({"--ack", "none"});
  dcj_->stop();  // DCJ is down: what the case sent it is still undelivered at erasure time
  start_hub({{"CJHUB_ERASURE_DEADLINE_S", "3"}, {"CJHUB_ERASURE_FOLLOW_UP_S", "1"}});
  std::vector<std::string> api_answers;
  auto keep = [&](const HttpResult& r) {
    api_answers.push_back(r.body);
    return r;
  };

  auto hpd = client("hartford-pd");
  auto jud = client("judicial");
  const auto arrest = keep(hpd.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml")));
  ASSERT_EQ(arrest.status, 202u) << arrest.body;
  const std::string arrest_id(boost::json::parse(arrest.body).at("message_id").as_string());
  const auto update = keep(jud.request("POST", "/v1/messages", sample("valid/case-update-1.xml")));
  ASSERT_EQ(update.status, 202u) << update.body;
  // DESPP has both before the erasure; DCJ has neither.
  auto until = std::chrono::steady_clock::now() + 15s;
  while (despp_->receipts().size() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(despp_->receipts().size(), 2u);

  // The checks below look for these in the store: first show that they are there to be found.
  for (const auto& p : kPersonalData) {
    EXPECT_GT(db_->count("SELECT count(*) FROM messages WHERE position(convert_to('" + p + "', 'UTF8') in body) > 0"), 0)
        << p << " is not in the stored case before the erasure: the check after it would prove nothing";
  }
  const auto erasure = keep(jud.request("POST", "/v1/messages", sample("valid/erasure-notice-1.xml")));
  ASSERT_EQ(erasure.status, 202u) << erasure.body;
  const std::string erasure_id(boost::json::parse(erasure.body).at("message_id").as_string());

  // 1. No earlier payload byte of the case is left in the hub.
  EXPECT_EQ(db_->count(std::string("SELECT count(*) FROM messages WHERE case_key = '") + kCase +
                       "' AND id <> '" + erasure_id + "' AND body IS NOT NULL"),
            0);
  for (const auto& p : kPersonalData) {
    EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE position(convert_to('" + p + "', 'UTF8') in body) > 0"), 0)
        << p;
  }
  EXPECT_EQ(db_->count(std::string("SELECT count(*) FROM messages WHERE case_key = '") + kCase +
                       "' AND redacted_at IS NOT NULL"),
            2);
  // 2. What was not yet delivered of the case will never be: DCJ's arrest packet (its case update,
  //    a charge-level erasure itself, is still owed). One being sent at that moment finishes its
  //    attempt, and is suppressed when it would be retried without its payload.
  //    The case update's delivery, owed to the ledger, is suppressed too, in either order: wait
  //    for the arrest packet's own.
  const std::string suppressed_packet =
      "SELECT count(*) FROM delivery_states WHERE recipient_ori = 'CTDCJ0000' AND state = 'suppressed' "
      "AND erasure_id IS NULL";
  until = std::chrono::steady_clock::now() + 10s;
  while (db_->count(suppressed_packet) < 1 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(db_->count(suppressed_packet), 1) << db_->scalar(
      "SELECT string_agg(state || '/' || attempts || '/' || coalesce(last_error, '-') || '/' || coalesce(erasure_id::text, 'msg'), ' ; ') "
      "FROM delivery_states WHERE recipient_ori = 'CTDCJ0000'");

  // 3. Every agency that holds (or was to get) the record is sent the erasure; DCJ once it is back.
  dcj_->start();
  until = std::chrono::steady_clock::now() + 20s;
  auto got_erasure = [&](SinkProcess& s) {
    for (const auto& l : s.receipts()) {
      if (l.at("message_id").as_string() == erasure_id) return true;
    }
    return false;
  };
  while (!(got_erasure(*despp_) && got_erasure(*dcj_) && got_erasure(*hartford_)) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(got_erasure(*despp_));
  EXPECT_TRUE(got_erasure(*dcj_)) << db_->scalar(
      "SELECT string_agg(state || '/' || attempts || '/' || coalesce(last_error, '-') || '/' || coalesce(erasure_id::text, 'msg'), ' ; ') "
      "FROM delivery_states WHERE recipient_ori = 'CTDCJ0000'");
  EXPECT_TRUE(got_erasure(*hartford_));
  for (const auto& l : dcj_->receipts()) {
    EXPECT_EQ(l.at("message_type").as_string(), "ErasureNotice") << "DCJ must get nothing else of the case";
  }

  // 4. The ledger: DESPP and DCJ confirmed (their sinks acknowledge), Hartford is overdue.
  auto ops = client("operator");
  boost::json::object ledger;
  until = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    const auto r = keep(ops.request("GET", "/v1/erasures/" + erasure_id));
    ASSERT_EQ(r.status, 200u) << r.body;
    ledger = boost::json::parse(r.body).as_object();
    if ((ledger.at("confirmed").as_int64() == 2 && ledger.at("status").as_string() == "overdue") ||
        std::chrono::steady_clock::now() > until) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(ledger.at("case_key").as_string(), kCase);
  EXPECT_EQ(ledger.at("scope").as_string(), "case");
  EXPECT_EQ(ledger.at("requested_by").as_string(), "CTJUD0000");
  EXPECT_EQ(ledger.at("recipients").as_int64(), 3);
  EXPECT_EQ(ledger.at("confirmed").as_int64(), 2);
  EXPECT_EQ(ledger.at("status").as_string(), "overdue") << ledger;
  EXPECT_EQ(ledger.at("redacted_messages").as_int64(), 2);
  // DCJ's arrest packet (unless it was on the wire) and the superseded charge-level notice to DCJ.
  EXPECT_GE(ledger.at("suppressed_deliveries").as_int64(), 1);
  EXPECT_LE(ledger.at("suppressed_deliveries").as_int64(), 2);
  for (const auto& rs : ledger.at("recipient_states").as_array()) {
    const std::string ori(rs.at("recipient_ori").as_string());
    if (ori == "CT0064000") {
      EXPECT_TRUE(rs.at("overdue").as_bool()) << rs;
      EXPECT_EQ(rs.at("state").as_string(), "delivered") << rs;
      EXPECT_FALSE(rs.as_object().contains("ack_status")) << rs;
    } else {
      EXPECT_EQ(rs.at("ack_status").as_string(), "completed") << rs;
      EXPECT_FALSE(rs.at("overdue").as_bool()) << rs;
      EXPECT_TRUE(rs.as_object().contains("acknowledged_at")) << rs;
    }
  }
  // The court sees its erasures: this one overdue at Hartford, and the charge-level erasure that
  // case-update-1 carried, superseded by it.
  const auto list = keep(jud.request("GET", "/v1/erasures?status=overdue"));
  ASSERT_EQ(list.status, 200u);
  const auto listed = boost::json::parse(list.body);
  ASSERT_EQ(listed.at("erasures").as_array().size(), 1u) << listed;
  EXPECT_EQ(listed.at("erasures").as_array()[0].at("erasure_id").as_string(), erasure_id);
  const auto superseded = boost::json::parse(keep(jud.request("GET", "/v1/erasures?status=superseded")).body);
  ASSERT_EQ(superseded.at("erasures").as_array().size(), 1u) << superseded;
  EXPECT_EQ(superseded.at("erasures").as_array()[0].at("scope").as_string(), "charges");
  EXPECT_EQ(keep(jud.request("GET", "/v1/erasures?since=yesterday")).status, 400u);
  // A date of the right shape that PostgreSQL cannot use is the caller's error, not the hub's.
  const auto month13 = keep(jud.request("GET", "/v1/erasures?since=2026-13-01"));
  EXPECT_EQ(month13.status, 400u) << month13.body;
  EXPECT_NE(month13.body.find("out of range"), std::string::npos) << month13.body;
  // Hartford sees what it owes: both notices it was sent, each with its own row only (never that
  // DESPP or DCJ hold the case, not even through the agency filter), and not what the erasure did
  // elsewhere.
  const auto owed = boost::json::parse(keep(hpd.request("GET", "/v1/erasures")).body);
  ASSERT_EQ(owed.at("erasures").as_array().size(), 2u) << owed;
  for (const auto& e : owed.at("erasures").as_array()) {
    EXPECT_EQ(e.at("view").as_string(), "owed") << e;
    EXPECT_EQ(e.at("recipients").as_int64(), 1) << e;
    EXPECT_FALSE(e.as_object().contains("redacted_messages")) << e;
    EXPECT_FALSE(e.as_object().contains("suppressed_deliveries")) << e;
    ASSERT_EQ(e.at("recipient_states").as_array().size(), 1u) << e;
    EXPECT_EQ(e.at("recipient_states").as_array()[0].at("recipient_ori").as_string(), "CT0064000") << e;
  }
  const auto mine = boost::json::parse(keep(hpd.request("GET", "/v1/erasures/" + erasure_id)).body);
  EXPECT_EQ(mine.at("status").as_string(), "overdue") << "its own confirmation is overdue: " << mine;
  EXPECT_EQ(mine.at("confirmed").as_int64(), 0) << mine;
  EXPECT_EQ(keep(hpd.request("GET", "/v1/erasures?agency=CTDESPP00")).body.find(erasure_id), std::string::npos)
      << "the agency filter must not tell Hartford who else holds the case";
  const auto hpd_csv = keep(hpd.request("GET", "/v1/erasures?format=csv"));
  EXPECT_EQ(hpd_csv.body.find("CTDESPP00"), std::string::npos) << hpd_csv.body;
  EXPECT_EQ(hpd_csv.body.find("CTDCJ0000"), std::string::npos) << hpd_csv.body;
  EXPECT_NE(hpd_csv.body.find("CT0064000"), std::string::npos) << hpd_csv.body;
  // The court's view of its own erasure is whole.
  EXPECT_EQ(boost::json::parse(keep(jud.request("GET", "/v1/erasures/" + erasure_id)).body).at("view").as_string(),
            "requested");
  // The metrics say the same, per agency (operators only; Prometheus text).
  auto metrics = [&] { return parse_prometheus(keep(ops.request("GET", "/metrics")).body); };
  auto m = metrics();
  EXPECT_EQ(m.at("cjhub_erasures_overdue{agency=\"CT0064000\"}"), 1) << "the case's (the superseded one is not owed)";
  EXPECT_EQ(m.count("cjhub_erasures_overdue{agency=\"CTDESPP00\"}"), 0u);
  // One registry: each family once, with one TYPE; the duplicates of earlier versions are gone.
  {
    const auto text = keep(ops.request("GET", "/metrics")).body;
    std::map<std::string, int> families;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("# TYPE ", 0) == 0) ++families[line.substr(7, line.find(' ', 7) - 7)];
    }
    EXPECT_GT(families.size(), 20u);
    for (const auto& [name, n] : families) EXPECT_EQ(n, 1) << name << " rendered " << n << " times";
    EXPECT_EQ(families.count("cjhub_requests_total"), 0u) << "cjhub_submissions_total counts submissions";
    EXPECT_EQ(families.count("cjhub_deliveries_total"), 0u) << "cjhub_delivery_attempts_total counts attempts";
    EXPECT_EQ(families.count("cjhub_ingest_groups_total"), 1u);
    EXPECT_EQ(families.count("cjhub_connections_open"), 1u);
    const auto build = text.find("cjhub_build_info{version=\"");
    ASSERT_NE(build, std::string::npos) << text.substr(0, 2000);
    EXPECT_NE(text.find("\",commit=\"", build), std::string::npos);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_GT(m.at("process_start_time_seconds"), static_cast<double>(now - 600));
    EXPECT_LE(m.at("process_start_time_seconds"), static_cast<double>(now + 1));
  }
  EXPECT_GE(m.at("cjhub_delivery_attempts_total{outcome=\"delivered\"}"), 6);
  EXPECT_GE(m.at("cjhub_delivery_latency_seconds_count"), 6);
  EXPECT_EQ(m.at("cjhub_delivery_latency_seconds_bucket{le=\"+Inf\"}"), m.at("cjhub_delivery_latency_seconds_count"));
  EXPECT_GE(m.at("cjhub_submissions_total{type=\"ErasureNotice\",outcome=\"accepted\"}"), 1);
  EXPECT_EQ(m.at("cjhub_endpoint_paused{agency=\"CTDCJ0000\",endpoint=\"main\"}"), 0);
  EXPECT_EQ(m.at("cjhub_database_up"), 1);
  EXPECT_EQ(hpd.request("GET", "/metrics").status, 403u);
  // Hartford's late confirmation is recorded.
  auto ack = sample("valid/ack-completed.xml");
  replace_all(ack, "CTJUD0000-20270703-004512", erasure_id);
  replace_all(ack, "CTDESPP00", "CT0064000");
  EXPECT_EQ(keep(hpd.request("POST", "/v1/messages", ack)).status, 202u);
  const auto done = boost::json::parse(keep(ops.request("GET", "/v1/erasures/" + erasure_id)).body);
  EXPECT_EQ(done.at("status").as_string(), "complete") << done;
  EXPECT_EQ(metrics().count("cjhub_erasures_overdue{agency=\"CT0064000\"}"), 0u) << "nothing is owed any more";

  // 5. The compliance report.
  std::string csv;
  ASSERT_EQ(hub_->run_command({"erasures", "report", "-c", (source_dir() / "config/cjhub.example.yaml").string(),
                               "--format", "csv"},
                              &csv),
            0)
      << csv;
  EXPECT_NE(csv.find("erasure_id,case_key"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7) << csv;  // header + 3 recipients of each erasure
  EXPECT_NE(csv.find(std::string(erasure_id) + "," + kCase + ",case,CTJUD0000"), std::string::npos) << csv;

  // 6. A later message about the erased case is refused, and the sender can read only metadata.
  auto later = sample("valid/arrest-packet-1.xml");
  replace_all(later, "CT0064000-20260315-000871", "CT0064000-20270801-000001");
  const auto refused = keep(hpd.request("POST", "/v1/messages", later));
  EXPECT_EQ(refused.status, 409u) << refused.body;
  EXPECT_NE(refused.body.find("https://localhost/problems/case-erased"), std::string::npos);
  // A retry of the arrest packet accepted before the erasure still gets its first result.
  const auto retry = keep(hpd.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml")));
  EXPECT_EQ(retry.status, 202u) << retry.body;
  EXPECT_NE(retry.body.find(arrest_id), std::string::npos);
  const auto status = keep(hpd.request("GET", "/v1/messages/" + arrest_id));
  ASSERT_EQ(status.status, 200u);
  EXPECT_TRUE(boost::json::parse(status.body).at("payload_removed").as_bool());

  // 7. Nothing leaks: no API answer and no line of the hub's log carries the person's data.
  const auto log = hub_->log();
  for (const auto& p : kPersonalData) {
    EXPECT_EQ(log.find(p), std::string::npos) << "log carries " << p;
    for (const auto& a : api_answers) EXPECT_EQ(a.find(p), std::string::npos) << "API answer carries " << p << ": " << a;
  }
}

TEST_F(Erasure, ACaseUpdateWithEveryChargeErasedErasesTheCaseAndAPartialOneIsRecorded) {
  start_sinks();
  start_hub();
  auto nh = client("newhaven-pd");
  auto jud = client("judicial");
  ASSERT_EQ(nh.request("POST", "/v1/messages", sample("valid/arrest-packet-2.xml")).status, 202u);
  const auto all = jud.request("POST", "/v1/messages", sample("valid/case-update-all-erased.xml"));
  ASSERT_EQ(all.status, 202u) << all.body;
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE scope = 'case' AND case_key = 'OTN-2026-0000456'"), 1);
  ASSERT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key = 'OTN-2026-0000456' AND message_type = "
                       "'ArrestPacket'"),
            1)
      << "the arrest packet the erasure should redact is not stored under that case";
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key = 'OTN-2026-0000456' AND message_type = "
                       "'ArrestPacket' AND body IS NOT NULL"),
            0);
  // case-update-1 flags only some charges: forwarded and recorded, nothing redacted.
  auto hpd = client("hartford-pd");
  ASSERT_EQ(hpd.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml")).status, 202u);
  ASSERT_EQ(jud.request("POST", "/v1/messages", sample("valid/case-update-1.xml")).status, 202u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE scope = 'charges' AND case_key = 'OTN-2026-0000123'"), 1);
  ASSERT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key = 'OTN-2026-0000123'"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key = 'OTN-2026-0000123' AND body IS NULL"), 0);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erased_cases WHERE case_key = 'OTN-2026-0000123'"), 0);
  // One charge flagged and the others without any indicator: charge-level, not the whole case.
  auto one = sample("valid/case-update-all-erased.xml");
  int kept = 0;
  for (auto p = one.find("<ciss:ChargeAugmentation>"); p != std::string::npos; p = one.find("<ciss:ChargeAugmentation>", p)) {
    const auto e = one.find("</ciss:ChargeAugmentation>", p);
    if (kept++ == 0) {
      p = e;
      continue;
    }
    one.erase(p, e + std::string("</ciss:ChargeAugmentation>").size() - p);
  }
  ASSERT_GE(kept, 2);
  replace_all(one, "OTN-2026-0000456", "OTN-2026-0000999");
  replace_all(one, "<nc:IdentificationID>CTJUD0000-", "<nc:IdentificationID>CTJUD0000-X");
  const auto r1 = jud.request("POST", "/v1/messages", one);
  ASSERT_EQ(r1.status, 202u) << r1.body;
  EXPECT_EQ(db_->count("SELECT count(*) FROM erasures WHERE scope = 'charges' AND case_key = 'OTN-2026-0000999'"), 1);
  EXPECT_EQ(db_->count("SELECT count(*) FROM erased_cases WHERE case_key = 'OTN-2026-0000999'"), 0);
  // Its recipients owe an acknowledgement (there are some: DESPP and DCJ for each charge erasure).
  EXPECT_GE(db_->count("SELECT count(*) FROM delivery_states d JOIN erasures x ON x.id = d.erasure_id "
                       "WHERE x.scope = 'charges'"),
            4);
  EXPECT_EQ(db_->count("SELECT count(*) FROM delivery_states d JOIN erasures x ON x.id = d.erasure_id "
                       "WHERE x.scope = 'charges' AND NOT d.ack_required"),
            0);
}

}  // namespace
}  // namespace cjhub::test
