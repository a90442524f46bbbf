// Unit tier: the HTTPS listener in process (the dev PKI from the harness, CJHUB_TEST_PKI), with a
// handler that answers 200: socket options it sets on the connections it accepts.
#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include "cjhub/ingress/server.hpp"
#include "cjhub/ingress/tls.hpp"
#include "support/socket_probe.hpp"
#include "support/test_env.hpp"
#include "support/tls_client.hpp"

namespace cjhub {
namespace {

namespace fs = std::filesystem;

class Ok final : public api::RequestHandler {
 public:
  void handle(api::Request, api::Respond done) override {
    api::Response r;
    r.status = 200;
    r.content_type = "text/plain";
    r.body = "ok";
    done(std::move(r));
  }
};

ingress::ServerSettings settings(const fs::path& pki) {
  ingress::ServerSettings s;
  s.listener.address = "127.0.0.1";
  s.listener.port = 0;
  s.tls.server_cert = pki / "server.crt";
  s.tls.server_key = pki / "server.key";
  s.tls.client_ca = pki / "ca.crt";
  s.io_threads = 1;
  s.name = "test-listener";
  return s;
}

// Answers leave at once: without TCP_NODELAY the last small segment of an answer (Beast writes the
// head and the body as two TLS records) may wait for the client's delayed ACK, about 40 ms.
TEST(Ingress, AcceptedConnectionsSetNoDelay) {
  const auto pki = test::env("CJHUB_TEST_PKI");
  if (!pki) GTEST_SKIP() << "CJHUB_TEST_PKI is not set (scripts/dev-pki DIR; CJHUB_TEST_PKI=DIR)";
  Ok handler;
  ingress::HttpsServer server(settings(*pki), handler);
  server.start();
  test::TlsClient::Options o;
  o.port = server.port();
  o.cert = test::client_cert("hartford-pd");
  o.ca = fs::path(*pki) / "ca.crt";
  test::TlsClient c(o);
  ASSERT_EQ(c.request("GET", "/").status, 200u);
  int accepted = 0;
  for (const auto& s : test::own_tcp_sockets()) {
    if (s.local_port != server.port() || s.peer_port == 0) continue;  // the accepted side only
    ++accepted;
    EXPECT_TRUE(s.nodelay) << "the accepted connection from port " << s.peer_port << " leaves Nagle's algorithm on";
  }
  EXPECT_EQ(accepted, 1);
  c.close();
  server.stop(std::chrono::steady_clock::now() + std::chrono::seconds(2));
}

// A private key that its group or others may read is refused at start, naming the file, as ssh
// refuses one; the owner-only copy of the same key loads.
TEST(Ingress, AServerKeyReadableByOthersIsRefused) {
  const auto pki = test::env("CJHUB_TEST_PKI");
  if (!pki) GTEST_SKIP() << "CJHUB_TEST_PKI is not set (scripts/dev-pki DIR; CJHUB_TEST_PKI=DIR)";
  char tmpl[] = "/tmp/cjhub-keys-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  auto tls = settings(*pki).tls;
  const auto key = dir / "server.key";
  fs::copy_file(tls.server_key, key);
  tls.server_key = key;
  for (const auto mode : {fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                          fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read}) {
    fs::permissions(key, mode, fs::perm_options::replace);
    try {
      ingress::make_server_context(tls);
      ADD_FAILURE() << "a key readable by others was loaded";
    } catch (const std::exception& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("tls.server_key"), std::string::npos) << what;
      EXPECT_NE(what.find(key.string()), std::string::npos) << what;
      EXPECT_NE(what.find("chmod 600"), std::string::npos) << what;
    }
  }
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  EXPECT_NO_THROW(ingress::make_server_context(tls));
  fs::permissions(key, fs::perms::owner_read, fs::perm_options::replace);
  EXPECT_NO_THROW(ingress::make_server_context(tls));
  fs::remove_all(dir);
}

// Chains are bounded (tls.verify_depth) and no session ticket is ever issued (no long-lived
// ticket key to rotate; resumption uses the server's session cache, five minutes).
TEST(Ingress, ChainsAreBoundedAndNoSessionTicketsAreIssued) {
  const auto pki = test::env("CJHUB_TEST_PKI");
  if (!pki) GTEST_SKIP() << "CJHUB_TEST_PKI is not set (scripts/dev-pki DIR; CJHUB_TEST_PKI=DIR)";
  auto tls = settings(*pki).tls;
  tls.verify_depth = 3;
  const auto ctx = ingress::make_server_context(tls);
  SSL_CTX* raw = ctx->native_handle();
  EXPECT_EQ(SSL_CTX_get_verify_depth(raw), 3);
  EXPECT_NE(SSL_CTX_get_options(raw) & SSL_OP_NO_TICKET, 0u);
  EXPECT_EQ(SSL_CTX_get_num_tickets(raw), 0u);
  EXPECT_EQ(SSL_CTX_get_timeout(raw), 300);
  EXPECT_EQ(config::Tls{}.verify_depth, 4) << "the documented default";
}

}  // namespace
}  // namespace cjhub
