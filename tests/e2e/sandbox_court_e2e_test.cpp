// End to end: a sandbox vendor exercises the court's side of the workflow alone. Its arrest packet
// reaches the sandbox DESPP; it asks the sandbox court (POST /v1/sandbox/court/{type}) for a case
// update and an erasure notice about its case; both are made from the configured templates,
// validated, stored and routed among sandbox agencies like any court message; the erasure removes
// the case's payload and its ledger fills as the sandbox agencies acknowledge. A production agency
// cannot ask the sandbox court, and a bad request is told what is wrong.
#include <boost/json.hpp>

#include "e2e/delivery_fixture.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class SandboxCourt : public DeliverySuite {
 protected:
  void start_sandbox_hub(std::map<std::string, std::string> env = {}) {
    const auto file = write_sandbox_agencies(
        "Sandbox RMS vendor", "ArrestPacket, Acknowledgement", "ArrestPacket, CaseUpdate, ErasureNotice",
        "  - ori: CT0093000\n    name: New Haven Police Department\n"
        "    identities: [{san_uri: 'urn:cjhub:ori:CT0093000'}]\n    publish: [ArrestPacket]\n");
    env["CJHUB_SANDBOX_COURT_ORI"] = "CTJUD0000";
    auto o = hub_options(env);
    o.agencies = file;
    hub_ = std::make_unique<HubProcess>(o);
    hub_->start();
  }
  static std::string court_request(const std::string& case_key) {
    return boost::json::serialize(boost::json::object{{"case_key", case_key}});
  }
  static bool received(SinkProcess& s, const std::string& id) {
    for (const auto& l : s.receipts()) {
      if (l.at("message_id").as_string() == id) return true;
    }
    return false;
  }
  static bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
    return done();
  }
};

TEST_F(SandboxCourt, AVendorGetsACaseUpdateAndAnErasureOfItsOwnCaseAndTheLedgerFills) {
  despp_->start();
  hartford_->start();
  start_sandbox_hub();
  auto vendor = client("hartford-pd");
  const auto arrest = vendor.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml"));
  ASSERT_EQ(arrest.status, 202u) << arrest.body;
  const std::string arrest_id(boost::json::parse(arrest.body).at("message_id").as_string());
  ASSERT_TRUE(wait_for([&] { return received(*despp_, arrest_id); }, 15s)) << "the sandbox DESPP has the packet";

  // A case update from the court, about the vendor's case.
  const auto update = vendor.request("POST", "/v1/sandbox/court/CaseUpdate", court_request("OTN-2026-0000123"),
                                     {}, "application/json");
  ASSERT_EQ(update.status, 202u) << update.body;
  const std::string update_id(boost::json::parse(update.body).at("message_id").as_string());
  EXPECT_EQ(db_->scalar("SELECT sender_ori || ' ' || message_type || ' ' || case_key FROM messages WHERE id = '" + update_id + "'"),
            "CTJUD0000 CaseUpdate sandbox:OTN-2026-0000123")
      << "stored as the sandbox court's, in the vendor's sandbox case";
  EXPECT_TRUE(wait_for([&] { return received(*hartford_, update_id) && received(*despp_, update_id); }, 15s))
      << "the vendor and the sandbox DESPP receive the court's update";

  // An erasure notice: the case's payload goes, every sandbox holder is told and acknowledges.
  const auto erasure = vendor.request("POST", "/v1/sandbox/court/ErasureNotice", court_request("OTN-2026-0000123"),
                                      {}, "application/json");
  ASSERT_EQ(erasure.status, 202u) << erasure.body;
  const std::string erasure_id(boost::json::parse(erasure.body).at("message_id").as_string());
  EXPECT_TRUE(wait_for([&] { return received(*hartford_, erasure_id) && received(*despp_, erasure_id); }, 15s));
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + arrest_id + "' AND body IS NULL"), 1)
      << "the vendor's arrest packet is erased";
  auto ops = client("operator");
  boost::json::object ledger;
  EXPECT_TRUE(wait_for(
      [&] {
        const auto r = ops.request("GET", "/v1/erasures/" + erasure_id);
        if (r.status != 200) return false;
        ledger = boost::json::parse(r.body).as_object();
        return ledger.at("status").as_string() == "complete";
      },
      20s))
      << boost::json::serialize(ledger);
  EXPECT_EQ(ledger.at("confirmed").as_int64(), 2) << "the vendor and the sandbox DESPP confirmed: "
                                                  << boost::json::serialize(ledger);

  // After the erasure, the vendor's case is closed to further messages like any erased case.
  const auto later = vendor.request("POST", "/v1/sandbox/court/CaseUpdate", court_request("OTN-2026-0000123"),
                                    {}, "application/json");
  EXPECT_EQ(later.status, 409u) << later.body;
  EXPECT_NE(later.body.find("case-erased"), std::string::npos) << later.body;
}

TEST_F(SandboxCourt, OnlySandboxAgenciesMayAskAndABadRequestIsToldWhatIsWrong) {
  despp_->start();
  hartford_->start();
  start_sandbox_hub();
  auto production = client("newhaven-pd");
  const auto refused = production.request("POST", "/v1/sandbox/court/CaseUpdate", court_request("OTN-2026-0000123"),
                                          {}, "application/json");
  EXPECT_EQ(refused.status, 403u) << refused.body;
  EXPECT_NE(refused.body.find("only a sandbox agency"), std::string::npos) << refused.body;

  auto vendor = client("hartford-pd");
  const auto unknown_type = vendor.request("POST", "/v1/sandbox/court/ArrestPacket", court_request("OTN-1"),
                                           {}, "application/json");
  EXPECT_EQ(unknown_type.status, 404u) << unknown_type.body;
  EXPECT_NE(unknown_type.body.find("sends no ArrestPacket"), std::string::npos) << unknown_type.body;
  for (const std::string& bad : {std::string("not json"), std::string("{}"), std::string("{\"case_key\": 5}"),
                                court_request(""), court_request(std::string(101, 'x')), court_request("OTN\n1")}) {
    const auto r = vendor.request("POST", "/v1/sandbox/court/ErasureNotice", bad, {}, "application/json");
    EXPECT_EQ(r.status, 400u) << bad << ": " << r.body;
    EXPECT_NE(r.body.find("\"parameter\":\"case_key\""), std::string::npos) << r.body;
  }
  // A case key with markup in it is the key's text, never markup in the court's document.
  const auto markup = vendor.request("POST", "/v1/sandbox/court/CaseUpdate", court_request("OTN-<b>&amp;"),
                                     {}, "application/json");
  EXPECT_EQ(markup.status, 202u) << markup.body;
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key = 'sandbox:OTN-<b>&amp;'"), 1);
  EXPECT_EQ(vendor.request("GET", "/v1/sandbox/court/CaseUpdate").status, 405u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE sender_ori = 'CTJUD0000'"), 1)
      << "nothing else was stored";
}

TEST_F(SandboxCourt, WhatAVendorAsksTheCourtCountsAgainstItsOwnRate) {
  start_sandbox_hub({{"CJHUB_AGENCY_RATE_PER_S", "1"}, {"CJHUB_AGENCY_BURST", "1"}});
  auto vendor = client("hartford-pd");
  const auto first = vendor.request("POST", "/v1/sandbox/court/CaseUpdate", court_request("OTN-RATE-1"), {},
                                    "application/json");
  EXPECT_EQ(first.status, 202u) << first.body;
  const auto second = vendor.request("POST", "/v1/sandbox/court/CaseUpdate", court_request("OTN-RATE-2"), {},
                                     "application/json");
  EXPECT_EQ(second.status, 429u) << second.body;
  EXPECT_NE(second.body.find("rate-limited"), std::string::npos) << second.body;
  EXPECT_FALSE(second.headers.count("retry-after") == 0) << "a 429 says when to come back";
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE sender_ori = 'CTJUD0000'"), 1)
      << "the refused request made no document";
}

TEST_F(SandboxCourt, CheckConfigFillsInEveryTemplateAndNamesABrokenOne) {
  start_sandbox_hub();
  std::string out;
  ASSERT_EQ(hub_->run_command({"check-config", (source_dir() / "config" / "cjhub.example.yaml").string()}, &out), 0)
      << out;
  EXPECT_NE(out.find("2 template(s) OK"), std::string::npos) << out;
  // A copy of the templates with an element the schema does not know, and one with a placeholder
  // the hub does not fill in.
  const auto broken = dir_ / "templates";
  std::filesystem::create_directories(broken);
  auto update = read_file(source_dir() / "config" / "sandbox" / "case-update.xml");
  auto erasure = read_file(source_dir() / "config" / "sandbox" / "erasure-notice.xml");
  replace_all(erasure, "<ciss:ErasureIndicator>true</ciss:ErasureIndicator>", "<ciss:Erased>true</ciss:Erased>");
  replace_all(update, "{{today}}", "{{disposition_date}}");
  std::ofstream(broken / "case-update.xml") << update;
  std::ofstream(broken / "erasure-notice.xml") << erasure;
  auto o = hub_options({{"CJHUB_SANDBOX_TEMPLATES", broken.string()}});
  HubProcess checker(o);
  // Exit 1: the check ran and found the configuration invalid.
  EXPECT_EQ(checker.run_command({"check-config", (source_dir() / "config" / "cjhub.example.yaml").string()}, &out), 1)
      << out;
  EXPECT_NE(out.find("sandbox.templates.ErasureNotice"), std::string::npos) << out;
  EXPECT_NE(out.find("schema-invalid"), std::string::npos) << out;
  EXPECT_NE(out.find("sandbox.templates.CaseUpdate"), std::string::npos) << out;
  EXPECT_NE(out.find("{{disposition_date}}"), std::string::npos) << out;
}

}  // namespace
}  // namespace cjhub::test
