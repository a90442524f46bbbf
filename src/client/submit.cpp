#include "cjhub/client/submit.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <random>
#include <thread>

namespace cjhub::client {

namespace json = boost::json;
using namespace std::chrono;

std::optional<milliseconds> next_try(const Answer& answer, int tries, const RetryPolicy& policy, double draw) {
  const auto s = answer.status;
  const bool again = s == 0 || s == 408 || s == 429 || (s >= 500 && s != 501 && s != 505);
  if (!again || tries >= policy.max_tries) return std::nullopt;
  const auto retry_after = answer.header("Retry-After");
  unsigned long seconds = 0;
  if (const auto [end, ec] = std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
      !retry_after.empty() && ec == std::errc{} && end == retry_after.data() + retry_after.size()) {
    return std::min<milliseconds>(duration_cast<milliseconds>(std::chrono::seconds(seconds)), policy.max_delay);
  }
  const double backoff = std::min<double>(static_cast<double>(policy.initial.count()) * std::pow(2.0, tries - 1),
                                          static_cast<double>(policy.max_delay.count()));
  return milliseconds(static_cast<long long>(backoff * (0.8 + 0.4 * draw)));
}

std::string idempotency_key_of(const std::string& document) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(document.data(), document.size(), digest, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "sha256:";
  for (unsigned i = 0; i < n; ++i) {
    key += kHex[digest[i] >> 4];
    key += kHex[digest[i] & 15];
  }
  return key;
}

namespace {

std::string text(const json::object& o, const char* k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

Submitter::Submitter(HubClient& hub, RetryPolicy policy) : hub_(hub), policy_(policy) {}

Submission Submitter::submit(const std::string& document) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  Submission out;
  out.idempotency_key = idempotency_key_of(document);
  const auto give_up = steady_clock::now() + policy_.give_up_after;
  for (;;) {
    ++out.tries;
    const auto a = hub_.request("POST", "/v1/messages", document,
                                {{"Content-Type", "application/xml"}, {"Idempotency-Key", out.idempotency_key}});
    out.status = a.status;
    out.detail = a.error;
    out.problem.clear();
    json::error_code ec;
    const auto body = json::parse(a.body, ec);
    if (!ec && body.is_object()) {
      const auto& o = body.as_object();
      if (a.status == 202) {
        out.message_id = text(o, "message_id");
        out.location = a.header("Location");
        out.replayed = a.header("Idempotent-Replayed") == "true";
        return out;
      }
      out.problem = text(o, "type");
      out.detail = text(o, "detail").empty() ? text(o, "title") : text(o, "detail");
    } else if (a.status != 0) {
      out.detail = "HTTP " + std::to_string(a.status) + " without a problem document";
    }
    const auto delay = next_try(a, out.tries, policy_, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    if (!delay || steady_clock::now() + *delay > give_up) return out;
    std::this_thread::sleep_for(*delay);
  }
}

void Submitter::follow(Submission& s, milliseconds wait) {
  if (!s.accepted() || s.location.empty()) return;
  const auto until = steady_clock::now() + wait;
  for (;;) {
    const auto a = hub_.request("GET", s.location);
    json::error_code ec;
    const auto body = json::parse(a.body, ec);
    bool pending = true;
    if (a.status == 200 && !ec && body.is_object()) {
      s.recipients.clear();
      pending = false;
      if (const auto* list = body.as_object().if_contains("recipients"); list && list->is_array()) {
        for (const auto& v : list->as_array()) {
          if (!v.is_object()) continue;
          const auto& o = v.as_object();
          Recipient r{text(o, "recipient_ori"), text(o, "endpoint"), text(o, "state"), text(o, "ack_status"), 0};
          if (const auto* n = o.if_contains("attempts"); n && n->is_int64()) r.attempts = static_cast<int>(n->as_int64());
          pending = pending || r.state == "pending";
          s.recipients.push_back(std::move(r));
        }
      }
    }
    if (!pending || steady_clock::now() + milliseconds(500) > until) return;
    std::this_thread::sleep_for(milliseconds(500));
  }
}

}  // namespace cjhub::client
