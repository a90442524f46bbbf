// The plain-HTTP health listener (config `health_listener`, off by default): for orchestrators
// that cannot present a client certificate (kubelet, Docker health checks). It serves two answers
// and nothing else:
//   GET /healthz  200 {"status":"ok"} while the process runs;
//   GET /readyz   200 {"status":"ready"}, or 503 {"status":"not ready"} (a component failing, or a
//                 drain begun: the hub is stopping).
// No component names, no details (those are on the mutual-TLS /readyz, for operators). One
// request per connection, small bounded reads, a deadline on each.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/config/config.hpp"

namespace cjhub::ops {

class HealthListener final : public Component {
 public:
  // `ready` says whether the hub is ready now (readiness components and no drain).
  HealthListener(config::HealthListener settings, std::function<bool()> ready);
  ~HealthListener() override;
  std::string name() const override { return "health-listener"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  unsigned short port() const { return port_; }  // the bound port (after start)

 private:
  void accept();
  config::HealthListener settings_;
  std::function<bool()> ready_;
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  unsigned short port_ = 0;
};

}  // namespace cjhub::ops
