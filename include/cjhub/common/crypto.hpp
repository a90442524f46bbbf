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

// Refuses (throws std::runtime_error naming `what` and the file) a private key file that its
// group or others may read, write or execute, as ssh does: a key readable by others is no longer
// private. Owner-only modes (0600, 0400) pass.
void require_private_key_file(const std::string& file, const std::string& what);

// The host name a PEM certificate (its first certificate) is issued for: its first DNS
// subjectAltName, else its subject's CN; empty when the file cannot be read or names neither.
std::string certificate_host_name(const std::string& pem_file);

}  // namespace cjhub
