#include "cjhub/api/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace cjhub::api {

namespace {
RateLimiter::Clock::duration seconds(double s) {
  return std::chrono::duration_cast<RateLimiter::Clock::duration>(std::chrono::duration<double>(s));
}
}  // namespace

std::chrono::milliseconds RateLimiter::take(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now, now});
  auto& b = it->second;
  if (!fresh && now > b.at) {
    b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.at).count() * rate_);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::chrono::milliseconds(0);
  }
  // This request's turn: when the next token is there, or one token's time after the turn given
  // to the previous refusal; a turn never lies further ahead than a full bucket's refill.
  const auto token_at = now + seconds((1.0 - b.tokens) / rate_);
  const auto horizon = now + seconds(std::max(1.0, burst_) / rate_);
  const auto turn = std::min(std::max(token_at, b.next_turn), horizon);
  b.next_turn = turn + seconds(1.0 / rate_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(turn - now);
  return std::max(wait, std::chrono::milliseconds(1));
}

}  // namespace cjhub::api
