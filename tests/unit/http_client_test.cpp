// The outbound HTTPS client pool against a small in-process HTTPS server: real sockets on the
// loopback interface, real mutual TLS with certificates generated at test start (OpenSSL C API).
#include "cjhub/delivery/http_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include "support/socket_probe.hpp"

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cjhub::delivery {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// --- TLS material ---------------------------------------------------------------------------

struct KeyPair {
  fs::path cert;
  fs::path key;
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

EVP_PKEY* make_key() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  check(k != nullptr, "EC P-256 key generation");
  return k;
}

void add_ext(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(x, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed CA.
X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, bool ca,
                const std::string& san, const std::string& eku) {
  X509* x = X509_new();
  check(x != nullptr, "X509_new");
  X509_set_version(x, 2);
  unsigned char serial[8];
  check(RAND_bytes(serial, sizeof serial) == 1, "RAND_bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
  check(X509_set_pubkey(x, key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("cjhub tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, &ctx, NID_key_usage,
          ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x, &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
  if (!san.empty()) add_ext(x, &ctx, NID_subject_alt_name, san);
  if (!eku.empty()) add_ext(x, &ctx, NID_ext_key_usage, eku);
  check(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return x;
}

void write_cert(const fs::path& p, X509* x) {
  FILE* f = std::fopen(p.c_str(), "w");
  check(f != nullptr, "open certificate file");
  const int ok = PEM_write_X509(f, x);
  std::fclose(f);
  check(ok == 1, "PEM_write_X509");
}

void write_key(const fs::path& p, EVP_PKEY* k) {
  FILE* f = std::fopen(p.c_str(), "w");
  check(f != nullptr, "open key file");
  const int ok = PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  check(ok == 1, "PEM_write_PrivateKey");
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);  // a private key is the owner's only
}

// A CA with a server and a client certificate, a server certificate for the wrong host, and a
// rogue CA with its own "localhost" server certificate. Generated once per test process.
struct Pki {
  fs::path dir;
  fs::path ca;
  KeyPair server;        // DNS:localhost, IP:127.0.0.1, IP:::1
  KeyPair client;        // CN=hub-client, DNS:hub.cjhub.test
  KeyPair wrong_host;    // DNS:other.example only
  KeyPair rogue_server;  // signed by the rogue CA

  Pki() {
    char tmpl[] = "/tmp/cjhub-http-client-XXXXXX";
    check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    dir = tmpl;
    ca = dir / "ca.crt";
    EVP_PKEY* ca_key = make_key();
    X509* ca_cert = make_cert("cjhub test CA", ca_key, nullptr, nullptr, true, "", "");
    write_cert(ca, ca_cert);
    EVP_PKEY* rogue_key = make_key();
    X509* rogue_cert = make_cert("rogue CA", rogue_key, nullptr, nullptr, true, "", "");
    write_cert(dir / "rogue-ca.crt", rogue_cert);

    auto leaf = [&](const std::string& name, const std::string& cn, X509* issuer,
                    EVP_PKEY* issuer_key, const std::string& san, const std::string& eku) {
      EVP_PKEY* k = make_key();
      X509* c = make_cert(cn, k, issuer, issuer_key, false, san, eku);
      KeyPair kp{dir / (name + ".crt"), dir / (name + ".key")};
      write_cert(kp.cert, c);
      write_key(kp.key, k);
      X509_free(c);
      EVP_PKEY_free(k);
      return kp;
    };
    server = leaf("server", "localhost", ca_cert, ca_key, "DNS:localhost,IP:127.0.0.1,IP:::1",
                  "serverAuth");
    client = leaf("hub-client", "hub-client", ca_cert, ca_key, "DNS:hub.cjhub.test", "clientAuth");
    wrong_host =
        leaf("wrong-host", "other.example", ca_cert, ca_key, "DNS:other.example", "serverAuth");
    rogue_server = leaf("rogue-server", "localhost", rogue_cert, rogue_key,
                        "DNS:localhost,IP:127.0.0.1", "serverAuth");
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    X509_free(rogue_cert);
    EVP_PKEY_free(rogue_key);
  }
  ~Pki() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  ClientTls client_tls() const { return {client.cert, client.key, ca}; }
};

const Pki& pki() {
  static const Pki p;
  return p;
}

// --- the test server ------------------------------------------------------------------------

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Handler = std::function<Response(const Request&)>;

Response ok_response(std::string body = "accepted") {
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

struct ServerOptions {
  enum class Mode {
    normal,
    no_handshake,  // accept TCP, never complete the TLS handshake
    no_response,   // complete TLS, read the request, never answer
  } mode = Mode::normal;
  KeyPair cert = pki().server;
  std::string address = "127.0.0.1";
  bool close_after_response =
      false;                    // close right after each response although keep-alive was announced
  bool graceful_close = false;  // ... sending close_notify first
  int truncate_request = 0;  // the n-th request on a connection gets a truncated answer, then close
};

struct PeerInfo {
  std::string subject_cn;
  std::vector<std::string> san_dns;
};

// Synchronous Beast server: one thread accepts, one thread per connection.
class TestServer {
 public:
  explicit TestServer(
      ServerOptions o = {}, Handler h = [](const Request&) { return ok_response(); })
      : opts_(std::move(o)), handler_(std::move(h)), acceptor_(ioc_) {
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3);
    ctx_.use_certificate_chain_file(opts_.cert.cert.string());
    ctx_.use_private_key_file(opts_.cert.key.string(), ssl::context::pem);
    ctx_.load_verify_file(pki().ca.string());
    ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    const tcp::endpoint ep(asio::ip::make_address(opts_.address), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  unsigned short port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1",
                  const std::string& path = "/deliver") const {
    return "https://" + host + ":" + std::to_string(port_) + path;
  }
  int accepted() const { return accepted_.load(); }
  int closed() const { return closed_.load(); }
  int requests() const { return requests_.load(); }
  Request last_request() {
    std::lock_guard l(mu_);
    return last_request_;
  }
  std::vector<PeerInfo> peers() {
    std::lock_guard l(mu_);
    return peers_;
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    {  // wake the blocking accept()
      boost::system::error_code ec;
      tcp::socket s(ioc_);
      s.connect(tcp::endpoint(asio::ip::make_address(opts_.address), port_), ec);
    }
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard l(mu_);
      for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // wakes the connection threads
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void accept_loop() {
    for (;;) {
      tcp::socket s(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (stopping_) return;
      if (ec) continue;
      accepted_.fetch_add(1);
      std::lock_guard l(mu_);
      const int fd = s.native_handle();
      fds_.insert(fd);
      threads_.emplace_back([this, s = std::move(s), fd]() mutable { serve(std::move(s), fd); });
    }
  }

  static void drain(tcp::socket& s) {
    char b[512];
    boost::system::error_code ec;
    while (!ec) s.read_some(asio::buffer(b), ec);
  }

  void record_peer(SSL* handle) {
    PeerInfo info;
    if (X509* peer = SSL_get1_peer_certificate(handle)) {
      char cn[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      info.subject_cn = cn;
      auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr));
      for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
          info.san_dns.emplace_back(
              reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
              static_cast<std::size_t>(ASN1_STRING_length(gn->d.dNSName)));
        }
      }
      GENERAL_NAMES_free(names);
      X509_free(peer);
    }
    std::lock_guard l(mu_);
    peers_.push_back(std::move(info));
  }

  void serve(tcp::socket sock, int fd) {
    exchange(std::move(sock));
    {
      std::lock_guard l(mu_);
      fds_.erase(fd);
    }
    closed_.fetch_add(1);
  }

  void exchange(tcp::socket sock) {
    boost::system::error_code ec;
    if (opts_.mode == ServerOptions::Mode::no_handshake) return drain(sock);
    ssl::stream<tcp::socket> stream(std::move(sock), ctx_);
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) return;
    record_peer(stream.native_handle());
    beast::flat_buffer buffer;
    for (int n = 1;; ++n) {
      Request req;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      {
        std::lock_guard l(mu_);
        last_request_ = req;
      }
      requests_.fetch_add(1);
      if (opts_.mode == ServerOptions::Mode::no_response) return drain(stream.next_layer());
      if (n == opts_.truncate_request) {
        const std::string partial = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
        asio::write(stream, asio::buffer(partial), ec);
        return;  // closes without close_notify
      }
      Response res = handler_(req);
      if (res.find(http::field::connection) == res.end() && res.version() == 11)
        res.keep_alive(req.keep_alive());
      if (!res.chunked()) res.prepare_payload();
      http::write(stream, res, ec);
      if (ec || !res.keep_alive()) return;
      if (opts_.close_after_response) {
        if (opts_.graceful_close) SSL_shutdown(stream.native_handle());  // sends close_notify only
        return;
      }
    }
  }

  ServerOptions opts_;
  Handler handler_;
  asio::io_context ioc_;  // for the sockets' synchronous operations only
  ssl::context ctx_{ssl::context::tls_server};
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::set<int> fds_;
  std::vector<std::thread> threads_;
  Request last_request_;
  std::vector<PeerInfo> peers_;
};

// --- the client side ------------------------------------------------------------------------

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 5000ms) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

// An io_context run by `threads` threads, and the pool under test.
struct Rig {
  explicit Rig(std::size_t max_response_bytes = 1 << 20, std::chrono::seconds idle = 30s,
               int threads = 1)
      : work(asio::make_work_guard(ioc)),
        pool(std::make_unique<HttpClientPool>(ioc, pki().client_tls(), max_response_bytes, idle)) {
    for (int i = 0; i < threads; ++i) runners.emplace_back([this] { ioc.run(); });
  }
  ~Rig() {
    pool.reset();
    work.reset();
    eventually([this] { return ioc.stopped(); }, 5000ms);  // let the pending work finish
    ioc.stop();
    for (auto& t : runners) t.join();
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  // Sends and waits (bounded) for the callback.
  OutboundResult send(OutboundRequest req, std::chrono::milliseconds limit = 10000ms) {
    auto promise = std::make_shared<std::promise<OutboundResult>>();
    auto future = promise->get_future();
    auto calls = std::make_shared<std::atomic<int>>(0);
    pool->send(std::move(req), [promise, calls](OutboundResult r) {
      if (calls->fetch_add(1) == 0) promise->set_value(std::move(r));
    });
    if (future.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "the send did not complete within " << limit.count() << " ms";
      OutboundResult r;
      r.error = TransportError::io;
      r.error_detail = "test: no callback";
      return r;
    }
    return future.get();
  }
  OutboundResult send(const std::string& url, std::string body = "<m/>") {
    OutboundRequest req;
    req.url = url;
    req.body = std::move(body);
    req.connect_timeout = 3000ms;
    req.timeout = 5000ms;
    return send(std::move(req));
  }

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::unique_ptr<HttpClientPool> pool;
  std::vector<std::thread> runners;
};

std::string http_date(std::chrono::system_clock::time_point t, const char* format) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

#define EXPECT_OK(r)                                         \
  do {                                                       \
    EXPECT_EQ((r).error, TransportError::none)               \
        << to_string((r).error) << ": " << (r).error_detail; \
  } while (0)

// --- 1. round trip --------------------------------------------------------------------------

TEST(HttpClient, RoundTripHeadersBodyAndClientCertificate) {
  TestServer server({}, [](const Request& req) {
    Response res{http::status::created, 11};
    res.set(http::field::content_type, "application/xml; charset=utf-8");
    res.body() = "<ack>" + req.body() + "</ack>";
    return res;
  });
  Rig rig;
  OutboundRequest req;
  req.url = server.url("localhost", "/deliver/nibrs?x=1");  // host name: resolver, SNI, DNS SAN
  req.headers = {{"X-Message-Id", "0190c1a2-7b3c-7def-8abc-0123456789ab"},
                 {"Idempotency-Key", "k-1"}};
  req.body = "<msg>hello</msg>";
  req.content_type = "application/xml";
  const auto r = rig.send(req);
  EXPECT_OK(r);
  EXPECT_EQ(r.status, 201u);
  EXPECT_EQ(r.body, "<ack><msg>hello</msg></ack>");
  EXPECT_EQ(r.content_type, "application/xml; charset=utf-8");
  EXPECT_FALSE(r.retry_after);
  EXPECT_GT(r.elapsed.count(), 0);

  const auto seen = server.last_request();
  EXPECT_EQ(seen.method(), http::verb::post);
  EXPECT_EQ(seen.target(), "/deliver/nibrs?x=1");
  EXPECT_EQ(seen[http::field::host], "localhost:" + std::to_string(server.port()));
  EXPECT_EQ(seen[http::field::user_agent], "cjhub");
  EXPECT_EQ(seen[http::field::content_type], "application/xml");
  EXPECT_EQ(seen[http::field::content_length], "16");
  EXPECT_EQ(seen["X-Message-Id"], "0190c1a2-7b3c-7def-8abc-0123456789ab");
  EXPECT_EQ(seen["Idempotency-Key"], "k-1");
  EXPECT_EQ(seen.body(), "<msg>hello</msg>");
  EXPECT_TRUE(seen.keep_alive());

  const auto peers = server.peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].subject_cn, "hub-client");
  EXPECT_EQ(peers[0].san_dns, std::vector<std::string>{"hub.cjhub.test"});

  const auto s = rig.pool->stats();
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.connections_reused, 0u);
  EXPECT_EQ(s.transport_errors, 0u);
}

TEST(HttpClient, EmptyBodyIsStillAPostWithContentLengthZero) {
  TestServer server;
  Rig rig;
  const auto r = rig.send(server.url("127.0.0.1", ""), "");
  EXPECT_OK(r);
  const auto seen = server.last_request();
  EXPECT_EQ(seen.method(), http::verb::post);
  EXPECT_EQ(seen.target(), "/");
  EXPECT_EQ(seen[http::field::content_length], "0");
  EXPECT_EQ(seen[http::field::host], "127.0.0.1:" + std::to_string(server.port()));
}

TEST(HttpClient, ConstructorNamesTheTlsFileItCannotLoad) {
  asio::io_context ioc;
  auto tls = pki().client_tls();
  tls.ca_bundle = pki().dir / "missing-ca.crt";
  try {
    HttpClientPool pool(ioc, tls);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-ca.crt"), std::string::npos) << e.what();
  }
  tls = pki().client_tls();
  tls.client_key = pki().dir / "nope.key";
  EXPECT_THROW({ HttpClientPool p(ioc, tls); }, std::runtime_error);
  tls = pki().client_tls();
  tls.client_key = pki().server.key;  // does not match the certificate
  EXPECT_THROW({ HttpClientPool p(ioc, tls); }, std::runtime_error);
}

// A private key its group or others may read is no longer private: the pool refuses it, naming
// the file and the fix, and takes the same key once it is owner-only.
TEST(HttpClient, AClientKeyReadableByGroupOrOthersIsRefused) {
  asio::io_context ioc;
  auto tls = pki().client_tls();
  const auto key = pki().dir / "shared-client.key";
  fs::copy_file(tls.client_key, key, fs::copy_options::overwrite_existing);
  tls.client_key = key;
  for (const auto mode : {fs::perms::group_read, fs::perms::others_read}) {
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | mode);
    try {
      HttpClientPool pool(ioc, tls);
      ADD_FAILURE() << "a key readable by " << (mode == fs::perms::group_read ? "its group" : "others") << " was taken";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("shared-client.key"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
    }
  }
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_NO_THROW({ HttpClientPool pool(ioc, tls); });
}

// --- 2. keep-alive --------------------------------------------------------------------------

TEST(HttpClient, KeepAliveReusesOneConnection) {
  TestServer server;
  Rig rig;
  for (int i = 0; i < 20; ++i) {
    const auto r = rig.send(server.url());
    EXPECT_OK(r);
    EXPECT_EQ(r.status, 200u);
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.requests(), 20);
  const auto s = rig.pool->stats();
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.connections_reused, 19u);
  EXPECT_EQ(s.requests, 20u);
}

// Requests go out without a Nagle delay: the head and the body of a POST leave as two TLS
// records, and without TCP_NODELAY the second may wait for the server's delayed ACK (about 40 ms).
// The option is read back from the pool's own socket.
TEST(HttpClient, OutboundSocketsSetNoDelay) {
  TestServer server;
  Rig rig;
  ASSERT_EQ(rig.send(server.url()).status, 200u);
  int client_sockets = 0;
  for (const auto& s : test::own_tcp_sockets()) {
    if (s.peer_port != server.port() || s.local_port == server.port()) continue;
    ++client_sockets;
    EXPECT_TRUE(s.nodelay) << "the connection from port " << s.local_port << " leaves Nagle's algorithm on";
  }
  EXPECT_EQ(client_sockets, 1);
}

TEST(HttpClient, ConnectionCloseAndHttp10AreNotReused) {
  TestServer server({}, [](const Request& req) {
    auto res = ok_response();
    if (req["X-Test"] == "http10") {
      res.version(10);  // no keep-alive token: the connection ends with the response
    } else {
      res.keep_alive(false);
    }
    return res;
  });
  Rig rig;
  for (const char* mode : {"close", "close", "http10", "http10"}) {
    OutboundRequest req;
    req.url = server.url();
    req.headers = {{"X-Test", mode}};
    const auto r = rig.send(req);
    EXPECT_OK(r);
    EXPECT_EQ(r.status, 200u);
  }
  EXPECT_EQ(server.accepted(), 4);
  EXPECT_EQ(rig.pool->stats().connections_reused, 0u);
  EXPECT_EQ(rig.pool->stats().connections_opened, 4u);
}

TEST(HttpClient, IdleConnectionsAreClosedByTheIdleTimer) {
  TestServer server;
  Rig rig(1 << 20, 1s);
  EXPECT_OK(rig.send(server.url()));
  EXPECT_EQ(server.closed(), 0);
  // The client closes the idle connection after ~1 s: the server sees it end.
  EXPECT_TRUE(eventually([&] { return server.closed() == 1; }, 4000ms));
  EXPECT_OK(rig.send(server.url()));
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(rig.pool->stats().connections_reused, 0u);
}

TEST(HttpClient, CloseIdleClosesPooledConnections) {
  TestServer server;
  Rig rig;
  EXPECT_OK(rig.send(server.url()));
  rig.pool->close_idle();
  EXPECT_TRUE(eventually([&] { return server.closed() == 1; }));
  EXPECT_OK(rig.send(server.url()));
  EXPECT_EQ(server.accepted(), 2);
}

// --- 3. the keep-alive race -----------------------------------------------------------------

class HttpClientPeerClose : public ::testing::TestWithParam<bool> {};

TEST_P(HttpClientPeerClose, ClosedIdleConnectionIsRetriedOnANewOne) {
  ServerOptions o;
  o.close_after_response = true;
  o.graceful_close = GetParam();
  TestServer server(o);
  Rig rig;
  EXPECT_OK(rig.send(server.url()));
  ASSERT_TRUE(
      eventually([&] { return server.closed() == 1; }));  // the pooled connection is dead now
  const auto r = rig.send(server.url());
  EXPECT_OK(r);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(server.requests(), 2);  // the dead connection never delivered the request
  const auto s = rig.pool->stats();
  EXPECT_EQ(s.connections_reused, 1u);
  EXPECT_EQ(s.connections_opened, 2u);
  EXPECT_EQ(s.transport_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(HttpClient, HttpClientPeerClose, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "CloseNotify" : "Abrupt"; });

TEST(HttpClient, NoRetryOnceResponseBytesWereReceived) {
  ServerOptions o;
  o.truncate_request = 2;  // the second request on the connection gets a partial response
  TestServer server(o);
  Rig rig;
  EXPECT_OK(rig.send(server.url()));
  const auto r = rig.send(server.url());
  EXPECT_EQ(r.error, TransportError::io) << to_string(r.error) << ": " << r.error_detail;
  EXPECT_EQ(server.accepted(), 1);  // not retried
  EXPECT_EQ(server.requests(), 2);
  EXPECT_EQ(rig.pool->stats().transport_errors, 1u);
}

// --- 4. Retry-After -------------------------------------------------------------------------

TEST(HttpClient, RetryAfterSecondsAndHttpDate) {
  TestServer server({}, [](const Request& req) {
    Response res{http::status::service_unavailable, 11};
    res.set(http::field::retry_after, req["X-Retry-After"]);
    res.set(http::field::content_type, "application/problem+json");
    res.body() = R"({"title":"busy"})";
    return res;
  });
  Rig rig;
  auto send = [&](const std::string& retry_after) {
    OutboundRequest req;
    req.url = server.url();
    req.headers = {{"X-Retry-After", retry_after}};
    return rig.send(req);
  };
  const auto r = send("7");
  EXPECT_OK(r);
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, R"({"title":"busy"})");
  ASSERT_TRUE(r.retry_after);
  EXPECT_EQ(*r.retry_after, 7s);

  const auto in10 = std::chrono::system_clock::now() + 10s;
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT",  // IMF-fixdate
                             "%A, %d-%b-%y %H:%M:%S GMT",  // RFC 850
                             "%a %b %e %H:%M:%S %Y"}) {    // asctime
    const auto date = http_date(in10, format);
    const auto d = send(date);
    ASSERT_TRUE(d.retry_after) << date;
    EXPECT_GE(d.retry_after->count(), 8) << date;
    EXPECT_LE(d.retry_after->count(), 11) << date;
  }
  const auto past =
      send(http_date(std::chrono::system_clock::now() - 3600s, "%a, %d %b %Y %H:%M:%S GMT"));
  ASSERT_TRUE(past.retry_after);
  EXPECT_EQ(*past.retry_after, 0s);
  EXPECT_FALSE(send("soon").retry_after);
  EXPECT_FALSE(send("-5").retry_after);
  EXPECT_FALSE(send("Sun, 32 Nov 2094 08:49:37 GMT").retry_after);
}

// --- 5. deadlines ---------------------------------------------------------------------------

TEST(HttpClient, HandshakeThatNeverCompletesTimesOutWithinConnectTimeout) {
  ServerOptions o;
  o.mode = ServerOptions::Mode::no_handshake;
  TestServer server(o);
  Rig rig;
  OutboundRequest req;
  req.url = server.url();
  req.connect_timeout = 300ms;
  req.timeout = 10000ms;
  const auto start = Clock::now();
  const auto r = rig.send(req);
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.error, TransportError::timeout) << to_string(r.error) << ": " << r.error_detail;
  EXPECT_GE(took, 280ms);
  EXPECT_LT(took, 2000ms);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpClient, ResponseThatNeverComesTimesOutWithinTimeout) {
  ServerOptions o;
  o.mode = ServerOptions::Mode::no_response;
  TestServer server(o);
  Rig rig;
  OutboundRequest req;
  req.url = server.url();
  req.connect_timeout = 5000ms;
  req.timeout = 400ms;
  const auto start = Clock::now();
  const auto r = rig.send(req);
  const auto took = Clock::now() - start;
  EXPECT_EQ(r.error, TransportError::timeout) << to_string(r.error) << ": " << r.error_detail;
  EXPECT_GE(took, 380ms);
  EXPECT_LT(took, 2500ms);
  EXPECT_EQ(server.requests(), 1);
  // The client gave up on the connection: the server sees it closed.
  EXPECT_TRUE(eventually([&] { return server.closed() == 1; }));
}

// --- 6. refused -----------------------------------------------------------------------------

TEST(HttpClient, ConnectionRefusedFailsQuickly) {
  unsigned short port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  Rig rig;
  const auto start = Clock::now();
  const auto r = rig.send("https://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(r.error, TransportError::connect) << to_string(r.error) << ": " << r.error_detail;
  EXPECT_LT(Clock::now() - start, 2000ms);
  EXPECT_FALSE(r.error_detail.empty());
  EXPECT_EQ(rig.pool->stats().transport_errors, 1u);
}

// --- 7. certificates ------------------------------------------------------------------------

TEST(HttpClient, ServerCertificateFromAnUntrustedCaIsATlsError) {
  ServerOptions o;
  o.cert = pki().rogue_server;
  TestServer server(o);
  Rig rig;
  for (const char* host : {"127.0.0.1", "localhost"}) {
    const auto r = rig.send(server.url(host));
    EXPECT_EQ(r.error, TransportError::tls)
        << host << ": " << to_string(r.error) << ": " << r.error_detail;
    EXPECT_NE(r.error_detail.find("certificate"), std::string::npos) << r.error_detail;
  }
  EXPECT_EQ(server.requests(), 0);
}

TEST(HttpClient, ServerCertificateForAnotherHostIsATlsError) {
  ServerOptions o;
  o.cert = pki().wrong_host;  // DNS:other.example only
  TestServer server(o);
  Rig rig;
  for (const char* host : {"127.0.0.1", "localhost"}) {
    const auto r = rig.send(server.url(host));
    EXPECT_EQ(r.error, TransportError::tls)
        << host << ": " << to_string(r.error) << ": " << r.error_detail;
    EXPECT_NE(r.error_detail.find("mismatch"), std::string::npos) << r.error_detail;
  }
  EXPECT_EQ(server.requests(), 0);
}

TEST(HttpClient, Ipv6LiteralInBrackets) {
  std::unique_ptr<TestServer> server;
  try {
    ServerOptions o;
    o.address = "::1";
    server = std::make_unique<TestServer>(o);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  Rig rig;
  const auto r = rig.send(server->url("[::1]"));
  EXPECT_OK(r);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(server->last_request()[http::field::host], "[::1]:" + std::to_string(server->port()));
}

// --- 8. bad URLs ----------------------------------------------------------------------------

TEST(HttpClient, BadUrlsFailWithoutTouchingTheNetwork) {
  Rig rig;
  const std::thread::id caller = std::this_thread::get_id();
  for (const std::string url :
       {"http://127.0.0.1/deliver", "nonsense", "", "https://", "https:///path", "https://:8443/",
        "https://host:0/", "https://host:65536/", "https://host:12a/", "https://host:/",
        "https://user@host/", "https://[::1/", "https://[nothex]/", "https://ho st/", "ftp://host/",
        "https://host\r\nX: y/"}) {
    std::thread::id ran_on;
    auto promise = std::make_shared<std::promise<OutboundResult>>();
    auto f = promise->get_future();
    OutboundRequest req;
    req.url = url;
    rig.pool->send(req, [&, promise](OutboundResult r) {
      ran_on = std::this_thread::get_id();
      promise->set_value(std::move(r));
    });
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready) << url;
    const auto r = f.get();
    EXPECT_EQ(r.error, TransportError::bad_url) << "'" << url << "': " << to_string(r.error);
    EXPECT_FALSE(r.error_detail.empty());
    EXPECT_NE(ran_on, caller);  // posted to the io_context, never called inside send()
  }
  // A header that would inject another header line is refused too.
  OutboundRequest req;
  req.url = "https://127.0.0.1:1/";
  req.headers = {{"X-Id", "a\r\nInjected: 1"}};
  EXPECT_EQ(rig.send(req).error, TransportError::bad_url);
  EXPECT_EQ(rig.pool->stats().connections_opened, 0u);
  EXPECT_EQ(rig.pool->stats().transport_errors, rig.pool->stats().requests);
}

// --- 9. size limit --------------------------------------------------------------------------

class HttpClientTooLarge : public ::testing::TestWithParam<bool> {};

TEST_P(HttpClientTooLarge, ResponseOverTheLimitIsRefusedAndTheConnectionDropped) {
  const bool chunked = GetParam();
  TestServer server({}, [chunked](const Request& req) {
    auto res = ok_response(std::string(req["X-Size"] == "big" ? 4096 : 100, 'x'));
    if (chunked) res.chunked(true);
    return res;
  });
  Rig rig(1024);
  OutboundRequest big;
  big.url = server.url();
  big.headers = {{"X-Size", "big"}};
  const auto r = rig.send(big);
  EXPECT_EQ(r.error, TransportError::response_too_large)
      << to_string(r.error) << ": " << r.error_detail;
  EXPECT_TRUE(r.body.empty());
  const auto small = rig.send(server.url());
  EXPECT_OK(small);
  EXPECT_EQ(small.body.size(), 100u);
  EXPECT_EQ(server.accepted(), 2);  // the connection of the oversized response was not reused
}

INSTANTIATE_TEST_SUITE_P(HttpClient, HttpClientTooLarge, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Chunked" : "ContentLength"; });

// --- 10. concurrency ------------------------------------------------------------------------

TEST(HttpClient, FiftyConcurrentSendsFromSeveralThreads) {
  TestServer server({}, [](const Request& req) {
    std::this_thread::sleep_for(20ms);
    return ok_response("echo:" + req.body());
  });
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> calls(50, 0);
  std::vector<OutboundResult> results(50);
  int completed = 0;
  Rig rig(1 << 20, 30s, 4);  // after the state its callbacks use
  std::vector<std::thread> senders;
  for (int t = 0; t < 5; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const int n = t * 10 + i;
        OutboundRequest req;
        req.url = server.url();
        req.body = "<m n=\"" + std::to_string(n) + "\"/>";
        rig.pool->send(std::move(req), [&, n](OutboundResult r) {
          std::lock_guard l(mu);
          results[static_cast<std::size_t>(n)] = std::move(r);
          ++calls[static_cast<std::size_t>(n)];
          ++completed;
          cv.notify_all();
        });
      }
    });
  }
  for (auto& s : senders) s.join();
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, 20s, [&] { return completed >= 50; }))
        << completed << " of 50 completed";
  }
  std::this_thread::sleep_for(50ms);  // a second callback would show up here
  std::lock_guard l(mu);
  for (std::size_t n = 0; n < 50; ++n) {
    EXPECT_EQ(calls[n], 1) << n;
    EXPECT_EQ(results[n].error, TransportError::none) << n << ": " << results[n].error_detail;
    EXPECT_EQ(results[n].status, 200u) << n;
    EXPECT_EQ(results[n].body, "echo:<m n=\"" + std::to_string(n) + "\"/>");
  }
  const auto s = rig.pool->stats();
  EXPECT_EQ(s.requests, 50u);
  EXPECT_EQ(s.connections_opened + s.connections_reused, 50u);
  EXPECT_EQ(static_cast<int>(s.connections_opened), server.accepted());
  EXPECT_GT(s.connections_opened, 1u);  // they really ran in parallel
  EXPECT_EQ(s.transport_errors, 0u);

  // All connections are idle now: a second wave reuses them.
  for (int i = 0; i < 5; ++i) EXPECT_OK(rig.send(server.url()));
  EXPECT_EQ(static_cast<int>(rig.pool->stats().connections_opened), server.accepted());
  EXPECT_EQ(rig.pool->stats().connections_opened, s.connections_opened);
  rig.pool->close_idle();
  EXPECT_TRUE(eventually([&] { return server.closed() == server.accepted(); }));
}

// --- 11. destruction with requests in flight ------------------------------------------------

TEST(HttpClient, DestroyingThePoolWithARequestInFlightStillCompletesIt) {
  TestServer server({}, [](const Request&) {
    std::this_thread::sleep_for(300ms);
    return ok_response();
  });
  Rig rig(1 << 20, 30s, 2);
  auto promise = std::make_shared<std::promise<OutboundResult>>();
  auto f = promise->get_future();
  OutboundRequest req;
  req.url = server.url();
  req.body = "<m/>";
  rig.pool->send(req, [promise](OutboundResult r) { promise->set_value(std::move(r)); });
  ASSERT_TRUE(eventually([&] { return server.requests() == 1; }));
  rig.pool.reset();  // while the server is still answering
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const auto r = f.get();
  EXPECT_OK(r);
  EXPECT_EQ(r.status, 200u);
  // The pool is gone: the connection is closed, not kept.
  EXPECT_TRUE(eventually([&] { return server.closed() == 1; }));
}

TEST(HttpClient, DestroyingPoolAndIoContextWithARequestInFlightIsSafe) {
  ServerOptions o;
  o.mode = ServerOptions::Mode::no_response;
  TestServer server(o);
  auto called = std::make_shared<std::atomic<int>>(0);
  {
    auto ioc = std::make_unique<asio::io_context>();
    auto pool = std::make_unique<HttpClientPool>(*ioc, pki().client_tls());
    std::thread runner([&] {
      auto work = asio::make_work_guard(*ioc);
      ioc->run();
    });
    OutboundRequest req;
    req.url = server.url();
    req.timeout = 30000ms;
    pool->send(req, [called](OutboundResult) { called->fetch_add(1); });
    EXPECT_TRUE(eventually([&] { return server.requests() == 1; }));
    pool.reset();
    ioc->stop();
    runner.join();
    ioc.reset();  // destroys the pending handlers, which own the exchange and its connection
  }
  EXPECT_EQ(called->load(), 0);
  EXPECT_TRUE(eventually([&] { return server.closed() == 1; }));
}

TEST(HttpClient, DestroyingThePoolWithIdleConnectionsClosesThem) {
  TestServer server;
  {
    Rig rig;
    EXPECT_OK(rig.send(server.url()));
    EXPECT_OK(rig.send(server.url("localhost")));  // same port, another origin: two connections
    EXPECT_EQ(server.accepted(), 2);
  }
  EXPECT_TRUE(eventually([&] { return server.closed() == 2; }));
}

}  // namespace
}  // namespace cjhub::delivery
