// End to end: hostile answers from a receiving endpoint (tests/data/hostile/answers/answers.tsv).
// DESPP's sink answers each delivery with a case's body; the hub must admit an acknowledgement
// only as a POSTed one would be and only when it acknowledges the message delivered, ignore the
// rest (delivery kept, nothing stored, the reason logged), cap what it reads, and keep serving.
#include <fstream>
#include <sstream>

#include "e2e/delivery_fixture.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

struct AnswerCase {
  std::string name, body, content_type, state, log, what;
  long long acks = 0;
};

std::filesystem::path answers_dir() { return data_dir() / "hostile" / "answers"; }

std::vector<AnswerCase> load_answer_cases() {
  std::vector<AnswerCase> out;
  std::ifstream in(answers_dir() / "answers.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ss(line);
    AnswerCase c;
    std::string acks;
    std::getline(ss, c.name, '\t');
    std::getline(ss, c.body, '\t');
    std::getline(ss, c.content_type, '\t');
    std::getline(ss, c.state, '\t');
    std::getline(ss, acks, '\t');
    std::getline(ss, c.log, '\t');
    std::getline(ss, c.what, '\t');
    c.acks = std::stoll(acks);
    out.push_back(std::move(c));
  }
  return out;
}

// The file the sink answers with: a corpus file, or a generated one too big to keep.
std::filesystem::path answer_file(const AnswerCase& c, const std::filesystem::path& dir) {
  if (c.body.rfind("gen:oversized:", 0) != 0) return answers_dir() / c.body;
  const auto n = std::stoul(c.body.substr(14));
  auto doc = read_file(answers_dir() / "ack-valid.xml");
  doc.insert(doc.find("<ciss:Acknowledgement"), "<!--" + std::string(n, 'x') + "-->\n");
  const auto path = dir / (c.name + ".xml");
  std::ofstream(path, std::ios::binary) << doc;
  return path;
}

long peak_resident_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class HostileAnswers : public DeliverySuite {};

TEST_F(HostileAnswers, EveryAnswerOfTheCorpusIsHandledAsExpectedAndTheHubKeepsServing) {
  const auto cases = load_answer_cases();
  ASSERT_GE(cases.size(), 15u);
  start_sinks();
  start_hub();
  auto hpd = client("hartford-pd");
  const auto acks_from_despp = [&] {
    return db_->count("SELECT count(*) FROM messages WHERE message_type = 'Acknowledgement' AND sender_ori = 'CTDESPP00'");
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": " + c.what);
    despp_->stop();
    despp_->start({"--answer-file", answer_file(c, dir_).string(), "--answer-content-type", c.content_type});
    const auto acks_before = acks_from_despp();
    const auto messages_before = db_->count("SELECT count(*) FROM messages");
    const auto r = post(hpd, "CT0064000", arrest_packet("OTN-ANSWER-" + std::to_string(n), n));
    ++n;
    ASSERT_EQ(r.status, 202u) << r.body;
    const auto id = message_id(r);
    const std::string where = "FROM delivery_states WHERE message_id = '" + id + "' AND recipient_ori = 'CTDESPP00'";
    const std::string done = c.state == "failed"
                                 ? "SELECT count(*) " + where + " AND attempts >= 1 AND last_error IS NOT NULL"
                                 : "SELECT count(*) " + where + " AND state = '" + c.state + "'";
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (db_->count(done) == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
    const auto delivery_id = db_->scalar("SELECT id::text " + where);
    const auto state = db_->scalar("SELECT state " + where);
    if (c.state == "failed") {
      EXPECT_NE(state, "delivered");
      EXPECT_NE(state, "acknowledged");
      EXPECT_NE(db_->scalar("SELECT coalesce(last_error, '') " + where).find(c.log), std::string::npos)
          << db_->scalar("SELECT coalesce(last_error, '') " + where);
    } else {
      EXPECT_EQ(state, c.state);
    }
    EXPECT_EQ(acks_from_despp() - acks_before, c.acks) << "acknowledgements stored from the answer";
    EXPECT_EQ(db_->count("SELECT count(*) FROM messages") - messages_before, 1 + c.acks)
        << "the arrest packet, and an acknowledgement only where one is expected";
    if (c.log != "-" && c.state != "failed") {
      // The reason is logged against this delivery.
      bool logged = false;
      for (int i = 0; i < 40 && !logged; ++i) {
        std::istringstream log(hub_->log());
        for (std::string line; std::getline(log, line);) {
          if (line.find(delivery_id) != std::string::npos && line.find(c.log) != std::string::npos) logged = true;
        }
        if (!logged) std::this_thread::sleep_for(50ms);
      }
      EXPECT_TRUE(logged) << "no log line names delivery " << delivery_id << " and \"" << c.log << "\"";
    }
  }
  // Nothing a sink answered brought the hub down or grew it without bound.
  EXPECT_EQ(client("hartford-pd").request("GET", "/healthz").status, 200u);
  const auto peak_kb = peak_resident_kb(hub_->pid());
  EXPECT_GT(peak_kb, 0);
  EXPECT_LT(peak_kb, 400 * 1024) << "hub peak RSS " << peak_kb << " kB";
  std::cout << "hostile answers: " << cases.size() << " cases; hub peak RSS " << peak_kb / 1024 << " MB\n";
}

}  // namespace
}  // namespace cjhub::test
