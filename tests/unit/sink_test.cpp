// The reference sink (`cjhub sink`): answers, acknowledgements (validated against the CISS
// schemas), simulated trouble, the JSON log and --dir, mostly without sockets. With the dev PKI
// (CJHUB_TEST_PKI) also over real mutual TLS: the sink behind the ingress server, and the
// asynchronous acknowledgement poster against a stand-in hub.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cjhub/api/http_types.hpp>
#include <cjhub/common/crypto.hpp>
#include <cjhub/common/ids.hpp>
#include <cjhub/ingress/server.hpp>
#include <cjhub/sink/ack_poster.hpp>
#include <cjhub/sink/sink.hpp>
#include <cjhub/validation/validator.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "support/test_env.hpp"
#include "support/tls_client.hpp"

namespace cjhub::sink {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kCiss = "http://cjhub.example.org/ciss/1.0/";
const std::string kMessageId = "0190c1a2-7b3c-7def-8abc-0123456789ab";
const std::string kDeliveryId = "0190c1a2-7b3c-7def-8abc-fedcba987654";
// SHA-256("abc") (FIPS 180-2 example); the sink does not read the body.
const std::string kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

validation::MessageTypeSpec ack_type() {
  validation::MessageTypeSpec t;
  t.name = "Acknowledgement";
  t.root_namespace = kCiss;
  t.root_local_name = "Acknowledgement";
  t.schema_files = {(test::source_dir() / "schemas" / "ciss" / "1.0" / "ciss.xsd").string()};
  t.namespaces = {{"ciss", kCiss},
                  {"nc", "http://release.niem.gov/niem/niem-core/5.0/"},
                  {"j", "http://release.niem.gov/niem/domains/jxdm/7.2/"}};
  t.keys = {
      {"message_id", "ciss:Acknowledgement/ciss:MessageMetadata/nc:DocumentIdentification/nc:IdentificationID"},
      {"origin_ori",
       "ciss:Acknowledgement/ciss:MessageMetadata/j:OrganizationORIIdentification/nc:IdentificationID"},
      {"ack_ref", "ciss:Acknowledgement/ciss:ReferencedMessageIdentification/nc:IdentificationID"},
      {"ack_status", "ciss:Acknowledgement/ciss:AcknowledgementStatusCode"},
  };
  return t;
}

validation::Outcome validate_ack(const std::string& xml) {
  static const auto schemas = validation::SchemaSet::load({ack_type()}, {});
  return validation::Validator::for_this_thread(schemas).validate(xml);
}

std::string describe(const validation::Outcome& o) {
  std::string s = validation::to_string(o.verdict);
  for (const auto& i : o.issues) s += "; line " + std::to_string(i.line) + ": " + i.message;
  return s;
}

Headers delivery_headers(const std::string& delivery = kDeliveryId, long attempt = 1, bool ack_required = false,
                         const std::optional<std::string>& case_key = std::string("OTN-2026-0000123"),
                         const std::string& message_id = kMessageId) {
  Headers h = {{"Cjhub-Message-Id", message_id},
               {"Cjhub-Delivery-Id", delivery},
               {"Cjhub-Attempt", std::to_string(attempt)},
               {"Cjhub-Message-Type", ack_required ? "ErasureNotice" : "ArrestPacket"},
               {"Cjhub-Sender-Ori", "CT0064000"},
               {"Cjhub-Ack-Required", ack_required ? "true" : "false"}};
  if (case_key) h.emplace_back("Cjhub-Case-Key", *case_key);
  return h;
}

api::Request post(std::string body = "abc") {
  api::Request r;
  r.method = "POST";
  r.target = "/cjhub/inbox";
  r.content_type = "application/xml";
  r.body = std::move(body);
  r.remote = "127.0.0.1:50000";
  r.received_at = now_utc();
  r.peer.present = true;
  r.peer.san_uris = {"urn:cjhub:hub"};  // the hub's client certificate
  return r;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("cjhub-sink-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    for (auto& h : handlers_) h->stop(std::chrono::steady_clock::now());
    handlers_.clear();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  SinkOptions options() {
    SinkOptions o;
    o.ori = "CTDESPP00";
    o.cert = "unused.crt";
    o.key = "unused.key";
    o.ca = "unused-ca.crt";
    o.log_file = log_path();
    return o;
  }
  fs::path log_path() const { return dir_ / "sink.log"; }

  SinkHandler& handler(SinkOptions o) {
    handlers_.push_back(std::make_unique<SinkHandler>(std::move(o)));
    handlers_.back()->start();
    return *handlers_.back();
  }

  // Calls the handler and waits for its answer (nullopt: none within `wait`).
  static std::optional<api::Response> call(SinkHandler& h, api::Request req, const Headers& headers,
                                           std::chrono::milliseconds wait = 5000ms) {
    auto p = std::make_shared<std::promise<api::Response>>();
    auto f = p->get_future();
    h.handle(std::move(req), headers, [p](api::Response r) { p->set_value(std::move(r)); });
    if (f.wait_for(wait) != std::future_status::ready) return std::nullopt;
    return f.get();
  }
  static api::Response answer(SinkHandler& h, api::Request req, const Headers& headers) {
    auto r = call(h, std::move(req), headers);
    if (!r) throw std::runtime_error("no answer");
    return *r;
  }
  static std::string header(const api::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }

  fs::path dir_;
  std::vector<std::unique_ptr<SinkHandler>> handlers_;
};

// ------------------------------------------------------------------------- acknowledgements

TEST_F(SinkTest, TheValidatorSpecAcceptsTheSampleAcknowledgement) {
  // Guards the test's own schema set: the repository's sample passes, a broken one does not.
  const auto sample = test::read_file(test::data_dir() / "ciss" / "valid" / "ack-received.xml");
  const auto ok = validate_ack(sample);
  ASSERT_TRUE(ok.ok()) << describe(ok);
  EXPECT_EQ(ok.type_name, "Acknowledgement");
  EXPECT_EQ(ok.first("ack_ref"), "CTJUD0000-20270703-004512");
  auto broken = sample;
  broken.replace(broken.find("received"), 8, "lost");
  EXPECT_EQ(validate_ack(broken).verdict, validation::Verdict::invalid);
}

TEST_F(SinkTest, SyncAckIsAValidCissAcknowledgementOfTheMessage) {
  auto& h = handler(options());
  const auto r = answer(h, post(), delivery_headers(kDeliveryId, 1, true));
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "application/xml");
  const auto o = validate_ack(r.body);
  ASSERT_TRUE(o.ok()) << describe(o) << "\n" << r.body;
  EXPECT_EQ(o.type_name, "Acknowledgement");
  EXPECT_EQ(o.first("ack_ref"), kMessageId);
  EXPECT_EQ(o.first("ack_status"), "received") << "the default promises receipt, not deletion";
  EXPECT_EQ(o.first("origin_ori"), "CTDESPP00");
  EXPECT_EQ(o.first("message_id"), "ACK-" + kDeliveryId);
  EXPECT_EQ(h.stats().acks_sync.load(), 1u);
}

TEST_F(SinkTest, AckStatusFollowsTheOption) {
  auto o = options();
  o.ack_status = "completed";
  auto& h = handler(o);
  const auto r = answer(h, post(), delivery_headers(kDeliveryId, 1, true));
  const auto v = validate_ack(r.body);
  ASSERT_TRUE(v.ok()) << describe(v);
  EXPECT_EQ(v.first("ack_status"), "completed");
}

TEST_F(SinkTest, ARetriedDeliveryGetsTheSameAcknowledgement) {
  auto& h = handler(options());
  const auto a = answer(h, post(), delivery_headers(kDeliveryId, 1, true));
  std::this_thread::sleep_for(1100ms);  // the creation time has a resolution of one second
  const auto b = answer(h, post(), delivery_headers(kDeliveryId, 2, true));
  EXPECT_EQ(a.body, b.body);
}

TEST_F(SinkTest, AcknowledgementValuesAreEscaped) {
  const auto xml = acknowledgement_xml("ACK-<1>&\"'", "m<&>\x01x", "CTDESPP00", "completed", now_utc());
  const auto o = validate_ack(xml);
  ASSERT_TRUE(o.ok()) << describe(o) << "\n" << xml;
  EXPECT_EQ(o.first("message_id"), "ACK-<1>&\"'");
  EXPECT_EQ(o.first("ack_ref"), "m<&>x");  // a control character cannot be carried by XML 1.0
}

TEST_F(SinkTest, AcknowledgesOnlyWhenRequiredUnlessAckAll) {
  auto& h = handler(options());
  const auto plain = answer(h, post(), delivery_headers(kDeliveryId, 1, false));
  EXPECT_EQ(plain.status, 200u);
  EXPECT_TRUE(plain.body.empty());
  EXPECT_NE(plain.content_type, "application/xml");

  auto all = options();
  all.ack_all = true;
  auto& h2 = handler(all);
  const auto r = answer(h2, post(), delivery_headers(kDeliveryId, 1, false));
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(validate_ack(r.body).ok()) << r.body;

  auto none = options();
  none.ack = AckMode::none;
  auto& h3 = handler(none);
  const auto n = answer(h3, post(), delivery_headers(kDeliveryId, 1, true));
  EXPECT_EQ(n.status, 200u);
  EXPECT_TRUE(n.body.empty());
}

TEST_F(SinkTest, AsyncModeAnswersAtOnceAndHandsTheAckToThePoster) {
  auto o = options();
  o.ack = AckMode::async;
  SinkHandler h(o);  // not started: decide() needs no poster
  const auto d = h.decide(post(), delivery_headers(kDeliveryId, 1, true));
  EXPECT_EQ(d.response.status, 200u);
  EXPECT_TRUE(d.response.body.empty());
  ASSERT_TRUE(d.async_ack);
  EXPECT_EQ(d.async_ack->ack_id, "ACK-" + kDeliveryId);
  EXPECT_EQ(d.async_ack->message_id, kMessageId);
  const auto v = validate_ack(d.async_ack->body);
  ASSERT_TRUE(v.ok()) << describe(v);
  EXPECT_EQ(v.first("ack_ref"), kMessageId);
  EXPECT_FALSE(h.decide(post(), delivery_headers(kDeliveryId, 1, false)).async_ack);
}

// ------------------------------------------------------------------------- trouble

TEST_F(SinkTest, StatusOptionAnswersThatStatusAlways) {
  auto o = options();
  o.status = 400;
  auto& h = handler(o);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(answer(h, post(), delivery_headers(Uuid::v7().str(), 1, true)).status, 400u);
  }
  auto o5 = options();
  o5.status = 500;
  EXPECT_EQ(answer(handler(o5), post(), delivery_headers()).status, 500u);
}

TEST_F(SinkTest, FailRateOneAnswers503WithRetryAfter) {
  auto o = options();
  o.fail_rate = 1.0;
  auto& h = handler(o);
  const auto r = answer(h, post(), delivery_headers(kDeliveryId, 1, true));
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(header(r, "Retry-After"), "1");
}

TEST_F(SinkTest, FailRateHalfFailsAboutHalfReproduciblyWithASeed) {
  auto o = options();
  o.fail_rate = 0.5;
  o.seed = 42;
  SinkHandler a(o), b(o);
  o.seed = 43;
  SinkHandler c(o);
  int failed = 0, same = 0, same_as_other_seed = 0;
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    const auto hd = delivery_headers(Uuid::v7().str(), 1 + i % 3);
    const auto ra = a.decide(post(), hd).response.status;
    const auto rb = b.decide(post(), hd).response.status;
    const auto rc = c.decide(post(), hd).response.status;
    ASSERT_TRUE(ra == 200 || ra == 503) << ra;
    failed += ra == 503;
    same += ra == rb;
    same_as_other_seed += ra == rc;
  }
  EXPECT_GT(failed, 420);
  EXPECT_LT(failed, 580);
  EXPECT_EQ(same, n);                   // same seed, same answers
  EXPECT_LT(same_as_other_seed, 600);  // another seed, other answers
}

TEST_F(SinkTest, RefuseFirstAnswers400ToThatManyDeliveriesThenAsUsual) {
  auto o = options();
  o.refuse_first = 2;
  auto& h = handler(o);
  for (int i = 0; i < 2; ++i) {
    const auto r = answer(h, post(), delivery_headers(Uuid::v7().str(), 1, true));
    EXPECT_EQ(r.status, 400u) << i;
    EXPECT_NE(r.body.find("--refuse-first"), std::string::npos) << r.body;
    EXPECT_EQ(header(r, "Retry-After"), "") << "a refusal is not to be retried";
  }
  EXPECT_EQ(answer(h, post(), delivery_headers(Uuid::v7().str(), 1, true)).status, 200u);
  EXPECT_EQ(answer(h, post(), delivery_headers(Uuid::v7().str(), 1, true)).status, 200u);
}

TEST_F(SinkTest, OutageWindowAnswers503) {
  auto o = options();
  o.outage_after = 0s;
  o.outage_for = 60s;
  EXPECT_EQ(answer(handler(o), post(), delivery_headers()).status, 503u);
  auto later = options();
  later.outage_after = 3600s;
  later.outage_for = 60s;
  EXPECT_EQ(answer(handler(later), post(), delivery_headers()).status, 200u);
}

TEST_F(SinkTest, LatencyDelaysTheAnswerWithoutBlockingTheCaller) {
  auto o = options();
  o.latency = 300ms;
  auto& h = handler(o);
  auto p = std::make_shared<std::promise<std::thread::id>>();
  auto f = p->get_future();
  const auto t0 = std::chrono::steady_clock::now();
  h.handle(post(), delivery_headers(), [p](api::Response) { p->set_value(std::this_thread::get_id()); });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);  // handle() returned at once
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  EXPECT_NE(f.get(), std::this_thread::get_id());
  EXPECT_EQ(lines_of(log_path()).size(), 1u);  // logged before the answer
}

TEST_F(SinkTest, HangNeverAnswersButLogs) {
  auto o = options();
  o.hang = true;
  auto& h = handler(o);
  EXPECT_FALSE(call(h, post(), delivery_headers(), 300ms));
  const auto lines = lines_of(log_path());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0]).as_object().at("status").as_int64(), 0);
}

// ------------------------------------------------------------------------- requests, log, dir

TEST_F(SinkTest, MissingOrMalformedDeliveryHeadersAre400) {
  auto& h = handler(options());
  EXPECT_EQ(answer(h, post(), {}).status, 400u);
  EXPECT_EQ(answer(h, post(), delivery_headers("../../etc/passwd")).status, 400u);
  EXPECT_EQ(answer(h, post(), delivery_headers(kDeliveryId, 1, true, std::nullopt, "not-a-uuid")).status, 400u);
  EXPECT_EQ(lines_of(log_path()).size(), 3u);
}

TEST_F(SinkTest, LogLineHasEveryFieldWithTheRightValues) {
  auto& h = handler(options());
  const auto before = now_utc();
  auto with_request_id = delivery_headers(kDeliveryId, 3, true);
  with_request_id.emplace_back("X-Request-Id", "rms-batch:42.7_a-b");
  answer(h, post("abc"), with_request_id);
  answer(h, post("abc"), delivery_headers(kDeliveryId, 4, false, std::nullopt));
  auto o400 = options();
  o400.status = 400;
  answer(handler(o400), post("abcd"), delivery_headers(kDeliveryId, 5));

  const auto lines = lines_of(log_path());
  ASSERT_EQ(lines.size(), 3u);
  const auto first = json::parse(lines[0]).as_object();
  const std::vector<std::string> fields = {"t",         "delivery_id", "message_id", "attempt",
                                           "message_type", "sender_ori", "case_key",   "ack_required",
                                           "sha256",    "bytes",       "status",     "sink_ori",
                                           "request_id"};
  EXPECT_EQ(first.size(), fields.size()) << lines[0];
  for (const auto& f : fields) EXPECT_TRUE(first.contains(f)) << f << " missing from " << lines[0];
  const auto t = std::string(first.at("t").as_string());
  ASSERT_EQ(t.size(), 27u) << t;  // 2026-11-21T02:21:30.123456Z
  EXPECT_EQ(t.back(), 'Z');
  EXPECT_GE(t, rfc3339(before).substr(0, 19));
  EXPECT_EQ(first.at("delivery_id").as_string(), kDeliveryId);
  EXPECT_EQ(first.at("message_id").as_string(), kMessageId);
  EXPECT_EQ(first.at("attempt").as_int64(), 3);
  EXPECT_EQ(first.at("message_type").as_string(), "ErasureNotice");
  EXPECT_EQ(first.at("sender_ori").as_string(), "CT0064000");
  EXPECT_EQ(first.at("case_key").as_string(), "OTN-2026-0000123");
  EXPECT_EQ(first.at("ack_required").as_bool(), true);
  EXPECT_EQ(first.at("sha256").as_string(), kAbcSha256);
  EXPECT_EQ(first.at("bytes").to_number<std::int64_t>(), 3);
  EXPECT_EQ(first.at("status").to_number<std::int64_t>(), 200);
  EXPECT_EQ(first.at("sink_ori").as_string(), "CTDESPP00");
  EXPECT_EQ(first.at("request_id").as_string(), "rms-batch:42.7_a-b");

  const auto second = json::parse(lines[1]).as_object();
  EXPECT_TRUE(second.at("case_key").is_null());
  EXPECT_EQ(second.at("ack_required").as_bool(), false);
  EXPECT_EQ(second.at("attempt").as_int64(), 4);
  EXPECT_TRUE(second.at("request_id").is_null()) << "no X-Request-Id sent";
  const auto third = json::parse(lines[2]).as_object();
  EXPECT_EQ(third.at("status").to_number<std::int64_t>(), 400);
  EXPECT_EQ(third.at("bytes").to_number<std::int64_t>(), 4);
}

TEST_F(SinkTest, LogIsAppendedAndLinesStayWholeUnderConcurrency) {
  { std::ofstream(log_path()) << "{\"earlier\":true}\n"; }
  auto& h = handler(options());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 50; ++i) answer(h, post(std::string(1000, 'x')), delivery_headers(Uuid::v7().str()));
    });
  }
  for (auto& th : threads) th.join();
  const auto lines = lines_of(log_path());
  ASSERT_EQ(lines.size(), 201u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(json::parse(lines[i]).as_object().at("bytes").to_number<std::int64_t>(), 1000) << lines[i];
  }
}

TEST_F(SinkTest, DirStoresAcceptedBodiesByDeliveryId) {
  auto o = options();
  o.dir = dir_ / "inbox";
  auto& h = handler(o);
  answer(h, post("<first/>"), delivery_headers(kDeliveryId, 1));
  const auto file = o.dir / (kDeliveryId + ".xml");
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(test::read_file(file), "<first/>");
  answer(h, post("<second/>"), delivery_headers(kDeliveryId, 2));  // a retry overwrites
  EXPECT_EQ(test::read_file(file), "<second/>");
  EXPECT_EQ(test::read_file(o.dir / (kDeliveryId + ".case")), "OTN-2026-0000123") << "the case, for erasures";
  answer(h, post("<x/>"), delivery_headers("../escape"));  // refused, nothing written
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(o.dir)) ++files;
  EXPECT_EQ(files, 2u);

  auto failing = o;
  failing.log_file = dir_ / "failing.log";
  failing.fail_rate = 1.0;
  const auto other = Uuid::v7().str();
  answer(handler(failing), post(), delivery_headers(other));
  EXPECT_FALSE(fs::exists(o.dir / (other + ".xml")));  // a 503 did not accept the message
}

TEST_F(SinkTest, DeliveriesFromAnyCertificateButTheHubsAreRefused) {
  auto o = options();
  o.dir = dir_ / "inbox";
  o.ack_all = true;
  auto& h = handler(o);
  auto forged = post("<forged/>");
  forged.peer.san_uris = {"urn:cjhub:ori:CT0064000"};  // an agency's certificate from the same CA
  const auto r = answer(h, forged, delivery_headers(kDeliveryId, 1, true));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.body.find("<"), std::string::npos) << "no acknowledgement: " << r.body;
  EXPECT_FALSE(fs::exists(o.dir / (kDeliveryId + ".xml")));
  EXPECT_EQ(h.stats().acks_sync.load(), 0u);
  auto none = post("<none/>");
  none.peer = {};
  EXPECT_EQ(answer(h, none, delivery_headers(kDeliveryId, 1, true)).status, 403u);
  const auto lines = lines_of(log_path());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0]).at("status").to_number<std::int64_t>(), 403);
  // The hub itself is served, and another URI can be named the hub's.
  EXPECT_EQ(answer(h, post(), delivery_headers(kDeliveryId, 1, true)).status, 200u);
  auto other = o;
  other.log_file = dir_ / "other.log";
  other.hub_uris = {"urn:example:hub-b"};
  auto from_b = post();
  from_b.peer.san_uris = {"urn:example:hub-b"};
  EXPECT_EQ(answer(handler(other), from_b, delivery_headers(Uuid::v7().str())).status, 200u);
}

TEST_F(SinkTest, CompletedDeletesTheCasesBodiesBeforeConfirmingAndNamesNoCase) {
  auto o = options();
  o.dir = dir_ / "inbox";
  o.ack_status = "completed";
  auto& h = handler(o);
  const auto a1 = Uuid::v7().str(), a2 = Uuid::v7().str(), b1 = Uuid::v7().str(), notice = Uuid::v7().str();
  answer(h, post("<arrest>Doe</arrest>"), delivery_headers(a1, 1, false, std::string("OTN-A")));
  answer(h, post("<update>Doe</update>"), delivery_headers(a2, 1, false, std::string("OTN-A")));
  answer(h, post("<arrest>Roe</arrest>"), delivery_headers(b1, 1, false, std::string("OTN-B")));
  ASSERT_TRUE(fs::exists(o.dir / (a1 + ".xml")));
  const auto r = answer(h, post("<notice/>"), delivery_headers(notice, 1, true, std::string("OTN-A")));
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(validate_ack(r.body).first("ack_status"), "completed");
  EXPECT_FALSE(fs::exists(o.dir / (a1 + ".xml"))) << "erased before the confirmation left";
  EXPECT_FALSE(fs::exists(o.dir / (a2 + ".xml")));
  EXPECT_FALSE(fs::exists(o.dir / (a1 + ".case")));
  EXPECT_TRUE(fs::exists(o.dir / (b1 + ".xml"))) << "another case is kept";
  EXPECT_TRUE(fs::exists(o.dir / (notice + ".xml"))) << "the notice itself is the record of the erasure";
  // The log names no case: only its hash.
  const auto log = test::read_file(log_path());
  EXPECT_EQ(log.find("OTN-A"), std::string::npos) << log;
  const auto first = json::parse(lines_of(log_path()).at(0)).as_object();
  EXPECT_FALSE(first.contains("case_key"));
  EXPECT_EQ(first.at("case_key_sha256").as_string(), to_hex(sha256("OTN-A")));

  // Promising receipt only, the sink keeps what it holds.
  auto received = o;
  received.ack_status = "received";
  received.dir = dir_ / "kept";
  received.log_file = dir_ / "kept.log";
  auto& k = handler(received);
  answer(k, post("<arrest/>"), delivery_headers(a1, 1, false, std::string("OTN-A")));
  answer(k, post("<notice/>"), delivery_headers(notice, 1, true, std::string("OTN-A")));
  EXPECT_TRUE(fs::exists(received.dir / (a1 + ".xml")));
}

TEST_F(SinkTest, HealthzCountsDeliveriesAndIsNotLogged) {
  auto& h = handler(options());
  answer(h, post(), delivery_headers());
  answer(h, post(), delivery_headers(Uuid::v7().str()));
  api::Request get;
  get.method = "GET";
  get.target = "/healthz";
  const auto r = answer(h, get, {});
  EXPECT_EQ(r.status, 200u);
  const auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "ok");
  EXPECT_EQ(body.at("received").to_number<std::int64_t>(), 2);
  EXPECT_EQ(lines_of(log_path()).size(), 2u);
  get.target = "/elsewhere";
  const auto r405 = answer(h, get, {});
  EXPECT_EQ(r405.status, 405u);
  EXPECT_EQ(header(r405, "Allow"), "POST");
}

// ------------------------------------------------------------------------- options

TEST(SinkOptions, ValidationNamesTheBadOption) {
  SinkOptions o;
  o.cert = "c";
  o.key = "k";
  o.ca = "ca";
  o.ori = "CTDESPP00";
  EXPECT_EQ(validate(o), "");
  auto bad = o;
  bad.listen = "nohost";
  EXPECT_NE(validate(bad).find("--listen"), std::string::npos);
  bad = o;
  bad.ori = "";
  EXPECT_NE(validate(bad).find("--ori"), std::string::npos);
  bad = o;
  bad.ack = AckMode::async;
  EXPECT_NE(validate(bad).find("--client-cert"), std::string::npos);
  bad.client_cert = "c";
  bad.client_key = "k";
  EXPECT_EQ(validate(bad), "");
  bad.hub_url = "http://localhost:8443";
  EXPECT_NE(validate(bad).find("--hub-url"), std::string::npos);
  bad = o;
  bad.fail_rate = 1.5;
  EXPECT_NE(validate(bad).find("--fail-rate"), std::string::npos);
  bad = o;
  bad.status = 99;
  EXPECT_NE(validate(bad).find("--status"), std::string::npos);
  bad = o;
  bad.outage_after = 5s;
  EXPECT_NE(validate(bad).find("--outage"), std::string::npos);
  bad = o;
  bad.ack_status = "rejected";
  EXPECT_NE(validate(bad).find("--ack-status"), std::string::npos);
}

TEST(SinkOptions, ListenAndHubUrlParsing) {
  EXPECT_EQ(parse_listen("127.0.0.1:9441"), std::make_pair(std::string("127.0.0.1"), (unsigned short)9441));
  EXPECT_EQ(parse_listen("localhost:0"), std::make_pair(std::string("127.0.0.1"), (unsigned short)0));
  EXPECT_EQ(parse_listen("[::1]:8443"), std::make_pair(std::string("::1"), (unsigned short)8443));
  EXPECT_FALSE(parse_listen("127.0.0.1"));
  EXPECT_FALSE(parse_listen("127.0.0.1:70000"));
  EXPECT_FALSE(parse_listen("example.org:80"));
  EXPECT_FALSE(parse_listen("::1:80"));

  const auto u = parse_https_url("https://localhost:8443");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->path, "");
  const auto v = parse_https_url("https://[::1]/hub/");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->host, "::1");
  EXPECT_EQ(v->port, "443");
  EXPECT_EQ(v->path, "/hub");
  EXPECT_FALSE(parse_https_url("http://localhost:8443"));
  EXPECT_FALSE(parse_https_url("https://:8443"));
  EXPECT_FALSE(parse_https_url("https://localhost:0"));
  EXPECT_FALSE(parse_https_url("https://user@localhost"));
}

TEST(SinkOptions, DeliveryHeadersAreCaseInsensitive) {
  const auto d = DeliveryHeaders::from({{"cjhub-message-id", kMessageId},
                                        {"CJHUB-DELIVERY-ID", kDeliveryId},
                                        {"cjhub-attempt", "x"},
                                        {"Cjhub-Ack-Required", "TRUE"}});
  EXPECT_EQ(d.message_id, kMessageId);
  EXPECT_EQ(d.delivery_id, kDeliveryId);
  EXPECT_EQ(d.attempt, 0);
  EXPECT_TRUE(d.ack_required);
  EXPECT_FALSE(d.case_key);
}

// ------------------------------------------------------------------------- over mutual TLS

std::optional<fs::path> test_pki() {
  if (auto v = test::env("CJHUB_TEST_PKI")) return fs::path(*v);
  return std::nullopt;
}

ingress::ServerSettings server_settings(const fs::path& pki, const std::string& cert, const std::string& name) {
  ingress::ServerSettings s;
  s.listener.address = "127.0.0.1";
  s.listener.port = 0;
  s.tls.server_cert = pki / (cert + ".crt");
  s.tls.server_key = pki / (cert + ".key");
  s.tls.client_ca = pki / "ca.crt";
  s.io_threads = 1;
  s.name = name;
  return s;
}

TEST_F(SinkTest, OverMutualTlsTheHubsDeliveryIsLoggedAndAcknowledged) {
  const auto pki = test_pki();
  if (!pki) GTEST_SKIP() << "CJHUB_TEST_PKI is not set (scripts/dev-pki DIR; CJHUB_TEST_PKI=DIR)";
  auto o = options();
  o.dir = dir_ / "inbox";
  auto& h = handler(o);
  ingress::HttpsServer server(server_settings(*pki, "sinks/despp", "test-sink"), h);
  server.start();

  test::TlsClient::Options co;
  co.port = server.port();
  co.cert = {*pki / "hub-client.crt", *pki / "hub-client.key"};
  co.ca = *pki / "ca.crt";
  test::TlsClient hub(co);
  const auto body = test::read_file(test::data_dir() / "ciss" / "valid" / "ack-received.xml");
  const auto r = hub.request("POST", "/cjhub/inbox", body,
                             {{"Cjhub-Message-Id", kMessageId},
                              {"Cjhub-Delivery-Id", kDeliveryId},
                              {"Cjhub-Attempt", "1"},
                              {"Cjhub-Message-Type", "ErasureNotice"},
                              {"Cjhub-Sender-Ori", "CTJUD0000"},
                              {"Cjhub-Ack-Required", "true"}});
  ASSERT_NE(r.status, 400u) << "the sink did not see the Cjhub-* headers: the ingress layer must pass the "
                               "request's header fields in api::Request::headers\n"
                            << r.body;
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers.at("content-type"), "application/xml");
  const auto v = validate_ack(r.body);
  ASSERT_TRUE(v.ok()) << describe(v);
  EXPECT_EQ(v.first("ack_ref"), kMessageId);
  EXPECT_EQ(test::read_file(o.dir / (kDeliveryId + ".xml")), body);
  const auto health = hub.request("GET", "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(json::parse(health.body).as_object().at("received").to_number<std::int64_t>(), 1);
  hub.close();

  const auto lines = lines_of(log_path());
  ASSERT_EQ(lines.size(), 1u);
  const auto line = json::parse(lines[0]).as_object();
  EXPECT_EQ(line.at("delivery_id").as_string(), kDeliveryId);
  EXPECT_EQ(line.at("sender_ori").as_string(), "CTJUD0000");
  EXPECT_EQ(line.at("status").to_number<std::int64_t>(), 200);
  EXPECT_EQ(line.at("bytes").to_number<std::int64_t>(), static_cast<std::int64_t>(body.size()));

  // A client without a certificate does not get in.
  test::TlsClient::Options anon = co;
  anon.cert = {};
  test::TlsClient stranger(anon);
  bool refused = static_cast<bool>(stranger.connect());
  if (!refused) {
    try {
      stranger.request("GET", "/healthz");
    } catch (const std::exception&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
  server.stop(std::chrono::steady_clock::now() + 2s);
}

// A stand-in for the hub's /v1/messages: answers from a script, records what it got.
class ScriptedHub final : public api::RequestHandler {
 public:
  explicit ScriptedHub(std::deque<unsigned> statuses) : statuses_(std::move(statuses)) {}
  void handle(api::Request req, api::Respond respond) override {
    api::Response r;
    {
      std::lock_guard lock(mutex_);
      r.status = statuses_.empty() ? 202 : statuses_.front();
      if (!statuses_.empty()) statuses_.pop_front();
      got_.push_back(std::move(req));
    }
    cv_.notify_all();
    if (r.status == 503) r.headers.emplace_back("Retry-After", "0");
    r.body = "{}";
    respond(std::move(r));
  }
  std::vector<api::Request> wait_for(std::size_t n, std::chrono::seconds limit) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, limit, [&] { return got_.size() >= n; });
    return got_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<unsigned> statuses_;
  std::vector<api::Request> got_;
};

TEST_F(SinkTest, AsyncAckIsPostedToTheHubAndRetriedAfter503) {
  const auto pki = test_pki();
  if (!pki) GTEST_SKIP() << "CJHUB_TEST_PKI is not set (scripts/dev-pki DIR; CJHUB_TEST_PKI=DIR)";
  ScriptedHub hub({503, 202});
  ingress::HttpsServer hub_server(server_settings(*pki, "server", "fake-hub"), hub);
  hub_server.start();

  auto o = options();
  o.ack = AckMode::async;
  o.ack_delay = 50ms;
  o.ca = *pki / "ca.crt";
  o.client_cert = *pki / "clients" / "despp.crt";
  o.client_key = *pki / "clients" / "despp.key";
  o.hub_url = "https://127.0.0.1:" + std::to_string(hub_server.port());
  auto& h = handler(o);
  const auto r = answer(h, post(), delivery_headers(kDeliveryId, 1, true));
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.body.empty());

  const auto got = hub.wait_for(2, 15s);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& req : got) {
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/v1/messages");
    EXPECT_EQ(req.content_type, "application/xml");
    EXPECT_EQ(req.idempotency_key, "ACK-" + kDeliveryId);
    ASSERT_TRUE(req.peer.present);
    EXPECT_EQ(req.peer.san_uris, std::vector<std::string>{"urn:cjhub:ori:CTDESPP00"});
  }
  EXPECT_EQ(got[0].body, got[1].body);  // the same document on every attempt
  const auto v = validate_ack(got[0].body);
  ASSERT_TRUE(v.ok()) << describe(v);
  EXPECT_EQ(v.first("ack_ref"), kMessageId);
  EXPECT_EQ(v.first("origin_ori"), "CTDESPP00");

  h.stop(std::chrono::steady_clock::now() + 5s);  // flushes the poster's last log line
  std::vector<json::object> events;
  for (const auto& l : lines_of(log_path())) {
    auto obj = json::parse(l).as_object();
    if (obj.contains("event")) events.push_back(std::move(obj));
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("event").as_string(), "ack_posted");
  EXPECT_EQ(events[0].at("hub_status").to_number<std::int64_t>(), 503);
  EXPECT_EQ(events[0].at("outcome").as_string(), "retrying");
  EXPECT_EQ(events[1].at("hub_status").to_number<std::int64_t>(), 202);
  EXPECT_EQ(events[1].at("outcome").as_string(), "accepted");
  EXPECT_EQ(events[1].at("delivery_id").as_string(), kDeliveryId);
  hub_server.stop(std::chrono::steady_clock::now() + 2s);
}

TEST_F(SinkTest, AsyncAckGivesUpWhenTheHubIsUnreachable) {
  const auto pki = test_pki();
  if (!pki) GTEST_SKIP() << "CJHUB_TEST_PKI is not set (scripts/dev-pki DIR; CJHUB_TEST_PKI=DIR)";
  std::vector<std::string> lines;
  std::mutex m;
  AckPosterSettings s;
  s.hub_url = "https://127.0.0.1:1";  // nothing listens there
  s.client_cert = *pki / "clients" / "despp.crt";
  s.client_key = *pki / "clients" / "despp.key";
  s.ca = *pki / "ca.crt";
  s.sink_ori = "CTDESPP00";
  s.give_up_after = 1s;
  AckPoster poster(s, [&](const std::string& l) {
    std::lock_guard lock(m);
    lines.push_back(l);
  });
  poster.start();
  poster.submit({kDeliveryId, kMessageId, "ACK-" + kDeliveryId, "<x/>", std::chrono::steady_clock::now()});
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard lock(m);
      if (!lines.empty() && lines.back().find("gave_up") != std::string::npos) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  poster.stop(std::chrono::steady_clock::now());
  ASSERT_GE(lines.size(), 2u);
  const auto first = json::parse(lines.front()).as_object();
  EXPECT_EQ(first.at("outcome").as_string(), "retrying");
  EXPECT_EQ(first.at("hub_status").to_number<std::int64_t>(), 0);
  EXPECT_NE(std::string(first.at("error").as_string()).find("connect"), std::string::npos);
  EXPECT_EQ(json::parse(lines.back()).as_object().at("outcome").as_string(), "gave_up");
}

}  // namespace
}  // namespace cjhub::sink
