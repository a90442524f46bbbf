// The bodies of log entries a dispatcher read lately, by log position, so that a message sent to
// several endpoints is read from the database once rather than once per endpoint. Bounded by
// bytes; when full, the lowest positions go first (every endpoint reads the log in order, so they
// are the ones read by all). Used by the dispatcher's database thread only: not thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace cjhub::delivery {

class BodyCache {
 public:
  explicit BodyCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  bool contains(long long seq) const { return bodies_.count(seq) > 0; }
  // A copy of the body at `seq`, if held.
  std::optional<std::string> get(long long seq) const {
    const auto it = bodies_.find(seq);
    if (it == bodies_.end()) return std::nullopt;
    return it->second;
  }
  // Keeps a body; makes room by dropping the lowest positions. A body larger than the whole
  // cache is not kept.
  void put(long long seq, const std::string& body) {
    if (body.size() > max_bytes_ || bodies_.count(seq)) return;
    while (bytes_ + body.size() > max_bytes_ && !bodies_.empty()) {
      bytes_ -= bodies_.begin()->second.size();
      bodies_.erase(bodies_.begin());
    }
    bytes_ += body.size();
    bodies_.emplace(seq, body);
  }
  // Drops what was held (after a reconnect, or when the payloads may have changed).
  void clear() {
    bodies_.clear();
    bytes_ = 0;
  }
  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return bodies_.size(); }

 private:
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::map<long long, std::string> bodies_;
};

}  // namespace cjhub::delivery
