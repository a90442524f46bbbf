// libFuzzer target: HTTP framing. Any bytes, as what a client with Hartford PD's certificate
// writes on a connection, through Beast's request parser with the listener's header and body
// limits, the listener's framing rules (ingress/framing.hpp) and, for each complete request, the
// handlers with an in-memory outbox: up to eight pipelined requests per input, as a keep-alive
// connection reads them. Every refusal must be a documented 4xx, every request handled must be
// answered exactly once and never with 500, and nothing may crash, hang or leak.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>

#include "cjhub/api/handlers.hpp"
#include "cjhub/ingress/framing.hpp"
#include "fuzz_common.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

class AcceptingQueue final : public cjhub::outbox::IngestQueue {
 public:
  void submit(cjhub::store::NewMessage msg, cjhub::outbox::Completion done) override {
    cjhub::outbox::Result r;
    r.outcome = cjhub::outbox::Outcome::stored;
    r.stored = {cjhub::store::InsertStatus::inserted, msg.id.str(), msg.type, "2026-11-21T00:00:00.000000Z"};
    done(std::move(r));
  }
};

class NoMessages final : public cjhub::api::MessageReader {
 public:
  void find(const cjhub::Uuid&, std::function<void(std::optional<cjhub::api::MessageView>)> done,
            std::function<void(std::exception_ptr)>) override {
    done(std::nullopt);
  }
};

void refused(const cjhub::ingress::FramingRefusal& r) {
  const auto status = cjhub::api::info(r.problem).status;
  if (status < 400 || status > 499) __builtin_trap();  // framing refusals are the client's fault
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& w = cjhub::fuzz::world();
  static AcceptingQueue queue;
  static NoMessages reader;
  static cjhub::api::Handlers handlers([&] {
    cjhub::api::HandlerDeps d;
    d.config = &w.config;
    d.directory = &w.directory;
    d.schemas = w.schemas.get();
    d.ingest = &queue;
    d.reader = &reader;
    return d;
  }());
  const auto& limits = w.config.limits;
  const std::uint64_t max_body = std::min<std::uint64_t>(limits.max_body_bytes, 1u << 20);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 8 && !in.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(max_body);
    beast::error_code ec;
    // The head first (as async_read_header does), then the body.
    while (!in.empty() && !parser.is_header_done()) {
      const auto used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
      in.remove_prefix(used);
      if (ec == http::error::need_more) {
        ec = {};
        if (used == 0) break;
        continue;
      }
      if (ec) break;
    }
    if (ec) {
      if (auto r = cjhub::ingress::refusal_for_read_error(ec, max_body)) refused(*r);
      return 0;  // the session answers and closes
    }
    if (!parser.is_header_done()) return 0;  // the client stopped mid-header: a timeout closes it
    if (auto r = cjhub::ingress::check_head(parser, max_body)) {
      refused(*r);
      return 0;
    }
    while (!in.empty() && !parser.is_done()) {
      const auto used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
      in.remove_prefix(used);
      if (ec == http::error::need_more) {
        ec = {};
        if (used == 0) break;
        continue;
      }
      if (ec) break;
    }
    if (!parser.is_done() && !ec) parser.put_eof(ec);
    if (ec) {
      if (auto r = cjhub::ingress::refusal_for_read_error(ec, max_body)) refused(*r);
      return 0;
    }
    auto req = cjhub::ingress::to_request(parser.release());
    req.peer = {{"urn:cjhub:ori:CT0064000"}, "CN=Hartford", std::string(64, 'a'), true};
    req.remote = "127.0.0.1:1";
    req.received_at = cjhub::now_utc();
    int answers = 0;
    unsigned status = 0;
    handlers.handle(std::move(req), [&](cjhub::api::Response r) {
      ++answers;
      status = r.status;
    });
    if (answers != 1) __builtin_trap();
    if (status < 200 || status > 599 || status == 500) __builtin_trap();
  }
  return 0;
}
