// End to end, for operators: /readyz follows the database away and back; a certificate near expiry
// is a warning, and after the files are replaced SIGHUP serves the new certificate on new
// connections while an established keep-alive connection keeps working.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "e2e/hub_fixture.hpp"
#include "support/prometheus.hpp"
#include "support/pg_control.hpp"
#include "support/tcp_proxy.hpp"

namespace cjhub::test {
namespace {

namespace fs = std::filesystem;

TlsClient client_of(unsigned short port, const std::string& who) {
  TlsClient::Options o;
  o.port = port;
  o.cert = client_cert(who);
  return TlsClient(o);
}

boost::json::object readyz(TlsClient& c) {
  const auto r = c.request("GET", "/readyz");
  auto o = boost::json::parse(r.body).as_object();
  o["http_status"] = static_cast<std::int64_t>(r.status);
  return o;
}

// Polls /readyz until `pred` holds (or the time is up); returns the last answer.
template <class P>
boost::json::object wait_readyz(TlsClient& c, P pred, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  boost::json::object last;
  while (std::chrono::steady_clock::now() < until) {
    try {
      last = readyz(c);
      if (pred(last)) return last;
    } catch (const std::exception&) {
      c.close();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return last;
}

std::string component_state(const boost::json::object& r, const char* name) {
  const auto* comps = r.if_contains("components");
  if (!comps || !comps->as_object().if_contains(name)) return "";
  return std::string(comps->as_object().at(name).as_object().at("state").as_string());
}

class Operations : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(Operations, ReadyzNamesTheDatabaseWhileItIsAwayAndRecoversOnItsOwn) {
  TcpProxy proxy("127.0.0.1", port_of(db_->url()));
  HubOptions o;
  o.database_url = with_port(db_->url(), proxy.port());
  HubProcess hub(o);
  hub.start();
  auto ops = client_of(hub.port(), "operator");
  auto r = wait_readyz(ops, [](const auto& x) { return x.at("http_status").as_int64() == 200; }, std::chrono::seconds(10));
  ASSERT_EQ(r.at("http_status").as_int64(), 200) << boost::json::serialize(r);

  proxy.cut();
  r = wait_readyz(ops, [](const auto& x) { return x.at("http_status").as_int64() == 503; }, std::chrono::seconds(10));
  ASSERT_EQ(r.at("http_status").as_int64(), 503) << boost::json::serialize(r);
  EXPECT_NE(std::string(r.at("failing").as_string()).find("database"), std::string::npos) << boost::json::serialize(r);
  EXPECT_EQ(component_state(r, "database"), "failing");
  // Meanwhile a submission gets a clear 503 and nothing is stored.
  auto hpd = client_of(hub.port(), "hartford-pd");
  // An agency (or a load balancer's probe) learns the status, not the hub's insides.
  const auto bare = readyz(hpd);
  EXPECT_EQ(bare.at("http_status").as_int64(), 503) << boost::json::serialize(bare);
  EXPECT_EQ(bare.at("status").as_string(), "not ready");
  EXPECT_EQ(bare.if_contains("components"), nullptr) << boost::json::serialize(bare);
  EXPECT_EQ(bare.if_contains("failing"), nullptr) << boost::json::serialize(bare);
  const auto refused = hpd.request("POST", "/v1/messages", read_file(data_dir() / "ciss/valid/arrest-packet-1.xml"));
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_NE(refused.body.find("database-unavailable"), std::string::npos) << refused.body;

  proxy.restore();
  r = wait_readyz(ops, [](const auto& x) { return x.at("http_status").as_int64() == 200; }, std::chrono::seconds(15));
  EXPECT_EQ(r.at("http_status").as_int64(), 200) << boost::json::serialize(r);
  EXPECT_EQ(component_state(r, "database"), "ok");
  const auto bare_ok = readyz(hpd);
  EXPECT_EQ(bare_ok.at("http_status").as_int64(), 200);
  EXPECT_EQ(bare_ok.at("status").as_string(), "ready");
  EXPECT_EQ(bare_ok.size(), 2u) << "status only: " << boost::json::serialize(bare_ok);
  bool stored = false;
  for (int i = 0; i < 50 && !stored; ++i) {
    stored = hpd.request("POST", "/v1/messages", read_file(data_dir() / "ciss/valid/arrest-packet-1.xml")).status == 202u;
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(stored);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 1);
  EXPECT_EQ(hub.terminate(), 0);
}

// The real thing: the PostgreSQL cluster itself is stopped (fast shutdown: every connection cut)
// and started again.
TEST_F(Operations, ReadyzNamesTheDatabaseWhilePostgresqlIsStoppedAndRecoversWhenItIsBack) {
  PgControl pg;  // whatever happens below, the cluster comes back for the other tests
  if (!pg.available()) {
    if (env("CJHUB_REQUIRE_ALL_TIERS")) FAIL() << "CJHUB_TEST_PG_CTL is not set (scripts/test sets it)";
    GTEST_SKIP() << "CJHUB_TEST_PG_CTL is not set";
  }
  HubOptions o;
  o.database_url = db_->url();
  HubProcess hub(o);
  hub.start();
  auto ops = client_of(hub.port(), "operator");
  auto hpd = client_of(hub.port(), "hartford-pd");
  const auto packet = read_file(data_dir() / "ciss/valid/arrest-packet-1.xml");
  ASSERT_EQ(hpd.request("POST", "/v1/messages", packet).status, 202u);

  ASSERT_TRUE(pg.stop());
  auto r = wait_readyz(ops, [](const auto& x) { return x.at("http_status").as_int64() == 503; }, std::chrono::seconds(10));
  ASSERT_EQ(r.at("http_status").as_int64(), 503) << boost::json::serialize(r);
  EXPECT_NE(std::string(r.at("failing").as_string()).find("database"), std::string::npos) << boost::json::serialize(r);
  const auto refused = hpd.request("POST", "/v1/messages", packet, {{"Idempotency-Key", "during-outage"}});
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_TRUE(hub.running()) << "the hub must survive its database going away";

  ASSERT_TRUE(pg.start());
  r = wait_readyz(ops, [](const auto& x) { return x.at("http_status").as_int64() == 200; }, std::chrono::seconds(20));
  EXPECT_EQ(r.at("http_status").as_int64(), 200) << boost::json::serialize(r);
  bool stored = false;
  for (int i = 0; i < 50 && !stored; ++i) {
    stored = hpd.request("POST", "/v1/messages", packet, {{"Idempotency-Key", "after-outage"}}).status == 202u;
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(stored);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 2) << "the first message survived; the refused one was not stored";
  EXPECT_EQ(hub.terminate(), 0);
}

TEST_F(Operations, MetricsParseAsPrometheusTextAndTheirCountersMoveAsMessagesFlow) {
  HubOptions o;
  o.database_url = db_->url();
  HubProcess hub(o);
  hub.start();
  auto ops = client_of(hub.port(), "operator");
  auto hpd = client_of(hub.port(), "hartford-pd");
  auto scrape = [&] {
    const auto r = ops.request("GET", "/metrics");
    EXPECT_EQ(r.status, 200u);
    return parse_prometheus(r.body);  // throws on any line that is not Prometheus text
  };
  auto at = [](const std::map<std::string, double>& m, const std::string& k) {
    const auto it = m.find(k);
    return it == m.end() ? 0.0 : it->second;
  };
  const auto before = scrape();
  const std::string accepted = "cjhub_submissions_total{type=\"ArrestPacket\",outcome=\"accepted\"}";
  const std::string malformed = "cjhub_submissions_total{type=\"unknown\",outcome=\"refused:malformed-xml\"}";
  auto packet = read_file(data_dir() / "ciss/valid/arrest-packet-1.xml");
  ASSERT_EQ(hpd.request("POST", "/v1/messages", packet).status, 202u);
  for (auto pos = packet.find("OTN-2026-0000123"); pos != std::string::npos; pos = packet.find("OTN-2026-0000123")) {
    packet.replace(pos, 16, "OTN-2026-0000999");
  }
  ASSERT_EQ(hpd.request("POST", "/v1/messages", packet, {{"Idempotency-Key", "metrics-2"}}).status, 202u);
  ASSERT_EQ(hpd.request("POST", "/v1/messages", "<oops").status, 400u);
  // Once the root names the type, a refusal is counted under it, not under "unknown".
  ASSERT_EQ(hpd.request("POST", "/v1/messages", read_file(data_dir() / "ciss/invalid/bad-date.xml")).status, 422u);
  const auto after = scrape();
  EXPECT_EQ(at(after, accepted) - at(before, accepted), 2);
  EXPECT_EQ(at(after, malformed) - at(before, malformed), 1);
  const std::string invalid = "cjhub_submissions_total{type=\"ArrestPacket\",outcome=\"refused:schema-invalid\"}";
  EXPECT_EQ(at(after, invalid) - at(before, invalid), 1);
  EXPECT_EQ(after.count("cjhub_submissions_total{type=\"unknown\",outcome=\"refused:schema-invalid\"}"), 0u);
  EXPECT_EQ(at(after, "cjhub_validation_failures_total{problem=\"malformed-xml\"}") -
                at(before, "cjhub_validation_failures_total{problem=\"malformed-xml\"}"),
            1);
  EXPECT_EQ(at(after, "cjhub_ingest_latency_seconds_count") - at(before, "cjhub_ingest_latency_seconds_count"), 2);
  EXPECT_GE(at(after, "cjhub_ingest_group_size_count") - at(before, "cjhub_ingest_group_size_count"), 1);
  // Between validation and the answer: each message's wait for a writer, each group's transaction.
  EXPECT_EQ(at(after, "cjhub_ingest_queue_wait_seconds_count") - at(before, "cjhub_ingest_queue_wait_seconds_count"), 2);
  EXPECT_EQ(at(after, "cjhub_ingest_commit_seconds_count") - at(before, "cjhub_ingest_commit_seconds_count"),
            at(after, "cjhub_ingest_group_size_count") - at(before, "cjhub_ingest_group_size_count"));
  EXPECT_GT(at(after, "cjhub_ingest_commit_seconds_sum") - at(before, "cjhub_ingest_commit_seconds_sum"), 0);
  EXPECT_EQ(at(after, "cjhub_ingest_commit_seconds_bucket{le=\"+Inf\"}"), at(after, "cjhub_ingest_commit_seconds_count"));
  EXPECT_LE(at(after, "cjhub_ingest_commit_seconds_sum") - at(before, "cjhub_ingest_commit_seconds_sum"),
            at(after, "cjhub_ingest_latency_seconds_sum") - at(before, "cjhub_ingest_latency_seconds_sum"));
  EXPECT_GT(at(after, "cjhub_ingest_latency_seconds_sum"), 0);
  EXPECT_EQ(at(after, "cjhub_ingest_latency_seconds_bucket{le=\"+Inf\"}"), at(after, "cjhub_ingest_latency_seconds_count"));
  EXPECT_EQ(at(after, "cjhub_ingest_messages_total") - at(before, "cjhub_ingest_messages_total"), 2);
  EXPECT_EQ(after.count("cjhub_db_pool_busy"), 1u);
  EXPECT_EQ(at(after, "cjhub_database_up"), 1);
  EXPECT_EQ(hub.terminate(), 0);
}

class CertificateReload : public Operations {
 protected:
  void SetUp() override {
    Operations::SetUp();
    char tmpl[] = "/tmp/cjhub-reload-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::copy(pki_dir(), dir_ / "pki", fs::copy_options::recursive);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A new server certificate for the same key, signed by the dev CA, valid for `days`.
  void issue_server_certificate(int days) {
    const auto pki = dir_ / "pki";
    std::ofstream(dir_ / "ext.cnf") << "[ext]\nbasicConstraints=critical,CA:FALSE\n"
                                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                                       "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n";
    const std::string cmd =
        "cd '" + pki.string() + "' && openssl req -new -key server.key -subj /CN=localhost -out '" +
        (dir_ / "server.csr").string() + "' 2>/dev/null && openssl x509 -req -in '" + (dir_ / "server.csr").string() +
        "' -CA ca.crt -CAkey ca.key -set_serial 0x$(openssl rand -hex 8) -days " + std::to_string(days) +
        " -sha256 -extfile '" + (dir_ / "ext.cnf").string() + "' -extensions ext -out server.crt.new 2>/dev/null" +
        " && mv server.crt.new server.crt";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  fs::path dir_;
};

TEST_F(CertificateReload, NearExpiryWarnsAndSighupServesTheNewCertificateWhileKeepAliveStays) {
  issue_server_certificate(5);
  HubOptions o;
  o.database_url = db_->url();
  o.env["CJHUB_TLS_DIR"] = (dir_ / "pki").string();
  HubProcess hub(o);
  hub.start();

  auto kept = client_of(hub.port(), "operator");
  auto r = wait_readyz(kept, [](const auto& x) { return component_state(x, "tls") == "warning"; },
                       std::chrono::seconds(10));
  ASSERT_EQ(component_state(r, "tls"), "warning") << boost::json::serialize(r);
  EXPECT_EQ(r.at("http_status").as_int64(), 200);  // a warning, not a failure
  EXPECT_NE(boost::json::serialize(r).find("renew"), std::string::npos) << boost::json::serialize(r);
  const auto old_cert = kept.peer_sha256();
  ASSERT_FALSE(old_cert.empty());

  issue_server_certificate(400);
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  std::string new_cert;
  for (int i = 0; i < 50; ++i) {
    auto fresh = client_of(hub.port(), "operator");
    if (fresh.request("GET", "/healthz").status == 200u) new_cert = fresh.peer_sha256();
    if (!new_cert.empty() && new_cert != old_cert) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(new_cert.empty());
  EXPECT_NE(new_cert, old_cert) << "new connections still get the old certificate";
  // The connection opened before the reload still answers, on the same TLS session.
  EXPECT_EQ(kept.request("GET", "/healthz").status, 200u);
  EXPECT_EQ(kept.peer_sha256(), old_cert);
  r = wait_readyz(kept, [](const auto& x) { return component_state(x, "tls") == "ok"; }, std::chrono::seconds(10));
  EXPECT_EQ(component_state(r, "tls"), "ok") << boost::json::serialize(r);
  EXPECT_EQ(kept.peer_sha256(), old_cert);
  EXPECT_NE(hub.log().find("SIGHUP: server certificate"), std::string::npos) << hub.log();
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP' AND outcome = 'reloaded'"), 1);
  EXPECT_EQ(hub.terminate(), 0);
}

}  // namespace
}  // namespace cjhub::test

namespace cjhub::test {
namespace {

// Keep-alive has limits: a connection ends after its answer once it has carried
// max_requests_per_connection requests or lived max_connection_age.
TEST_F(Operations, KeepAliveConnectionsEndAfterTheirRequestOrAgeLimit) {
  HubOptions o;
  o.database_url = db_->url();
  o.env["CJHUB_MAX_REQUESTS_PER_CONNECTION"] = "3";
  o.env["CJHUB_MAX_CONNECTION_AGE_MS"] = "1500";
  HubProcess hub(o);
  hub.start();
  auto c = client_of(hub.port(), "operator");
  for (int i = 1; i <= 3; ++i) {
    auto r = c.request("GET", "/healthz");
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.headers["connection"] == "close", i == 3) << "request " << i << ": " << r.headers["connection"];
  }
  auto young = client_of(hub.port(), "operator");
  EXPECT_NE(young.request("GET", "/healthz").headers["connection"], "close");
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  EXPECT_EQ(young.request("GET", "/healthz").headers["connection"], "close") << "older than 1.5 s";
  EXPECT_EQ(hub.terminate(), 0);
}

// SIGHUP with a CRL that now revokes a certificate ends that certificate's open connections; the
// others stay.
TEST_F(CertificateReload, SighupClosesOpenConnectionsWhoseCertificateWasRevoked) {
  HubOptions o;
  o.database_url = db_->url();
  o.env["CJHUB_TLS_DIR"] = (dir_ / "pki").string();
  HubProcess hub(o);
  hub.start();
  auto hpd = client_of(hub.port(), "hartford-pd");
  auto ops = client_of(hub.port(), "operator");
  ASSERT_EQ(hpd.request("GET", "/healthz").status, 200u);
  ASSERT_EQ(ops.request("GET", "/healthz").status, 200u);

  const std::string cmd = "cd '" + (dir_ / "pki").string() +
                          "' && openssl ca -config .ca/openssl.cnf -name CA_dev -revoke clients/hartford-pd.crt "
                          "-crl_reason keyCompromise >/dev/null 2>&1 && openssl ca -config .ca/openssl.cnf -name CA_dev "
                          "-gencrl -crldays 30 -md sha256 -out crl.pem >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  for (int i = 0; i < 50 && hub.log().find("no longer verifies") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(hub.log().find("its client certificate no longer verifies (certificate revoked)"), std::string::npos)
      << hub.log();
  EXPECT_ANY_THROW(hpd.request("GET", "/healthz")) << "the revoked certificate's session must end";
  auto again = client_of(hub.port(), "hartford-pd");
  EXPECT_ANY_THROW(again.request("GET", "/healthz")) << "and it cannot come back";
  EXPECT_EQ(ops.request("GET", "/healthz").status, 200u) << "another certificate's connection stays";
  for (int i = 0; i < 30 && db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP'") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP' AND detail LIKE "
                       "'%1 open connection(s) closed%'"), 1);
  EXPECT_EQ(hub.terminate(), 0);
}

// The agency directory is reread from the database; when that has not been possible for longer
// than max_directory_age_s the hub refuses what needs an identity (fail closed) and says why.
TEST_F(Operations, AStaleAgencyDirectoryIsRefusedNotTrusted) {
  TcpProxy proxy("127.0.0.1", port_of(db_->url()));
  HubOptions o;
  o.database_url = with_port(db_->url(), proxy.port());
  o.env["CJHUB_DIRECTORY_REFRESH_S"] = "1";
  o.env["CJHUB_DIRECTORY_MAX_AGE_S"] = "3";
  HubProcess hub(o);
  hub.start();
  auto ops = client_of(hub.port(), "operator");
  ASSERT_EQ(ops.request("GET", "/metrics").status, 200u);
  auto r = wait_readyz(ops, [](const auto& x) { return component_state(x, "directory") == "ok"; }, std::chrono::seconds(5));
  ASSERT_EQ(component_state(r, "directory"), "ok") << boost::json::serialize(r);

  proxy.cut();
  r = wait_readyz(ops, [](const auto& x) { return component_state(x, "directory") == "failing"; },
                  std::chrono::seconds(10));
  EXPECT_EQ(component_state(r, "directory"), "failing") << boost::json::serialize(r);
  const auto refused = ops.request("GET", "/metrics");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_NE(refused.body.find("directory-stale"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.headers.count("retry-after"), 1u);

  proxy.restore();
  r = wait_readyz(ops, [](const auto& x) { return component_state(x, "directory") == "ok"; }, std::chrono::seconds(15));
  EXPECT_EQ(component_state(r, "directory"), "ok") << boost::json::serialize(r);
  EXPECT_EQ(ops.request("GET", "/metrics").status, 200u);
  EXPECT_EQ(hub.terminate(), 0);
}

}  // namespace
}  // namespace cjhub::test
