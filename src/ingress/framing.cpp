#include "cjhub/ingress/framing.hpp"

#include <fmt/format.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include "cjhub/common/ids.hpp"

namespace cjhub::ingress {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::optional<FramingRefusal> refusal_for_read_error(beast::error_code ec, std::uint64_t max_body_bytes) {
  if (!ec) return std::nullopt;
  if (ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated || ec == beast::error::timeout ||
      ec == asio::error::operation_aborted) {
    return std::nullopt;
  }
  if (ec == http::error::header_limit) return FramingRefusal{api::Problem::header_too_large, "request header too large"};
  if (ec == http::error::body_limit) {
    // Beast checks Content-Length against the body limit while parsing the header.
    return FramingRefusal{api::Problem::payload_too_large,
                          fmt::format("the body exceeds the limit of {} bytes", max_body_bytes)};
  }
  return FramingRefusal{api::Problem::bad_request, "malformed HTTP request: " + ec.message()};
}

std::optional<FramingRefusal> check_head(const http::request_parser<http::string_body>& parser,
                                         std::uint64_t max_body_bytes) {
  const auto& req = parser.get();
  const bool has_te = req.find(http::field::transfer_encoding) != req.end();
  const bool has_cl = req.find(http::field::content_length) != req.end();
  if (has_te && has_cl) {
    return FramingRefusal{api::Problem::bad_request, "both Transfer-Encoding and Content-Length were sent"};
  }
  if (has_te) return FramingRefusal{api::Problem::length_required, "chunked bodies are not accepted; send Content-Length"};
  if (has_cl) {
    // Exactly one Content-Length of digits only: no "+4", no "4, 4" list (which RFC 9110 lets a
    // server merge, and which an intermediary may read otherwise).
    if (req.count(http::field::content_length) != 1) {
      return FramingRefusal{api::Problem::bad_request, "more than one Content-Length field"};
    }
    const auto v = req[http::field::content_length];
    if (v.empty() || v.find_first_not_of("0123456789") != boost::beast::string_view::npos) {
      return FramingRefusal{api::Problem::bad_request, "Content-Length must be a number of bytes, digits only"};
    }
  }
  const bool wants_body = req.method() == http::verb::post || req.method() == http::verb::put ||
                          req.method() == http::verb::patch;
  if (wants_body && !has_cl) return FramingRefusal{api::Problem::length_required, "Content-Length is required"};
  if (const auto len = parser.content_length(); len && *len > max_body_bytes) {
    return FramingRefusal{api::Problem::payload_too_large,
                          fmt::format("body of {} bytes exceeds the limit of {} bytes", *len, max_body_bytes)};
  }
  return std::nullopt;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string request_id_for(std::string_view client_value) {
  return valid_request_id(client_value) ? std::string(client_value) : Uuid::v7().str();
}

api::Request to_request(http::request<http::string_body>&& msg) {
  api::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.content_type = std::string(msg[http::field::content_type]);
  req.idempotency_key = std::string(msg["Idempotency-Key"]);
  req.headers.reserve(16);
  for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  req.body = std::move(msg.body());
  return req;
}

}  // namespace cjhub::ingress
