// The HTTPS listener (Boost.Beast): TLS handshake, header and body limits, framing rules,
// deadlines, keep-alive and a connection cap. It hands each complete request to the handlers
// and writes back what they answer; it knows nothing of messages.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cjhub/api/http_types.hpp"
#include "cjhub/common/lifecycle.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/ops/metrics.hpp"

namespace cjhub::ingress {

struct ServerStats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused_cap{0};
  std::atomic<std::uint64_t> connections_refused_handshaking{0};  // per-address handshake cap
  std::atomic<std::uint64_t> handshakes_failed{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::int64_t> connections_open{0};
};

class Session;

struct ServerSettings {
  config::Listener listener;
  config::Tls tls;
  config::Limits limits;
  std::size_t io_threads = 1;
  std::string name = "https-server";

  static ServerSettings from(const config::Config& c);
};

class HttpsServer final : public Component {
 public:
  HttpsServer(ServerSettings settings, api::RequestHandler& handler);
  ~HttpsServer() override;

  std::string name() const override { return settings_.name; }
  void start() override;  // builds the TLS context, binds, listens, starts the I/O threads
  // Stops accepting, lets requests in progress finish (answering with Connection: close), closes
  // idle keep-alive connections, and waits until `deadline` before cutting what is left.
  void stop(std::chrono::steady_clock::time_point deadline) override;

  // Reads the certificate, key, CA bundle and CRL files again; new connections use them. Each
  // established connection's client certificate is verified again against the new CA bundle and
  // CRL, and a connection whose certificate no longer verifies is closed (at once when idle, else
  // after its answer); returns how many were. Throws (naming the file) and keeps the current
  // files on error.
  std::size_t reload_tls();
  // Whether the I/O threads run a handler posted now within `within` (a liveness check for the
  // watchdog; never call it from an I/O thread).
  bool responsive(std::chrono::milliseconds within);

  unsigned short port() const { return port_; }
  const ServerStats& stats() const { return stats_; }

  // Internal, for sessions.
  struct Shared;

 private:
  void do_accept();
  // Counts a new connection against its address's handshake cap; false (and nothing counted) at the cap.
  bool admit_handshake(const boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec);
  ServerSettings settings_;
  api::RequestHandler& handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
  ServerStats stats_;
  metrics::CollectorRegistration metrics_;
};

}  // namespace cjhub::ingress
