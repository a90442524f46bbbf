// The reference receiving endpoint (`cjhub sink`): what an agency runs to receive the hub's
// deliveries, and what the tests and the demo run to simulate agencies, trouble included.
// SinkHandler is plain logic (a Request in, a Response and one JSON log line out); run_sink()
// puts it behind the ingress HttpsServer (mutual TLS) until SIGINT/SIGTERM.
//
// The log (--log, default stdout; appended, flushed after every line, written before the answer
// leaves) has one JSON object per delivery POST:
//   {"t": RFC 3339 UTC with microseconds (receipt), "delivery_id", "message_id", "attempt": int,
//    "message_type", "sender_ori", "case_key": string or null when the header is absent (with
//    --ack-status completed "case_key_sha256", hex, instead: the log never names a case),
//    "ack_required": bool, "sha256": hex of the body, "bytes": int, "status": the HTTP status
//    answered (0 with --hang: never answered), "sink_ori", "request_id": the X-Request-Id the hub
//    sent (the request id of the POST that brought the message), or null when there was none}
// and, with --ack async, one object per attempt to post an acknowledgement:
//   {"t", "event": "ack_posted", "delivery_id", "message_id", "ack_id", "post_attempt": int,
//    "hub_status": int (0 = no HTTP answer), "outcome": accepted | retrying | rejected | gave_up |
//    abandoned, "error" (when not accepted), "retry_in_ms" (when retrying), "sink_ori"}
// GET /healthz and other non-delivery requests are not logged.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cjhub/api/http_types.hpp"
#include "cjhub/common/lifecycle.hpp"
#include "cjhub/common/time.hpp"

namespace cjhub::sink {

class AckPoster;

enum class AckMode { none, sync, async };
const char* to_string(AckMode m) noexcept;
std::optional<AckMode> parse_ack_mode(std::string_view s);

struct SinkOptions {
  // Transport (mutual TLS: a client certificate chained to `ca` is required).
  std::string listen = "127.0.0.1:9441";  // host:port or [v6]:port; port 0 = any free port
  std::filesystem::path cert, key, ca;
  std::optional<std::filesystem::path> crl;
  std::size_t threads = 1;
  // The largest delivery it reads (a larger one gets 413): by default the largest body any message
  // type may be configured to allow.
  std::size_t max_body_bytes = 64u << 20;
  std::string ori;  // this agency's ORI: origin of its acknowledgements, "sink_ori" in the log
  // Deliveries are taken only from a client certificate with one of these SAN URIs (the hub's):
  // any other certificate the CA issued gets 403, so nobody else can make the sink store a
  // message or acknowledge a notice it never received.
  std::vector<std::string> hub_uris{"urn:cjhub:hub"};

  // empty: bodies are not stored; else DIR/<delivery-id>.xml, and DIR/<delivery-id>.case holding
  // the case key (so an erasure can find the case's bodies)
  std::filesystem::path dir;
  std::filesystem::path log_file;    // empty: stdout
  std::filesystem::path ready_file;  // {"port":N,"pid":P} once listening

  // Acknowledgements (for deliveries with Cjhub-Ack-Required: true, or all with ack_all).
  AckMode ack = AckMode::sync;
  bool ack_all = false;
  // received | completed. "completed" promises deletion: before acknowledging a notice that
  // requires it, the sink deletes the stored bodies of its case from --dir, and its log never
  // names a case key in clear (case_key_sha256 instead).
  std::string ack_status = "received";
  std::chrono::milliseconds ack_delay{200};  // async: wait this long before posting
  std::string hub_url = "https://localhost:8443";
  std::filesystem::path client_cert, client_key;  // async: the agency's client certificate
  std::chrono::seconds ack_give_up_after{60};      // async: stop retrying a failing post

  // Trouble simulation.
  double fail_rate = 0.0;                // answer 503 to this fraction of deliveries
  std::optional<std::uint64_t> seed;     // makes the fail-rate draws reproducible
  std::chrono::milliseconds latency{0};  // delay every answer
  unsigned status = 0;                   // always answer this status (0 = normal behaviour)
  std::optional<std::chrono::seconds> outage_after, outage_for;  // 503 in that window
  bool hang = false;                     // never answer deliveries
  bool close_connections = false;        // answer with Connection: close (no keep-alive)
  // Answer this status (4xx or 5xx) to a message already answered 2xx: a receiver that takes the
  // hub's redelivered duplicate for an error (0 = answer duplicates like any delivery).
  unsigned duplicate_status = 0;
  // Answer 400 to the first this many deliveries, then as usual: a receiver that cannot take
  // some messages (the hub dead-letters them; later messages of the case go on).
  unsigned refuse_first = 0;
  // Answer every delivery 200 with this body instead (a receiver's own, possibly hostile,
  // acknowledgement): "{message_id}" and "{delivery_id}" are replaced by the delivery's. No
  // acknowledgement of the sink's own is sent then.
  std::optional<std::string> answer_body;
  std::string answer_content_type = "application/xml";
  unsigned retry_after_s = 1;            // Retry-After sent with simulated 503s
};

// Checks values and combinations the command line cannot (empty when fine).
std::string validate(const SinkOptions& o);

// "host:port" / "[v6]:port" -> address and port; nullopt when malformed.
std::optional<std::pair<std::string, unsigned short>> parse_listen(std::string_view s);

// Request header fields (name, value), as received.
using Headers = std::vector<std::pair<std::string, std::string>>;
// Case-insensitive lookup of the first field named `name`.
std::optional<std::string> find_header(const Headers& h, std::string_view name);
// The header fields of a request as the ingress layer passed them (see src/sink/README.md).
Headers headers_of(const api::Request& req);

// The delivery headers the hub sends with every POST.
struct DeliveryHeaders {
  std::string message_id;   // Cjhub-Message-Id
  std::string delivery_id;  // Cjhub-Delivery-Id (stable across retries)
  long attempt = 0;         // Cjhub-Attempt (0 when absent or not a number)
  std::string message_type;
  std::string sender_ori;
  std::optional<std::string> case_key;  // absent for types without a case
  bool ack_required = false;            // Cjhub-Ack-Required: true
  std::optional<std::string> request_id;  // X-Request-Id: the hub's request id of the message
  static DeliveryHeaders from(const Headers& h);
};

// A CISS Acknowledgement (schemas/ciss/1.0/ciss.xsd) of message `message_id`, identified as
// `ack_id`, from `ori`, with status `status` (received | completed), created at `created`.
// Every value is escaped for XML.
std::string acknowledgement_xml(const std::string& ack_id, const std::string& message_id, const std::string& ori,
                                const std::string& status, SystemTime created);

// Appends one line per call to a file (or stdout) and flushes it; thread-safe.
class LineLog {
 public:
  explicit LineLog(const std::filesystem::path& file);  // empty = stdout; throws when unopenable
  ~LineLog();
  LineLog(const LineLog&) = delete;
  LineLog& operator=(const LineLog&) = delete;
  void write(std::string_view line);

 private:
  std::mutex mutex_;
  std::FILE* f_ = nullptr;
  bool owned_ = false;
};

// What the sink does with one request; computed without I/O except the --dir write.
struct Decision {
  api::Response response;
  bool answer = true;                  // false: --hang (the request is never answered)
  std::chrono::milliseconds delay{0};  // --latency
  std::string log_line;                // JSON object, no newline; empty for /healthz etc.
  // Async acknowledgement to post after --ack-delay-ms (set only in async mode).
  struct Ack {
    std::string delivery_id, message_id, ack_id, body;
  };
  std::optional<Ack> async_ack;
};

struct SinkStats {
  std::atomic<std::uint64_t> received{0};  // delivery POSTs (whatever the answer)
  std::atomic<std::uint64_t> probes{0};    // OPTIONS probes from the hub
  std::atomic<std::uint64_t> answered_2xx{0};
  std::atomic<std::uint64_t> answered_error{0};
  std::atomic<std::uint64_t> acks_sync{0};
  std::atomic<std::uint64_t> acks_async{0};
};

// The sink's request handler. start() opens the log and starts the timer thread (latency) and,
// in async mode, the acknowledgement poster; handle() requires it.
class SinkHandler final : public api::RequestHandler, public Component {
 public:
  explicit SinkHandler(SinkOptions opts);
  ~SinkHandler() override;

  std::string name() const override { return "sink handler"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;

  // Takes the Cjhub-* headers from the request (headers_of).
  void handle(api::Request req, api::Respond respond) override;
  // Same, with the header fields given explicitly (tests; other transports).
  void handle(api::Request req, const Headers& headers, api::Respond respond);
  // The decision alone: counts the request, writes --dir, but neither logs nor answers.
  Decision decide(const api::Request& req, const Headers& headers);

  const SinkStats& stats() const { return stats_; }
  const SinkOptions& options() const { return opts_; }

 private:
  bool fail_draw(const DeliveryHeaders& d);
  bool in_outage() const;
  std::string ack_body(const std::string& delivery_id, const std::string& message_id);
  std::string log_line(const api::Request& req, const DeliveryHeaders& d, unsigned status) const;
  // Deletes the stored bodies (and their .case files) of a case from --dir; returns how many.
  std::size_t erase_case(const std::string& case_key);

  SinkOptions opts_;
  std::uint64_t seed_;
  std::chrono::steady_clock::time_point started_at_;
  SinkStats stats_;
  std::atomic<std::uint64_t> sequence_{0};
  std::unique_ptr<LineLog> log_;
  std::unique_ptr<AckPoster> poster_;
  std::unique_ptr<boost::asio::io_context> timers_;  // delayed answers (--latency-ms)
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> timers_work_;
  std::thread timer_thread_;
  std::mutex mutex_;
  // One acknowledgement per delivery: a retried delivery gets the same document (the hub
  // deduplicates async acks by Idempotency-Key and refuses a different body with 409).
  std::map<std::string, std::string> ack_cache_;
  std::deque<std::string> ack_cache_order_;
  std::vector<api::Respond> held_;  // --hang: answers never given
  std::set<std::string> answered_;  // --duplicate-status: the message ids received
  std::atomic<unsigned> refused_{0};  // --refuse-first: deliveries refused so far
};

// The `cjhub sink` command: returns the exit code (0 stopped by a signal, 1 runtime failure
// such as the port in use, 2 bad options or unusable certificate files).
int run_sink(const SinkOptions& opts);

}  // namespace cjhub::sink
