// What the hub sees of each endpoint, kept in memory between flushes: per endpoint and minute, the
// delivery attempts and probes that found it up or down and their answer times (flushed to the
// store's minute, hour and day rows by the dispatcher), and when it last saw each endpoint at all,
// which decides the idle endpoints a watcher probes. Free of I/O; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "cjhub/store/availability_repo.hpp"

namespace cjhub::ops {

class EndpointWatch {
 public:
  enum class Seen { up, down, other };  // other: answered, refusing the message (a 4xx)
  // `max_buckets` bounds what is kept while the database cannot take a flush (the oldest minutes go).
  explicit EndpointWatch(std::size_t max_buckets = 100000) : max_buckets_(max_buckets) {}

  // One delivery attempt or probe that began at `at`; `answer` when it got an HTTP answer.
  void attempt(long long endpoint_id, Seen seen, std::chrono::system_clock::time_point at,
               std::optional<std::chrono::microseconds> answer);
  void probe(long long endpoint_id, bool up, std::chrono::system_clock::time_point at,
             std::optional<std::chrono::microseconds> answer);

  // Everything observed since the last take, oldest minute first.
  std::vector<store::EndpointBucket> take();
  // A flush failed: the buckets are kept for the next one (merged with what came since).
  void restore(const std::vector<store::EndpointBucket>& buckets);
  std::uint64_t dropped() const;

  // Of the endpoints `held` (whose logs this hub reads), those with neither an attempt nor a probe
  // for `interval`; each one returned counts as seen now, so it is not returned again before then.
  // An endpoint first held now waits one interval.
  std::vector<long long> due_for_probe(const std::vector<long long>& held, std::chrono::steady_clock::time_point now,
                                       std::chrono::steady_clock::duration interval);

 private:
  store::EndpointBucket& bucket(long long endpoint_id, std::chrono::system_clock::time_point at);  // mu_ held
  void trim();  // mu_ held

  const std::size_t max_buckets_;
  mutable std::mutex mu_;
  std::map<std::pair<std::int64_t, long long>, store::EndpointBucket> buckets_;  // by (minute, endpoint)
  std::map<long long, std::chrono::steady_clock::time_point> last_seen_;
  std::uint64_t dropped_ = 0;
};

}  // namespace cjhub::ops
