#include "cjhub/api/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace cjhub::api {

std::chrono::milliseconds RateLimiter::take(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  auto& b = it->second;
  if (!fresh && now > b.at) {
    b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.at).count() * rate_);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::chrono::milliseconds(0);
  }
  const double wait_s = (1.0 - b.tokens) / rate_;
  return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait_s * 1000.0))));
}

}  // namespace cjhub::api
