#include "cjhub/ingress/server.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "cjhub/api/problem.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/ingress/framing.hpp"
#include "cjhub/ingress/tls.hpp"

namespace cjhub::ingress {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// State the sessions share with the server; outlives the server object while sessions run.
struct HttpsServer::Shared {
  Shared(config::Limits l, api::RequestHandler& h, ServerStats& s, std::shared_ptr<asio::ssl::context> t)
      : limits(std::move(l)), handlers(h), stats(s), tls(std::move(t)) {}
  const config::Limits limits;
  api::RequestHandler& handlers;
  ServerStats& stats;
  std::shared_ptr<asio::ssl::context> tls;  // for new connections; replaced on reload (under mutex)
  std::atomic<bool> closing{false};
  std::mutex mutex;
  std::set<std::shared_ptr<Session>> sessions;  // open connections (for stop)
  std::map<std::string, std::size_t> handshaking;  // address -> connections still in the handshake
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<HttpsServer::Shared> shared, std::shared_ptr<asio::ssl::context> tls,
          std::string address)
      : tls_(std::move(tls)),
        stream_(std::move(socket), *tls_),
        pace_timer_(stream_.get_executor()),
        shared_(std::move(shared)),
        address_(std::move(address)) {
    beast::error_code ec;
    const auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    remote_ = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  // After a reload of the CA bundle and CRL: verifies this connection's client certificate chain
  // again against `store`; if it no longer verifies (revoked, say), the connection ends: at once
  // when idle, else after the answer in progress. Returns through `done` whether it was ended.
  void recheck(std::shared_ptr<asio::ssl::context> fresh, std::function<void(bool)> done) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), fresh = std::move(fresh), done = std::move(done)] {
      if (self->closed_ || !self->peer_.present) return done(false);
      SSL* ssl = self->stream_.native_handle();
      X509* leaf = SSL_get0_peer_certificate(ssl);
      STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);  // server side: without the leaf
      X509_STORE* store = SSL_CTX_get_cert_store(fresh->native_handle());
      X509_STORE_CTX* ctx = X509_STORE_CTX_new();
      bool valid = false;
      int error = X509_V_OK;
      if (ctx != nullptr && leaf != nullptr && X509_STORE_CTX_init(ctx, store, leaf, chain) == 1) {
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
        X509_STORE_CTX_set_depth(ctx, SSL_CTX_get_verify_depth(fresh->native_handle()));
        valid = X509_verify_cert(ctx) == 1;
        error = X509_STORE_CTX_get_error(ctx);
      }
      if (ctx != nullptr) X509_STORE_CTX_free(ctx);
      if (valid) return done(false);
      log::warn(log::get("ingress"), {{"peer", self->remote_}, {"certificate", self->peer_.sha256}},
                "closing the connection from {}: its client certificate no longer verifies ({})", self->remote_,
                X509_verify_cert_error_string(error));
      self->untrusted_ = true;
      self->keep_alive_ = false;
      if (self->idle_) self->interrupt_idle();
      done(true);
    });
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

  // From the server's stop(): close at once if waiting for a new request, else after the answer.
  // Cancelling the pending header read lets its handler close the connection: the TLS shutdown
  // must not run while that read is still outstanding on the same stream.
  void close_when_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_ && !self->closed_) self->interrupt_idle();
    });
  }
  void cancel() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  void handshake() {
    arm(shared_->limits.handshake_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(beast::error_code ec) {
    {
      std::lock_guard lock(shared_->mutex);
      if (auto it = shared_->handshaking.find(address_); it != shared_->handshaking.end() && --it->second == 0) {
        shared_->handshaking.erase(it);
      }
    }
    if (ec) {
      shared_->stats.handshakes_failed.fetch_add(1);
      const long verify = SSL_get_verify_result(stream_.native_handle());
      log::info(log::get("ingress"), {{"peer", remote_}}, "TLS handshake from {} failed: {}{}", remote_, ec.message(),
                verify != X509_V_OK ? std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")"
                                    : std::string());
      return close();
    }
    peer_ = identity::describe(SSL_get0_peer_certificate(stream_.native_handle()));
    read_header();
  }

  // Between two requests: waiting for the next one's head, or pacing (see `next_request`).
  // Cancelling the wait lets its handler close the connection.
  void interrupt_idle() {
    pace_timer_.cancel();
    beast::get_lowest_layer(stream_).cancel();
  }

  // The next request, after the pace the last answer set (a 429's Retry-After): a client over its
  // rate that sends again at once on this connection is read when it was told to come back, so a
  // flood costs the hub one refusal per connection and Retry-After, not one per request.
  void next_request() {
    const auto pace = pace_;
    pace_ = {};
    if (pace.count() <= 0) return read_header();
    idle_ = true;
    pace_timer_.expires_after(pace);
    pace_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->read_header(); });
  }

  void read_header() {
    if (shared_->closing || untrusted_) return close();
    idle_ = true;
    request_id_.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_->limits.max_header_bytes));
    parser_->body_limit(shared_->limits.max_request_bytes);
    arm(requests_ == 0 ? shared_->limits.read_timeout : shared_->limits.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    idle_ = false;
    if (ec) {
      if (auto refusal = refusal_for_read_error(ec, shared_->limits.max_request_bytes)) {
        return fail(refusal->problem, refusal->detail);
      }
      return close();
    }

    auto& req = parser_->get();
    ++requests_;
    shared_->stats.requests.fetch_add(1);
    request_id_ = request_id_for(req["X-Request-Id"]);
    if (auto refusal = check_head(*parser_, shared_->limits.max_request_bytes)) {
      return fail(refusal->problem, refusal->detail);
    }
    // The handlers' say before the body is read (who is calling, within its rate).
    version_ = req.version();
    if (auto early = shared_->handlers.precheck(
            {std::string(req.method_string()), std::string(req.target()), peer_, remote_, request_id_})) {
      // An agency over its rate is counted (metrics) and aggregated (audit), not logged per
      // request: a flood must not flood the log.
      log::write(*log::get("ingress"), early->status == 429 ? spdlog::level::debug : spdlog::level::info,
                 {{"peer", remote_}, {"request_id", request_id_}, {"status", early->status}},
                 "refused request from {} before its body: {}", remote_, early->status);
      // A client over its rate (429) keeps its connection: its body is read and discarded after
      // the answer (a new TLS handshake per refusal would cost the hub more than the body). A
      // client waiting for 100-continue sends no body, so the connection cannot be resynchronised:
      // it is closed, as after every other refusal.
      const bool expects_continue = beast::iequals(req[http::field::expect], "100-continue");
      if (early->status == 429 && !expects_continue && req.keep_alive()) {
        keep_alive_ = true;
        discard_body_ = true;
        return write(std::move(*early));
      }
      early->close = true;
      keep_alive_ = false;
      drain_ = true;
      return write(std::move(*early));
    }
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      // curl and others wait for this before sending a large body.
      continue_.emplace(http::status::continue_, req.version());
      arm(shared_->limits.write_timeout);
      return http::async_write(stream_, *continue_,
                               [self = shared_from_this()](beast::error_code wec, std::size_t) {
                                 self->continue_.reset();
                                 if (wec) return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    arm(shared_->limits.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) return fail(api::Problem::payload_too_large, "body too large");
    if (ec == beast::error::timeout || ec == http::error::partial_message) {
      log::info(log::get("ingress"), {{"peer", remote_}, {"request_id", request_id_}}, "request from {} abandoned: {}",
                remote_, ec.message());
      return close();
    }
    if (ec) return close();
    beast::get_lowest_layer(stream_).expires_never();  // the handler may wait for the store

    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    api::Request req = to_request(std::move(msg));
    req.peer = peer_;
    req.remote = remote_;
    req.received_at = now_utc();
    req.request_id = request_id_;
    shared_->handlers.handle(std::move(req), [self = shared_from_this()](api::Response r) {
      asio::dispatch(self->stream_.get_executor(),
                     [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    });
  }

  void fail(api::Problem p, const std::string& detail) {
    if (request_id_.empty()) request_id_ = request_id_for({});  // refused before its head was read
    log::info(log::get("ingress"), {{"peer", remote_}, {"request_id", request_id_}, {"status", api::info(p).status}},
              "refused request from {}: {} ({})", remote_, api::info(p).slug, detail);
    auto r = api::problem(p, detail);
    r.close = true;
    keep_alive_ = false;
    drain_ = true;  // the rest of the request may still be on its way: let the answer arrive first
    write(std::move(r));
  }

  void write(api::Response r) {
    res_.emplace(static_cast<http::status>(r.status), version_);
    res_->set(http::field::server, "cjhub");
    res_->set(http::field::content_type, r.content_type);
    res_->set(http::field::cache_control, "no-store");
    if (request_id_.empty()) request_id_ = request_id_for({});
    res_->set("X-Request-Id", request_id_);
    for (const auto& [k, v] : r.headers) res_->set(k, v);
    res_->body() = std::move(r.body);
    // A connection ends after its answer once it is old or busy enough: trust (a certificate
    // revoked since, an identity removed) is re-established on a new handshake.
    const bool worn = requests_ >= shared_->limits.max_requests_per_connection ||
                      std::chrono::steady_clock::now() - started_ >= shared_->limits.max_connection_age;
    const bool keep = keep_alive_ && !r.close && !shared_->closing && !worn && !untrusted_;
    res_->keep_alive(keep);
    res_->prepare_payload();
    pace_ = r.pace;
    arm(shared_->limits.write_timeout);
    http::async_write(stream_, *res_, [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
      self->res_.reset();
      if (!ec && self->drain_) return self->close_draining();
      if (!ec && self->discard_body_) {
        self->discard_body_ = false;
        return keep ? self->discard_body() : self->close_draining();
      }
      if (ec || !keep) return self->close();
      self->next_request();
    });
  }

  // The body of a request refused before it was read, read through the parser in chunks and
  // thrown away (within the body limit and the read deadline), so the next request on the
  // connection starts where it should.
  void discard_body() {
    discarding_.emplace(std::move(*parser_));
    parser_.reset();
    drain_buffer_.resize(16384);
    arm(shared_->limits.read_timeout);
    discard_more();
  }
  void discard_more() {
    auto& body = discarding_->get().body();
    body.data = drain_buffer_.data();
    body.size = drain_buffer_.size();
    http::async_read(stream_, buffer_, *discarding_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return self->close();
      if (!self->discarding_->is_done()) return self->discard_more();
      self->discarding_.reset();
      self->next_request();
    });
  }

  // After refusing a request whose head or body may still be arriving (413, 431, a framing
  // error): closing at once with unread bytes makes the kernel send a reset, which can destroy the
  // answer before the client reads it. Close in stages instead: the answer is written; shut down
  // the sending side (the client reads the answer, then end of stream); read and discard what it
  // still sends, up to the body limit and kDrainBytes more, within kDrainTime; then close.
  static constexpr std::size_t kDrainBytes = 8u << 20;
  static constexpr std::chrono::seconds kDrainTime{5};
  void close_draining() {
    if (closed_) return;
    closed_ = true;
    auto& tcp_stream = beast::get_lowest_layer(stream_);
    beast::error_code ignored;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_stream.expires_after(kDrainTime);
    drain_buffer_.resize(16384);
    drain_more();
  }
  void drain_more() {
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          self->drained_ += n;
          if (!ec && self->drained_ < self->shared_->limits.max_request_bytes + kDrainBytes) return self->drain_more();
          beast::error_code ignored;
          beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
          beast::get_lowest_layer(self->stream_).close();
          self->forget();
        });
  }

  // Sets the timeout of the next operation; once closing, the shutdown's own short timeout stays
  // (an answer still being written must not extend it).
  template <class Duration>
  void arm(Duration d) {
    if (!closed_) beast::get_lowest_layer(stream_).expires_after(d);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(self->stream_).close();
      self->forget();
    });
  }

  void forget() {
    shared_->stats.connections_open.fetch_sub(1);
    std::lock_guard lock(shared_->mutex);
    shared_->sessions.erase(shared_from_this());
  }

  std::shared_ptr<asio::ssl::context> tls_;  // the context this connection was accepted with: outlives the stream
  beast::ssl_stream<beast::tcp_stream> stream_;
  asio::steady_timer pace_timer_;          // the wait before the next request's head (next_request)
  std::chrono::milliseconds pace_{0};      // set by the answer being written
  std::shared_ptr<HttpsServer::Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response<http::empty_body>> continue_;
  identity::PeerCertificate peer_;
  std::string remote_;
  std::string request_id_;  // the request being answered (request_id_for); empty between requests
  const std::string address_;  // the peer's IP address (the per-address handshake count)
  unsigned version_ = 11;
  std::uint64_t requests_ = 0;
  bool keep_alive_ = true;
  bool untrusted_ = false;  // its certificate failed a recheck after a reload
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  bool idle_ = false;
  bool closed_ = false;
  bool drain_ = false;         // close in stages after this answer (close_draining)
  bool discard_body_ = false;  // after this answer, read and discard the body, then keep going
  std::optional<http::request_parser<http::buffer_body>> discarding_;
  std::vector<char> drain_buffer_;
  std::size_t drained_ = 0;
};

ServerSettings ServerSettings::from(const config::Config& c) {
  return {c.listener, c.tls, c.limits, c.workers.io_threads, "https-server"};
}

HttpsServer::HttpsServer(ServerSettings settings, api::RequestHandler& handler)
    : settings_(std::move(settings)), handler_(handler), acceptor_(ioc_) {}

HttpsServer::~HttpsServer() { stop(std::chrono::steady_clock::now()); }

void HttpsServer::start() {
  shared_ = std::make_shared<Shared>(settings_.limits, handler_, stats_, make_server_context(settings_.tls));
  const auto address = asio::ip::make_address(settings_.listener.address);
  tcp::endpoint ep(address, settings_.listener.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  do_accept();
  // The I/O threads must outlive moments without pending I/O: while draining, with the acceptor
  // closed and every session waiting for its handler (the store), an answer posted afterwards
  // must still find a thread to run it.
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(ioc_.get_executor());
  for (std::size_t i = 0; i < settings_.io_threads; ++i) {
    threads_.emplace_back([this] {
      name_this_thread("cjhub-https");
      ioc_.run();
    });
  }
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    const auto n = [](const auto& v) { return static_cast<double>(v.load()); };
    const auto& s = stats_;
    out.push_back({"cjhub_connections_open", "Open client connections.", "gauge", "",
                   std::max(0.0, n(s.connections_open))});
    out.push_back({"cjhub_connections_accepted_total", "Client connections accepted.", "counter", "",
                   n(s.connections_accepted)});
    out.push_back({"cjhub_connections_refused_cap_total", "Connections closed at the connection cap.", "counter", "",
                   n(s.connections_refused_cap)});
    out.push_back({"cjhub_connections_refused_handshaking_total",
                   "Connections closed because their address had max_handshakes_per_address handshakes open.",
                   "counter", "", n(s.connections_refused_handshaking)});
    out.push_back({"cjhub_tls_handshakes_failed_total", "TLS handshakes that failed (certificate, protocol).",
                   "counter", "", n(s.handshakes_failed)});
    out.push_back({"cjhub_http_requests_total", "HTTP requests read (every path).", "counter", "", n(s.requests)});
  });
  log::get("ingress")->info("{} listening on {}:{} with {} I/O threads", settings_.name, settings_.listener.address, port_,
                            settings_.io_threads);
}

bool HttpsServer::responsive(std::chrono::milliseconds within) {
  if (threads_.empty()) return true;  // not serving: nothing to hang
  auto ran = std::make_shared<std::promise<void>>();
  auto done = ran->get_future();
  asio::post(ioc_, [ran] { ran->set_value(); });
  return done.wait_for(within) == std::future_status::ready;
}

std::size_t HttpsServer::reload_tls() {
  auto fresh = make_server_context(settings_.tls);  // throws, naming the file, and keeps the old one
  if (!shared_) return 0;
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->tls = fresh;
    open.assign(shared_->sessions.begin(), shared_->sessions.end());
  }
  // Established connections: their certificates are verified again against the new CA bundle
  // and CRL; those that fail are closed.
  auto pending = std::make_shared<std::atomic<std::size_t>>(open.size());
  auto closed = std::make_shared<std::atomic<std::size_t>>(0);
  auto all_done = std::make_shared<std::promise<void>>();
  auto finished = all_done->get_future();
  if (open.empty()) return 0;
  for (auto& s : open) {
    s->recheck(fresh, [pending, closed, all_done](bool ended) {
      if (ended) closed->fetch_add(1);
      if (pending->fetch_sub(1) == 1) all_done->set_value();
    });
  }
  if (finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    log::get("ingress")->warn("reload: not every open connection could be checked within 5 s");
  }
  return closed->load();
}

bool HttpsServer::admit_handshake(const boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec) {
  const auto peer = socket.remote_endpoint(ec);
  const std::string address = ec ? std::string("unknown") : peer.address().to_string();
  std::lock_guard lock(shared_->mutex);
  auto& n = shared_->handshaking[address];
  if (n >= settings_.listener.max_handshakes_per_address) {
    log::info(log::get("ingress"), {{"peer", address}},
              "{} connections from {} are still in the TLS handshake (the cap): closing a new one", n, address);
    return false;
  }
  ++n;
  return true;
}

void HttpsServer::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (stats_.connections_open.load() >= static_cast<std::int64_t>(settings_.listener.max_connections)) {
        stats_.connections_refused_cap.fetch_add(1);
        log::get("ingress")->warn("connection cap ({}) reached: closing a new connection",
                                  settings_.listener.max_connections);
        beast::error_code ignored;
        socket.close(ignored);
      } else if (beast::error_code aec; !admit_handshake(socket, aec)) {
        stats_.connections_refused_handshaking.fetch_add(1);
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        stats_.connections_accepted.fetch_add(1);
        stats_.connections_open.fetch_add(1);
        // Small answers leave at once: without it Nagle's algorithm holds the last segment of an
        // answer until the client's delayed ACK (about 40 ms).
        beast::error_code nodelay_ec;
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        std::shared_ptr<asio::ssl::context> tls;
        {
          std::lock_guard lock(shared_->mutex);
          tls = shared_->tls;
        }
        beast::error_code ep_ec;
        const auto peer = socket.remote_endpoint(ep_ec);
        auto s = std::make_shared<Session>(std::move(socket), shared_, std::move(tls),
                                           ep_ec ? std::string("unknown") : peer.address().to_string());
        {
          std::lock_guard lock(shared_->mutex);
          shared_->sessions.insert(s);
        }
        s->run();
      }
    } else {
      log::get("ingress")->warn("accept failed: {}", ec.message());
    }
    do_accept();
  });
}

void HttpsServer::stop(std::chrono::steady_clock::time_point deadline) {
  if (threads_.empty()) return;
  metrics_.reset();
  auto lg = log::get("ingress");
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  shared_->closing = true;
  auto snapshot = [&] {
    std::lock_guard lock(shared_->mutex);
    return std::vector<std::shared_ptr<Session>>(shared_->sessions.begin(), shared_->sessions.end());
  };
  for (auto& s : snapshot()) s->close_when_idle();
  while (stats_.connections_open.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& s : snapshot()) s->close_when_idle();
  }
  if (stats_.connections_open.load() > 0) {
    lg->warn("{} connection(s) still open at the drain deadline: closing them", stats_.connections_open.load());
    for (auto& s : snapshot()) s->cancel();
    const auto grace = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (stats_.connections_open.load() > 0 && std::chrono::steady_clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard lock(shared_->mutex);
    shared_->sessions.clear();
  }
  lg->info("listener stopped");
}

}  // namespace cjhub::ingress
