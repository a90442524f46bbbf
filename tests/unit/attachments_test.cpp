// Attachments of the CISS arrest packet (nc:Attachment, NIEM Core's binary): each declared size and
// format held against the content in the validating pass, and a message type's own body limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "cjhub/config/config.hpp"
#include "cjhub/validation/validator.hpp"
#include "support/attachments.hpp"
#include "support/test_env.hpp"

namespace cjhub::test {
namespace {

using validation::Verdict;

class Attachments : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("CJHUB_TLS_DIR", (source_dir() / "tests/data/config/fake-tls").c_str(), 1);
    setenv("CJHUB_DATABASE_URL", "postgresql://unit@127.0.0.1:1/none", 1);
    xerces_ = std::make_unique<validation::XercesRuntime>();
    config_ = std::make_unique<config::Config>(config::load(source_dir() / "config/cjhub.example.yaml"));
    schemas_ = validation::SchemaSet::load(config_->type_specs(), validation::Limits{});
  }
  static void TearDownTestSuite() {
    schemas_.reset();
    config_.reset();
    xerces_.reset();
  }

  validation::Outcome validate(const std::string& doc) {
    validation::Validator v(schemas_);
    return v.validate(doc);
  }
  static std::string sample(const std::string& rel) { return read_file(data_dir() / "ciss" / rel); }
  static std::string packet(const std::vector<std::string>& attachments) {
    return with_attachments(sample("valid/arrest-packet-1.xml"), attachments);
  }
  static std::string issues(const validation::Outcome& o) {
    std::string all;
    for (const auto& i : o.issues) all += std::to_string(i.line) + ": " + i.message + "\n";
    return all;
  }

  static inline std::unique_ptr<validation::XercesRuntime> xerces_;
  static inline std::unique_ptr<config::Config> config_;
  static inline std::shared_ptr<const validation::SchemaSet> schemas_;
};

TEST_F(Attachments, APacketWhoseFormsAreWhatTheyDeclareIsValid) {
  const auto pdf = fake_form("pdf", 50 * 1024 + 300, 1);
  const auto tiff = fake_form("tiff", 7000, 2);
  const auto other = fake_form("", 4096, 3);
  const auto o = validate(packet({attachment_xml(pdf, "application/pdf", size_kb(pdf)),
                                  attachment_xml(tiff, "image/tiff", size_kb(tiff)),
                                  // A format the hub does not know is not judged; no declarations, nothing to hold.
                                  attachment_xml(other, "application/msword", size_kb(other)),
                                  attachment_xml(pdf, "", ""),
                                  // Names in any case and with MIME parameters; the size as a whole number of KB.
                                  attachment_xml(pdf, " Application/PDF; version=1.7 ", "50")}));
  EXPECT_EQ(o.verdict, Verdict::ok) << issues(o);
  EXPECT_EQ(o.type_name, "ArrestPacket");
  EXPECT_EQ(o.first("case_key"), "OTN-2026-0000123") << "the routing keys are read as before";
}

TEST_F(Attachments, ASizeThatIsNotTheContentsIsRefusedNamingBoth) {
  const auto pdf = fake_form("pdf", 50 * 1024, 1);
  auto o = validate(packet({attachment_xml(pdf, "application/pdf", "10")}));
  ASSERT_EQ(o.verdict, Verdict::invalid) << issues(o);
  ASSERT_EQ(o.issues.size(), 1u) << issues(o);
  EXPECT_NE(o.issues[0].message.find("element Attachment: nc:BinarySizeValue says 10 KB but the content is 50.0 KB"),
            std::string::npos)
      << issues(o);
  EXPECT_GT(o.issues[0].line, 60u) << "the line of the attachment, not of the root: " << issues(o);
  // A size in bytes is not kilobytes.
  o = validate(packet({attachment_xml(pdf, "application/pdf", std::to_string(pdf.size()))}));
  EXPECT_EQ(o.verdict, Verdict::invalid) << issues(o);
  EXPECT_NE(issues(o).find("NIEM counts kilobytes"), std::string::npos) << issues(o);
  // Off by under a kilobyte is rounding, not a lie.
  EXPECT_EQ(validate(packet({attachment_xml(pdf, "application/pdf", "50.9")})).verdict, Verdict::ok);
  EXPECT_EQ(validate(packet({attachment_xml(pdf, "application/pdf", "49.1")})).verdict, Verdict::ok);
  EXPECT_EQ(validate(packet({attachment_xml(pdf, "application/pdf", "51")})).verdict, Verdict::invalid);
}

TEST_F(Attachments, AFormatThatIsNotTheContentsIsRefused) {
  const auto tiff = fake_form("tiff", 3000, 4);
  auto o = validate(packet({attachment_xml(tiff, "application/pdf", size_kb(tiff))}));
  ASSERT_EQ(o.verdict, Verdict::invalid) << issues(o);
  EXPECT_NE(issues(o).find("nc:BinaryFormatText says application/pdf but the content is not a PDF document (it is a "
                           "TIFF image)"),
            std::string::npos)
      << issues(o);
  const auto noise = fake_form("", 3000, 5);
  o = validate(packet({attachment_xml(noise, "image/tiff", size_kb(noise))}));
  ASSERT_EQ(o.verdict, Verdict::invalid) << issues(o);
  EXPECT_NE(issues(o).find("no format the hub knows"), std::string::npos) << issues(o);
  // The second of two attachments lies: the first is fine, the refusal names the second's line.
  const auto pdf = fake_form("pdf", 2048, 6);
  const auto doc = packet({attachment_xml(pdf, "application/pdf", "2"), attachment_xml(tiff, "application/pdf", "")});
  o = validate(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << issues(o);
  ASSERT_FALSE(o.issues.empty());
  const auto second = doc.find("<nc:Attachment>", doc.find("<nc:Attachment>") + 1);
  const auto second_line = static_cast<std::size_t>(std::count(doc.begin(), doc.begin() + static_cast<long>(second), '\n')) + 1;
  EXPECT_GT(o.issues[0].line, second_line) << issues(o);
  // Base64 that is not base64 is the schema's to refuse.
  std::string broken = attachment_xml(pdf, "application/pdf", "2");
  broken.replace(broken.find("JVBER"), 5, "J*BER");
  EXPECT_EQ(validate(packet({broken})).verdict, Verdict::invalid);
}

TEST_F(Attachments, ADocumentLargerThanItsTypeAllowsIsRefusedAtItsRoot) {
  // The example configuration: arrest packets may be 16 MiB, the other types 4 MiB; the listener
  // reads up to the largest.
  EXPECT_EQ(config_->find_type("ArrestPacket")->spec.max_body_bytes, 16u << 20);
  EXPECT_EQ(config_->find_type("EarlyArrestNotification")->spec.max_body_bytes, 4u << 20);
  EXPECT_EQ(config_->limits.max_request_bytes, 16u << 20);
  // A type of 64 KB: a 100 KB document of it is refused at its root, naming both sizes.
  auto specs = config_->type_specs();
  for (auto& s : specs) s.max_body_bytes = 64 * 1024;
  const auto small = validation::SchemaSet::load(specs, validation::Limits{});
  validation::Validator v(small);
  const auto pdf = fake_form("pdf", 100 * 1024, 7);
  const auto doc = packet({attachment_xml(pdf, "application/pdf", size_kb(pdf))});
  const auto o = v.validate(doc);
  ASSERT_EQ(o.verdict, Verdict::too_large) << issues(o);
  EXPECT_EQ(o.type_name, "ArrestPacket");
  EXPECT_NE(issues(o).find("messages of type ArrestPacket may be at most 65536 bytes; this one is " + std::to_string(doc.size())),
            std::string::npos)
      << issues(o);
  EXPECT_LE(o.issues[0].line, 2u) << "refused at the root element: " << issues(o);
  EXPECT_EQ(v.validate(sample("valid/arrest-packet-1.xml")).verdict, Verdict::ok) << "a small one still passes";
  EXPECT_STREQ(validation::to_string(Verdict::too_large), "too_large");
}

}  // namespace
}  // namespace cjhub::test
