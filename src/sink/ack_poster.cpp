#include "cjhub/sink/ack_poster.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <stdexcept>

#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"

namespace cjhub::sink {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

bool retryable(unsigned status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v) {
  unsigned long s = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;  // HTTP-dates: ignored
  return std::chrono::seconds(std::min<unsigned long>(s, 3600));
}

// One request on a new connection. `stage` names the step in progress, for error messages.
asio::awaitable<void> exchange(ssl::context& ctx, const HttpsUrl& url, http::request<http::string_body>& req,
                               std::chrono::milliseconds timeout, PostOutcome& out, std::string& stage) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::ssl_stream<beast::tcp_stream> stream(ex, ctx);
  stage = "resolve";
  const auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
  stage = "connect";
  beast::get_lowest_layer(stream).expires_after(timeout);
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  stage = "tls";
  boost::system::error_code ec;
  asio::ip::make_address(url.host, ec);
  if (ec) SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());  // SNI: names only
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  stage = "write";
  co_await http::async_write(stream, req, asio::use_awaitable);
  stage = "read";
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  const auto& res = parser.get();
  out.status = res.result_int();
  if (auto it = res.find(http::field::retry_after); it != res.end()) out.retry_after = parse_retry_after(it->value());
  if (out.status >= 300) out.error = std::string(res.body().substr(0, 300));
  stage = "shutdown";
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));  // best effort
}

}  // namespace

AckPoster::AckPoster(AckPosterSettings s, std::function<void(const std::string&)> log_line)
    : settings_(std::move(s)), log_line_(std::move(log_line)) {}

AckPoster::~AckPoster() { stop(Clock::now()); }

void AckPoster::start() {
  auto url = parse_https_url(settings_.hub_url);
  if (!url) throw std::runtime_error("--hub-url: not an https://host[:port] URL: " + settings_.hub_url);
  url_ = *url;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  try {
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->load_verify_file(settings_.ca.string());
    ctx->set_verify_mode(ssl::verify_peer);
    ctx->use_certificate_chain_file(settings_.client_cert.string());
    ctx->use_private_key_file(settings_.client_key.string(), ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("acknowledgement client certificate (" + settings_.client_cert.string() + ", " +
                             settings_.client_key.string() + ", CA " + settings_.ca.string() + "): " + e.what());
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw std::runtime_error("--client-key does not match --client-cert");
  }
  tls_ = std::move(ctx);
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  worker_ = std::thread([this] { run(); });
}

void AckPoster::stop(Clock::time_point deadline) {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    deadline_ = deadline;
  }
  cv_.notify_all();
  worker_.join();
}

void AckPoster::submit(AckJob job) {
  {
    std::lock_guard lock(mutex_);
    const auto due = job.due;
    queue_.emplace(due, Entry{std::move(job)});
  }
  cv_.notify_all();
}

std::size_t AckPoster::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

PostOutcome AckPoster::post(const AckJob& job, const std::function<bool()>& abort) {
  PostOutcome out;
  std::string stage;
  http::request<http::string_body> req{http::verb::post, url_.path + "/v1/messages", 11};
  const bool v6 = url_.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + url_.host + "]" : url_.host) + ":" + url_.port);
  req.set(http::field::content_type, "application/xml");
  req.set(http::field::user_agent, "cjhub-sink");
  req.set("Idempotency-Key", job.ack_id);
  req.keep_alive(false);
  req.body() = job.body;
  req.prepare_payload();

  bool done = false;
  asio::io_context ioc;  // declared last: destroyed first, with the coroutine if it is abandoned
  asio::co_spawn(ioc, exchange(*tls_, url_, req, settings_.attempt_timeout, out, stage),
                 [&](std::exception_ptr ep) {
                   done = true;
                   if (!ep) return;
                   try {
                     std::rethrow_exception(ep);
                   } catch (const boost::system::system_error& e) {
                     out.status = 0;
                     out.error = stage + ": " + e.code().message();
                   } catch (const std::exception& e) {
                     out.status = 0;
                     out.error = stage + ": " + e.what();
                   }
                 });
  while (!done) {
    ioc.run_for(std::chrono::milliseconds(50));
    if (!done && abort()) {
      out.status = 0;
      out.error = stage + ": abandoned at shutdown";
      break;
    }
  }
  return out;
}

void AckPoster::log(const Entry& e, const PostOutcome& o, const char* outcome, std::chrono::milliseconds retry_in) {
  json::object line;
  line["t"] = rfc3339(now_utc());
  line["event"] = "ack_posted";
  line["delivery_id"] = e.job.delivery_id;
  line["message_id"] = e.job.message_id;
  line["ack_id"] = e.job.ack_id;
  line["post_attempt"] = e.attempts;
  line["hub_status"] = o.status;
  line["outcome"] = outcome;
  if (!o.error.empty()) line["error"] = o.error;
  if (retry_in.count() > 0) line["retry_in_ms"] = retry_in.count();
  line["sink_ori"] = settings_.sink_ori;
  log_line_(json::serialize(line));
}

void AckPoster::run() {
  auto lg = log::get("sink");
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto now = Clock::now();
    if (stopping_ && (queue_.empty() || now >= deadline_)) break;
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto it = queue_.begin();
    if (it->first > now) {
      if (stopping_ && it->first >= deadline_) break;  // cannot be posted before the deadline
      cv_.wait_until(lock, it->first);
      continue;
    }
    Entry e = std::move(it->second);
    queue_.erase(it);
    lock.unlock();

    if (e.attempts == 0) e.first_attempt = Clock::now();
    ++e.attempts;
    const auto outcome = post(e.job, [this] {
      std::lock_guard l(mutex_);
      return stopping_ && Clock::now() >= deadline_;
    });
    std::optional<Clock::time_point> again;
    if (outcome.status >= 200 && outcome.status < 300) {
      log(e, outcome, "accepted", {});
    } else if (!retryable(outcome.status)) {
      lg->warn("acknowledgement {} refused by the hub with status {}", e.job.ack_id, outcome.status);
      log(e, outcome, "rejected", {});
    } else {
      // 0.5 s, 1 s, 2 s, ... 16 s; a Retry-After from the hub wins when longer.
      std::chrono::milliseconds wait(500LL << std::min(e.attempts - 1, 5));
      if (outcome.retry_after) {
        wait = std::max<std::chrono::milliseconds>(wait, std::min<std::chrono::milliseconds>(*outcome.retry_after,
                                                                                             std::chrono::seconds(30)));
      }
      const auto at = Clock::now() + wait;
      if (at - e.first_attempt > settings_.give_up_after) {
        lg->warn("acknowledgement {} not delivered after {} attempts: {}", e.job.ack_id, e.attempts,
                 outcome.error);
        log(e, outcome, "gave_up", {});
      } else {
        log(e, outcome, "retrying", wait);
        again = at;
      }
    }
    lock.lock();
    if (again) queue_.emplace(*again, std::move(e));
  }
  for (const auto& [due, e] : queue_) {
    log(e, PostOutcome{0, "the sink stopped before the acknowledgement was posted", std::nullopt}, "abandoned", {});
  }
  queue_.clear();
}

}  // namespace cjhub::sink
