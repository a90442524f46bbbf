// The writers' queue, fair between agencies: one FIFO per agency, taken round-robin, so a group
// formed while one agency has a burst queued still takes the others' messages first in line (an
// agency's burst delays its own messages, not another's). Each agency's count and bytes are kept
// for its share of the queue. Not thread-safe: the writer holds its mutex.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace cjhub::outbox {

template <class T>
class FairQueue {
 public:
  struct Share {
    std::size_t items = 0, bytes = 0;
  };

  void push(const std::string& agency, T item, std::size_t bytes) {
    auto& q = queues_[agency];
    if (q.items.empty()) ring_.push_back(agency);
    q.items.push_back({std::move(item), bytes});
    q.share.items += 1;
    q.share.bytes += bytes;
    size_ += 1;
    bytes_ += bytes;
  }

  // The next item: the oldest of the agency whose turn it is; that agency goes to the back of the
  // ring if it has more.
  std::optional<T> pop() {
    if (ring_.empty()) return std::nullopt;
    const std::string agency = std::move(ring_.front());
    ring_.pop_front();
    auto it = queues_.find(agency);
    auto [item, bytes] = std::move(it->second.items.front());
    it->second.items.pop_front();
    size_ -= 1;
    bytes_ -= bytes;
    if (it->second.items.empty()) {
      queues_.erase(it);
    } else {
      it->second.share.items -= 1;
      it->second.share.bytes -= bytes;
      ring_.push_back(agency);
    }
    return std::move(item);
  }

  Share share_of(const std::string& agency) const {
    const auto it = queues_.find(agency);
    return it == queues_.end() ? Share{} : it->second.share;
  }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return bytes_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Queue {
    std::deque<std::pair<T, std::size_t>> items;
    Share share;
  };
  std::map<std::string, Queue> queues_;
  std::deque<std::string> ring_;  // agencies with queued items, in turn order
  std::size_t size_ = 0, bytes_ = 0;
};

}  // namespace cjhub::outbox
