// Outbound HTTPS client pool (see include/cjhub/delivery/http_client.hpp).
//
// Structure:
//  - Impl (shared): the TLS context, the pool of idle connections per origin (host, port) behind
//    a mutex, the counters. Every exchange in flight holds a shared_ptr to it, so destroying the
//    HttpClientPool while requests are outstanding is safe: they complete normally (their
//    connection is then closed instead of pooled) and `done` is still called.
//  - Connection: one beast::ssl_stream<beast::tcp_stream> on its own strand. Only one exchange
//    uses a connection at a time; every operation on it runs on its strand.
//  - Exchange: one send(): resolve (the Resolver, within its own deadline), then connect +
//    handshake (connect_timeout), write + read the whole response (timeout), completion. A reused keep-alive connection that the peer had closed
//    (error on write, or on the read before any response byte) is retried once on a new one.
//
// Shutdown: the owner should stop the io_context only after the outstanding sends have completed
// (their callbacks fired). Stopping/destroying the io_context earlier is memory-safe, but the
// callbacks of the unfinished sends are then destroyed without being called.
#include "cjhub/delivery/http_client.hpp"

#include "cjhub/common/crypto.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "cjhub/common/log.hpp"

namespace cjhub::delivery {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

const char* to_string(TransportError e) noexcept {
  switch (e) {
    case TransportError::none:
      return "none";
    case TransportError::bad_url:
      return "bad_url";
    case TransportError::resolve:
      return "resolve";
    case TransportError::connect:
      return "connect";
    case TransportError::tls:
      return "tls";
    case TransportError::timeout:
      return "timeout";
    case TransportError::io:
      return "io";
    case TransportError::response_too_large:
      return "response_too_large";
  }
  return "unknown";
}

namespace {

// TLS 1.2 suites: ECDHE key exchange with AEAD only. TLS 1.3 suites are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Idle connections kept per origin: the highest concurrency seen, but never more than this.
constexpr std::size_t kMaxIdlePerOrigin = 256;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != lower(prefix[i])) return false;
  }
  return true;
}

struct Url {
  std::string host;  // lower case; IPv6 without brackets
  std::uint16_t port = 443;
  std::string target = "/";  // path and query
  bool ip_literal = false;
  std::string host_header;  // Host header value (brackets for IPv6, port if not 443)
};

// https://host[:port][/path][?query][#fragment]; no user info.
std::optional<Url> parse_url(std::string_view s, std::string& why) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      why = "URL contains a space or a control character";
      return std::nullopt;
    }
  }
  constexpr std::string_view kScheme = "https://";
  if (!iequals_prefix(s, kScheme)) {
    why = "URL scheme must be https";
    return std::nullopt;
  }
  s.remove_prefix(kScheme.size());
  const auto end_auth = s.find_first_of("/?#");
  std::string_view authority = s.substr(0, end_auth);
  std::string_view rest =
      end_auth == std::string_view::npos ? std::string_view{} : s.substr(end_auth);
  if (authority.find('@') != std::string_view::npos) {
    why = "URL must not contain user information";
    return std::nullopt;
  }
  Url u;
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "URL has an unterminated IPv6 literal";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        why = "URL has garbage after the IPv6 literal";
        return std::nullopt;
      }
      has_port = true;
      port = after.substr(1);
    }
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address_v6(std::string(host), ec);
    if (ec) {
      why = "URL has an invalid IPv6 literal";
      return std::nullopt;
    }
    u.ip_literal = true;
    u.host = addr.to_string();
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    for (const char c : host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
        why = "URL host contains an invalid character";
        return std::nullopt;
      }
    }
    u.host.reserve(host.size());
    for (const char c : host) u.host.push_back(lower(c));
    boost::system::error_code ec;
    asio::ip::make_address_v4(u.host, ec);
    u.ip_literal = !ec;
  }
  if (u.host.empty()) {
    why = "URL has no host";
    return std::nullopt;
  }
  if (has_port) {
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || value == 0 ||
        value > 65535) {
      why = "URL has an invalid port";
      return std::nullopt;
    }
    u.port = static_cast<std::uint16_t>(value);
  }
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  if (rest.empty()) {
    u.target = "/";
  } else if (rest.front() == '?') {
    u.target = "/" + std::string(rest);
  } else {
    u.target = std::string(rest);
  }
  const bool v6 = u.host.find(':') != std::string::npos;
  u.host_header = v6 ? "[" + u.host + "]" : u.host;
  if (u.port != 443) u.host_header += ":" + std::to_string(u.port);
  return u;
}

bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header(const std::string& name, const std::string& value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return false;
  return std::none_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\r' || u == '\n' || u == 0 || u == 0x7f;
  });
}

// Header fields the pool controls itself (framing and connection management).
bool reserved_header(std::string_view name) {
  for (const std::string_view r : {"host", "content-length", "transfer-encoding", "connection",
                                   "keep-alive", "te", "upgrade", "trailer"}) {
    if (name.size() == r.size() && iequals_prefix(name, r)) return true;
  }
  return false;
}

// --- Retry-After -----------------------------------------------------------------------------

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  bool lit(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void spaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  std::string_view alpha() {
    const auto b = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return s_.substr(b, i_ - b);
  }
  // Between min and max digits.
  std::optional<int> num(std::size_t min, std::size_t max) {
    const auto b = i_;
    int v = 0;
    while (i_ < s_.size() && i_ - b < max && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      v = v * 10 + (s_[i_] - '0');
      ++i_;
    }
    if (i_ - b < min) return std::nullopt;
    return v;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::optional<unsigned> month_of(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (m.size() != 3) return std::nullopt;
  for (unsigned i = 0; i < 12; ++i) {
    if (iequals_prefix(m, kMonths[i])) return i + 1;
  }
  return std::nullopt;
}

std::optional<std::chrono::sys_seconds> make_time(int y, unsigned mo, int d, int h, int mi,
                                                  int sec) {
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{mo}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec};
}

// HTTP-date (RFC 9110 5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
  Cursor c(s);
  if (c.alpha().size() < 3) return std::nullopt;  // day name
  int day = 0;
  std::optional<unsigned> mon;
  int year = 0;
  auto time_of_day = [&c](int& h, int& m, int& sec) {
    const auto hh = c.num(2, 2);
    if (!hh || !c.lit(':')) return false;
    const auto mm = c.num(2, 2);
    if (!mm || !c.lit(':')) return false;
    const auto ss = c.num(2, 2);
    if (!ss) return false;
    h = *hh;
    m = *mm;
    sec = *ss;
    return true;
  };
  int h = 0, mi = 0, sec = 0;
  if (c.lit(',')) {
    // "Sun, 06 Nov 1994 08:49:37 GMT" or "Sunday, 06-Nov-94 08:49:37 GMT"
    c.spaces();
    const auto d = c.num(1, 2);
    if (!d) return std::nullopt;
    day = *d;
    const bool dashes = c.lit('-');
    if (!dashes && !c.lit(' ')) return std::nullopt;
    mon = month_of(c.alpha());
    if (!mon || !(dashes ? c.lit('-') : c.lit(' '))) return std::nullopt;
    const auto y = c.num(2, 4);
    if (!y) return std::nullopt;
    year = *y;
    if (year < 100) year += year < 70 ? 2000 : 1900;
    c.spaces();
    if (!time_of_day(h, mi, sec)) return std::nullopt;
    c.spaces();
    if (c.alpha() != "GMT") return std::nullopt;
  } else {
    // "Sun Nov  6 08:49:37 1994"
    c.spaces();
    mon = month_of(c.alpha());
    if (!mon) return std::nullopt;
    c.spaces();
    const auto d = c.num(1, 2);
    if (!d) return std::nullopt;
    day = *d;
    c.spaces();
    if (!time_of_day(h, mi, sec)) return std::nullopt;
    c.spaces();
    const auto y = c.num(4, 4);
    if (!y) return std::nullopt;
    year = *y;
  }
  c.spaces();
  if (!c.done()) return std::nullopt;
  return make_time(year, *mon, day, h, mi, sec);
}

// Retry-After: delta-seconds or an HTTP-date (converted to seconds from now, at least 0).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  constexpr std::uint64_t kMaxSeconds = 10ULL * 365 * 24 * 3600;  // ten years: "much later"
  if (std::all_of(v.begin(), v.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec == std::errc::result_out_of_range || n > kMaxSeconds) n = kMaxSeconds;
    return std::chrono::seconds(static_cast<std::int64_t>(n));
  }
  const auto when = parse_http_date(v);
  if (!when) return std::nullopt;
  const auto now = std::chrono::system_clock::now();
  const auto delta = std::chrono::ceil<std::chrono::seconds>(*when - now);
  return std::clamp(delta, std::chrono::seconds(0), std::chrono::seconds(kMaxSeconds));
}

bool is_ssl_error(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() && ec != ssl::error::stream_truncated;
}

// A reused keep-alive connection the peer closed meanwhile fails like this on the write or on
// the read of the first byte of the response.
bool peer_closed(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == ssl::error::stream_truncated || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected;
}

}  // namespace

struct HttpClientPool::Impl : std::enable_shared_from_this<HttpClientPool::Impl> {
  using Key = std::pair<std::string, std::uint16_t>;

  struct Connection {
    Connection(const asio::any_io_executor& ex, std::shared_ptr<ssl::context> c, Key k)
        : ctx(std::move(c)),
          stream(ex, *ctx),
          idle_timer(ex),
          key(std::move(k)),
          name(key.first.find(':') != std::string::npos
                   ? fmt::format("[{}]:{}", key.first, key.second)
                   : fmt::format("{}:{}", key.first, key.second)) {}
    void close() {
      idle_timer.cancel();
      beast::get_lowest_layer(stream).close();
    }
    std::shared_ptr<ssl::context> ctx;  // outlives the stream
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    asio::steady_timer idle_timer;
    const Key key;
    const std::string name;             // host:port, for logs
    std::uint64_t idle_generation = 0;  // on the strand: bumped each time the connection goes idle
  };

  struct Origin {
    std::vector<std::shared_ptr<Connection>> idle;  // LIFO: back() is the most recently used
    std::size_t in_flight = 0;
    std::size_t max_in_flight = 0;
  };

  struct Exchange : std::enable_shared_from_this<Exchange> {
    std::shared_ptr<Impl> impl;
    Url url;
    Key key;
    http::request<http::string_body> request;
    std::chrono::milliseconds connect_timeout{};
    std::chrono::milliseconds timeout{};
    std::function<void(OutboundResult)> done;
    Clock::time_point started;
    Clock::time_point connect_deadline;

    // On the current connection's strand:
    std::shared_ptr<Connection> conn;
    bool reused = false;
    bool retried = false;
    bool finished = false;
    bool resolving = false;
    bool interim_seen = false;  // a 1xx response was read (response bytes received)
    std::optional<http::response_parser<http::string_body>> parser;

    std::string origin_name() const {
      return url.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", url.host, url.port)
                                                     : fmt::format("{}:{}", url.host, url.port);
    }

    void start() {
      std::shared_ptr<Connection> c;
      {
        std::lock_guard lock(impl->mutex);
        auto& o = impl->origins[key];
        ++o.in_flight;
        o.max_in_flight = std::max(o.max_in_flight, o.in_flight);
        if (!o.idle.empty()) {
          c = std::move(o.idle.back());
          o.idle.pop_back();
        }
      }
      if (!c) return open();
      reused = true;
      impl->reused.fetch_add(1, std::memory_order_relaxed);
      asio::post(c->stream.get_executor(), [self = shared_from_this(), c] {
        self->conn = c;
        c->idle_timer.cancel();
        self->write_request();
      });
    }

    void open() {
      auto c = std::make_shared<Connection>(asio::make_strand(impl->ioc), impl->context(), key);
      asio::post(c->stream.get_executor(), [self = shared_from_this(), c] {
        self->conn = c;
        self->resolve();
      });
    }

    void resolve() {
      connect_deadline = Clock::now() + connect_timeout;
      SSL* handle = conn->stream.native_handle();
      // SNI carries host names only (RFC 6066), never address literals.
      if (!url.ip_literal && SSL_set_tlsext_host_name(handle, url.host.c_str()) != 1) {
        return fail(TransportError::tls, "cannot set SNI: " + openssl_error());
      }
      // The peer certificate must match the host name (or the IP address) of the URL.
      X509_VERIFY_PARAM* param = SSL_get0_param(handle);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int ok = url.ip_literal
                         ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
      if (ok != 1)
        return fail(TransportError::tls, "cannot set the expected peer name: " + openssl_error());

      if (url.ip_literal) {
        const tcp::endpoint ep(asio::ip::make_address(url.host), url.port);
        auto& layer = beast::get_lowest_layer(conn->stream);
        layer.expires_at(connect_deadline);
        layer.async_connect(
            ep, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
        return;
      }
      // The resolver answers within its own deadline (and never queues one name behind
      // another's slow DNS). The connect deadline starts once the address is known: time spent
      // waiting for DNS is not the endpoint's.
      resolving = true;
      auto ex = conn->stream.get_executor();
      impl->resolver->resolve(url.host, url.port, [self = shared_from_this(), ex](ResolveResult r) mutable {
        asio::post(ex, [self = std::move(self), r = std::move(r)]() mutable { self->on_resolve(std::move(r)); });
      });
    }

    void on_resolve(ResolveResult r) {
      if (!resolving || finished) return;
      resolving = false;
      if (!r.error.empty()) return fail(TransportError::resolve, "cannot resolve " + url.host + ": " + r.error);
      connect_deadline = Clock::now() + connect_timeout;
      auto& layer = beast::get_lowest_layer(conn->stream);
      layer.expires_at(connect_deadline);
      layer.async_connect(r.endpoints,
                          [self = shared_from_this()](beast::error_code cec, const tcp::endpoint&) {
                            self->on_connect(cec);
                          });
    }

    void on_connect(beast::error_code ec) {
      if (ec == beast::error::timeout)
        return fail(TransportError::timeout, "TCP connect timed out");
      if (ec) return fail(TransportError::connect, "TCP connect failed: " + ec.message());
      // A delivery and its answer are small: no Nagle delay behind the receiver's delayed ACK.
      beast::error_code nodelay_ec;
      beast::get_lowest_layer(conn->stream).socket().set_option(asio::ip::tcp::no_delay(true), nodelay_ec);
      beast::get_lowest_layer(conn->stream).expires_at(connect_deadline);
      conn->stream.async_handshake(
          ssl::stream_base::client,
          [self = shared_from_this()](beast::error_code hec) { self->on_handshake(hec); });
    }

    void on_handshake(beast::error_code ec) {
      if (ec == beast::error::timeout)
        return fail(TransportError::timeout, "TLS handshake timed out");
      if (ec) {
        std::string detail = "TLS handshake failed: " + ec.message();
        const long verify = SSL_get_verify_result(conn->stream.native_handle());
        if (verify != X509_V_OK) {
          detail +=
              std::string(" (server certificate: ") + X509_verify_cert_error_string(verify) + ")";
        }
        return fail(TransportError::tls, detail);
      }
      impl->opened.fetch_add(1, std::memory_order_relaxed);
      write_request();
    }

    void write_request() {
      beast::get_lowest_layer(conn->stream).expires_after(timeout);
      http::async_write(
          conn->stream, request,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(beast::error_code ec) {
      if (ec) {
        if (reused && !retried && peer_closed(ec)) return retry(ec);
        if (ec == beast::error::timeout)
          return fail(TransportError::timeout, "writing the request timed out");
        if (is_ssl_error(ec))
          return fail(TransportError::tls, "writing the request failed: " + ec.message());
        return fail(TransportError::io, "writing the request failed: " + ec.message());
      }
      read_response();
    }

    void read_response() {
      parser.emplace();
      parser->header_limit(kMaxResponseHeaderBytes);
      parser->body_limit(impl->max_response_bytes);
      http::async_read(conn->stream, conn->buffer, *parser,
                       [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                         self->on_read(ec, n);
                       });
    }

    void on_read(beast::error_code ec, std::size_t consumed) {
      if (ec) {
        const bool nothing_received = consumed == 0 && conn->buffer.size() == 0 && !interim_seen;
        if (reused && !retried && nothing_received && peer_closed(ec)) return retry(ec);
        if (ec == beast::error::timeout)
          return fail(TransportError::timeout, "reading the response timed out");
        if (ec == http::error::body_limit || ec == http::error::header_limit) {
          return fail(
              TransportError::response_too_large,
              fmt::format("the response exceeds the limit of {} bytes", impl->max_response_bytes));
        }
        if (is_ssl_error(ec))
          return fail(TransportError::tls, "reading the response failed: " + ec.message());
        return fail(TransportError::io, "reading the response failed: " + ec.message());
      }
      auto& res = parser->get();
      if (res.result_int() >= 100 && res.result_int() < 200 &&
          res.result() != http::status::switching_protocols) {
        interim_seen = true;  // 100 Continue, 103 Early Hints: the final response follows
        return read_response();
      }
      OutboundResult r;
      r.status = res.result_int();
      r.content_type = std::string(res[http::field::content_type]);
      if (const auto it = res.find(http::field::retry_after); it != res.end()) {
        r.retry_after = parse_retry_after(it->value());
      }
      // Bytes after the response would be an unsolicited (or pipelined) answer: do not reuse.
      const bool keep = parser->keep_alive() && conn->buffer.size() == 0;
      r.body = std::move(res.body());
      complete(std::move(r), keep);
    }

    void retry(const beast::error_code& ec) {
      impl->log->debug(
          "reused connection to {} was closed by the peer ({}); retrying on a new connection",
          conn->name, ec.message());
      conn->close();
      conn.reset();
      retried = true;
      reused = false;
      parser.reset();
      open();
    }

    void fail(TransportError e, std::string detail) {
      impl->log->debug("request to {} failed: {}: {}", origin_name(), to_string(e), detail);
      OutboundResult r;
      r.error = e;
      r.error_detail = std::move(detail);
      complete(std::move(r), false);
    }

    void complete(OutboundResult r, bool keep) {
      if (finished) return;
      finished = true;
      resolving = false;
      r.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
      if (r.error != TransportError::none)
        impl->transport_errors.fetch_add(1, std::memory_order_relaxed);
      auto c = std::move(conn);
      parser.reset();
      bool pooled = false;
      {
        std::lock_guard lock(impl->mutex);
        auto& o = impl->origins[key];
        --o.in_flight;
        const auto cap = std::min(std::max<std::size_t>(o.max_in_flight, 1), kMaxIdlePerOrigin);
        if (c && keep && !impl->closing.load() && o.idle.size() < cap) {
          ++c->idle_generation;  // on c's strand: we are in its handler
          o.idle.push_back(c);
          pooled = true;
        }
      }
      // Still on c's strand: whoever takes c from the pool posts behind this handler.
      if (pooled) {
        impl->arm_idle_timer(c);
      } else if (c) {
        c->close();
      }
      auto d = std::move(done);
      d(std::move(r));
    }
  };

  Impl(asio::io_context& io, const ClientTls& files, std::size_t max_bytes,
       std::chrono::seconds idle, const ResolverOptions& dns)
      : ioc(io),
        tls(make_context(files)),
        resolver(std::make_shared<Resolver>(dns)),
        max_response_bytes(max_bytes),
        idle_timeout(idle),
        log(cjhub::log::get("delivery")) {}

  static std::shared_ptr<ssl::context> make_context(const ClientTls& files) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* raw = ctx->native_handle();
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1) {
      throw std::runtime_error("delivery TLS: cannot set the minimum TLS version: " +
                               openssl_error());
    }
    if (SSL_CTX_set_cipher_list(raw, kTls12Ciphers) != 1) {
      throw std::runtime_error("delivery TLS: cipher list rejected: " + openssl_error());
    }
    if (SSL_CTX_use_certificate_chain_file(raw, files.client_cert.c_str()) != 1) {
      throw std::runtime_error(
          fmt::format("delivery TLS: cannot load the client certificate {}: {}",
                      files.client_cert.string(), openssl_error()));
    }
    require_private_key_file(files.client_key.string(), "delivery TLS: the client key");
    if (SSL_CTX_use_PrivateKey_file(raw, files.client_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error(fmt::format("delivery TLS: cannot load the client key {}: {}",
                                           files.client_key.string(), openssl_error()));
    }
    if (SSL_CTX_check_private_key(raw) != 1) {
      throw std::runtime_error(
          fmt::format("delivery TLS: the client key {} does not match the certificate {}",
                      files.client_key.string(), files.client_cert.string()));
    }
    if (SSL_CTX_load_verify_locations(raw, files.ca_bundle.c_str(), nullptr) != 1) {
      throw std::runtime_error(fmt::format("delivery TLS: cannot load the CA bundle {}: {}",
                                           files.ca_bundle.string(), openssl_error()));
    }
    // An endpoint certificate must be fit for TLS server authentication.
    X509_STORE_set_purpose(SSL_CTX_get_cert_store(raw), X509_PURPOSE_SSL_SERVER);
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
  }

  void arm_idle_timer(const std::shared_ptr<Connection>& c) {
    beast::get_lowest_layer(c->stream).expires_never();
    c->idle_timer.expires_after(idle_timeout);
    c->idle_timer.async_wait([weak_impl = weak_from_this(),
                              weak_conn = std::weak_ptr<Connection>(c),
                              generation = c->idle_generation](beast::error_code ec) {
      if (ec) return;
      const auto conn = weak_conn.lock();
      const auto self = weak_impl.lock();
      if (!conn || !self || conn->idle_generation != generation) return;
      bool removed = false;
      {
        std::lock_guard lock(self->mutex);
        if (const auto it = self->origins.find(conn->key); it != self->origins.end()) {
          auto& idle = it->second.idle;
          if (const auto p = std::find(idle.begin(), idle.end(), conn); p != idle.end()) {
            idle.erase(p);
            removed = true;
          }
        }
      }
      if (removed) {
        self->log->debug("closing the idle connection to {}", conn->name);
        conn->close();
      }
    });
  }

  void close_idle() {
    std::vector<std::shared_ptr<Connection>> conns;
    {
      std::lock_guard lock(mutex);
      for (auto& [key, origin] : origins) {
        for (auto& c : origin.idle) conns.push_back(std::move(c));
        origin.idle.clear();
      }
    }
    for (auto& c : conns) {
      asio::post(c->stream.get_executor(), [c] { c->close(); });
    }
  }

  std::shared_ptr<ssl::context> context() {
    std::lock_guard lock(mutex);
    return tls;
  }

  asio::io_context& ioc;
  std::shared_ptr<ssl::context> tls;  // for new connections (guarded by mutex); replaced on reload
  std::shared_ptr<Resolver> resolver;  // host names of every origin, each lookup on its own
  const std::size_t max_response_bytes;
  const std::chrono::seconds idle_timeout;
  const std::shared_ptr<spdlog::logger> log;
  std::atomic<bool> closing{false};
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> reused{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> transport_errors{0};
  std::mutex mutex;
  std::map<Key, Origin> origins;  // guarded by mutex
};

HttpClientPool::HttpClientPool(asio::io_context& ioc, const ClientTls& tls,
                               std::size_t max_response_bytes, std::chrono::seconds idle_timeout,
                               const ResolverOptions& dns)
    : impl_(std::make_shared<Impl>(ioc, tls, max_response_bytes, idle_timeout, dns)) {
  impl_->resolver->start();
}

void HttpClientPool::reload_tls(const ClientTls& files) {
  auto fresh = Impl::make_context(files);  // throws, naming the file; the current one stays
  {
    std::lock_guard lock(impl_->mutex);
    impl_->tls = std::move(fresh);
  }
  impl_->close_idle();  // pooled connections made with the old certificate are not reused
}

// Sends still in flight keep the Impl alive and complete normally (their callbacks fire, their
// connections are closed rather than pooled). The owner should stop the io_context only after
// the outstanding sends have completed.
HttpClientPool::~HttpClientPool() {
  impl_->closing = true;
  impl_->close_idle();
  impl_->resolver->stop();  // exchanges still resolving are answered "the resolver stopped"
}

void HttpClientPool::send(OutboundRequest req, std::function<void(OutboundResult)> done) {
  const auto started = Clock::now();
  impl_->requests.fetch_add(1, std::memory_order_relaxed);
  auto reject = [&](std::string detail) {
    impl_->transport_errors.fetch_add(1, std::memory_order_relaxed);
    impl_->log->debug("request refused before sending: {}", detail);
    OutboundResult r;
    r.error = TransportError::bad_url;
    r.error_detail = std::move(detail);
    r.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    asio::post(impl_->ioc, [d = std::move(done), r = std::move(r)]() mutable { d(std::move(r)); });
  };
  std::string why;
  auto url = parse_url(req.url, why);
  if (!url) return reject(std::move(why));
  for (const auto& [name, value] : req.headers) {
    if (!valid_header(name, value)) return reject("invalid request header field");
  }
  if (!valid_header("Content-Type", req.content_type)) return reject("invalid content type");
  const auto verb = http::string_to_verb(req.method);
  if (verb != http::verb::post && verb != http::verb::options) return reject("unsupported method " + req.method);

  auto x = std::make_shared<Impl::Exchange>();
  x->impl = impl_;
  x->key = {url->host, url->port};
  x->connect_timeout = req.connect_timeout;
  x->timeout = req.timeout;
  x->done = std::move(done);
  x->started = started;
  auto& m = x->request;
  m.method(verb);
  m.target(url->target);
  m.version(11);
  m.set(http::field::host, url->host_header);
  m.set(http::field::user_agent, "cjhub");
  if (verb == http::verb::post) m.set(http::field::content_type, req.content_type);
  for (auto& [name, value] : req.headers) {
    if (reserved_header(name)) continue;
    if (beast::iequals(name, "user-agent") || beast::iequals(name, "content-type")) {
      m.set(name, value);
    } else {
      m.insert(name, value);
    }
  }
  m.set(http::field::connection, "keep-alive");
  m.body() = std::move(req.body);
  m.content_length(m.body().size());
  x->url = std::move(*url);
  x->start();
}

void HttpClientPool::close_idle() { impl_->close_idle(); }

ClientStats HttpClientPool::stats() const {
  ClientStats s;
  s.connections_opened = impl_->opened.load(std::memory_order_relaxed);
  s.connections_reused = impl_->reused.load(std::memory_order_relaxed);
  s.requests = impl_->requests.load(std::memory_order_relaxed);
  s.transport_errors = impl_->transport_errors.load(std::memory_order_relaxed);
  s.dns = impl_->resolver->stats();
  return s;
}

}  // namespace cjhub::delivery
