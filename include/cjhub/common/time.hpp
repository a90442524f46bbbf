// Wall-clock helpers. Timestamps are UTC and formatted as RFC 3339 with microseconds.
#pragma once

#include <chrono>
#include <string>

namespace cjhub {

using SystemTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

inline SystemTime now_utc() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}
std::string rfc3339(SystemTime t);  // 2026-11-21T02:21:30.123456Z
// The same for the system clock's own time points (truncated to microseconds).
inline std::string rfc3339(std::chrono::system_clock::time_point t) {
  return rfc3339(std::chrono::time_point_cast<std::chrono::microseconds>(t));
}

}  // namespace cjhub
