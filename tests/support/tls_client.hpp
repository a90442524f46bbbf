// A small synchronous HTTPS client with a client certificate, for end-to-end tests: real TLS,
// real sockets, keep-alive.
#pragma once

#include <boost/system/error_code.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cjhub::test {

struct HttpResult {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct ClientCert {
  std::filesystem::path cert;  // empty: present no certificate
  std::filesystem::path key;
};

// The dev PKI from the harness (CJHUB_TEST_PKI): ca.crt, clients/<name>.crt/.key, ...
std::filesystem::path pki_dir();
ClientCert client_cert(const std::string& name);  // clients/<name>.crt/.key

class TlsClient {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    ClientCert cert;
    std::filesystem::path ca;   // defaults to pki_dir()/ca.crt
    int max_tls_version = 0;    // 0 = default; TLS1_1_VERSION etc. to force older versions
    std::string ciphers;        // TLS 1.2 cipher list override
  };
  explicit TlsClient(Options o);
  ~TlsClient();

  // Connects and handshakes. Returns the handshake error (success = connected).
  boost::system::error_code connect();
  bool connected() const;

  // Sends one request on the connection (connecting first if needed); throws on I/O errors.
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {},
                     const std::string& content_type = "application/xml");
  // Writes raw bytes and reads one response (for framing tests).
  HttpResult raw(const std::string& bytes);
  // Writes raw bytes only (a slow client sends a request in pieces).
  void send(const std::string& bytes);
  // Reads one response (throws when the server closes the connection first).
  HttpResult receive();
  void close();
  // The SHA-256 fingerprint of the server certificate of the current connection ("" if none).
  std::string peer_sha256() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cjhub::test
