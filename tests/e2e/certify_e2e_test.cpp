// End to end: a sandbox vendor onboards alone. It is added to the agencies file and applied, sends
// a day's notifications and packets (with forms attached) with `cjhub submit`, has the sandbox court
// send updates and an erasure about its cases to its endpoint (a real `cjhub sink`), and
// `cjhub certify` grades levels 1 and 2 from what the hub recorded: both pass, with the three
// reports. Then the vendor makes mistakes (an invalid document, a statute off the code list, a late
// notification, a document sent again changed under a new key, an endpoint that refuses the kit's
// duplicate) and fails exactly the criteria that name them.
#include <boost/json.hpp>

#include "e2e/delivery_fixture.hpp"
#include "cjhub/common/time.hpp"
#include "support/attachments.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class Certify : public DeliverySuite {
 protected:
  void start_sandbox_hub() {
    const auto file = write_sandbox_agencies("New sandbox RMS vendor",
                                             "EarlyArrestNotification, ArrestPacket, Acknowledgement",
                                             "EarlyArrestNotification, ArrestPacket, CaseUpdate, ErasureNotice");
    auto o = hub_options({{"CJHUB_SANDBOX_COURT_ORI", "CTJUD0000"}, {"CJHUB_WATCH_FLUSH_S", "1"}});
    o.agencies = file;
    hub_ = std::make_unique<HubProcess>(o);
    hub_->start();
  }
  // An early arrest notification of `case_key`, the arrest `ago` before now.
  static std::string notification(const std::string& case_key, const std::string& statute = "53-206",
                                  std::chrono::minutes ago = 10min) {
    auto doc = sample("valid/early-arrest-1.xml");
    replace_all(doc, "OTN-2026-0000123", case_key);
    replace_all(doc, "CT0064000-20260314-000866", "CT0064000-EAN-" + case_key);
    replace_all(doc, "2026-03-14T22:47:00-04:00", rfc3339(now_utc() - ago));
    replace_all(doc, ">53-206<", ">" + statute + "<");
    return doc;
  }
  static std::string packet(const std::string& case_key, int n) {
    const auto pdf = fake_form("pdf", 3000, n), tiff = fake_form("tiff", 5000, n);
    return with_attachments(arrest_packet(case_key, n), {attachment_xml(pdf, "application/pdf", size_kb(pdf)),
                                                         attachment_xml(tiff, "image/tiff", size_kb(tiff))});
  }
  int submit(const fs::path& outbox, std::string* out) {
    const auto cert = client_cert("hartford-pd");
    return hub_->run_command({"submit", "--hub-url", "https://localhost:" + std::to_string(hub_->port()), "--cert",
                              cert.cert.string(), "--key", cert.key.string(), "--ca", (pki_dir() / "ca.crt").string(),
                              "--wait", "0", outbox.string()},
                             out);
  }
  struct Graded {
    int exit_code = -1;
    std::string output;
    boost::json::object report;
    std::set<std::string> failed;
  };
  Graded certify(int level) {
    Graded g;
    const auto out = dir_ / "reports";
    g.exit_code = hub_->run_command({"certify", "-c", (source_dir() / "config" / "cjhub.example.yaml").string(),
                                     "--agency", "CT0064000", "--level", std::to_string(level), "--criteria",
                                     criteria_.string(), "--out", out.string()},
                                    &g.output);
    const auto json = out / ("certification-CT0064000-level" + std::to_string(level) + ".json");
    if (!fs::exists(json)) return g;
    g.report = boost::json::parse(read_file(json)).as_object();
    for (const auto& r : g.report.at("results").as_array()) {
      if (!r.at("passed").as_bool()) g.failed.insert(std::string(r.at("id").as_string()));
    }
    return g;
  }
  static bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
    return done();
  }
  fs::path criteria_;
};

TEST_F(Certify, ANewSandboxVendorPassesBothLevelsAndEachMistakeFailsItsCriterion) {
  despp_->start();
  hartford_->start();
  start_sandbox_hub();
  // The state's criteria with a smaller day: three notifications and two packets.
  auto text = read_file(source_dir() / "config" / "certification.yaml");
  replace_all(text, "min: 10", "min: 3");
  replace_all(text, "        min: 3\n      - id: L2-PACKET-DATA", "        min: 2\n      - id: L2-PACKET-DATA");
  criteria_ = dir_ / "certification.yaml";
  std::ofstream(criteria_) << text;

  // A day's traffic, sent by the reference client.
  const auto outbox = dir_ / "outbox";
  fs::create_directories(outbox);
  for (int i = 1; i <= 3; ++i) std::ofstream(outbox / ("1-ean-" + std::to_string(i) + ".xml")) << notification("OTN-2026-000020" + std::to_string(i));
  for (int i = 1; i <= 2; ++i) std::ofstream(outbox / ("2-packet-" + std::to_string(i) + ".xml")) << packet("OTN-2026-000020" + std::to_string(i), i);
  std::string out;
  ASSERT_EQ(submit(outbox, &out), 0) << out;

  // The court's side: two updates of one case, an erasure of another; the vendor's endpoint
  // receives them and acknowledges the erasure.
  auto vendor = client("hartford-pd");
  for (const auto& [type, case_key] : {std::pair<std::string, std::string>{"CaseUpdate", "OTN-2026-0000201"},
                                       {"CaseUpdate", "OTN-2026-0000201"}, {"ErasureNotice", "OTN-2026-0000203"}}) {
    const auto r = vendor.request("POST", "/v1/sandbox/court/" + type,
                                  boost::json::serialize(boost::json::object{{"case_key", case_key}}), {}, "application/json");
    ASSERT_EQ(r.status, 202u) << r.body;
  }
  ASSERT_TRUE(wait_for([&] { return hartford_->receipts().size() >= 3; }, 20s)) << "the vendor's endpoint got the court's three";
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM deliveries WHERE recipient_ori = 'CT0064000' "
                                               "AND ack_status = 'completed'") == 1; },
                       20s));
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM agencies WHERE ori = 'CT0064000' "
                                               "AND certificate_not_after > now()") == 1; },
                       20s))
      << "the hub recorded the vendor's certificate with its submissions";

  const auto one = certify(1);
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(one.failed.empty()) << one.output;
  ASSERT_FALSE(one.report.empty()) << one.output;
  EXPECT_EQ(one.report.at("results").as_array().size(), 6u);
  const auto two = certify(2);
  EXPECT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(two.failed.empty()) << two.output;
  ASSERT_FALSE(two.report.empty()) << two.output;
  EXPECT_EQ(two.report.at("results").as_array().size(), 12u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'admin' AND outcome = 'redelivered'"), 1)
      << "level 2 sent one duplicate";
  std::set<std::string> attempts;
  for (const auto& r : hartford_->receipts()) attempts.insert(std::string(r.at("message_id").as_string()));
  EXPECT_LT(attempts.size(), hartford_->receipts().size()) << "the endpoint received one message twice";
  for (const auto* ext : {".html", ".xml"}) {
    const auto f = dir_ / "reports" / (std::string("certification-CT0064000-level2") + ext);
    ASSERT_TRUE(fs::exists(f)) << f;
    EXPECT_NE(read_file(f).find("L2-DUPLICATE"), std::string::npos);
  }

  // Mistakes: an invalid document, a statute off the code list, a notification three hours late, a
  // document sent again changed under a new key, an endpoint that refuses duplicates.
  const auto bad = dir_ / "bad";
  fs::create_directories(bad);
  std::ofstream(bad / "1-invalid.xml") << sample("invalid/bad-date.xml");
  std::ofstream(bad / "2-statute.xml") << notification("OTN-2026-0000209", "99-999");
  std::ofstream(bad / "3-late.xml") << notification("OTN-2026-0000210", "53-206", 180min);
  std::ofstream(bad / "4-resent.xml") << notification("OTN-2026-0000201", "53-206", 12min);
  EXPECT_EQ(submit(bad, &out), 1) << out;
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM audit_log WHERE ori = 'CT0064000' "
                                               "AND outcome = 'refused:schema-invalid'") == 1; },
                       20s))
      << "the refusal is audited (shortly after the answer)";
  const auto level1 = certify(1);
  EXPECT_EQ(level1.exit_code, 1) << level1.output;
  EXPECT_EQ(level1.failed, (std::set<std::string>{"L1-SCHEMA", "L1-DATA", "L1-TIMELY", "L1-IDEMPOTENT"}))
      << level1.output;
  EXPECT_NE(level1.output.find("FAIL  L1-DATA"), std::string::npos) << level1.output;

  hartford_->start({"--status", "409"});
  const auto level2 = certify(2);
  EXPECT_EQ(level2.exit_code, 1) << level2.output;
  EXPECT_EQ(level2.failed,
            (std::set<std::string>{"L1-SCHEMA", "L1-DATA", "L1-TIMELY", "L1-IDEMPOTENT", "L2-DUPLICATE"}))
      << level2.output;

  // A production agency is never graded (nor sent a duplicate).
  std::string refused;
  EXPECT_EQ(hub_->run_command({"certify", "-c", (source_dir() / "config" / "cjhub.example.yaml").string(), "--agency",
                               "ops1", "--criteria", criteria_.string(), "--out", (dir_ / "x").string()},
                              &refused),
            2)
      << refused;
  EXPECT_NE(refused.find("not a sandbox agency"), std::string::npos) << refused;
}

}  // namespace
}  // namespace cjhub::test
