// End to end: the console as the hub serves it over mutual TLS, and what a browser's requests must
// carry. The page and its assets come with a strict Content-Security-Policy and no-store; a
// browser's API request needs the console's session token and the hub's own origin (a page
// elsewhere cannot use the certificate the browser presents: CSRF); the token is bound to the
// certificate and ends after the idle timeout. Programs (no Origin, no Sec-Fetch-*) are unaffected.
// The endpoints list and a message's document are shown to the agencies entitled to them only.
#include <set>
#include <thread>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class Console : public HubSuite {
 protected:
  static void SetUpTestSuite() {
    HubOptions o;
    o.env = {{"CJHUB_CONSOLE_IDLE_TIMEOUT_S", "5"}};
    start_hub(o);
  }
  static std::string origin() { return "https://localhost:" + std::to_string(hub_->port()); }
  // What a browser adds to a fetch from the console's page.
  static std::map<std::string, std::string> browser(const std::string& token) {
    std::map<std::string, std::string> h{{"Origin", origin()}, {"Sec-Fetch-Site", "same-origin"},
                                         {"Sec-Fetch-Mode", "cors"}, {"Host", "localhost:" + std::to_string(hub_->port())}};
    if (!token.empty()) h["X-Cjhub-Session"] = token;
    return h;
  }
  static std::string session(TlsClient& c) {
    const auto r = c.request("POST", "/console/session", "", browser(""), "application/json");
    EXPECT_EQ(r.status, 200u) << r.body;
    if (r.status != 200) return {};
    return std::string(json(r).at("token").as_string());
  }
  static std::string post(const std::string& who, const std::string& file, const std::string& key) {
    auto c = client(who);
    const auto r = c.request("POST", "/v1/messages", sample("valid/" + file), {{"Idempotency-Key", key}});
    EXPECT_EQ(r.status, 202u) << r.body;
    return r.status == 202 ? std::string(json(r).at("message_id").as_string()) : std::string();
  }
};

TEST_F(Console, ThePageComesWithAStrictPolicyAndIsNeverCached) {
  auto c = client("operator");
  for (const char* path : {"/console/", "/console/index.html", "/console/console.js", "/console/console.css"}) {
    const auto r = c.request("GET", path, "", {}, "");
    ASSERT_EQ(r.status, 200u) << path << ": " << r.body;
    const auto csp = r.headers.at("content-security-policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(r.headers.at("cache-control"), "no-store") << path;
    EXPECT_EQ(r.headers.at("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.headers.at("referrer-policy"), "no-referrer");
  }
  const auto redirect = c.request("GET", "/console", "", {}, "");
  EXPECT_EQ(redirect.status, 308u);
  EXPECT_EQ(redirect.headers.at("location"), "/console/");
  const auto missing = c.request("GET", "/console/../config/cjhub.example.yaml", "", {}, "");
  EXPECT_EQ(missing.status, 404u);
  // The API's answers are not kept either.
  const auto api = c.request("GET", "/v1/messages");
  EXPECT_EQ(api.status, 200u);
  EXPECT_EQ(api.headers.at("cache-control"), "no-store");
}

TEST_F(Console, ASessionNamesTheAgencyAndItsRightsAndIsAudited) {
  auto op = client("operator");
  const auto r = op.request("POST", "/console/session", "", browser(""), "application/json");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = json(r);
  EXPECT_EQ(j.at("agency").at("ori").as_string(), "ops1");
  EXPECT_TRUE(j.at("agency").at("operator").as_bool());
  EXPECT_EQ(j.at("idle_timeout_s").as_int64(), 5);
  auto pd = client("hartford-pd");
  const auto a = json(pd.request("POST", "/console/session", "", browser(""), "application/json"));
  EXPECT_EQ(a.at("agency").at("ori").as_string(), "CT0064000");
  EXPECT_FALSE(a.at("agency").at("operator").as_bool());
  // An unregistered certificate gets no session.
  auto unknown = client("unknown-agency");
  const auto u = unknown.request("POST", "/console/session", "", browser(""), "application/json");
  EXPECT_EQ(u.status, 403u) << u.body;
  // Each session's start is in the audit trail, under the certificate's identity.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  long long started = 0;
  while (std::chrono::steady_clock::now() < until) {
    started = db_->count("SELECT count(*) FROM audit_log WHERE action = 'console' AND outcome = 'session-started' "
                         "AND actor LIKE '%ops1%'");
    if (started > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(started, 1) << "the operator's console session is audited";
}

TEST_F(Console, ABrowserRequestWithoutTheSessionOrFromAnotherOriginIsRefused) {
  auto op = client("operator");
  // A browser's request without the token (a page elsewhere, or the address typed in).
  auto no_token = op.request("GET", "/v1/messages", "", browser(""));
  EXPECT_EQ(no_token.status, 401u) << no_token.body;
  EXPECT_EQ(problem_type(no_token), "https://localhost/problems/session-required");
  auto typed = op.request("GET", "/v1/admin/endpoints", "", {{"Sec-Fetch-Site", "none"}, {"Sec-Fetch-Mode", "navigate"}});
  EXPECT_EQ(typed.status, 401u) << typed.body;
  // A cross-site form posting to pause an endpoint, with or without a stolen-looking token.
  auto h = browser("v1.1.00");
  h["Origin"] = "https://evil.example";
  h["Sec-Fetch-Site"] = "cross-site";
  const auto forged = op.request("POST", "/v1/admin/endpoints/CTDESPP00/main/pause", "{}", h, "text/plain");
  EXPECT_EQ(forged.status, 403u) << forged.body;
  EXPECT_EQ(problem_type(forged), "https://localhost/problems/cross-origin");
  auto cross_session = browser("");
  cross_session["Sec-Fetch-Site"] = "cross-site";
  EXPECT_EQ(op.request("POST", "/console/session", "", cross_session, "application/json").status, 403u);
  // A token issued to another certificate is not this browser's.
  auto pd = client("hartford-pd");
  const auto pd_token = session(pd);
  const auto stolen = op.request("GET", "/v1/messages", "", browser(pd_token));
  EXPECT_EQ(stolen.status, 401u) << stolen.body;
  // Nothing was paused.
  const auto eps = json(op.request("GET", "/v1/admin/endpoints"));
  for (const auto& e : eps.at("endpoints").as_array()) EXPECT_FALSE(e.at("paused").as_bool()) << boost::json::serialize(e);
  // Programs are not browsers: no Origin, no Sec-Fetch-*, no token needed.
  EXPECT_EQ(op.request("GET", "/v1/messages").status, 200u);
}

TEST_F(Console, TheSessionLivesWhileUsedAndEndsAfterItsIdleTimeout) {
  auto op = client("operator");
  auto token = session(op);
  ASSERT_FALSE(token.empty());
  // Used every 2 s for 8 s (past the 5 s timeout from the start): each answer refreshes it.
  for (int i = 0; i < 4; ++i) {
    const auto r = op.request("GET", "/v1/endpoints", "", browser(token));
    ASSERT_EQ(r.status, 200u) << r.body;
    ASSERT_TRUE(r.headers.count("x-cjhub-session"));
    token = r.headers.at("x-cjhub-session");
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));  // now idle for 6 s
  const auto idle = op.request("GET", "/v1/endpoints", "", browser(token));
  EXPECT_EQ(idle.status, 401u) << idle.body;
  EXPECT_EQ(problem_type(idle), "https://localhost/problems/session-expired");
}

TEST_F(Console, EndpointsAreListedForTheirAgencyAndEveryOneForOperators) {
  auto op = client("operator");
  const auto all = json(op.request("GET", "/v1/endpoints"));
  std::set<std::string> agencies;
  for (const auto& e : all.at("endpoints").as_array()) {
    agencies.insert(std::string(e.at("agency").as_string()));
    EXPECT_TRUE(e.at("recent_outages").is_array());
    EXPECT_TRUE(e.as_object().contains("backlog"));
  }
  EXPECT_GE(agencies.size(), 2u) << boost::json::serialize(all);
  auto pd = client("hartford-pd");
  const auto own = pd.request("GET", "/v1/endpoints");
  ASSERT_EQ(own.status, 200u) << own.body;
  const auto mine = json(own).at("endpoints").as_array();
  EXPECT_FALSE(mine.empty());
  for (const auto& e : mine) EXPECT_EQ(e.at("agency").as_string(), "CT0064000") << boost::json::serialize(e);
}

TEST_F(Console, ADocumentIsShownToItsSenderAndRecipientsOnly) {
  const auto id = post("newhaven-pd", "arrest-packet-2.xml", "console-doc-1");
  ASSERT_FALSE(id.empty());
  const auto sent = sample("valid/arrest-packet-2.xml");
  auto sender = client("newhaven-pd");
  const auto own = sender.request("GET", "/v1/messages/" + id + "/document");
  ASSERT_EQ(own.status, 200u) << own.body;
  EXPECT_EQ(own.headers.at("content-type"), "application/xml");
  EXPECT_EQ(own.body, sent) << "the document as it was received";
  auto op = client("operator");
  EXPECT_EQ(op.request("GET", "/v1/messages/" + id + "/document").status, 200u);
  // DCJ receives arrest packets: it sees the message, and only its own delivery of it.
  auto dcj = client("dcj");
  const auto recipient = dcj.request("GET", "/v1/messages/" + id);
  ASSERT_EQ(recipient.status, 200u) << recipient.body;
  const auto seen = json(recipient);
  EXPECT_FALSE(seen.contains("idempotency_key")) << "the sender's key is not shown to a recipient";
  EXPECT_TRUE(json(sender.request("GET", "/v1/messages/" + id)).contains("idempotency_key"));
  for (const auto& d : seen.at("recipients").as_array()) {
    EXPECT_EQ(d.at("recipient_ori").as_string(), "CTDCJ0000") << "another recipient's delivery was shown";
  }
  EXPECT_EQ(dcj.request("GET", "/v1/messages/" + id + "/document").status, 200u);
  // Hartford PD neither sent nor receives it: nothing, not even that it exists.
  auto other = client("hartford-pd");
  EXPECT_EQ(other.request("GET", "/v1/messages/" + id).status, 404u);
  const auto hidden = other.request("GET", "/v1/messages/" + id + "/document");
  EXPECT_EQ(hidden.status, 404u);
  EXPECT_EQ(hidden.body.find("Arrest"), std::string::npos);
  EXPECT_EQ(other.request("GET", "/v1/messages/00000000-0000-4000-8000-000000000000/document").status, 404u);
}

TEST_F(Console, TheOverviewSeriesCountsEachMinuteForOperatorsOnly) {
  const auto before = post("newhaven-pd", "arrest-packet-2.xml", "console-series-1");
  ASSERT_FALSE(before.empty());
  auto op = client("operator");
  const auto r = op.request("GET", "/v1/series?minutes=5");
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = json(r);
  EXPECT_EQ(j.at("interval_s").as_int64(), 60);
  const auto& points = j.at("points").as_array();
  ASSERT_EQ(points.size(), 5u) << "one point per minute, quiet minutes included";
  long long accepted = 0;
  for (const auto& p : points) accepted += p.at("accepted").as_int64();
  EXPECT_GE(accepted, 1) << r.body;
  EXPECT_TRUE(j.at("backlog").is_array());
  EXPECT_EQ(op.request("GET", "/v1/series?minutes=2").status, 400u);
  auto pd = client("hartford-pd");
  EXPECT_EQ(pd.request("GET", "/v1/series").status, 403u);
}

TEST_F(Console, TheErasureLedgerExportsAsCsv) {
  auto op = client("operator");
  const auto r = op.request("GET", "/v1/erasures?format=csv");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers.at("content-type"), "text/csv; charset=utf-8");
  EXPECT_NE(r.headers.at("content-disposition").find("erasures.csv"), std::string::npos);
  EXPECT_EQ(r.body.rfind("erasure_id,case_key,scope,requested_by,received_at,deadline_at,status,recipient_ori,", 0), 0u)
      << r.body.substr(0, 200);
  EXPECT_EQ(op.request("GET", "/v1/erasures?format=xml").status, 400u);
}

}  // namespace
}  // namespace cjhub::test
