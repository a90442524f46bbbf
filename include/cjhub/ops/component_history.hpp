// The hub's own availability, as its readiness probe sees it: every second's component states
// counted per minute (seconds ok, seconds down; `overall` is every component ok at once), kept in
// memory until the probe writes them to the store (and while the database is away: bounded, the
// oldest minutes go). Free of I/O; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cjhub/api/handlers.hpp"
#include "cjhub/store/availability_repo.hpp"

namespace cjhub::ops {

class ComponentHistory {
 public:
  explicit ComponentHistory(std::size_t max_rows = 100000) : max_rows_(max_rows) {}
  // One sample of every component, taken at `at` (one second's worth).
  void sample(const std::vector<api::Readiness::ComponentState>& components, std::chrono::system_clock::time_point at);
  std::vector<store::ComponentSeconds> take();
  void restore(const std::vector<store::ComponentSeconds>& rows);
  std::uint64_t dropped() const;

 private:
  mutable std::mutex mu_;
  const std::size_t max_rows_;
  std::map<std::pair<std::int64_t, std::string>, store::ComponentSeconds> rows_;  // (minute, component)
  std::uint64_t dropped_ = 0;
};

}  // namespace cjhub::ops
