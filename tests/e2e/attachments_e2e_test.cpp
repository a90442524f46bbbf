// End to end: an arrest packet of 10 MB carrying three criminal justice forms travels whole from the
// RMS to every recipient; a packet whose form lies about itself is 422; a type's own body limit is
// 413 at its root element. Real hub, real sinks, mutual TLS.
#include "cjhub/common/crypto.hpp"
#include "e2e/delivery_fixture.hpp"
#include "support/attachments.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class AttachmentsOverTls : public DeliverySuite {};

TEST_F(AttachmentsOverTls, ATenMegabytePacketWithThreeFormsArrivesWholeAndAFormThatLiesIs422) {
  start_sinks();
  start_hub();
  auto hpd = client("hartford-pd");
  const auto warrant = fake_form("pdf", 3'000'000, 11);
  const auto prints = fake_form("tiff", 2'500'000, 12);
  const auto report = fake_form("pdf", 1'950'000, 13);
  const auto doc = with_attachments(arrest_packet("OTN-ATTACH-1", 1),
                                    {attachment_xml(warrant, "application/pdf", size_kb(warrant), "Arrest warrant"),
                                     attachment_xml(prints, "image/tiff", size_kb(prints), "Fingerprint card"),
                                     attachment_xml(report, "application/pdf", size_kb(report), "Incident report")});
  ASSERT_GT(doc.size(), 10'000'000u);
  ASSERT_LT(doc.size(), 11'000'000u);

  const auto r = post(hpd, "CT0064000", doc);
  ASSERT_EQ(r.status, 202u) << r.body.substr(0, 500);
  const auto id = message_id(r);
  const auto result = wait_for_all({id}, 60s);
  EXPECT_TRUE(result.ok()) << result.summary();
  EXPECT_EQ(result.expected_deliveries, 3);
  // Every recipient got the document byte for byte.
  const auto digest = to_hex(sha256(doc));
  for (const auto& [ori, got] : receipts()) {
    for (const auto& g : got) {
      EXPECT_EQ(g.at("bytes").as_int64(), static_cast<long long>(doc.size())) << ori;
      EXPECT_EQ(g.at("sha256").as_string(), digest) << ori;
    }
  }
  EXPECT_EQ(despp_->receipts().size(), 1u);
  // The sender reads it back as stored.
  const auto stored = hpd.request("GET", "/v1/messages/" + id + "/document");
  ASSERT_EQ(stored.status, 200u);
  EXPECT_EQ(to_hex(sha256(stored.body)), digest);

  // A form whose declared size is not its content: 422, naming the declaration and the content.
  const auto lie = with_attachments(arrest_packet("OTN-ATTACH-2", 2),
                                    {attachment_xml(warrant, "application/pdf", size_kb(warrant)),
                                     attachment_xml(prints, "image/tiff", "2441")});  // 2,500,000 bytes: 2441.4 KB
  const auto honest = hpd.request("POST", "/v1/messages", lie);
  EXPECT_EQ(honest.status, 202u) << "within a kilobyte is rounding: " << honest.body.substr(0, 300);
  const auto liar = with_attachments(arrest_packet("OTN-ATTACH-3", 3),
                                     {attachment_xml(prints, "application/pdf", size_kb(prints))});
  const auto refused = hpd.request("POST", "/v1/messages", liar);
  ASSERT_EQ(refused.status, 422u) << refused.body.substr(0, 300);
  const auto problem = boost::json::parse(refused.body).as_object();
  EXPECT_NE(std::string(problem.at("type").as_string()).find("schema-invalid"), std::string::npos) << refused.body;
  EXPECT_NE(std::string(problem.at("detail").as_string()).find("is not a PDF document (it is a TIFF image)"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE case_key = 'OTN-ATTACH-3'"), 0) << "nothing of it is stored";

  // An early arrest notification may be 4 MiB (the default), though the listener reads up to the
  // arrest packet's 16 MiB: a 5 MB one is 413 at its root, and nothing of it is stored.
  auto ean = sample("valid/early-arrest-1.xml");
  const auto root_end = ean.find('>', ean.find("<ciss:EarlyArrestNotification"));
  ASSERT_NE(root_end, std::string::npos);
  ean.insert(root_end + 1, "<!--" + std::string(5'000'000, 'x') + "-->");
  const auto big = hpd.request("POST", "/v1/messages", ean);
  ASSERT_EQ(big.status, 413u) << big.body.substr(0, 300);
  EXPECT_NE(big.body.find("messages of type EarlyArrestNotification may be at most 4194304 bytes"), std::string::npos)
      << big.body.substr(0, 300);
  // The connection and the hub carry on.
  EXPECT_EQ(hpd.request("GET", "/v1/messages/" + id).status, 200u);
}

}  // namespace
}  // namespace cjhub::test
