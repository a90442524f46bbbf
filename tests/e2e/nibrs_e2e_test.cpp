// A third party's IEPD by configuration only: the FBI NIBRS 4.2 exchange from ../shared/corpus,
// registered in tests/data/config/nibrs.yaml, accepted over mTLS like any CISS message.
#include <regex>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

namespace fs = std::filesystem;

class Nibrs : public HubSuite {
 protected:
  static void SetUpTestSuite() {
    if (corpus_dir().empty()) return;
    HubOptions o;
    o.config = data_dir() / "config" / "nibrs.yaml";
    o.agencies = data_dir() / "config" / "nibrs-agencies.yaml";
    start_hub(o);
  }
  void SetUp() override {
    if (corpus_dir().empty()) GTEST_SKIP() << "../shared/corpus is not present";
    HubSuite::SetUp();
  }
  static std::vector<fs::path> samples() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(corpus_dir() / "nibrs-4.2" / "iep-sample")) {
      if (e.path().extension() == ".xml") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(Nibrs, AllSevenSamplesAreAcceptedAndStored) {
  const auto files = samples();
  ASSERT_EQ(files.size(), 7u);
  auto c = client("hartford-pd");
  for (const auto& f : files) {
    // The samples share one message id, so each carries its own idempotency key.
    const auto r = c.request("POST", "/v1/messages", read_file(f), {{"Idempotency-Key", f.filename().string()}});
    EXPECT_EQ(r.status, 202u) << f << ": " << r.body;
    if (r.status == 202u) {
      EXPECT_EQ(json(r).at("type").as_string(), "NibrsSubmission");
    }
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE message_type = 'NibrsSubmission'"), 7);
  EXPECT_EQ(db_->scalar("SELECT origin_ori FROM messages WHERE idempotency_key = 'nibrs_GroupAIncident_Sample.xml'"),
            "FBI111111");
  EXPECT_EQ(db_->scalar("SELECT case_key FROM messages WHERE idempotency_key = 'nibrs_GroupAIncident_Sample.xml'"),
            "000054236732");
}

TEST_F(Nibrs, AnElementOutOfOrderIs422NamingItsLine) {
  // Swap the message id and the timestamp in the metadata header.
  std::string doc = read_file(corpus_dir() / "nibrs-4.2" / "iep-sample" / "nibrs_GroupAIncident_Sample.xml");
  const std::regex pattern(R"((\s*<cjis:MessageDateTime>[^<]*</cjis:MessageDateTime>)(\s*<!--[^>]*-->)?(\s*<cjis:MessageIdentification>\s*<nc:IdentificationID>[^<]*</nc:IdentificationID>\s*</cjis:MessageIdentification>))");
  const std::string swapped = std::regex_replace(doc, pattern, "$3$1", std::regex_constants::format_first_only);
  ASSERT_NE(swapped, doc);
  // The first element that breaks the content model is MessageIdentification, now ahead of
  // MessageDateTime: the error must name its line.
  const auto pos = swapped.find("<cjis:MessageIdentification>");
  const auto line = 1 + std::count(swapped.begin(), swapped.begin() + static_cast<std::ptrdiff_t>(pos), '\n');

  auto c = client("hartford-pd");
  const auto r = c.request("POST", "/v1/messages", swapped, {{"Idempotency-Key", "swapped"}});
  ASSERT_EQ(r.status, 422u) << r.body;
  const auto body = json(r);
  const auto& e = body.at("errors").as_array().at(0);
  EXPECT_EQ(e.at("line").as_int64(), line) << r.body;
  EXPECT_NE(std::string(e.at("message").as_string()).find("MessageIdentification"), std::string::npos);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE idempotency_key = 'swapped'"), 0);
}

TEST_F(Nibrs, CissTypesStillWorkBesideIt) {
  auto c = client("hartford-pd");
  EXPECT_EQ(c.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml")).status, 202u);
}

}  // namespace
}  // namespace cjhub::test
