// Unit tier: admission with the shipped CISS configuration (schemas, keys, the example agencies),
// no database: which documents erase a whole case, which only charges, and which acknowledgements
// are refused before anything is stored.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cjhub/intake/admission.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/validation/schema_holder.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

class Admission : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto src = test::source_dir().string();
    setenv("CJHUB_TLS_DIR", (src + "/tests/data/config/fake-tls").c_str(), 1);
    setenv("CJHUB_DATABASE_URL", "postgresql://unit@127.0.0.1:1/none", 1);
    xerces_ = std::make_unique<validation::XercesRuntime>();
    config_ = std::make_unique<config::Config>(config::load(src + "/config/cjhub.example.yaml"));
    schemas_ = std::make_unique<validation::SchemaHolder>(config_->type_specs(), validation::Limits{256, 1024});
    std::vector<std::string> types;
    for (const auto& t : config_->message_types) types.push_back(t.spec.name);
    const auto file = config::load_agencies(src + "/config/agencies.example.yaml", types);
    directory_ = std::make_unique<identity::Directory>();
    directory_->replace(std::make_shared<const identity::Snapshot>(file.agencies, std::vector<config::Agency>{}));
  }
  static void TearDownTestSuite() {
    directory_.reset();
    schemas_.reset();
    config_.reset();
    xerces_.reset();
  }
  static std::variant<store::NewMessage, intake::Refusal> admit(const std::string& ori, std::string body) {
    const auto agency = directory_->current()->find(ori);
    if (!agency) throw std::runtime_error("no agency " + ori);
    return intake::admit(*config_, *schemas_, *agency, std::move(body), "key-1", now_utc());
  }
  static store::NewMessage admitted(const std::string& ori, std::string body) {
    auto r = admit(ori, std::move(body));
    if (auto* refusal = std::get_if<intake::Refusal>(&r)) {
      ADD_FAILURE() << "refused: " << refusal->detail;
      return {};
    }
    return std::get<store::NewMessage>(std::move(r));
  }
  static std::string sample(const std::string& rel) { return test::read_file(test::data_dir() / "ciss" / rel); }
  static void replace(std::string& s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
  }

  static inline std::unique_ptr<validation::XercesRuntime> xerces_;
  static inline std::unique_ptr<config::Config> config_;
  static inline std::unique_ptr<validation::SchemaHolder> schemas_;
  static inline std::unique_ptr<identity::Directory> directory_;
};

const std::string kAug2 =
    "<ciss:ChargeAugmentation><ciss:ChargeErasedIndicator>true</ciss:ChargeErasedIndicator>"
    "<ciss:ErasureBasisCode>NOT-GUILTY</ciss:ErasureBasisCode></ciss:ChargeAugmentation>";
const std::string kAug1 =
    "<ciss:ChargeAugmentation><ciss:ChargeErasedIndicator>true</ciss:ChargeErasedIndicator>"
    "<ciss:ErasureBasisCode>DISMISSAL</ciss:ErasureBasisCode></ciss:ChargeAugmentation>";

TEST_F(Admission, EveryChargeFlaggedErasesTheCase) {
  const auto m = admitted("CTJUD0000", sample("valid/case-update-all-erased.xml"));
  EXPECT_TRUE(m.erasure);
  EXPECT_FALSE(m.erasure_charges);
}

// Two indicators on the first charge and none on the second: as many indicators as charges, all
// true, yet the second charge is not erased, so neither is the case.
TEST_F(Admission, TwoIndicatorsOnOneChargeAndNoneOnAnotherEraseOnlyThatCharge) {
  auto doc = sample("valid/case-update-all-erased.xml");
  replace(doc, kAug2, "");
  replace(doc, kAug1, kAug1 + kAug1);
  const auto m = admitted("CTJUD0000", doc);
  EXPECT_FALSE(m.erasure) << "the second charge carries no indicator";
  EXPECT_TRUE(m.erasure_charges);
}

TEST_F(Admission, AFalseIndicatorBesideATrueOneOnTheSameChargeKeepsTheCase) {
  auto doc = sample("valid/case-update-all-erased.xml");
  replace(doc, kAug1, kAug1 +
                          "<ciss:ChargeAugmentation><ciss:ChargeErasedIndicator>false</ciss:ChargeErasedIndicator>"
                          "</ciss:ChargeAugmentation>");
  const auto m = admitted("CTJUD0000", doc);
  EXPECT_FALSE(m.erasure);
  EXPECT_TRUE(m.erasure_charges);
}

TEST_F(Admission, AnErasureNoticeWithoutChargesErasesByItsIndicator) {
  const auto m = admitted("CTJUD0000", sample("valid/erasure-notice-1.xml"));
  EXPECT_TRUE(m.erasure);
}

// An acknowledgement whose reference is empty, blank, nil or missing names nothing: refused (it
// would otherwise be a plain message, routed to every subscriber of acknowledgements).
TEST_F(Admission, AnAcknowledgementWithoutAReferenceIsRefused) {
  const auto ack = sample("valid/ack-received.xml");
  const std::string ref = "<nc:IdentificationID>CTJUD0000-20270703-004512</nc:IdentificationID>";
  ASSERT_NE(ack.find(ref), std::string::npos);
  const std::vector<std::pair<std::string, std::string>> variants{
      {"empty", "<nc:IdentificationID></nc:IdentificationID>"},
      {"blank", "<nc:IdentificationID>   </nc:IdentificationID>"},
      {"comment only", "<nc:IdentificationID><!-- none --></nc:IdentificationID>"},
      {"nil", "<nc:IdentificationID xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:nil=\"true\"/>"},
  };
  for (const auto& [name, replacement] : variants) {
    SCOPED_TRACE(name);
    auto doc = ack;
    doc.replace(doc.find(ref), ref.size(), replacement);
    auto r = admit("CTDCJ0000", doc);
    ASSERT_TRUE(std::holds_alternative<intake::Refusal>(r));
    const auto& refusal = std::get<intake::Refusal>(r);
    EXPECT_EQ(refusal.problem, intake::Problem::missing_reference) << refusal.detail;
    EXPECT_EQ(intake::info(refusal.problem).status, 422u);
  }
  // The same acknowledgement with its reference is admitted as one.
  const auto m = admitted("CTDCJ0000", ack);
  EXPECT_TRUE(m.acknowledgement);
  EXPECT_EQ(m.ack_ref, "CTJUD0000-20270703-004512");
}

// The refusal quotes the origin it read, cut to 32 bytes on a character boundary: the problem
// document stays valid UTF-8 whatever the document held.
TEST_F(Admission, AnOriginMismatchQuotesTheOriginAsValidUtf8) {
  auto doc = sample("valid/arrest-packet-1.xml");
  std::string origin = "x";
  for (int i = 0; i < 20; ++i) origin += "\xC3\x84";  // "Ä": byte 32 falls inside one
  replace(doc, "<j:OrganizationORIIdentification><nc:IdentificationID>CT0064000</nc:IdentificationID>",
          "<j:OrganizationORIIdentification><nc:IdentificationID>" + origin + "</nc:IdentificationID>");
  const auto r = admit("CT0064000", doc);
  const auto* refusal = std::get_if<intake::Refusal>(&r);
  ASSERT_NE(refusal, nullptr);
  EXPECT_EQ(refusal->problem, intake::Problem::origin_mismatch);
  std::string escaped;
  log::append_json_escaped(refusal->detail, escaped);
  EXPECT_EQ(escaped.find("\\ufffd"), std::string::npos) << "valid UTF-8: " << refusal->detail;
  EXPECT_NE(refusal->detail.find("x\xC3\x84"), std::string::npos) << refusal->detail;
}

// A sandbox agency's case keys live in the sandbox's own namespace (its cases, holders and erasures
// never meet production's), and a production document cannot name a case in it.
TEST_F(Admission, ASandboxAgencysCaseKeysAreItsOwnAndProductionCannotNameOne) {
  const auto doc = sample("valid/arrest-packet-1.xml");
  EXPECT_EQ(admitted("CT0064000", doc).case_key, "OTN-2026-0000123");
  auto vendor = *directory_->current()->find("CT0064000");
  vendor.sandbox = true;
  auto r = intake::admit(*config_, *schemas_, vendor, doc, "key-1", now_utc());
  ASSERT_TRUE(std::holds_alternative<store::NewMessage>(r));
  EXPECT_EQ(std::get<store::NewMessage>(r).case_key, "sandbox:OTN-2026-0000123");

  auto reaching = doc;
  replace(reaching, ">OTN-2026-0000123<", ">sandbox:OTN-2026-0000123<");
  const auto refused = admit("CT0064000", reaching);
  const auto* refusal = std::get_if<intake::Refusal>(&refused);
  ASSERT_NE(refusal, nullptr) << "a production document named a sandbox case";
  EXPECT_EQ(refusal->problem, intake::Problem::bad_routing_key);
  EXPECT_NE(refusal->detail.find("reserved for sandbox agencies"), std::string::npos) << refusal->detail;
  // The sandbox agency itself sending such a key gets it prefixed once more: still its own.
  r = intake::admit(*config_, *schemas_, vendor, reaching, "key-2", now_utc());
  ASSERT_TRUE(std::holds_alternative<store::NewMessage>(r));
  EXPECT_EQ(std::get<store::NewMessage>(r).case_key, "sandbox:sandbox:OTN-2026-0000123");
}

}  // namespace
}  // namespace cjhub
