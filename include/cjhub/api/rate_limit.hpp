// Per-agency token buckets on submissions: each agency may post `rate` messages per second on
// average and `burst` at once; beyond, 429 with the time until its next token. One agency's flood
// costs the others nothing but the hub's work of refusing it (before its body is read).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace cjhub::api {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}

  // Takes one token of `key`'s bucket. Zero when granted; otherwise how long until a token is
  // there (nothing is taken).
  std::chrono::milliseconds take(const std::string& key, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  const double rate_, burst_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;  // one per agency: bounded by the directory
};

}  // namespace cjhub::api
