// End to end: the real cjhub binary, real certificates, real sockets, a real PostgreSQL.
#include <signal.h>

#include <regex>

#include <thread>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class Ingest : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub(); }
};

TEST_F(Ingest, ArrestPacketIsAcceptedAfterCommitAndReadableBySender) {
  auto c = client("newhaven-pd");
  const auto body = sample("valid/arrest-packet-2.xml");
  const auto r = c.request("POST", "/v1/messages", body);
  ASSERT_EQ(r.status, 202u) << r.body;
  const auto j = json(r);
  const std::string id(j.at("message_id").as_string());
  EXPECT_EQ(j.at("type").as_string(), "ArrestPacket");
  EXPECT_EQ(j.at("status_url").as_string(), "/v1/messages/" + id);
  EXPECT_TRUE(std::regex_match(std::string(j.at("received_at").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  EXPECT_EQ(r.headers.at("location"), "/v1/messages/" + id);

  // The row is there, with its routing keys and the exact body.
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + id + "'"), 1);
  EXPECT_EQ(db_->scalar("SELECT case_key FROM messages WHERE id = '" + id + "'"), "OTN-2026-0000456");
  EXPECT_EQ(db_->scalar("SELECT origin_ori FROM messages WHERE id = '" + id + "'"), "CT0093000");
  EXPECT_EQ(db_->scalar("SELECT sender_ori FROM messages WHERE id = '" + id + "'"), "CT0093000");
  EXPECT_EQ(db_->scalar("SELECT encode(sha256(body), 'hex') = encode(body_sha256, 'hex') FROM messages WHERE id = '" + id + "'"), "t");
  EXPECT_EQ(db_->count("SELECT octet_length(body) FROM messages WHERE id = '" + id + "'"),
            static_cast<long long>(body.size()));

  // Keep-alive: the same connection reads the status.
  const auto s = c.request("GET", "/v1/messages/" + id);
  ASSERT_EQ(s.status, 200u) << s.body;
  EXPECT_EQ(json(s).at("case_key").as_string(), "OTN-2026-0000456");
  EXPECT_EQ(json(s).at("sender_ori").as_string(), "CT0093000");

  // Another agency learns nothing; an operator sees it.
  auto other = client("hartford-pd");
  EXPECT_EQ(other.request("GET", "/v1/messages/" + id).status, 404u);
  auto ops = client("operator");
  EXPECT_EQ(ops.request("GET", "/v1/messages/" + id).status, 200u);
}

TEST_F(Ingest, EveryCissExchangeIsAcceptedFromItsPublisher) {
  auto judicial = client("judicial");
  auto hpd = client("hartford-pd");
  EXPECT_EQ(hpd.request("POST", "/v1/messages", sample("valid/early-arrest-1.xml")).status, 202u);
  EXPECT_EQ(judicial.request("POST", "/v1/messages", sample("valid/case-update-1.xml")).status, 202u);
  EXPECT_EQ(judicial.request("POST", "/v1/messages", sample("valid/erasure-notice-1.xml")).status, 202u);
  EXPECT_EQ(db_->scalar("SELECT erasure::text FROM messages WHERE message_type = 'ErasureNotice'"), "true");
  EXPECT_EQ(db_->scalar("SELECT erasure::text FROM messages WHERE message_type = 'CaseUpdate'"), "false");
  EXPECT_EQ(db_->scalar("SELECT jurisdiction FROM messages WHERE message_type = 'CaseUpdate'"), "GA14");
}

TEST_F(Ingest, ATypeTheAgencyMayNotPublishIs403) {
  auto c = client("hartford-pd");
  const auto before = db_->count("SELECT count(*) FROM messages");
  const auto r = c.request("POST", "/v1/messages", sample("valid/case-update-2.xml"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
  EXPECT_EQ(problem_type(r), "https://localhost/problems/type-not-allowed");
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), before);
}

TEST_F(Ingest, AnAgencyCannotSpeakForAnother) {
  auto c = client("hartford-pd");  // arrest-packet-2 names New Haven PD as its origin
  const auto before = db_->count("SELECT count(*) FROM messages");
  const auto r = c.request("POST", "/v1/messages", sample("valid/arrest-packet-2.xml"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/origin-mismatch");
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), before);
}

TEST_F(Ingest, AnAcknowledgementOfAMessageNeverDeliveredToTheAgencyIsRefused) {
  auto judicial = client("judicial");
  ASSERT_EQ(judicial.request("POST", "/v1/messages", sample("valid/erasure-notice-1.xml")).status, 202u);
  auto nh = client("newhaven-pd");  // New Haven PD subscribes to nothing: nothing was sent to it
  auto ack = sample("valid/ack-completed.xml");
  for (auto p = ack.find("CTDESPP00"); p != std::string::npos; p = ack.find("CTDESPP00")) ack.replace(p, 9, "CT0093000");
  auto r = nh.request("POST", "/v1/messages", ack);
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/ack-not-addressed");
  auto dcj = client("dcj");  // references a message the hub never saw
  auto unknown = sample("valid/ack-received.xml");
  const auto at = unknown.find("CTJUD0000-20270703-004512");
  ASSERT_NE(at, std::string::npos);
  unknown.replace(at, 25, "CTJUD0000-20990101-999999");
  r = dcj.request("POST", "/v1/messages", unknown);
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_EQ(problem_type(r), "https://localhost/problems/unknown-reference");
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE message_type = 'Acknowledgement'"), 0);
}

TEST_F(Ingest, ACertificateOfNoAgencyIsRefused) {
  auto c = client("unknown-agency");
  const auto r = c.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/unknown-client");
  EXPECT_EQ(c.request("GET", "/v1/messages/" + std::string(36, '0')).status, 403u);
}

TEST_F(Ingest, SchemaInvalidIs422WithLineAndColumn) {
  auto c = client("hartford-pd");
  const auto r = c.request("POST", "/v1/messages", sample("invalid/out-of-order-charge.xml"));
  ASSERT_EQ(r.status, 422u) << r.body;
  const auto j = json(r);
  EXPECT_EQ(j.at("type").as_string(), "https://localhost/problems/schema-invalid");
  const auto& errors = j.at("errors").as_array();
  ASSERT_FALSE(errors.empty());
  // The third charge's j:ChargeDescriptionText (line 45) comes after its j:ChargeSequenceID.
  EXPECT_EQ(errors[0].at("line").as_int64(), 45) << r.body;
  EXPECT_GT(errors[0].at("column").as_int64(), 0);
  EXPECT_NE(std::string(errors[0].at("message").as_string()).find("ChargeDescriptionText"), std::string::npos)
      << r.body;
  EXPECT_NE(std::string(j.at("detail").as_string()).find("line 45"), std::string::npos) << r.body;
}

// A problem's type is an https URI that resolves: its path, asked of the hub, is the type's
// documentation (docs/problems.md built into the binary); the whole page lists every type.
TEST_F(Ingest, ProblemTypeUrisResolveToTheirDocumentationOnTheHub) {
  auto c = client("hartford-pd");
  const auto refused = c.request("POST", "/v1/messages", sample("invalid/out-of-order-charge.xml"));
  ASSERT_EQ(refused.status, 422u) << refused.body;
  const auto type = problem_type(refused);
  const std::string base = "https://localhost";
  ASSERT_EQ(type.rfind(base + "/problems/", 0), 0u) << type;
  const auto page = c.request("GET", type.substr(base.size()));
  ASSERT_EQ(page.status, 200u) << page.body;
  EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<section id=\"schema-invalid\">"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("The document is not valid against its schema"), std::string::npos) << page.body;
  EXPECT_NE(page.headers.at("content-security-policy").find("default-src"), std::string::npos);

  // Any certificate that passes the handshake may read it: a vendor not yet registered too.
  auto stranger = client("unknown-agency");
  const auto all = stranger.request("GET", "/problems");
  ASSERT_EQ(all.status, 200u) << all.body;
  for (const char* slug : {"malformed-xml", "idempotency-conflict", "case-erased", "outcome-unknown", "internal-error"}) {
    EXPECT_NE(all.body.find(std::string("<section id=\"") + slug + "\">"), std::string::npos) << slug;
  }
  const auto missing = c.request("GET", "/problems/no-such-problem");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(problem_type(missing), base + "/problems/not-found");
  EXPECT_EQ(c.request("POST", "/problems/schema-invalid", "x").status, 405u);
}

TEST_F(Ingest, MalformedDoctypeAndUnknownRootAreRefused) {
  auto c = client("hartford-pd");
  const auto before = db_->count("SELECT count(*) FROM messages");
  auto r = c.request("POST", "/v1/messages", "<ciss:ArrestPacket xmlns:ciss='http://cjhub.example.org/ciss/1.0/'>");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/malformed-xml");
  r = c.request("POST", "/v1/messages",
                "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/forbidden-markup");
  EXPECT_EQ(r.body.find("root:"), std::string::npos);
  r = c.request("POST", "/v1/messages", sample("invalid/unknown-root.xml"));
  EXPECT_EQ(r.status, 422u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/unknown-message-type");
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), before);
}

TEST_F(Ingest, IdempotentRetryReturnsTheFirstResultAndAChangedBodyIs422) {
  auto c = client("hartford-pd");
  const auto body = sample("valid/arrest-packet-1.xml");
  const auto first = c.request("POST", "/v1/messages", body, {{"Idempotency-Key", "retry-test-1"}});
  ASSERT_EQ(first.status, 202u) << first.body;
  const auto again = c.request("POST", "/v1/messages", body, {{"Idempotency-Key", "retry-test-1"}});
  ASSERT_EQ(again.status, 202u);
  EXPECT_EQ(json(again).at("message_id"), json(first).at("message_id"));
  EXPECT_EQ(json(again).at("received_at"), json(first).at("received_at"));
  EXPECT_EQ(again.headers.at("idempotent-replayed"), "true");
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE idempotency_key = 'retry-test-1'"), 1);

  auto changed_body = body;
  changed_body.replace(changed_body.find("Marcus"), 6, "Markus");
  const auto changed = c.request("POST", "/v1/messages", changed_body, {{"Idempotency-Key", "retry-test-1"}});
  EXPECT_EQ(changed.status, 422u) << "reusing a key for another body is a 422 (IETF Idempotency-Key draft)";
  EXPECT_EQ(problem_type(changed), "https://localhost/problems/idempotency-conflict");

  // Without the header the document's message id is the key.
  const auto a = c.request("POST", "/v1/messages", body);
  const auto b = c.request("POST", "/v1/messages", body);
  ASSERT_EQ(a.status, 202u);
  ASSERT_EQ(b.status, 202u);
  EXPECT_EQ(json(a).at("message_id"), json(b).at("message_id"));
}

TEST_F(Ingest, FramingAndMediaTypeErrors) {
  auto c = client("hartford-pd");
  auto r = c.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml"), {}, "application/json");
  EXPECT_EQ(r.status, 415u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/unsupported-media-type");

  auto chunked = client("hartford-pd");
  r = chunked.raw("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n5\r\n<a/>\n\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 411u);

  auto nolength = client("hartford-pd");
  r = nolength.raw("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n\r\n");
  EXPECT_EQ(r.status, 411u);

  auto big = client("hartford-pd");
  r = big.raw("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n"
              "Content-Length: 17000000\r\n\r\n");  // beyond the largest type's 16 MiB
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(problem_type(r), "https://localhost/problems/payload-too-large");

  auto c2 = client("hartford-pd");
  EXPECT_EQ(c2.request("GET", "/v2/nothing").status, 404u);
  // A 405 names the methods the resource takes (RFC 9110 requires Allow).
  auto del = c2.request("DELETE", "/v1/messages");
  EXPECT_EQ(del.status, 405u);
  EXPECT_EQ(del.headers["allow"], "GET, POST");  // the search and the submission
  EXPECT_EQ(c2.request("DELETE", "/healthz").headers["allow"], "GET");
  auto ops = client("operator");
  auto replay = ops.request("GET", "/v1/admin/dead-letters/replay");
  EXPECT_EQ(replay.status, 405u);
  EXPECT_EQ(replay.headers["allow"], "POST");
  auto erasures = ops.request("DELETE", "/v1/erasures");
  EXPECT_EQ(erasures.status, 405u);
  EXPECT_EQ(erasures.headers["allow"], "GET");
}

TEST_F(Ingest, HealthAndReadiness) {
  auto c = client("operator");
  const auto h = c.request("GET", "/healthz");
  EXPECT_EQ(h.status, 200u);
  // Ready once the probe has checked every component (its first round may still be running just
  // after the listener opened: "not checked yet" is a 503 until then).
  auto r = c.request("GET", "/readyz");
  for (int i = 0; i < 100 && r.status != 200u && r.body.find("not checked yet") != std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = c.request("GET", "/readyz");
  }
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto j = json(r);
  EXPECT_TRUE(j.at("components").at("database").at("ok").as_bool());
  EXPECT_TRUE(j.at("components").at("schemas").at("ok").as_bool());
}

// Runs last in this suite: it restarts the hub.
TEST_F(Ingest, ZKillNineRightAfter202LosesNothing) {
  std::vector<std::string> ids;
  {
    auto c = client("newhaven-pd");
    const auto body = sample("valid/arrest-packet-2.xml");
    for (int i = 0; i < 20; ++i) {
      const auto r = c.request("POST", "/v1/messages", body, {{"Idempotency-Key", "kill9-" + std::to_string(i)}});
      ASSERT_EQ(r.status, 202u) << r.body;
      ids.emplace_back(json(r).at("message_id").as_string());
    }
  }
  hub_->kill9();
  for (const auto& id : ids) {
    EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE id = '" + id + "' AND body IS NOT NULL"), 1) << id;
  }
  hub_->start();
  auto c = client("newhaven-pd");
  for (const auto& id : ids) EXPECT_EQ(c.request("GET", "/v1/messages/" + id).status, 200u);
  // A retry after the crash is recognised as the same message.
  const auto r = c.request("POST", "/v1/messages", sample("valid/arrest-packet-2.xml"), {{"Idempotency-Key", "kill9-0"}});
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(std::string(json(r).at("message_id").as_string()), ids[0]);
}

}  // namespace
}  // namespace cjhub::test
