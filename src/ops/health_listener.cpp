#include "cjhub/ops/health_listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cjhub/common/log.hpp"

namespace cjhub::ops {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxRequestBytes = 4096;  // a health check is a request line and a few headers
constexpr auto kDeadline = std::chrono::seconds(5);

// One exchange: read the request (within the deadline), answer, close.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, const std::function<bool()>& ready) : stream_(std::move(socket)), ready_(ready) {}

  void run() {
    parser_.header_limit(kMaxRequestBytes);
    parser_.body_limit(0);
    stream_.expires_after(kDeadline);
    http::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec == http::error::body_limit || ec == http::error::header_limit) return self->answer(http::status::payload_too_large, "too large");
      if (ec) return;  // gone or too slow: nothing to answer
      self->respond();
    });
  }

 private:
  void respond() {
    const auto& req = parser_.get();
    const auto target = std::string(req.target());
    const auto path = target.substr(0, target.find('?'));
    if (path != "/healthz" && path != "/readyz") return answer(http::status::not_found, "not found");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return answer(http::status::method_not_allowed, "method not allowed");
    }
    if (path == "/healthz") return answer(http::status::ok, "ok");
    const bool ready = ready_ && ready_();
    answer(ready ? http::status::ok : http::status::service_unavailable, ready ? "ready" : "not ready");
  }

  void answer(http::status status, const std::string& what) {
    res_.result(status);
    res_.version(11);
    res_.set(http::field::content_type, "application/json");
    res_.set(http::field::cache_control, "no-store");
    if (status == http::status::method_not_allowed) res_.set(http::field::allow, "GET, HEAD");
    res_.keep_alive(false);
    res_.body() = "{\"status\":\"" + what + "\"}\n";
    res_.prepare_payload();
    stream_.expires_after(kDeadline);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  beast::tcp_stream stream_;
  const std::function<bool()>& ready_;
  beast::flat_buffer buffer_{kMaxRequestBytes};
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

HealthListener::HealthListener(config::HealthListener settings, std::function<bool()> ready)
    : settings_(std::move(settings)), ready_(std::move(ready)) {}

HealthListener::~HealthListener() { stop(std::chrono::steady_clock::now()); }

void HealthListener::start() {
  if (!settings_.enabled) return;
  const tcp::endpoint ep(asio::ip::make_address(settings_.address), settings_.port);
  acceptor_ = std::make_unique<tcp::acceptor>(ioc_);
  acceptor_->open(ep.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  acceptor_->bind(ep);
  acceptor_->listen(64);
  port_ = acceptor_->local_endpoint().port();
  accept();
  thread_ = std::thread([this] {
    name_this_thread("cjhub-health");
    ioc_.run();
  });
  log::get("ops")->info("health listener (plain HTTP: /healthz, /readyz) on {}:{}", settings_.address, port_);
}

void HealthListener::accept() {
  acceptor_->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Exchange>(std::move(socket), ready_)->run();
    accept();
  });
}

void HealthListener::stop(std::chrono::steady_clock::time_point) {
  if (!thread_.joinable()) return;
  asio::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
  });
  ioc_.stop();
  thread_.join();
  acceptor_.reset();
}

}  // namespace cjhub::ops
