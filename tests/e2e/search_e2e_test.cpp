// End to end: the message search (GET /v1/messages) over mutual TLS with the dev certificates.
// Operators see every message, an agency what it sent or received; bad parameters are 400
// problem+json naming the parameter; the cursor pages over HTTP; an erased case shows no subject
// data. The agencies are config/agencies.example.yaml's (delivery off: every recipient pending).
#include <set>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class Search : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub(); }

  // Posts `file` as `who` under a fresh idempotency key (the same document becomes a new message).
  static std::string post(const std::string& who, const std::string& file) {
    static int n = 0;
    auto c = client(who);
    const auto r = c.request("POST", "/v1/messages", sample("valid/" + file),
                             {{"Idempotency-Key", "search-" + std::to_string(++n)}});
    EXPECT_EQ(r.status, 202u) << r.body;
    return std::string(json(r).at("message_id").as_string());
  }
  // The message ids of every page of `target` as `who`, in order (pages of `limit`).
  static std::vector<std::string> ids(const std::string& who, const std::string& target, int* pages = nullptr) {
    auto c = client(who);
    std::vector<std::string> out;
    std::string cursor;
    for (int page = 0; page < 50; ++page) {
      const auto sep = target.find('?') == std::string::npos ? "?" : "&";
      const auto r = c.request("GET", target + (cursor.empty() ? "" : sep + ("cursor=" + cursor)));
      EXPECT_EQ(r.status, 200u) << r.body;
      if (r.status != 200) return out;
      EXPECT_EQ(r.headers.at("content-type"), "application/json");
      const auto j = json(r);
      for (const auto& m : j.at("messages").as_array()) out.emplace_back(m.at("message_id").as_string());
      if (pages != nullptr) *pages = page + 1;
      if (!j.contains("next")) return out;
      cursor = std::string(j.at("next").as_string());
    }
    ADD_FAILURE() << "more than 50 pages";
    return out;
  }
  static std::set<std::string> set_of(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }
};

TEST_F(Search, OperatorsSeeEverythingAndAnAgencyOnlyWhatItSentOrReceived) {
  const auto newhaven = post("newhaven-pd", "arrest-packet-2.xml");  // to the court, DESPP, DCJ
  const auto hartford = post("hartford-pd", "early-arrest-1.xml");  // to the court and DESPP
  const auto all = set_of(ids("operator", "/v1/messages?limit=200"));
  EXPECT_TRUE(all.count(newhaven) && all.count(hartford));

  const auto mine = set_of(ids("newhaven-pd", "/v1/messages"));
  EXPECT_TRUE(mine.count(newhaven));
  EXPECT_FALSE(mine.count(hartford)) << "New Haven PD neither sent nor received Hartford's notification";
  const auto dcj = set_of(ids("dcj", "/v1/messages"));
  EXPECT_TRUE(dcj.count(newhaven)) << "DCJ received the arrest packet";
  EXPECT_FALSE(dcj.count(hartford)) << "DCJ does not take early arrest notifications";
  const auto court = set_of(ids("judicial", "/v1/messages?type=EarlyArrestNotification"));
  EXPECT_TRUE(court.count(hartford));
  EXPECT_FALSE(court.count(newhaven)) << "filtered out by type";
  // Hartford PD neither sent nor received New Haven's packet: not even asked by case or sender.
  const auto hartfords = set_of(ids("hartford-pd", "/v1/messages"));
  EXPECT_TRUE(hartfords.count(hartford));
  EXPECT_FALSE(hartfords.count(newhaven));
  EXPECT_TRUE(ids("hartford-pd", "/v1/messages?case_key=OTN-2026-0000456").empty());
  EXPECT_TRUE(ids("hartford-pd", "/v1/messages?sender=CT0093000").empty());

  // The item: the status page's names, and each recipient's state; a recipient sees only itself.
  auto c = client("newhaven-pd");
  const auto r = c.request("GET", "/v1/messages?case_key=OTN-2026-0000456&limit=1");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto item = json(r).at("messages").as_array().at(0).as_object();
  EXPECT_EQ(item.at("type").as_string(), "ArrestPacket");
  EXPECT_EQ(item.at("sender_ori").as_string(), "CT0093000");
  EXPECT_EQ(item.at("case_key").as_string(), "OTN-2026-0000456");
  EXPECT_EQ(item.at("erased").as_bool(), false);
  std::set<std::string> recipients;
  for (const auto& d : item.at("recipients").as_array()) {
    recipients.emplace(d.at("recipient_ori").as_string());
    EXPECT_EQ(d.at("state").as_string(), "pending") << "delivery is off in this suite";
  }
  EXPECT_EQ(recipients, (std::set<std::string>{"CTJUD0000", "CTDESPP00", "CTDCJ0000"}));
  auto d = client("dcj");
  const auto seen_by_dcj = json(d.request("GET", "/v1/messages?case_key=OTN-2026-0000456&limit=1"));
  const auto& dcj_recipients = seen_by_dcj.at("messages").as_array().at(0).at("recipients").as_array();
  ASSERT_EQ(dcj_recipients.size(), 1u);
  EXPECT_EQ(dcj_recipients.at(0).at("recipient_ori").as_string(), "CTDCJ0000");

  // The rest of the resource still works: the status page, and a POST beside the GET.
  EXPECT_EQ(c.request("GET", "/v1/messages/" + newhaven).status, 200u);
  EXPECT_EQ(c.request("DELETE", "/v1/messages").status, 405u);
  auto unknown = client("unknown-agency");
  const auto refused = unknown.request("GET", "/v1/messages");
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(problem_type(refused), "https://localhost/problems/unknown-client");
}

TEST_F(Search, BadParametersAre400ProblemJsonNamingTheParameter) {
  auto c = client("operator");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/v1/messages?colour=blue", "colour"},
      {"/v1/messages?received_from=yesterday", "received_from"},
      {"/v1/messages?received_from=2026-03-01", "received_from"},              // a date is not a date-time
      {"/v1/messages?received_to=2026-02-30T00:00:00Z", "received_to"},         // no such day
      {"/v1/messages?received_to=2026-03-01T10:00:00+05:00", "received_to"},   // '+' decodes to a space
      {"/v1/messages?limit=0", "limit"},
      {"/v1/messages?limit=201", "limit"},
      {"/v1/messages?limit=ten", "limit"},
      {"/v1/messages?cursor=bm90IGEgY3Vyc29y", "cursor"},
      {"/v1/messages?cursor=%%%", "cursor"},
      {"/v1/messages?cursor=1.17x.01a242af-92d3-7ad7-916a-550f8b2f850e", "cursor"},  // not a time
      {"/v1/messages?cursor=1.1700000000000000.not-an-id", "cursor"},
      {"/v1/messages?cursor=2.1700000000000000.01a242af-92d3-7ad7-916a-550f8b2f850e", "cursor"},  // another version
      {"/v1/messages?state=lost", "state"},
      {"/v1/messages?type=A&type=B", "type"},
      {"/v1/messages?case_key=", "case_key"},
  };
  for (const auto& [target, parameter] : cases) {
    const auto r = c.request("GET", target);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    if (r.status != 400) continue;
    EXPECT_EQ(r.headers.at("content-type"), "application/problem+json") << target;
    const auto j = json(r);
    EXPECT_EQ(j.at("type").as_string(), "https://localhost/problems/bad-request") << target;
    EXPECT_EQ(j.at("parameter").as_string(), parameter) << target;
    EXPECT_FALSE(j.at("detail").as_string().empty()) << target;
  }
  // The same parameters well formed are fine.
  for (const auto* target : {"/v1/messages?received_from=2026-03-01T00:00:00Z&received_to=2026-03-01T10:00:00%2B05:00",
                             "/v1/messages?limit=1", "/v1/messages?limit=200", "/v1/messages?state=pending"}) {
    EXPECT_EQ(c.request("GET", target).status, 200u) << target;
  }
}

TEST_F(Search, TheCursorPagesThroughEveryMessageOnceNewestFirst) {
  std::vector<std::string> posted;
  for (int i = 0; i < 7; ++i) posted.push_back(post("newhaven-pd", "arrest-packet-2.xml"));
  int pages = 0;
  const auto listed = ids("newhaven-pd", "/v1/messages?sender=CT0093000&type=ArrestPacket&limit=3", &pages);
  EXPECT_EQ(set_of(listed).size(), listed.size()) << "no message twice";
  for (const auto& id : posted) EXPECT_TRUE(set_of(listed).count(id)) << id << " missing";
  EXPECT_EQ(pages, static_cast<int>((listed.size() + 2) / 3));
  // Newest first: the last one posted leads, and the order is the reverse of posting.
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed.front(), posted.back());
  std::vector<std::string> ours;
  for (const auto& id : listed) {
    if (std::find(posted.begin(), posted.end(), id) != posted.end()) ours.push_back(id);
  }
  EXPECT_EQ(ours, std::vector<std::string>(posted.rbegin(), posted.rend()));
}

TEST_F(Search, AnErasedCaseIsListedAsErasedWithoutSubjectData) {
  const auto arrest = post("hartford-pd", "early-arrest-1.xml");     // OTN-2026-0000123
  const auto notice = post("judicial", "erasure-notice-1.xml");      // erases it
  for (const auto* who : {"operator", "hartford-pd", "despp"}) {
    auto c = client(who);
    const auto r = c.request("GET", "/v1/messages?case_key=OTN-2026-0000123");
    ASSERT_EQ(r.status, 200u) << r.body;
    const auto items = json(r).at("messages").as_array();
    ASSERT_FALSE(items.empty()) << who;
    std::set<std::string> listed;
    for (const auto& v : items) {
      const auto& m = v.as_object();
      listed.emplace(m.at("message_id").as_string());
      EXPECT_TRUE(m.at("erased").as_bool()) << who;
      EXPECT_FALSE(m.contains("document_id")) << who;
      EXPECT_FALSE(m.contains("jurisdiction")) << who;
      EXPECT_FALSE(m.contains("body_size")) << who;
    }
    EXPECT_TRUE(listed.count(arrest)) << who << " sent or received the notification";
    EXPECT_EQ(r.body.find("Carrasquillo"), std::string::npos) << who;
    EXPECT_EQ(r.body.find("Luis"), std::string::npos) << who;
  }
  EXPECT_TRUE(set_of(ids("operator", "/v1/messages?case_key=OTN-2026-0000123")).count(notice));
}

}  // namespace
}  // namespace cjhub::test
