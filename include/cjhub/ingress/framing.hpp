// The HTTP framing rules of the listener as plain functions (no I/O): what a request head must
// satisfy before its body is read, what a read error answers, and the api::Request built from a
// complete message. The session (server.cpp) applies them on the wire; the fuzz target
// cjhub-fuzz_http applies them to arbitrary bytes.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cjhub/api/http_types.hpp"
#include "cjhub/api/problem.hpp"

namespace cjhub::ingress {

struct FramingRefusal {
  api::Problem problem;
  std::string detail;
};

// What a failed header or body read answers; nullopt when the connection is simply closed (the
// peer went away, the deadline passed, the read was cancelled).
std::optional<FramingRefusal> refusal_for_read_error(boost::beast::error_code ec, std::uint64_t max_body_bytes);

// The rules for a parsed request head: Content-Length only (chunked refused, never both), required
// for methods with a body, and within the body limit.
std::optional<FramingRefusal> check_head(const boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                                         std::uint64_t max_body_bytes);

// Whether a client's X-Request-Id is kept: 1 to 128 characters of [A-Za-z0-9._:-].
bool valid_request_id(std::string_view id);
// The request id of a request: the client's X-Request-Id when it is valid, else a new one (a
// UUIDv7). Answered in every answer's X-Request-Id, logged, and stored with a POSTed message.
std::string request_id_for(std::string_view client_value);

// The handlers' view of a complete message (peer, remote and receive time are the caller's).
api::Request to_request(boost::beast::http::request<boost::beast::http::string_body>&& msg);

}  // namespace cjhub::ingress
