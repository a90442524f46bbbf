// End to end: a sandbox vendor onboards alone. It is added to the agencies file and applied to the
// running hub, sends a day's notifications and packets (with forms attached) with `cjhub submit`,
// has the sandbox court send updates and an erasure about its cases to its endpoint (a real
// `cjhub sink`), and `cjhub certify` grades levels 1 and 2 from what the hub recorded: both pass,
// with the three reports. Then the vendor makes mistakes (an invalid document, a statute off the
// code list, a late notification, a document sent again changed under a new key, an endpoint that
// refuses the kit's duplicate) and fails exactly the criteria that name them. Each of the other
// criteria's mistakes is made by a vendor of its own, from nothing: it fails exactly that criterion
// (an endpoint that refuses a message also answers it badly: L2-ORDER comes with L2-ANSWERS).
#include <boost/json.hpp>

#include "e2e/delivery_fixture.hpp"
#include "cjhub/common/time.hpp"
#include "support/attachments.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class Certify : public DeliverySuite {
 protected:
  // The sandbox hub with its court and DESPP; `vendor`: with the vendor already in its agencies
  // file, else the vendor comes later (apply_vendor).
  void start_sandbox_hub(bool vendor = true) {
    agencies_ = write_sandbox_agencies("New sandbox RMS vendor",
                                       "EarlyArrestNotification, ArrestPacket, Acknowledgement",
                                       "EarlyArrestNotification, ArrestPacket, CaseUpdate, ErasureNotice");
    auto o = hub_options({{"CJHUB_SANDBOX_COURT_ORI", "CTJUD0000"}, {"CJHUB_WATCH_FLUSH_S", "1"}});
    o.agencies = agencies_;
    if (!vendor) {
      auto text = read_file(agencies_);
      const auto from = text.find("  - ori: CT0064000"), to = text.find("  - ori: CTJUD0000");
      ASSERT_TRUE(from != std::string::npos && to != std::string::npos && from < to);
      o.agencies = dir_ / "without-vendor.yaml";
      std::ofstream(o.agencies) << text.erase(from, to - from);
    }
    hub_ = std::make_unique<HubProcess>(o);
    hub_->start();
  }
  // The state adds the vendor to the running hub's agencies: `cjhub apply`, no restart.
  void apply_vendor() {
    std::string out;
    ASSERT_EQ(hub_->run_command({"apply", "-c", (source_dir() / "config" / "cjhub.example.yaml").string(), "-f",
                                 agencies_.string()},
                                &out),
              0)
        << out;
    EXPECT_NE(out.find("+ added    CT0064000"), std::string::npos) << out;
    auto vendor = client("hartford-pd");
    ASSERT_TRUE(wait_for([&] { return vendor.request("GET", "/v1/messages/00000000-0000-7000-8000-000000000000").status == 404u; },
                         10s))
        << "the running hub knows the vendor's certificate";
  }
  // An early arrest notification of `case_key`, the arrest `ago` before now.
  static std::string notification(const std::string& case_key, const std::string& statute = "53-206",
                                  std::chrono::minutes ago = 10min) {
    auto doc = sample("valid/early-arrest-1.xml");
    replace_all(doc, "OTN-2026-0000123", case_key);
    replace_all(doc, "CT0064000-20260314-000866", "CT0064000-EAN-" + case_key);
    replace_all(doc, "2026-03-14T22:47:00-04:00", rfc3339(now_utc() - ago));
    replace_all(doc, ">53-206<", ">" + statute + "<");
    return doc;
  }
  static std::string packet(const std::string& case_key, int n) {
    const auto pdf = fake_form("pdf", 3000, n), tiff = fake_form("tiff", 5000, n);
    return with_attachments(arrest_packet(case_key, n), {attachment_xml(pdf, "application/pdf", size_kb(pdf)),
                                                         attachment_xml(tiff, "image/tiff", size_kb(tiff))});
  }
  int submit(const fs::path& outbox, std::string* out) { return submit(outbox, out, client_cert("hartford-pd")); }
  int submit(const fs::path& outbox, std::string* out, const ClientCert& cert) {
    return hub_->run_command({"submit", "--hub-url", "https://localhost:" + std::to_string(hub_->port()), "--cert",
                              cert.cert.string(), "--key", cert.key.string(), "--ca", (pki_dir() / "ca.crt").string(),
                              "--wait", "0", outbox.string()},
                             out);
  }
  struct Graded {
    int exit_code = -1;
    std::string output;
    boost::json::object report;
    std::set<std::string> failed;
  };
  Graded certify(int level) {
    Graded g;
    const auto out = dir_ / "reports";
    g.exit_code = hub_->run_command({"certify", "-c", (source_dir() / "config" / "cjhub.example.yaml").string(),
                                     "--agency", "CT0064000", "--level", std::to_string(level), "--criteria",
                                     criteria_.string(), "--out", out.string()},
                                    &g.output);
    const auto json = out / ("certification-CT0064000-level" + std::to_string(level) + ".json");
    if (!fs::exists(json)) return g;
    g.report = boost::json::parse(read_file(json)).as_object();
    for (const auto& r : g.report.at("results").as_array()) {
      if (!r.at("passed").as_bool()) g.failed.insert(std::string(r.at("id").as_string()));
    }
    return g;
  }
  static bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
    return done();
  }
  // The state's criteria with a smaller day: three notifications and two packets.
  void write_criteria() {
    auto text = read_file(source_dir() / "config" / "certification.yaml");
    replace_all(text, "min: 10", "min: 3");
    replace_all(text, "        min: 3\n      - id: L2-PACKET-DATA", "        min: 2\n      - id: L2-PACKET-DATA");
    criteria_ = dir_ / "certification.yaml";
    std::ofstream(criteria_) << text;
  }
  // The vendor's client certificate renewed for `days` only (same key and identity, the dev CA).
  ClientCert short_lived_certificate(int days) {
    const auto pki = pki_dir();
    const auto base = client_cert("hartford-pd");
    ClientCert c{dir_ / "vendor.crt", base.key};
    std::ofstream(dir_ / "vendor.cnf") << "[ext]\nbasicConstraints=critical,CA:FALSE\n"
                                          "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
                                          "subjectAltName=URI:urn:cjhub:ori:CT0064000\n";
    const std::string cmd = "openssl req -new -key '" + base.key.string() + "' -subj '/O=cjhub development/CN=new-vendor' -out '" +
                            (dir_ / "vendor.csr").string() + "' 2>/dev/null && openssl x509 -req -in '" +
                            (dir_ / "vendor.csr").string() + "' -CA '" + (pki / "ca.crt").string() + "' -CAkey '" +
                            (pki / "ca.key").string() + "' -set_serial 0x$(openssl rand -hex 8) -days " +
                            std::to_string(days) + " -sha256 -extfile '" + (dir_ / "vendor.cnf").string() +
                            "' -extensions ext -out '" + c.cert.string() + "' 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return c;
  }
  // Message ids the vendor's endpoint answered 2xx.
  std::set<std::string> taken() const {
    std::set<std::string> ids;
    for (const auto& r : hartford_->receipts()) {
      if (r.at("status").as_int64() / 100 == 2) ids.insert(std::string(r.at("message_id").as_string()));
    }
    return ids;
  }
  HttpResult court(TlsClient& c, const std::string& type, const std::string& case_key) {
    return c.request("POST", "/v1/sandbox/court/" + type,
                     boost::json::serialize(boost::json::object{{"case_key", case_key}}), {}, "application/json");
  }
  fs::path criteria_, agencies_;
};

// A vendor that makes one mistake, from nothing to its level 2 report.
struct Mistake {
  std::string name;
  std::vector<int> notified{1, 2, 3};  // the cases (OTN-2026-000030n) with a notification
  bool attachments = true;
  bool malformed_packet_statute = false;
  int certificate_days = 0;           // 0: the dev certificate (a year)
  std::vector<std::string> endpoint{};  // the vendor's endpoint while the court's traffic arrives
  bool endpoint_recovers = false;     // ... then, after its first answer, as usual
  int taken = 3;                      // the court's messages the endpoint answers 2xx
  bool erasure_completed = true;
  std::set<std::string> fails;
};
std::ostream& operator<<(std::ostream& os, const Mistake& m) { return os << m.name; }

class CertifyMistake : public Certify, public ::testing::WithParamInterface<Mistake> {};

TEST_F(Certify, ANewSandboxVendorPassesBothLevelsAndEachMistakeFailsItsCriterion) {
  despp_->start();
  hartford_->start();
  start_sandbox_hub(false);
  apply_vendor();
  write_criteria();

  // A day's traffic, sent by the reference client.
  const auto outbox = dir_ / "outbox";
  fs::create_directories(outbox);
  for (int i = 1; i <= 3; ++i) std::ofstream(outbox / ("1-ean-" + std::to_string(i) + ".xml")) << notification("OTN-2026-000020" + std::to_string(i));
  for (int i = 1; i <= 2; ++i) std::ofstream(outbox / ("2-packet-" + std::to_string(i) + ".xml")) << packet("OTN-2026-000020" + std::to_string(i), i);
  std::string out;
  ASSERT_EQ(submit(outbox, &out), 0) << out;

  // The court's side: two updates of one case, an erasure of another; the vendor's endpoint
  // receives them and acknowledges the erasure.
  auto vendor = client("hartford-pd");
  for (const auto& [type, case_key] : {std::pair<std::string, std::string>{"CaseUpdate", "OTN-2026-0000201"},
                                       {"CaseUpdate", "OTN-2026-0000201"}, {"ErasureNotice", "OTN-2026-0000203"}}) {
    const auto r = court(vendor, type, case_key);
    ASSERT_EQ(r.status, 202u) << r.body;
  }
  ASSERT_TRUE(wait_for([&] { return hartford_->receipts().size() >= 3; }, 20s)) << "the vendor's endpoint got the court's three";
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM deliveries WHERE recipient_ori = 'CT0064000' "
                                               "AND ack_status = 'completed'") == 1; },
                       20s));
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM agencies WHERE ori = 'CT0064000' "
                                               "AND certificate_not_after > now()") == 1; },
                       20s))
      << "the hub recorded the vendor's certificate with its submissions";

  const auto one = certify(1);
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(one.failed.empty()) << one.output;
  ASSERT_FALSE(one.report.empty()) << one.output;
  EXPECT_EQ(one.report.at("results").as_array().size(), 6u);
  const auto two = certify(2);
  EXPECT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(two.failed.empty()) << two.output;
  ASSERT_FALSE(two.report.empty()) << two.output;
  EXPECT_EQ(two.report.at("results").as_array().size(), 12u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'admin' AND outcome = 'redelivered'"), 1)
      << "level 2 sent one duplicate";
  std::set<std::string> attempts;
  for (const auto& r : hartford_->receipts()) attempts.insert(std::string(r.at("message_id").as_string()));
  EXPECT_LT(attempts.size(), hartford_->receipts().size()) << "the endpoint received one message twice";
  for (const auto* ext : {".html", ".xml"}) {
    const auto f = dir_ / "reports" / (std::string("certification-CT0064000-level2") + ext);
    ASSERT_TRUE(fs::exists(f)) << f;
    EXPECT_NE(read_file(f).find("L2-DUPLICATE"), std::string::npos);
  }

  // Mistakes: an invalid document, a statute off the code list, a notification three hours late, a
  // document sent again changed under a new key, an endpoint that refuses duplicates.
  const auto bad = dir_ / "bad";
  fs::create_directories(bad);
  std::ofstream(bad / "1-invalid.xml") << sample("invalid/bad-date.xml");
  std::ofstream(bad / "2-statute.xml") << notification("OTN-2026-0000209", "99-999");
  std::ofstream(bad / "3-late.xml") << notification("OTN-2026-0000210", "53-206", 180min);
  std::ofstream(bad / "4-resent.xml") << notification("OTN-2026-0000201", "53-206", 12min);
  EXPECT_EQ(submit(bad, &out), 1) << out;
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM audit_log WHERE ori = 'CT0064000' "
                                               "AND outcome = 'refused:schema-invalid'") == 1; },
                       20s))
      << "the refusal is audited (shortly after the answer)";
  const auto level1 = certify(1);
  EXPECT_EQ(level1.exit_code, 1) << level1.output;
  EXPECT_EQ(level1.failed, (std::set<std::string>{"L1-SCHEMA", "L1-DATA", "L1-TIMELY", "L1-IDEMPOTENT"}))
      << level1.output;
  EXPECT_NE(level1.output.find("FAIL  L1-DATA"), std::string::npos) << level1.output;

  hartford_->start({"--status", "409"});
  const auto level2 = certify(2);
  EXPECT_EQ(level2.exit_code, 1) << level2.output;
  EXPECT_EQ(level2.failed,
            (std::set<std::string>{"L1-SCHEMA", "L1-DATA", "L1-TIMELY", "L1-IDEMPOTENT", "L2-DUPLICATE"}))
      << level2.output;

  // A production agency is never graded (nor sent a duplicate).
  std::string refused;
  EXPECT_EQ(hub_->run_command({"certify", "-c", (source_dir() / "config" / "cjhub.example.yaml").string(), "--agency",
                               "ops1", "--criteria", criteria_.string(), "--out", (dir_ / "x").string()},
                              &refused),
            2)
      << refused;
  EXPECT_NE(refused.find("not a sandbox agency"), std::string::npos) << refused;
}

TEST_P(CertifyMistake, FailsExactlyItsCriteria) {
  const auto& m = GetParam();
  despp_->start();
  hartford_->start();
  start_sandbox_hub();
  write_criteria();

  const auto outbox = dir_ / "outbox";
  fs::create_directories(outbox);
  for (const int i : m.notified) {
    std::ofstream(outbox / ("1-ean-" + std::to_string(i) + ".xml")) << notification("OTN-2026-000030" + std::to_string(i));
  }
  for (int i = 1; i <= 2; ++i) {
    auto doc = m.attachments ? packet("OTN-2026-000030" + std::to_string(i), i)
                             : arrest_packet("OTN-2026-000030" + std::to_string(i), i);
    if (m.malformed_packet_statute && i == 2) replace_all(doc, ">53a-167a<", ">53A-167-A<");
    std::ofstream(outbox / ("2-packet-" + std::to_string(i) + ".xml")) << doc;
  }
  std::string out;
  const auto cert = m.certificate_days > 0 ? short_lived_certificate(m.certificate_days) : client_cert("hartford-pd");
  ASSERT_EQ(submit(outbox, &out, cert), 0) << out;

  // The court's two updates of one case, then (once the endpoint has dealt with them) an erasure
  // of a case with only a notification (its packets stay graded), so that an endpoint refusing its first delivery refuses an update.
  if (!m.endpoint.empty()) hartford_->start(m.endpoint);
  auto vendor = client("hartford-pd");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(court(vendor, "CaseUpdate", "OTN-2026-0000301").status, 202u);
  if (m.endpoint_recovers) {
    ASSERT_TRUE(wait_for([&] { return !hartford_->receipts().empty(); }, 20s)) << "the endpoint's first answer";
    hartford_->start();
  }
  ASSERT_TRUE(wait_for([&] { return static_cast<int>(taken().size()) >= m.taken - 1; }, 30s))
      << "the endpoint answered " << taken().size() << " updates 2xx";
  ASSERT_EQ(court(vendor, "ErasureNotice", "OTN-2026-0000303").status, 202u);
  ASSERT_TRUE(wait_for([&] { return static_cast<int>(taken().size()) >= m.taken; }, 30s))
      << "the endpoint answered " << taken().size() << " of the court's messages 2xx";
  if (m.erasure_completed) {
    ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM deliveries WHERE recipient_ori = 'CT0064000' "
                                                 "AND ack_status = 'completed'") == 1; },
                         20s));
  }
  ASSERT_TRUE(wait_for([&] { return db_->count("SELECT count(*) FROM agencies WHERE ori = 'CT0064000' "
                                               "AND certificate_not_after IS NOT NULL") == 1; },
                       20s));

  std::set<std::string> level1_fails;
  for (const auto& id : m.fails) {
    if (id.rfind("L1-", 0) == 0) level1_fails.insert(id);
  }
  const auto one = certify(1);
  ASSERT_FALSE(one.report.empty()) << one.output;
  EXPECT_EQ(one.failed, level1_fails) << one.output;
  EXPECT_EQ(one.exit_code, level1_fails.empty() ? 0 : 1) << one.output;
  const auto two = certify(2);
  ASSERT_FALSE(two.report.empty()) << two.output;
  EXPECT_EQ(two.failed, m.fails) << two.output;
  EXPECT_EQ(two.exit_code, 1) << two.output;
}

INSTANTIATE_TEST_SUITE_P(
    EachMistake, CertifyMistake,
    ::testing::Values(Mistake{.name = "TooFewNotifications", .notified = {1, 3}, .fails = {"L1-VOLUME"}},
                      Mistake{.name = "ACertificateAboutToExpire", .certificate_days = 10, .fails = {"L1-CERTIFICATE"}},
                      Mistake{.name = "PacketsWithoutForms", .attachments = false, .fails = {"L2-PACKETS"}},
                      Mistake{.name = "APacketWithAMalformedStatute", .malformed_packet_statute = true,
                              .fails = {"L2-PACKET-DATA"}},
                      Mistake{.name = "AnEndpointDownAtFirst", .endpoint = {"--status", "503"}, .endpoint_recovers = true,
                              .fails = {"L2-ANSWERS"}},
                      Mistake{.name = "AnEndpointThatRefusesAnUpdate", .endpoint = {"--refuse-first", "1"}, .taken = 2,
                              .fails = {"L2-ORDER", "L2-ANSWERS"}},
                      Mistake{.name = "AnEndpointThatNeverCompletesAnErasure", .endpoint = {"--ack", "none"},
                              .erasure_completed = false, .fails = {"L2-ERASURE"}}),
    [](const ::testing::TestParamInfo<Mistake>& p) { return p.param.name; });

}  // namespace
}  // namespace cjhub::test
