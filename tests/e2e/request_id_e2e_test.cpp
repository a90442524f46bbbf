// End to end: the hub's JSON log as a SIEM reads it. One request id follows a message from the
// POST (the client's X-Request-Id, echoed) to each delivery (logged by the dispatcher, sent to
// the recipient, logged by its sink); every line of the hub's log is a JSON object whose ids are
// fields of their own.
#include <regex>

#include "e2e/delivery_fixture.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class RequestId : public DeliverySuite {
 protected:
  // The hub's log, every line parsed (a line that is not a JSON object fails the test).
  std::vector<boost::json::object> hub_lines() {
    auto out = json_log_lines(hub_->log());
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical"};
    for (const auto& o : out) {
      EXPECT_TRUE(levels.count(std::string(o.at("level").as_string()))) << boost::json::serialize(o);
    }
    return out;
  }
  static std::string field(const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  }
  // Waits until the hub's log has a line of `module` with `message_id` = `id` for which `pred`
  // holds; returns it (an empty object when none came within `limit`).
  boost::json::object wait_for_line(const std::string& module, const std::string& id,
                                    const std::function<bool(const boost::json::object&)>& pred,
                                    std::chrono::seconds limit = 20s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    do {
      for (const auto& o : hub_lines()) {
        if (field(o, "module") == module && field(o, "message_id") == id && pred(o)) return o;
      }
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < until);
    return {};
  }
  void start_json_hub() {
    start_sinks();
    // Debug: a delivered attempt is logged at debug (a failed one at info).
    start_hub({{"CJHUB_LOG_FORMAT", "json"}, {"CJHUB_LOG_LEVEL", "debug"}});
  }
};

TEST_F(RequestId, TheClientsIdIsEchoedLoggedAsAFieldAndReachesEveryRecipient) {
  start_json_hub();
  auto hpd = client("hartford-pd");
  const std::string rid = "rms-7f3a:batch.12_item-9";
  const auto r = hpd.request("POST", "/v1/messages", arrest_packet("OTN-RID-1", 1), {{"X-Request-Id", rid}});
  ASSERT_EQ(r.status, 202u) << r.body;
  ASSERT_TRUE(r.headers.count("x-request-id")) << "the answer names the request";
  EXPECT_EQ(r.headers.at("x-request-id"), rid);
  const auto id = message_id(r);

  // The accept line: the ids as fields, not only inside the text.
  const auto accepted = wait_for_line("api", id, [](const auto& o) { return field(o, "msg").rfind("accepted", 0) == 0; });
  ASSERT_FALSE(accepted.empty()) << "no accept line for " << id << " in\n" << hub_->log();
  EXPECT_EQ(field(accepted, "request_id"), rid);
  EXPECT_EQ(field(accepted, "agency"), "CT0064000");
  EXPECT_EQ(field(accepted, "level"), "info");
  EXPECT_FALSE(field(accepted, "peer").empty()) << boost::json::serialize(accepted);

  // A delivery line for each of the three recipients (DESPP, DCJ, Judicial), each with the ids.
  std::set<std::string> agencies;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (agencies.size() < 3 && std::chrono::steady_clock::now() < until) {
    agencies.clear();
    for (const auto& o : hub_lines()) {
      if (field(o, "module") != "delivery" || field(o, "message_id") != id) continue;
      EXPECT_EQ(field(o, "request_id"), rid) << boost::json::serialize(o);
      EXPECT_FALSE(field(o, "delivery_id").empty()) << boost::json::serialize(o);
      EXPECT_FALSE(field(o, "endpoint").empty()) << boost::json::serialize(o);
      EXPECT_EQ(field(o, "attempt"), "1") << boost::json::serialize(o);
      agencies.insert(field(o, "agency"));
    }
    if (agencies.size() < 3) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(agencies, (std::set<std::string>{"CTDESPP00", "CTDCJ0000", "CTJUD0000"})) << hub_->log();

  // The recipients were sent it: their sinks log the same request id.
  for (auto* s : {despp_.get(), dcj_.get(), judicial_.get()}) {
    const auto sink_until = std::chrono::steady_clock::now() + 10s;
    std::vector<boost::json::object> got;
    while ((got = s->receipts()).empty() && std::chrono::steady_clock::now() < sink_until) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(got.size(), 1u) << s->ori();
    EXPECT_EQ(got[0].at("message_id").as_string(), id) << s->ori();
    ASSERT_TRUE(got[0].contains("request_id") && got[0].at("request_id").is_string()) << boost::json::serialize(got[0]);
    EXPECT_EQ(got[0].at("request_id").as_string(), rid) << s->ori();
  }
  // Every line of the hub's log is JSON (checked by hub_lines), and no line names the payload.
  EXPECT_EQ(hub_->log().find("OTN-RID-1"), std::string::npos) << "a case key in the log";
}

TEST_F(RequestId, AnInvalidOrMissingIdIsReplacedByOneTheHubMakesAndEchoesOnRefusalsToo) {
  start_json_hub();
  auto hpd = client("hartford-pd");
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

  // Too long, a space, a character outside the set: each replaced by a UUIDv7 of the hub's.
  const std::string bad[] = {std::string(129, 'a'), "two words", "id/with/slashes", "caf\xc3\xa9"};
  std::set<std::string> made;
  for (int i = 0; i < 4; ++i) {
    const auto r = hpd.request("POST", "/v1/messages", arrest_packet("OTN-RID-2", i), {{"X-Request-Id", bad[i]}});
    ASSERT_EQ(r.status, 202u) << r.body;
    ASSERT_TRUE(r.headers.count("x-request-id")) << bad[i];
    const auto got = r.headers.at("x-request-id");
    EXPECT_NE(got, bad[i]);
    EXPECT_TRUE(std::regex_match(got, uuid)) << got;
    made.insert(got);
    const auto id = message_id(r);
    const auto accepted =
        wait_for_line("api", id, [](const auto& o) { return field(o, "msg").rfind("accepted", 0) == 0; });
    ASSERT_FALSE(accepted.empty()) << id;
    EXPECT_EQ(field(accepted, "request_id"), got) << "the log names the id the client was given";
  }
  EXPECT_EQ(made.size(), 4u) << "a new id for every request";

  // None sent: one is made. 128 characters of the set: kept.
  const auto none = hpd.request("POST", "/v1/messages", arrest_packet("OTN-RID-2", 10));
  ASSERT_EQ(none.status, 202u) << none.body;
  EXPECT_TRUE(std::regex_match(none.headers.at("x-request-id"), uuid)) << none.headers.at("x-request-id");
  const std::string longest(128, 'Z');
  const auto kept = hpd.request("POST", "/v1/messages", arrest_packet("OTN-RID-2", 11), {{"X-Request-Id", longest}});
  ASSERT_EQ(kept.status, 202u) << kept.body;
  EXPECT_EQ(kept.headers.at("x-request-id"), longest);

  // A refusal answers it too, and logs it with the refusal.
  const std::string refused_rid = "refused-1";
  const auto refused = hpd.request("POST", "/v1/messages", "<not-xml", {{"X-Request-Id", refused_rid}});
  EXPECT_GE(refused.status, 400u);
  ASSERT_TRUE(refused.headers.count("x-request-id")) << refused.status;
  EXPECT_EQ(refused.headers.at("x-request-id"), refused_rid);
  bool logged = false;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!logged && std::chrono::steady_clock::now() < until) {
    for (const auto& o : hub_lines()) {
      if (field(o, "module") == "api" && field(o, "request_id") == refused_rid &&
          field(o, "msg").rfind("refused", 0) == 0) {
        logged = true;
        EXPECT_EQ(field(o, "agency"), "CT0064000") << boost::json::serialize(o);
        EXPECT_FALSE(field(o, "status").empty()) << boost::json::serialize(o);
      }
    }
    if (!logged) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(logged) << hub_->log();

  // The id the hub made is the one the recipient is sent.
  const auto made_id = none.headers.at("x-request-id");
  const auto id = message_id(none);
  const auto sink_until = std::chrono::steady_clock::now() + 20s;
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < sink_until) {
    for (const auto& o : despp_->receipts()) {
      if (o.at("message_id").as_string() == id) {
        seen = true;
        EXPECT_EQ(o.at("request_id").as_string(), made_id);
      }
    }
    if (!seen) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(seen) << "DESPP never received " << id;
  hub_lines();  // every line JSON
}

// An operator's action and a refused admin request, as a SIEM reads them: who acted, on what,
// from where, with the request's id, each a field of its own.
TEST_F(RequestId, AdminActionsAndRefusalsCarryTheirIdsAsFields) {
  start_json_hub();
  // Hartford PD is not an operator: refused, and the refusal names it, its address and the id.
  auto hpd = client("hartford-pd");
  const auto refused = hpd.request("POST", "/v1/admin/endpoints/CTDESPP00/main/pause", "{}",
                                   {{"X-Request-Id", "admin-refused-1"}}, "application/json");
  ASSERT_EQ(refused.status, 403u) << refused.body;
  // The operator pauses DESPP's endpoint, then resumes it.
  auto ops = client("operator");
  const auto paused = ops.request("POST", "/v1/admin/endpoints/CTDESPP00/main/pause", R"({"reason":"maintenance"})",
                                  {{"X-Request-Id", "admin-pause-1"}}, "application/json");
  ASSERT_EQ(paused.status, 200u) << paused.body;
  const auto resumed = ops.request("POST", "/v1/admin/endpoints/CTDESPP00/main/resume", "{}",
                                   {{"X-Request-Id", "admin-resume-1"}}, "application/json");
  ASSERT_EQ(resumed.status, 200u) << resumed.body;

  std::map<std::string, boost::json::object> by_id;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (by_id.size() < 3 && std::chrono::steady_clock::now() < until) {
    for (const auto& o : hub_lines()) {
      const auto rid = field(o, "request_id");
      if (field(o, "module") == "api" && rid.rfind("admin-", 0) == 0) by_id[rid] = o;
    }
    if (by_id.size() < 3) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(by_id.size(), 3u) << hub_->log();
  const auto& r = by_id["admin-refused-1"];
  EXPECT_EQ(field(r, "level"), "warn") << boost::json::serialize(r);
  EXPECT_EQ(field(r, "agency"), "CT0064000") << boost::json::serialize(r);
  EXPECT_EQ(field(r, "status"), "403") << boost::json::serialize(r);
  EXPECT_EQ(field(r, "peer").rfind("127.0.0.1:", 0), 0u) << boost::json::serialize(r);
  EXPECT_EQ(field(r, "certificate").size(), 64u) << boost::json::serialize(r);
  for (const char* rid : {"admin-pause-1", "admin-resume-1"}) {
    const auto& o = by_id[rid];
    EXPECT_FALSE(field(o, "operator").empty()) << boost::json::serialize(o);
    EXPECT_NE(field(o, "operator"), "CTDESPP00") << "the operator, not the endpoint's agency";
    EXPECT_EQ(field(o, "agency"), "CTDESPP00") << boost::json::serialize(o);
    EXPECT_EQ(field(o, "endpoint"), "main") << boost::json::serialize(o);
  }
  EXPECT_NE(field(by_id["admin-pause-1"], "msg").find("paused"), std::string::npos);
  EXPECT_NE(field(by_id["admin-resume-1"], "msg").find("resumed"), std::string::npos);
}

}  // namespace
}  // namespace cjhub::test
