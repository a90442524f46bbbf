// Per-agency token buckets on submissions: each agency may post `rate` messages per second on
// average and `burst` at once; beyond, 429 with the time until its next token. One agency's flood
// costs the others nothing but the hub's work of refusing it (before its body is read).
//
// The refusals of one agency are spread over the time its tokens arrive: each refused request is
// given its own turn, 1/rate after the previous refusal's (but never further ahead than it takes
// the bucket to fill), so connections that wait for their turn come back one by one, as tokens
// come, instead of all together after a whole second with a full bucket's burst.
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

  // Takes one token of `key`'s bucket. Zero when granted; otherwise how long until this request's
  // turn (nothing is taken): at least the time until the next token, and after the turns already
  // given to the agency's other refused requests.
  std::chrono::milliseconds take(const std::string& key, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point at;
    Clock::time_point next_turn;  // the turn the next refused request is given (at the earliest)
  };
  const double rate_, burst_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;  // one per agency: bounded by the directory
};

}  // namespace cjhub::api
