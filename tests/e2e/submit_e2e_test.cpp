// End to end: `cjhub submit`, the reference client, against a real hub over mutual TLS: a
// directory of documents is sent in name order, each accepted one is followed to its recipients,
// a refusal is reported with its problem type, a rerun is recognised by the hub (never stored
// twice), and an agency over its rate is slowed down, not refused.
#include <boost/json.hpp>

#include "e2e/delivery_fixture.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class Submit : public DeliverySuite {
 protected:
  struct Run {
    int exit_code = -1;
    std::string output;
    std::vector<boost::json::object> lines;  // --format json: one object per document
  };
  Run submit(const std::string& who, const std::vector<std::string>& extra) {
    const auto cert = client_cert(who);
    std::vector<std::string> args{"submit", "--hub-url", "https://localhost:" + std::to_string(hub_->port()),
                                  "--cert", cert.cert.string(), "--key", cert.key.string(),
                                  "--ca", (pki_dir() / "ca.crt").string(), "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Run r;
    r.exit_code = hub_->run_command(args, &r.output);
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.front() == '{') r.lines.push_back(boost::json::parse(line).as_object());
    }
    return r;
  }
  fs::path outbox(const std::vector<std::pair<std::string, std::string>>& files) {
    const auto d = dir_ / ("outbox-" + std::to_string(++outboxes_));
    fs::create_directories(d);
    for (const auto& [name, body] : files) std::ofstream(d / name, std::ios::binary) << body;
    return d;
  }
  int outboxes_ = 0;
};

std::string text(const boost::json::object& o, const char* k) { return std::string(o.at(k).as_string()); }

TEST_F(Submit, ADirectoryIsSentInOrderRefusalsAreNamedAndARerunIsNeverStoredTwice) {
  start_sinks();
  start_hub();
  const auto dir = outbox({{"1-arrest.xml", arrest_packet("OTN-SUBMIT-1", 1)},
                           {"2-invalid.xml", sample("invalid/bad-date.xml")},
                           {"3-arrest.xml", arrest_packet("OTN-SUBMIT-3", 3)},
                           {"notes.txt", "not a document"}});
  const auto first = submit("hartford-pd", {"--wait", "15", dir.string()});
  EXPECT_EQ(first.exit_code, 1) << "one document was refused\n" << first.output;
  ASSERT_EQ(first.lines.size(), 3u) << "the *.xml files only\n" << first.output;
  EXPECT_EQ(text(first.lines[0], "file"), (dir / "1-arrest.xml").string());
  EXPECT_EQ(text(first.lines[1], "file"), (dir / "2-invalid.xml").string());
  EXPECT_EQ(text(first.lines[2], "file"), (dir / "3-arrest.xml").string());

  for (const auto i : {0, 2}) {
    const auto& l = first.lines[i];
    EXPECT_EQ(l.at("status").as_int64(), 202) << first.output;
    EXPECT_FALSE(l.at("replayed").as_bool());
    // Followed to its recipients: DESPP and Judicial take arrest packets and their sinks answer.
    std::map<std::string, std::string> states;
    for (const auto& r : l.at("recipients").as_array()) states[text(r.as_object(), "recipient_ori")] = text(r.as_object(), "state");
    EXPECT_EQ(states["CTDESPP00"], "delivered") << first.output;
    EXPECT_EQ(states["CTJUD0000"], "delivered") << first.output;
    EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + text(l, "message_id") + "'"), 1);
  }
  const auto& refused = first.lines[1];
  EXPECT_EQ(refused.at("status").as_int64(), 422);
  EXPECT_EQ(text(refused, "type"), "https://localhost/problems/schema-invalid");
  EXPECT_EQ(refused.at("tries").as_int64(), 1) << "a refusal is final: never sent again";
  EXPECT_FALSE(text(refused, "detail").empty());

  // The same directory again: the hub recognises every accepted document by its key.
  const auto again = submit("hartford-pd", {"--wait", "0", dir.string()});
  ASSERT_EQ(again.lines.size(), 3u) << again.output;
  for (const auto i : {0, 2}) {
    EXPECT_TRUE(again.lines[i].at("replayed").as_bool()) << again.output;
    EXPECT_EQ(text(again.lines[i], "message_id"), text(first.lines[i], "message_id"));
    EXPECT_EQ(text(again.lines[i], "idempotency_key"), text(first.lines[i], "idempotency_key"));
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE sender_ori = 'CT0064000'"), 2);
}

TEST_F(Submit, AnAgencyOverItsRateIsSlowedByRetryAfterAndEveryDocumentIsAccepted) {
  start_sinks();
  start_hub({{"CJHUB_AGENCY_RATE_PER_S", "1"}, {"CJHUB_AGENCY_BURST", "1"}});
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 1; i <= 3; ++i) files.emplace_back(std::to_string(i) + ".xml", arrest_packet("OTN-RATE-" + std::to_string(i), i));
  const auto started = std::chrono::steady_clock::now();
  const auto run = submit("hartford-pd", {"--wait", "0", outbox(files).string()});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ASSERT_EQ(run.lines.size(), 3u) << run.output;
  long long tries = 0;
  for (const auto& l : run.lines) {
    EXPECT_EQ(l.at("status").as_int64(), 202) << run.output;
    tries += l.at("tries").as_int64();
  }
  EXPECT_GT(tries, 3) << "one token a second: a document after the first was told to wait\n" << run.output;
  EXPECT_GE(took, 1500ms) << "the client waited for its turns";
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE sender_ori = 'CT0064000'"), 3);
}

TEST_F(Submit, CertificatesThatDoNotLoadOrAHubThatIsNotThereAreReportedNotHidden) {
  start_hub();
  const auto cert = client_cert("hartford-pd");
  const auto dir = outbox({{"1.xml", arrest_packet("OTN-SUBMIT-X", 1)}});
  std::string out;
  // The key of another agency: nothing is sent.
  const auto other = client_cert("judicial");
  EXPECT_EQ(hub_->run_command({"submit", "--hub-url", "https://localhost:" + std::to_string(hub_->port()), "--cert",
                               cert.cert.string(), "--key", other.key.string(), "--ca",
                               (pki_dir() / "ca.crt").string(), dir.string()},
                              &out),
            3)
      << out;
  EXPECT_NE(out.find("client key " + other.key.string()), std::string::npos) << out;
  EXPECT_NE(out.find("mismatch"), std::string::npos) << out;
  // Nothing listens: each try gets no answer; after its tries the document is reported not accepted.
  const auto run = [&] {
    std::string o;
    const int rc = hub_->run_command({"submit", "--hub-url", "https://localhost:1", "--cert", cert.cert.string(),
                                      "--key", cert.key.string(), "--ca", (pki_dir() / "ca.crt").string(), "--tries",
                                      "2", "--format", "json", dir.string()},
                                     &o);
    return std::make_pair(rc, o);
  }();
  EXPECT_EQ(run.first, 1) << run.second;
  EXPECT_NE(run.second.find("\"status\":0"), std::string::npos) << run.second;
  EXPECT_NE(run.second.find("\"tries\":2"), std::string::npos) << run.second;
  EXPECT_NE(run.second.find("connect"), std::string::npos) << run.second;
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0);
}

}  // namespace
}  // namespace cjhub::test
