// Unit tier: routing keys shaped like real exchanges (tests/data/config/exchange-keys.yaml over
// tests/data/validation/keys): no message id (an Idempotency-Key is then required, and its absence
// is its own problem), no origin (the sender is the origin), unqualified elements, attributes, a
// status map, erasure by the type itself; and the configuration mistakes around them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "cjhub/intake/admission.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/validation/schema_holder.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

class AdmissionKeys : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto src = test::source_dir().string();
    setenv("CJHUB_TLS_DIR", (src + "/tests/data/config/fake-tls").c_str(), 1);
    setenv("CJHUB_DATABASE_URL", "postgresql://unit@127.0.0.1:1/none", 1);
    xerces_ = std::make_unique<validation::XercesRuntime>();
    config_ = std::make_unique<config::Config>(config::load(src + "/tests/data/config/exchange-keys.yaml"));
    schemas_ = std::make_unique<validation::SchemaHolder>(config_->type_specs(), validation::Limits{256, 1024});
  }
  static void TearDownTestSuite() {
    schemas_.reset();
    config_.reset();
    xerces_.reset();
  }
  static identity::Agency agency(const std::string& ori) {
    identity::Agency a;
    a.ori = ori;
    a.publish = {"AsyncResponse", "ExpungementOrder", "ArrestPacket"};
    return a;
  }
  static std::variant<store::NewMessage, intake::Refusal> admit(const std::string& ori, std::string body,
                                                             const std::string& key = "") {
    return intake::admit(*config_, *schemas_, agency(ori), std::move(body), key, now_utc());
  }
  static std::string keys_file(const std::string& name) {
    return test::read_file(test::data_dir() / "validation" / "keys" / name);
  }

  static inline std::unique_ptr<validation::XercesRuntime> xerces_;
  static inline std::unique_ptr<config::Config> config_;
  static inline std::unique_ptr<validation::SchemaHolder> schemas_;
};

TEST_F(AdmissionKeys, AnAttributeAndUnqualifiedElementsAreKeysAndAStatusIsMapped) {
  auto r = admit("CTDESPP00", keys_file("response.xml"));
  ASSERT_TRUE(std::holds_alternative<store::NewMessage>(r)) << std::get<intake::Refusal>(r).detail;
  const auto& m = std::get<store::NewMessage>(r);
  EXPECT_EQ(m.type, "AsyncResponse");
  EXPECT_EQ(m.document_id, "RESP-1") << "an unqualified element";
  EXPECT_EQ(m.idempotency_key, "RESP-1");
  EXPECT_EQ(m.ack_ref, "MSG-9");
  EXPECT_EQ(m.ack_status, "completed") << "Success, mapped";
  EXPECT_EQ(m.ack_reason, "sync") << "a namespaced attribute, trimmed";
  EXPECT_EQ(m.origin_ori, "CTDESPP00") << "no origin key: the sender is the origin";

  auto doc = keys_file("response.xml");
  doc.replace(doc.find("Success"), 7, "InvalidSchema");
  auto rejected = admit("CTDESPP00", doc);
  ASSERT_TRUE(std::holds_alternative<store::NewMessage>(rejected));
  EXPECT_EQ(std::get<store::NewMessage>(rejected).ack_status, "rejected");

  // Valid under the schema, but a status the map does not name: refused, naming the ones it knows.
  doc.replace(doc.find("InvalidSchema"), 13, "Pending");
  auto unmapped = admit("CTDESPP00", doc);
  ASSERT_TRUE(std::holds_alternative<intake::Refusal>(unmapped));
  const auto& refusal = std::get<intake::Refusal>(unmapped);
  EXPECT_EQ(refusal.problem, intake::Problem::bad_routing_key);
  EXPECT_NE(refusal.detail.find("\"Pending\""), std::string::npos) << refusal.detail;
  EXPECT_NE(refusal.detail.find("InvalidSchema, Success, SystemError"), std::string::npos) << refusal.detail;
  EXPECT_EQ(refusal.message_type, "AsyncResponse");
}

TEST_F(AdmissionKeys, ATypeThatErasesByItsNatureNeedsAnIdempotencyKeyInsteadOfAMessageId) {
  auto without = admit("CTJUD0000", keys_file("expungement.xml"));
  ASSERT_TRUE(std::holds_alternative<intake::Refusal>(without));
  EXPECT_EQ(std::get<intake::Refusal>(without).problem, intake::Problem::idempotency_key_required)
      << "not schema-invalid: the document is valid";
  EXPECT_EQ(intake::info(intake::Problem::idempotency_key_required).status, 400u);

  auto with = admit("CTJUD0000", keys_file("expungement.xml"), "court-order-77");
  ASSERT_TRUE(std::holds_alternative<store::NewMessage>(with)) << std::get<intake::Refusal>(with).detail;
  const auto& m = std::get<store::NewMessage>(with);
  EXPECT_EQ(m.idempotency_key, "court-order-77");
  EXPECT_TRUE(m.document_id.empty());
  EXPECT_EQ(m.case_key, "HHD-CR26-0001234");
  EXPECT_TRUE(m.erasure) << "erasure: true erases the case with no indicator in the document";
  EXPECT_TRUE(m.type_ack_required);
  EXPECT_EQ(m.origin_ori, "CTJUD0000");
}

TEST_F(AdmissionKeys, TheCissTypeBesideThemKeepsItsKeys) {
  auto doc = test::read_file(test::data_dir() / "ciss" / "valid" / "arrest-packet-1.xml");
  auto r = admit("CT0064000", doc);
  ASSERT_TRUE(std::holds_alternative<store::NewMessage>(r)) << std::get<intake::Refusal>(r).detail;
  EXPECT_EQ(std::get<store::NewMessage>(r).case_key, "OTN-2026-0000123");
  auto forged = admit("CT0093000", doc);
  ASSERT_TRUE(std::holds_alternative<intake::Refusal>(forged));
  EXPECT_EQ(std::get<intake::Refusal>(forged).problem, intake::Problem::origin_mismatch) << "its origin key still binds";
}

// Key configuration mistakes are named at load.
std::string config_error(const std::string& keys_yaml) {
  const auto src = test::source_dir();
  auto text = test::read_file(src / "tests" / "data" / "config" / "exchange-keys.yaml");
  const auto from = text.find("    keys:\n      message_id: k:AsyncResponse");
  const auto to = text.find("  - name: ExpungementOrder");
  text.replace(from, to - from, "    keys:\n" + keys_yaml);
  // Written elsewhere: schema paths made absolute.
  const auto data = (src / "tests" / "data").string();
  for (const auto& [rel, abs] : {std::pair<std::string, std::string>{"../validation/keys/", data + "/validation/keys/"},
                                 {"../../../schemas/", src.string() + "/schemas/"}}) {
    for (auto p = text.find(rel); p != std::string::npos; p = text.find(rel, p + abs.size())) text.replace(p, rel.size(), abs);
  }
  char tmpl[] = "/tmp/cjhub-keys-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return "(mkdtemp failed)";
  const auto dir = std::filesystem::path(tmpl);
  const auto file = dir / "cjhub.yaml";
  std::ofstream(file) << text;
  try {
    config::load(file);
  } catch (const std::exception& e) {
    std::filesystem::remove_all(dir);
    return e.what();
  }
  std::filesystem::remove_all(dir);
  return "(loaded)";
}

TEST(AdmissionKeysConfig, MistakesInKeysAreNamed) {
  setenv("CJHUB_TLS_DIR", (test::source_dir() / "tests/data/config/fake-tls").c_str(), 1);
  setenv("CJHUB_DATABASE_URL", "postgresql://unit@127.0.0.1:1/none", 1);
  const auto attr_not_last = config_error("      message_id: k:AsyncResponse/@code/Id\n");
  EXPECT_NE(attr_not_last.find("must be the last"), std::string::npos) << attr_not_last;
  const auto bad_status = config_error("      ack_status: {path: k:AsyncResponse/Result/@code, map: {Success: done}}\n");
  EXPECT_NE(bad_status.find("received, completed or rejected"), std::string::npos) << bad_status;
  const auto constant_id = config_error("      message_id: {value: fixed}\n");
  EXPECT_NE(constant_id.find("cannot be a fixed value"), std::string::npos) << constant_id;
  const auto bad_erasure = config_error("      erasure: {value: maybe}\n");
  EXPECT_NE(bad_erasure.find("true, 1, false or 0"), std::string::npos) << bad_erasure;
  const auto wrong_root = config_error("      message_id: Header/Id\n");
  EXPECT_NE(wrong_root.find("the first step must be the root element"), std::string::npos) << wrong_root;
  const auto list = config_error("      message_id: [a, b]\n");
  EXPECT_NE(list.find("must be a path"), std::string::npos) << list;
  EXPECT_EQ(config_error("      ack_status: {value: completed}\n      ack_ref: k:AsyncResponse/Header/Ref\n"), "(loaded)");
}

}  // namespace
}  // namespace cjhub
