// Identifiers: time-ordered UUIDs (RFC 9562 version 7) for messages, deliveries and attempts.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cjhub {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  static Uuid v7();  // 48-bit Unix milliseconds + random bits (OpenSSL RAND_bytes)
  static std::optional<Uuid> parse(std::string_view text);  // canonical 8-4-4-4-12 hex form
  std::string str() const;                                   // canonical lower-case form
  friend bool operator==(const Uuid&, const Uuid&) = default;
};

}  // namespace cjhub
