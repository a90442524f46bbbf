#include "cjhub/sink/ack_poster.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <stdexcept>

#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"

namespace cjhub::sink {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

bool retryable(unsigned status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v) {
  unsigned long s = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;  // HTTP-dates: ignored
  return std::chrono::seconds(std::min<unsigned long>(s, 3600));
}

}  // namespace

AckPoster::AckPoster(AckPosterSettings s, std::function<void(const std::string&)> log_line)
    : settings_(std::move(s)), log_line_(std::move(log_line)) {}

AckPoster::~AckPoster() { stop(Clock::now()); }

void AckPoster::start() {
  if (!parse_https_url(settings_.hub_url)) {
    throw std::runtime_error("--hub-url: not an https://host[:port] URL: " + settings_.hub_url);
  }
  try {
    hub_ = std::make_unique<client::HubClient>(
        settings_.hub_url, client::Credentials{settings_.client_cert, settings_.client_key, settings_.ca},
        settings_.attempt_timeout);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("acknowledgement client: ") + e.what());
  }
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
  const auto a = hub_->request("POST", "/v1/messages", job.body,
                               {{"Content-Type", "application/xml"},
                                {"User-Agent", "cjhub-sink"},
                                {"Idempotency-Key", job.ack_id}},
                               abort);
  PostOutcome out;
  out.status = a.status;
  out.error = a.status == 0 ? a.error : a.status >= 300 ? a.body.substr(0, 300) : std::string();
  if (const auto v = a.header("Retry-After"); !v.empty()) out.retry_after = parse_retry_after(v);
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
