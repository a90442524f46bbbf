// Unit tier: the HTTPS listener in process (the dev PKI from the harness, CJHUB_TEST_PKI), with a
// handler that answers 200: socket options it sets on the connections it accepts.
#include <gtest/gtest.h>

#include "cjhub/ingress/server.hpp"
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

}  // namespace
}  // namespace cjhub
