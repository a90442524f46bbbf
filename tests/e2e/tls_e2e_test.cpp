// End to end: which certificates and protocol versions the listener lets in.
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
};

TEST_F(Tls, AGoodCertificateConnects) {
  auto c = with("hartford-pd");
  EXPECT_FALSE(refused_by_tls(*c));
}

TEST_F(Tls, NoClientCertificateFailsTheHandshake) { EXPECT_TRUE(refused_by_tls(*with(""))); }
TEST_F(Tls, ExpiredCertificateFailsTheHandshake) { EXPECT_TRUE(refused_by_tls(*with("expired"))); }
TEST_F(Tls, NotYetValidCertificateFailsTheHandshake) { EXPECT_TRUE(refused_by_tls(*with("notyet"))); }
TEST_F(Tls, RevokedCertificateFailsTheHandshake) { EXPECT_TRUE(refused_by_tls(*with("revoked"))); }
TEST_F(Tls, WrongCaCertificateFailsTheHandshake) { EXPECT_TRUE(refused_by_tls(*with("wrongca"))); }
TEST_F(Tls, ServerOnlyCertificateIsNotAClientCertificate) {
  EXPECT_TRUE(refused_by_tls(*with("serveronly")));
}

TEST_F(Tls, OldProtocolVersionsAreRefused) {
  EXPECT_TRUE(refused_by_tls(*with("hartford-pd", TLS1_1_VERSION)));
  EXPECT_TRUE(refused_by_tls(*with("hartford-pd", TLS1_VERSION)));
  EXPECT_FALSE(refused_by_tls(*with("hartford-pd", TLS1_2_VERSION)));
}

TEST_F(Tls, NonAeadCipherIsRefusedOnTls12) {
  TlsClient::Options o;
  o.port = hub_->port();
  o.cert = client_cert("hartford-pd");
  o.max_tls_version = TLS1_2_VERSION;
  o.ciphers = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA";
  TlsClient c(o);
  EXPECT_TRUE(refused_by_tls(c));
}

TEST_F(Tls, TheServerCertificateVerifiesAgainstTheDevCa) {
  // A client that trusts another CA refuses the hub: the hub presents the configured chain.
  auto c = with("hartford-pd", 0, pki_dir() / "rogue-ca.crt");
  EXPECT_TRUE(refused_by_tls(*c));
}

TEST_F(Tls, RefusedHandshakesAreLoggedWithTheReason) {
  refused_by_tls(*with("revoked"));
  // The hub logs the verification error for the operator.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (hub_->log().find("certificate revoked") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(hub_->log().find("certificate revoked"), std::string::npos);
}

}  // namespace
}  // namespace cjhub::test
