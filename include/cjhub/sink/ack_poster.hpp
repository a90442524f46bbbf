// Asynchronous acknowledgements of `cjhub sink --ack async`: after a delay, POST the
// Acknowledgement to the hub's /v1/messages with the agency's client certificate, retrying
// connection errors, 408, 429 and 5xx with backoff for about a minute. One worker thread with one
// connection to the hub (the reference client's, client::HubClient, opened again when the hub
// closed it); every outcome is reported as a JSON line.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cjhub/client/hub_client.hpp"
#include "cjhub/common/lifecycle.hpp"

namespace cjhub::sink {

// The hub's URL, parsed as the reference client parses it.
using client::HttpsUrl;
using client::parse_https_url;

struct AckPosterSettings {
  std::string hub_url = "https://localhost:8443";
  std::filesystem::path client_cert, client_key;  // the agency's client certificate (PEM)
  std::filesystem::path ca;                       // verifies the hub's server certificate
  std::string sink_ori;                           // copied into the log lines
  std::chrono::seconds give_up_after{60};         // from the first attempt
  std::chrono::milliseconds attempt_timeout{10000};
};

struct AckJob {
  std::string delivery_id, message_id, ack_id, body;
  std::chrono::steady_clock::time_point due;
};

struct PostOutcome {
  unsigned status = 0;  // 0: transport error
  std::string error;    // what failed ("connect: Connection refused", ...)
  std::optional<std::chrono::seconds> retry_after;
};

class AckPoster final : public Component {
 public:
  // `log_line` receives each outcome as one JSON object (no newline).
  AckPoster(AckPosterSettings s, std::function<void(const std::string&)> log_line);
  ~AckPoster() override;
  AckPoster(const AckPoster&) = delete;
  AckPoster& operator=(const AckPoster&) = delete;

  std::string name() const override { return "ack-poster"; }
  void start() override;  // loads the certificates (throws std::runtime_error), starts the worker
  // Keeps posting what is due before `deadline`; what is left then is abandoned (and logged).
  void stop(std::chrono::steady_clock::time_point deadline) override;

  void submit(AckJob job);
  std::size_t pending() const;

  // One exchange (on the connection kept since the last one, or a new one); gives up when `abort`
  // returns true. Used by the worker.
  PostOutcome post(const AckJob& job, const std::function<bool()>& abort);

 private:
  struct Entry {
    AckJob job;
    int attempts = 0;
    std::chrono::steady_clock::time_point first_attempt{};
  };
  void run();
  void log(const Entry& e, const PostOutcome& o, const char* outcome, std::chrono::milliseconds retry_in);

  AckPosterSettings settings_;
  std::function<void(const std::string&)> log_line_;
  std::unique_ptr<client::HubClient> hub_;  // the worker's connection to the hub
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, Entry> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  std::thread worker_;
};

}  // namespace cjhub::sink
