#include "cjhub/common/time.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace cjhub {

std::string rfc3339(SystemTime t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto micros = (t - secs).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", secs, micros);
}

}  // namespace cjhub
