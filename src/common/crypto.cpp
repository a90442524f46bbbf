#include "cjhub/common/crypto.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cjhub {

void require_private_key_file(const std::string& file, const std::string& what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw std::runtime_error(what + ": cannot read " + file + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::runtime_error(what + ": " + file + " is accessible to its group or to others (mode " + mode +
                             "); a private key must be readable by its owner only: chmod 600 it");
  }
}

Sha256 sha256(std::string_view data) {
  Sha256 out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  return out;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    s[2 * i] = kHex[data[i] >> 4];
    s[2 * i + 1] = kHex[data[i] & 0x0F];
  }
  return s;
}

}  // namespace cjhub
