// Hashing helpers (OpenSSL EVP).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cjhub {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(std::string_view data);
std::string to_hex(const std::uint8_t* data, std::size_t size);
inline std::string to_hex(const Sha256& d) { return to_hex(d.data(), d.size()); }

}  // namespace cjhub
