// End to end: which certificates and protocol versions the listener lets in. Each refusal must
// come with its reason (the TLS alert the client reads, and the hub's log line), the hub must
// still run afterwards and a good client must still be served: a crash or a timeout is not a
// refusal.
#include <openssl/ssl.h>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class Tls : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub(); }
  static std::unique_ptr<TlsClient> with(const std::string& who, int max_version = 0,
                                         std::filesystem::path ca = {}) {
    TlsClient::Options o;
    o.port = hub_->port();
    if (!who.empty()) o.cert = client_cert(who);
    o.max_tls_version = max_version;
    o.ca = std::move(ca);
    return std::make_unique<TlsClient>(o);
  }
  // The attempt is refused with `reason` in the client's error; afterwards the hub runs and serves
  // a good client.
  static void expect_refused(TlsClient& c, const std::string& reason) {
    const auto v = tls_verdict(c);
    EXPECT_TRUE(v.refused) << v.reason;
    EXPECT_NE(v.reason.find(reason), std::string::npos) << "refused, but not for \"" << reason << "\": " << v.reason;
    expect_still_serving();
  }
  static void expect_still_serving() {
    EXPECT_TRUE(hub_->running()) << "the hub stopped";
    auto good = with("hartford-pd");
    const auto v = tls_verdict(*good);
    EXPECT_FALSE(v.refused) << "a good client is refused after that: " << v.reason;
  }
  // The hub's log names the reason for the operator.
  static void expect_logged(const std::string& text) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (hub_->log().find(text) == std::string::npos && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto log = hub_->log();
    EXPECT_NE(log.find(text), std::string::npos)
        << "the hub did not log \"" << text << "\"; its log ends:\n" << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  }
};

TEST_F(Tls, AGoodCertificateConnects) {
  auto c = with("hartford-pd");
  const auto v = tls_verdict(*c);
  EXPECT_FALSE(v.refused) << v.reason;
  EXPECT_EQ(v.reason, "served with HTTP 200");
}

TEST_F(Tls, NoClientCertificateFailsTheHandshake) {
  expect_refused(*with(""), "certificate required");
  expect_logged("peer did not return a certificate");
}
TEST_F(Tls, ExpiredCertificateFailsTheHandshake) {
  expect_refused(*with("expired"), "certificate expired");
  expect_logged("(certificate: certificate has expired)");
}
TEST_F(Tls, NotYetValidCertificateFailsTheHandshake) {
  expect_refused(*with("notyet"), "bad certificate");
  expect_logged("(certificate: certificate is not yet valid)");
}
TEST_F(Tls, RevokedCertificateFailsTheHandshake) {
  expect_refused(*with("revoked"), "certificate revoked");
  expect_logged("(certificate: certificate revoked)");
}
TEST_F(Tls, WrongCaCertificateFailsTheHandshake) {
  expect_refused(*with("wrongca"), "unknown ca");
  expect_logged("(certificate: unable to get local issuer certificate)");
}
TEST_F(Tls, ServerOnlyCertificateIsNotAClientCertificate) {
  expect_refused(*with("serveronly"), "unsupported certificate");
  expect_logged("(certificate: unsuitable certificate purpose)");
}

TEST_F(Tls, OldProtocolVersionsAreRefused) {
  expect_refused(*with("hartford-pd", TLS1_1_VERSION), "protocol version");
  expect_refused(*with("hartford-pd", TLS1_VERSION), "protocol version");
  const auto v = tls_verdict(*with("hartford-pd", TLS1_2_VERSION));
  EXPECT_FALSE(v.refused) << "TLS 1.2 is still accepted: " << v.reason;
}

TEST_F(Tls, NonAeadCipherIsRefusedOnTls12) {
  TlsClient::Options o;
  o.port = hub_->port();
  o.cert = client_cert("hartford-pd");
  o.max_tls_version = TLS1_2_VERSION;
  o.ciphers = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA";
  TlsClient c(o);
  expect_refused(c, "handshake failure");
  expect_logged("no shared cipher");
}

TEST_F(Tls, TheServerCertificateVerifiesAgainstTheDevCa) {
  // A client that trusts another CA refuses the hub: the hub presents the configured chain.
  expect_refused(*with("hartford-pd", 0, pki_dir() / "rogue-ca.crt"), "certificate verify failed");
}

}  // namespace
}  // namespace cjhub::test
