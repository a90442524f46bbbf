#include "cjhub/client/hub_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <stdexcept>

namespace cjhub::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::optional<HttpsUrl> parse_https_url(std::string_view url) {
  constexpr std::string_view scheme = "https://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of("?# ") != std::string_view::npos) return std::nullopt;
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  HttpsUrl u;
  u.path = std::string(path);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  if (port.empty()) {
    u.port = "443";
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
    u.port = std::string(port);
  }
  return u;
}

std::string Answer::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

struct HubClient::Impl {
  HttpsUrl url;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;  // the open connection, if any
  beast::flat_buffer buffer;

  asio::awaitable<void> connect(std::string& stage) {
    stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, tls);
    buffer.clear();
    stage = "resolve";
    tcp::resolver resolver(ioc);
    const auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
    stage = "connect";
    beast::get_lowest_layer(*stream).expires_after(timeout);
    co_await beast::get_lowest_layer(*stream).async_connect(endpoints, asio::use_awaitable);
    beast::get_lowest_layer(*stream).socket().set_option(tcp::no_delay(true));
    stage = "tls";
    boost::system::error_code ec;
    asio::ip::make_address(url.host, ec);
    if (ec) SSL_set_tlsext_host_name(stream->native_handle(), url.host.c_str());  // SNI: names only
    stream->set_verify_callback(ssl::host_name_verification(url.host));
    co_await stream->async_handshake(ssl::stream_base::client, asio::use_awaitable);
  }

  asio::awaitable<void> exchange(http::request<http::string_body>& req, Answer& out, std::string& stage) {
    if (!stream) co_await connect(stage);
    stage = "write";
    beast::get_lowest_layer(*stream).expires_after(timeout);
    co_await http::async_write(*stream, req, asio::use_awaitable);
    stage = "read";
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 << 20);
    co_await http::async_read(*stream, buffer, parser, asio::use_awaitable);
    auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(res.body());
    if (!res.keep_alive()) stream.reset();
  }
};

HubClient::HubClient(const std::string& hub_url, const Credentials& creds, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  auto url = parse_https_url(hub_url);
  if (!url) throw std::runtime_error("not an https://host[:port] URL: " + hub_url);
  impl_->url = *url;
  impl_->timeout = timeout;
  auto& ctx = impl_->tls;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  auto load = [&](const char* what, const std::filesystem::path& file, auto&& f) {
    try {
      f();
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(std::string(what) + " " + file.string() + ": " + e.what());
    }
  };
  load("CA bundle", creds.ca, [&] { ctx.load_verify_file(creds.ca.string()); });
  load("client certificate", creds.cert, [&] { ctx.use_certificate_chain_file(creds.cert.string()); });
  load("client key", creds.key, [&] { ctx.use_private_key_file(creds.key.string(), ssl::context::pem); });
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw std::runtime_error("the client key " + creds.key.string() + " does not match " + creds.cert.string());
  }
  ctx.set_verify_mode(ssl::verify_peer);
}

HubClient::~HubClient() = default;

Answer HubClient::request(std::string_view method, const std::string& target, const std::string& body,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const std::function<bool()>& abandon) {
  auto& d = *impl_;
  http::request<http::string_body> req{http::string_to_verb(method), d.url.path + target, 11};
  const bool v6 = d.url.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + d.url.host + "]" : d.url.host) + ":" + d.url.port);
  req.set(http::field::user_agent, "cjhub-submit");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") {
    req.body() = body;
    req.prepare_payload();
  }
  // A kept-alive connection the hub has meanwhile closed fails at once: then once more, anew.
  for (int round = 0; round < 2; ++round) {
    const bool reused = d.stream != nullptr;
    Answer out;
    std::string stage;
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(d.ioc, d.exchange(req, out, stage), [&](std::exception_ptr e) {
      failure = e;
      done = true;
    });
    d.ioc.restart();
    if (!abandon) {
      d.ioc.run();
    } else {
      while (!done) {
        d.ioc.run_for(std::chrono::milliseconds(50));
        if (!done && abandon()) {
          // Closing the socket ends the exchange's pending operation with an error; the stream
          // is dropped once the exchange has returned.
          if (d.stream) {
            boost::system::error_code ignored;
            beast::get_lowest_layer(*d.stream).socket().close(ignored);
          }
          d.ioc.restart();
          d.ioc.run();
          d.stream.reset();
          Answer gone;
          gone.error = stage + ": abandoned";
          return gone;
        }
      }
    }
    if (!failure) return out;
    d.stream.reset();
    try {
      std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
      out.error = stage + ": " + e.code().message();
    } catch (const std::exception& e) {
      out.error = stage + ": " + e.what();
    }
    // A connection kept alive since the last request may have been closed by the hub meanwhile:
    // then the request goes once more, on a new one. Every request this client sends may be
    // repeated (a POST carries its idempotency key).
    if (!reused || round == 1) {
      out.status = 0;
      return out;
    }
  }
  return {};
}

}  // namespace cjhub::client
