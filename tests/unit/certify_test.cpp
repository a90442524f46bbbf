// Unit tier: the certification kit's criteria file and its grading, each check passing on good
// evidence and failing, with its evidence, on the mistake it names; and the three reports.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "cjhub/certify/grade.hpp"
#include "cjhub/certify/kit.hpp"
#include "cjhub/common/time.hpp"
#include "support/test_env.hpp"

namespace cjhub::certify {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kMinute = 60'000'000;
constexpr std::int64_t kNow = 1'800'000'000'000'000;  // 2027-01-15

Criteria shipped() { return load_criteria((test::source_dir() / "config" / "certification.yaml").string()); }

const Result& result(const Report& r, const std::string& id) {
  for (const auto& x : r.results) {
    if (x.criterion->id == id) return x;
  }
  throw std::runtime_error("no result " + id);
}

// A vendor that does everything right, by the shipped criteria.
Evidence good_vendor() {
  Evidence e;
  e.agency = {"CTSBX0001", "Sandbox RMS", true, true, kNow / 1'000'000 + 365 * 86400};
  e.since_us = kNow - 30LL * 1440 * kMinute;
  e.now_us = kNow;
  for (int i = 0; i < 12; ++i) {
    SentDocument d;
    const auto id = "00000000-0000-7000-8000-0000000000" + std::to_string(10 + i);
    d.message = {id, "EarlyArrestNotification", "DOC-" + std::to_string(i), "sandbox:OTN-2026-00000" + std::to_string(10 + i),
                 kNow - (100 - i) * kMinute, std::nullopt};
    d.readable = true;
    d.values["L1-DATA/ORI"] = {"CTSBX0001"};
    d.values["L1-DATA/OTN"] = {"OTN-2026-00000" + std::to_string(10 + i)};
    d.values["L1-DATA/surname"] = {"Whitfield"};
    d.values["L1-DATA/given name"] = {"Marcus"};
    d.values["L1-DATA/date of birth"] = {"1994-07-19"};
    d.values["L1-DATA/arrest date"] = {cjhub::rfc3339(cjhub::SystemTime(std::chrono::microseconds(kNow - (110 - i) * kMinute)))};
    d.values["L1-DATA/statute"] = {"53-206", "14-227a"};
    d.values["L1-TIMELY/arrest time"] = d.values["L1-DATA/arrest date"];
    e.documents.push_back(d);
    e.submissions.push_back({i + 1, d.message.received_us, "accepted", "message " + id, "EarlyArrestNotification"});
  }
  for (int i = 0; i < 3; ++i) {
    SentDocument d;
    d.message = {"10000000-0000-7000-8000-00000000000" + std::to_string(i), "ArrestPacket", "PKT-" + std::to_string(i),
                 "sandbox:OTN-2026-0000010", kNow - (50 - i) * kMinute, std::nullopt};
    d.readable = true;
    d.values["L2-PACKETS/attachment"] = {"application/pdf", "image/tiff"};
    d.values["L2-PACKET-DATA/ORI"] = {"CTSBX0001"};
    d.values["L2-PACKET-DATA/OTN"] = {"OTN-2026-0000010"};
    d.values["L2-PACKET-DATA/statute"] = {"53a-167a"};
    e.documents.push_back(d);
  }
  // Three case updates of one case, each answered 200 at the first attempt, in order.
  for (int i = 0; i < 3; ++i) {
    store::ReceivedMessage m;
    m.message_id = "20000000-0000-7000-8000-00000000000" + std::to_string(i);
    m.type = "CaseUpdate";
    m.case_key = "sandbox:OTN-2026-0000010";
    m.seq = 100 + i;
    m.delivery.state = "delivered";
    m.delivery.recipient_ori = "CTSBX0001";
    m.delivery.history = {{"2027-01-15T07:0" + std::to_string(i) + ":00.000000Z", 200, 12, ""}};
    e.received.push_back(m);
  }
  e.obligations.push_back({"30000000-0000-7000-8000-000000000000", "30000000-0000-7000-8000-000000000000", "d1",
                           "acknowledged", "completed", kNow - 40 * kMinute, kNow - 39 * kMinute});
  e.duplicate.attempted = true;
  e.duplicate.sent = store::Redelivery{e.received.back().message_id, "d-dup", "main"};
  store::DeliveryStatus dup;
  dup.state = "delivered";
  dup.last_status = 200;
  dup.history = {{"2027-01-15T07:02:00.000000Z", 200, 12, ""}, {"2027-01-15T08:00:00.000000Z", 200, 9, ""}};
  e.duplicate.outcome = dup;
  return e;
}

std::set<std::string> failed(const Report& r) {
  std::set<std::string> out;
  for (const auto& x : r.results) {
    if (!x.passed) out.insert(x.criterion->id);
  }
  return out;
}

TEST(CertifyCriteria, TheShippedFileDefinesBothLevelsAndLevelTwoIncludesLevelOne) {
  const auto c = shipped();
  EXPECT_FALSE(c.version.empty());
  ASSERT_TRUE(c.has_level(1));
  ASSERT_TRUE(c.has_level(2));
  EXPECT_EQ(c.for_level(1).size(), 6u);
  EXPECT_EQ(c.for_level(2).size(), 12u) << "level 2 is graded with level 1's criteria";
  EXPECT_TRUE(c.code_lists.at("statutes").count("53-206"));
}

TEST(CertifyCriteria, AMistakeInTheFileIsNamedWithItsCriterion) {
  const auto dir = fs::temp_directory_path() / ("cjhub-criteria-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto with = [&](const std::string& body) {
    std::ofstream(dir / "c.yaml") << "version: t1\nlevels:\n  - level: 1\n    criteria:\n" << body;
    try {
      load_criteria((dir / "c.yaml").string());
    } catch (const CriteriaError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(with("      - {id: X1, title: t, check: guess}\n").find("X1).check: unknown check 'guess'"), std::string::npos);
  EXPECT_NE(with("      - {id: X2, title: t, check: certificate, min: 3}\n").find("X2): check certificate takes no key 'min'"),
            std::string::npos);
  EXPECT_NE(with("      - {id: X3, title: t, check: accepted}\n").find("X3).message_type is required"), std::string::npos);
  EXPECT_NE(with("      - {id: X4, title: t, check: required_data, message_type: T, fields: [{name: s, path: a/b, "
                 "code_list: nope}]}\n")
                .find("code list 'nope'"),
            std::string::npos);
  EXPECT_NE(with("      - {id: X5, title: t, check: accepted, message_type: T, min: -1}\n").find("X5).min must not be negative"),
            std::string::npos);
  EXPECT_EQ(with("      - {id: X6, title: t, check: accepted, message_type: T, min: 1}\n"), "") << "a good file loads";
  fs::remove_all(dir);
}

TEST(CertifyGrade, AVendorThatDoesEverythingRightPassesBothLevels) {
  const auto c = shipped();
  const auto e = good_vendor();
  const auto one = grade(c, 1, e);
  EXPECT_TRUE(one.passed()) << report_json(one);
  const auto two = grade(c, 2, e);
  EXPECT_TRUE(two.passed()) << report_json(two);
  EXPECT_EQ(two.results.size(), 12u);
  EXPECT_NE(result(two, "L2-DUPLICATE").evidence.front().find("sent again as delivery d-dup"), std::string::npos);
}

TEST(CertifyGrade, EachMistakeFailsExactlyTheCriterionThatNamesIt) {
  const auto c = shipped();
  struct Case {
    std::string name;
    std::function<void(Evidence&)> mistake;
    std::set<std::string> fails;
    std::string evidence;  // a phrase the failing criterion's evidence or summary holds
  };
  const std::vector<Case> cases = {
      {"too few notifications", [](Evidence& e) { e.documents.erase(e.documents.begin(), e.documents.begin() + 5); },
       {"L1-VOLUME"}, "7 EarlyArrestNotification accepted"},
      {"an invalid submission", [](Evidence& e) { e.submissions.push_back({99, kNow - kMinute, "refused:schema-invalid", "", ""}); },
       {"L1-SCHEMA"}, "audit record 99"},
      {"a statute not in the list", [](Evidence& e) { e.documents[3].values["L1-DATA/statute"] = {"53-206", "99-999"}; },
       {"L1-DATA"}, "'99-999' is not in the code list statutes"},
      {"a date of birth that is no date", [](Evidence& e) { e.documents[2].values["L1-DATA/date of birth"] = {"1994-02-30"}; },
       {"L1-DATA"}, "is not a date"},
      {"no surname", [](Evidence& e) { e.documents[1].values.erase("L1-DATA/surname"); }, {"L1-DATA"}, "no surname"},
      {"a late notification",
       [](Evidence& e) {
         e.documents[4].values["L1-TIMELY/arrest time"] = {cjhub::rfc3339(cjhub::SystemTime(std::chrono::microseconds(
             e.documents[4].message.received_us - 190 * kMinute)))};
       },
       {"L1-TIMELY"}, "3 h 10 min after the arrest time"},
      {"a 422", [](Evidence& e) { e.submissions.push_back({98, kNow, "refused:idempotency-conflict", "", ""}); },
       {"L1-IDEMPOTENT"}, "422 idempotency-conflict"},
      {"a document sent twice under two keys", [](Evidence& e) { e.documents[6].message.document_id = "DOC-5"; },
       {"L1-IDEMPOTENT"}, "accepted 2 times under different keys"},
      {"a certificate about to expire", [](Evidence& e) { e.agency.certificate_not_after = kNow / 1'000'000 + 10 * 86400; },
       {"L1-CERTIFICATE"}, "valid for 10 more days"},
      {"packets without forms", [](Evidence& e) { e.documents[13].values.erase("L2-PACKETS/attachment"); },
       {"L2-PACKETS"}, "has no attachment"},
      {"a gap in a case",
       [](Evidence& e) {
         e.received[1].delivery.state = "dead";
         e.received[1].delivery.last_error = "HTTP 400";
         e.received[1].delivery.history = {{"2027-01-15T07:01:00.000000Z", 400, 4, "HTTP 400"}};
       },
       {"L2-ORDER", "L2-ANSWERS"}, "never did (dead: HTTP 400)"},
      {"a 503 at the first attempt",
       [](Evidence& e) {
         e.received[0].delivery.history.insert(e.received[0].delivery.history.begin(),
                                               store::AttemptRecord{"2027-01-15T06:59:00.000000Z", 503, 3, "HTTP 503"});
       },
       {"L2-ANSWERS"}, "answered 503"},
      {"a duplicate refused",
       [](Evidence& e) {
         e.duplicate.outcome->state = "dead";
         e.duplicate.outcome->last_status = 409;
       },
       {"L2-DUPLICATE"}, "dead 409"},
      {"nothing to redeliver", [](Evidence& e) { e.duplicate.sent.reset(); }, {"L2-DUPLICATE"}, ""},
      {"a duplicate refused after the first answer was 2xx: only the duplicate fails",
       [](Evidence& e) {
         e.received[2].delivery.state = "dead";
         e.received[2].delivery.history.push_back({"2027-01-15T08:00:00.000000Z", 409, 3, "HTTP 409"});
         e.duplicate.outcome->state = "dead";
         e.duplicate.outcome->last_status = 409;
       },
       {"L2-DUPLICATE"}, ""},
      {"an erasure acknowledged only as received",
       [](Evidence& e) {
         e.obligations[0].ack_status = "received";
         e.obligations[0].sent_us = kNow - 25 * 60 * kMinute;
       },
       {"L2-ERASURE"}, "acknowledged received, not completed"},
      {"an erasure never acknowledged",
       [](Evidence& e) {
         e.obligations[0] = {"m", "x", "d", "pending", "", kNow - 25 * 60 * kMinute, 0};
       },
       {"L2-ERASURE"}, "never acknowledged"},
  };
  for (const auto& k : cases) {
    auto e = good_vendor();
    k.mistake(e);
    const auto r = grade(c, 2, e);
    EXPECT_EQ(failed(r), k.fails) << k.name << "\n" << report_json(r);
    if (!k.evidence.empty()) {
      std::string all;
      for (const auto& id : k.fails) {
        const auto& x = result(r, id);
        all += x.summary;
        for (const auto& l : x.evidence) all += "\n" + l;
      }
      EXPECT_NE(all.find(k.evidence), std::string::npos) << k.name << ": " << all;
    }
  }
}

TEST(CertifyGrade, AnErasureStillWithinItsTimeIsNotGradedYet) {
  auto e = good_vendor();
  e.obligations.push_back({"m2", "x2", "d2", "delivered", "", kNow - 5 * kMinute, 0});
  const auto criteria = shipped();  // the results point into it
  const auto r = grade(criteria, 2, e);
  EXPECT_TRUE(result(r, "L2-ERASURE").passed) << result(r, "L2-ERASURE").summary;
  EXPECT_NE(result(r, "L2-ERASURE").summary.find("1 still within their time"), std::string::npos);

  // Acknowledged only as received, within its time: the endpoint may still complete it.
  e.obligations.back().ack_status = "received";
  e.obligations.back().acknowledged_us = kNow - 4 * kMinute;
  const auto received = grade(criteria, 2, e);
  EXPECT_TRUE(result(received, "L2-ERASURE").passed) << result(received, "L2-ERASURE").summary;
  EXPECT_NE(result(received, "L2-ERASURE").summary.find("1 still within their time"), std::string::npos);

  // Refused by the endpoint (dead-lettered), or acknowledged as rejected: graded at once.
  auto dead = e;
  dead.obligations.back() = {"m2", "x2", "d2", "dead", "", kNow - 5 * kMinute, 0};
  const auto refused = grade(criteria, 2, dead);
  EXPECT_FALSE(result(refused, "L2-ERASURE").passed) << result(refused, "L2-ERASURE").summary;
  EXPECT_NE(report_json(refused).find("never received: dead-lettered"), std::string::npos);
  auto rejected = e;
  rejected.obligations.back().ack_status = "rejected";
  const auto no = grade(criteria, 2, rejected);
  EXPECT_FALSE(result(no, "L2-ERASURE").passed) << result(no, "L2-ERASURE").summary;
  EXPECT_NE(report_json(no).find("acknowledged rejected, not completed"), std::string::npos);
}

TEST(CertifyGrade, DatesAndTimesAreReadStrictly) {
  EXPECT_EQ(parse_datetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_datetime("2026-03-14T22:47:00-04:00"), parse_datetime("2026-03-15T02:47:00Z"));
  EXPECT_EQ(parse_datetime("1970-01-01T00:00:01.5Z"), 1'500'000);
  EXPECT_FALSE(parse_datetime("2026-03-14T22:47:00"));  // no offset: not comparable
  EXPECT_FALSE(parse_datetime("2026-02-30T00:00:00Z"));
  EXPECT_TRUE(valid_date("2024-02-29"));
  EXPECT_FALSE(valid_date("2023-02-29"));
  EXPECT_FALSE(valid_date("19940719"));
}

TEST(CertifyReport, TheThreeReportsCarryTheSameVerdictsAndEscapeWhatTheyQuote) {
  auto e = good_vendor();
  e.agency.name = "RMS <Vendor> & Co";
  e.documents[3].values["L1-DATA/statute"] = {"<script>"};
  const auto criteria = shipped();  // the results point into it
  const auto r = grade(criteria, 2, e);
  ASSERT_EQ(r.failures(), 1u);
  const auto text = report_json(r);
  const auto json = boost::json::parse(text).as_object();
  EXPECT_FALSE(json.at("passed").as_bool());
  EXPECT_EQ(json.at("failures").as_int64(), 1);
  EXPECT_EQ(json.at("results").as_array().size(), 12u);
  const auto junit = report_junit(r);
  EXPECT_NE(junit.find("tests=\"12\" failures=\"1\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("name=\"L1-DATA: "), std::string::npos);
  EXPECT_NE(junit.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(junit.find("<script>"), std::string::npos);
  const auto html = report_html(r);
  EXPECT_NE(html.find("NOT PASSED"), std::string::npos);
  EXPECT_NE(html.find("RMS &lt;Vendor&gt; &amp; Co"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
}

}  // namespace
}  // namespace cjhub::certify
