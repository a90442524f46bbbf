#include "cjhub/ops/endpoint_watch.hpp"

#include <algorithm>
#include <set>

namespace cjhub::ops {

namespace {

std::size_t answer_bucket(std::chrono::microseconds answer) {
  const auto ms = static_cast<double>(answer.count()) / 1000.0;
  const auto& bounds = store::kAnswerBoundsMs;
  return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), ms,
                                                   [](int bound, double v) { return bound < v; }) -
                                  bounds.begin());
}

void add(store::EndpointBucket& to, const store::EndpointBucket& b) {
  to.attempts_up += b.attempts_up;
  to.attempts_down += b.attempts_down;
  to.attempts_other += b.attempts_other;
  to.probes_up += b.probes_up;
  to.probes_down += b.probes_down;
  for (std::size_t i = 0; i < to.answer_ms.size(); ++i) to.answer_ms[i] += b.answer_ms[i];
}

}  // namespace

store::EndpointBucket& EndpointWatch::bucket(long long endpoint_id, std::chrono::system_clock::time_point at) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const std::int64_t minute = secs - ((secs % 60) + 60) % 60;
  auto [it, fresh] = buckets_.try_emplace({minute, endpoint_id});
  if (fresh) {
    it->second.endpoint_id = endpoint_id;
    it->second.minute = minute;
  }
  last_seen_[endpoint_id] = std::chrono::steady_clock::now();
  return it->second;
}

void EndpointWatch::trim() {
  while (buckets_.size() > max_buckets_) {
    buckets_.erase(buckets_.begin());
    ++dropped_;
  }
}

void EndpointWatch::attempt(long long endpoint_id, Seen seen, std::chrono::system_clock::time_point at,
                            std::optional<std::chrono::microseconds> answer) {
  std::lock_guard lock(mu_);
  auto& b = bucket(endpoint_id, at);
  (seen == Seen::up ? b.attempts_up : seen == Seen::down ? b.attempts_down : b.attempts_other) += 1;
  if (answer) ++b.answer_ms[answer_bucket(*answer)];
  trim();
}

void EndpointWatch::probe(long long endpoint_id, bool up, std::chrono::system_clock::time_point at,
                          std::optional<std::chrono::microseconds> answer) {
  std::lock_guard lock(mu_);
  auto& b = bucket(endpoint_id, at);
  (up ? b.probes_up : b.probes_down) += 1;
  if (answer) ++b.answer_ms[answer_bucket(*answer)];
  trim();
}

std::vector<store::EndpointBucket> EndpointWatch::take() {
  std::lock_guard lock(mu_);
  std::vector<store::EndpointBucket> out;
  out.reserve(buckets_.size());
  for (auto& [key, b] : buckets_) out.push_back(b);
  buckets_.clear();
  return out;
}

void EndpointWatch::restore(const std::vector<store::EndpointBucket>& buckets) {
  std::lock_guard lock(mu_);
  for (const auto& b : buckets) {
    auto [it, fresh] = buckets_.try_emplace({b.minute, b.endpoint_id}, b);
    if (!fresh) add(it->second, b);
  }
  trim();
}

std::uint64_t EndpointWatch::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::vector<long long> EndpointWatch::due_for_probe(const std::vector<long long>& held,
                                                    std::chrono::steady_clock::time_point now,
                                                    std::chrono::steady_clock::duration interval) {
  std::lock_guard lock(mu_);
  std::vector<long long> due;
  const std::set<long long> holding(held.begin(), held.end());
  for (auto it = last_seen_.begin(); it != last_seen_.end();) {  // forget endpoints no longer held
    it = holding.count(it->first) ? std::next(it) : last_seen_.erase(it);
  }
  for (const auto id : held) {
    auto [it, fresh] = last_seen_.try_emplace(id, now);
    if (fresh || now - it->second < interval) continue;
    due.push_back(id);
    it->second = now;
  }
  return due;
}

}  // namespace cjhub::ops
