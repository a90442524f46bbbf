// Outbound HTTPS to the agencies' endpoints: the hub presents its own client certificate,
// verifies each endpoint's certificate chain and host name, and keeps a pool of keep-alive
// connections per endpoint. Every step has a deadline. Transport only: what a status code means
// for the delivery is decided by the dispatcher.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cjhub/delivery/resolver.hpp"

namespace cjhub::delivery {

struct ClientTls {
  std::filesystem::path client_cert;  // the hub's client certificate (PEM chain)
  std::filesystem::path client_key;
  std::filesystem::path ca_bundle;    // CAs trusted for endpoint certificates
};

struct OutboundRequest {
  std::string method = "POST";  // POST (deliveries) or OPTIONS (probes of idle endpoints)
  std::string url;  // https://host[:port]/path
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/xml";
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect + TLS handshake
  std::chrono::milliseconds timeout{30000};         // write request + read whole response
};

enum class TransportError {
  none,
  bad_url,          // not https, no host, ...
  resolve,          // host name did not resolve (not counted against the endpoint: see judge())
  connect,          // refused, unreachable
  tls,              // handshake failed (certificate, host name, protocol)
  timeout,          // a deadline passed
  io,               // connection reset / closed mid-exchange
  response_too_large,
};
const char* to_string(TransportError e) noexcept;

struct OutboundResult {
  TransportError error = TransportError::none;
  std::string error_detail;  // human-readable, for last_error (never payload)
  unsigned status = 0;       // HTTP status when error == none
  std::string body;          // response body (capped at max_response_bytes)
  std::string content_type;
  std::optional<std::chrono::seconds> retry_after;  // parsed Retry-After (seconds or HTTP-date)
  std::chrono::microseconds elapsed{0};
};

struct ClientStats {
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_reused = 0;
  std::uint64_t requests = 0;
  std::uint64_t transport_errors = 0;
  ResolverStats dns;
};

// Runs entirely on the io_context it is given (the caller runs it, on one or more threads).
// Thread-safe: send() may be called from any thread.
class HttpClientPool {
 public:
  // Starts its resolver (see resolver.hpp); host names are looked up with `dns`.
  HttpClientPool(boost::asio::io_context& ioc, const ClientTls& tls, std::size_t max_response_bytes = 1 << 20,
                 std::chrono::seconds idle_timeout = std::chrono::seconds(30), const ResolverOptions& dns = {});
  ~HttpClientPool();
  HttpClientPool(const HttpClientPool&) = delete;
  HttpClientPool& operator=(const HttpClientPool&) = delete;

  // Sends one request, on an idle keep-alive connection to the same origin (scheme, host, port)
  // when there is one, else on a new connection. `done` is called exactly once, on the
  // io_context. The caller limits concurrency per endpoint; the pool opens as many connections
  // as there are requests in flight to an origin and keeps at most that many idle.
  void send(OutboundRequest req, std::function<void(OutboundResult)> done);

  // Closes idle connections (at shutdown; also done by the idle timer).
  void close_idle();
  // Reads the certificate, key and CA files again for new connections; idle ones are closed.
  // Throws (naming the file) and keeps the current ones on error.
  void reload_tls(const ClientTls& files);
  ClientStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cjhub::delivery
