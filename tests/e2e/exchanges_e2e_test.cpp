// End to end: exchanges on three NIEM versions beside the CISS types, by configuration only
// (tests/data/config/exchanges.yaml over tests/data/iepd), posted over mutual TLS by the agencies
// that send them: every valid sample is accepted and stored as its own type with its keys, every
// invalid one is refused with 422 naming its line, the CISS types keep working, and check-config
// refuses a type that would put two IEPDs in one grammar pool, naming both niem-core files.
#include <map>

#include "e2e/hub_fixture.hpp"
#include "support/iepd_samples.hpp"

namespace cjhub::test {
namespace {

namespace fs = std::filesystem;

fs::path iepd_dir() { return data_dir() / "iepd"; }

// The agency whose certificate sends a sample: the one the document names as its origin.
std::string sender_of(const std::string& doc) {
  if (doc.find("CTJUD0000") != std::string::npos) return "judicial";
  if (doc.find("CT0064000") != std::string::npos) return "hartford-pd";
  if (doc.find("CT0093000") != std::string::npos) return "newhaven-pd";
  return "";
}

class ExchangesOverTls : public HubSuite {
 protected:
  static void SetUpTestSuite() {
    HubOptions o;
    o.config = data_dir() / "config" / "exchanges.yaml";
    o.agencies = data_dir() / "config" / "exchanges-agencies.yaml";
    start_hub(o);
  }
};

TEST_F(ExchangesOverTls, EveryValidSampleIsStoredAsItsOwnTypeWithItsKeys) {
  // The type each IEPD's root elements are registered as, and the case key's prefix in its samples.
  const std::map<std::string, std::string> type_of_root{{"CourtCaseUpdate", "CityCourtCaseUpdate"},
                                                        {"ArrestReport", "CityArrestReport"},
                                                        {"ArrestSubmission", "StateArrestSubmission"},
                                                        {"ExpungementOrder", "StateExpungementOrder"}};
  int posted = 0;
  for (const auto& iepd : {"city-5.0", "state-4.0", "state-3.0"}) {
    for (const auto& f : xml_files(iepd_dir() / iepd / "samples" / "valid")) {
      const auto doc = read_file(f);
      const auto who = sender_of(doc);
      ASSERT_FALSE(who.empty()) << f;
      auto c = client(who);
      const auto r = c.request("POST", "/v1/messages", doc);
      ASSERT_EQ(r.status, 202u) << f << ": " << r.body;
      const std::string id(json(r).at("message_id").as_string());
      const std::string type(json(r).at("type").as_string());
      std::string root;
      for (const auto& [name, t] : type_of_root) {
        if (doc.find(":" + name + " ") != std::string::npos) root = name;
      }
      EXPECT_EQ(type, type_of_root.at(root)) << f;
      // Stored with its case key (the OTN in the sample) and, for an expungement, as an erasure.
      const auto otn = doc.substr(doc.find("OTN-"), doc.find('<', doc.find("OTN-")) - doc.find("OTN-"));
      EXPECT_EQ(db_->scalar("SELECT case_key FROM messages WHERE id = '" + id + "'"), otn) << f;
      EXPECT_EQ(db_->scalar("SELECT erasure FROM messages WHERE id = '" + id + "'"),
                type == "StateExpungementOrder" ? "t" : "f")
          << f;
      ++posted;
    }
  }
  EXPECT_GE(posted, 8);
  // The expungement order's number is an attribute and its issuing court an unqualified element.
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE message_type = 'StateExpungementOrder' "
                       "AND document_id = 'EXP-2026-0001' AND origin_ori = 'CTJUD0000'"),
            1);
}

TEST_F(ExchangesOverTls, EveryInvalidSampleIs422NamingItsLineAndNothingIsStored) {
  int refused = 0;
  for (const auto& iepd : {"city-5.0", "state-4.0", "state-3.0"}) {
    for (const auto& s : invalid_samples_of(iepd_dir() / iepd)) {
      const auto file = s.file.filename().string();
      const auto& says = s.says;
      const auto doc = read_file(s.file);
      auto c = client(sender_of(doc));
      const auto r = c.request("POST", "/v1/messages", doc, {{"Idempotency-Key", std::string("invalid-") + file}});
      ASSERT_EQ(r.status, 422u) << file << ": " << r.body;
      EXPECT_EQ(problem_type(r), "https://localhost/problems/schema-invalid") << r.body;
      const auto body = json(r);
      const auto& e = body.at("errors").as_array().at(0);
      EXPECT_EQ(e.at("line").as_int64(), static_cast<std::int64_t>(s.line)) << file << ": " << r.body;
      EXPECT_NE(std::string(e.at("message").as_string()).find(says), std::string::npos) << file << ": " << r.body;
      EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE idempotency_key = 'invalid-" + file + "'"), 0);
      ++refused;
    }
  }
  EXPECT_GE(refused, 6);
}

TEST_F(ExchangesOverTls, TheCissTypesKeepWorkingBesideThem) {
  auto hpd = client("hartford-pd");
  auto r = hpd.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml"));
  EXPECT_EQ(r.status, 202u) << r.body;
  auto jud = client("judicial");
  r = jud.request("POST", "/v1/messages", sample("valid/case-update-1.xml"));
  EXPECT_EQ(r.status, 202u) << r.body;
  // A CISS document invalid under its own schemas is still refused.
  r = hpd.request("POST", "/v1/messages", sample("invalid/out-of-order-charge.xml"));
  EXPECT_EQ(r.status, 422u) << r.body;
}

TEST_F(ExchangesOverTls, CheckConfigRefusesTwoIepdsInOnePoolNamingBothFiles) {
  std::string out;
  // Exit 1: the check ran and found the configuration invalid.
  EXPECT_EQ(hub_->run_command({"check-config", (data_dir() / "config" / "exchanges-conflict.yaml").string()}, &out), 1)
      << out;
  EXPECT_NE(out.find("namespace http://release.niem.gov/niem/niem-core/5.0/ is supplied by two different files"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find((source_dir() / "schemas/niem/niem-core/5.0/niem-core.xsd").lexically_normal().string()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find((iepd_dir() / "city-5.0/niem/niem-core/5.0/niem-core.xsd").lexically_normal().string()),
            std::string::npos)
      << out;
  // Said once, however many files import it.
  const std::string said = "niem-core/5.0/ is supplied";
  EXPECT_EQ(out.find(said), out.rfind(said)) << out;
  // The configuration with four pools passes.
  EXPECT_EQ(hub_->run_command({"check-config", (data_dir() / "config" / "exchanges.yaml").string()}, &out), 0) << out;
  EXPECT_NE(out.find("OK (9 message types, 19 grammars loaded in 4 pool(s))"), std::string::npos) << out;
}

}  // namespace
}  // namespace cjhub::test
