// libFuzzer target: the request handlers. The input chooses the method, the certificate (none,
// an agency, an operator), the media type, the target and the body; the handlers answer through
// an in-memory outbox that accepts everything. Every request must be answered exactly once, with
// a status the API documents, never 500 (the outbox here cannot fail, so a 500 is the hub's own
// bug), and nothing may crash or leak.
#include <cstddef>
#include <cstdint>

#include "cjhub/api/handlers.hpp"
#include "fuzz_common.hpp"

namespace {

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
  if (size < 3) return 0;
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
  static const char* kTypes[] = {"application/xml", "text/xml; charset=utf-8", "application/niem+xml",
                                 "text/plain", "", "application/json"};
  cjhub::api::Request req;
  req.method = kMethods[data[0] % 6];
  req.content_type = kTypes[data[1] % 6];
  switch (data[2] % 3) {
    case 0: break;  // no certificate
    case 1: req.peer = {{"urn:cjhub:ori:CT0064000"}, "CN=Hartford", std::string(64, 'a'), true}; break;
    default: req.peer = {{"urn:cjhub:operator:ops1"}, "CN=Operations", std::string(64, 'b'), true}; break;
  }
  const std::string rest(reinterpret_cast<const char*>(data + 3), size - 3);
  const auto nl = rest.find('\n');
  req.target = nl == std::string::npos ? rest.substr(0, 64) : rest.substr(0, std::min<std::size_t>(nl, 512));
  if (req.target.empty() || req.target[0] != '/') req.target = "/" + req.target;
  req.body = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
  req.remote = "127.0.0.1:1";
  req.received_at = cjhub::now_utc();
  int answers = 0;
  unsigned status = 0;
  handlers.handle(std::move(req), [&](cjhub::api::Response r) {
    ++answers;
    status = r.status;
  });
  if (answers != 1) __builtin_trap();  // every request is answered, once, synchronously here
  if (status < 200 || status > 599) __builtin_trap();
  if (status == 500) __builtin_trap();  // the in-memory outbox never fails: a 500 is the hub's bug
  return 0;
}
