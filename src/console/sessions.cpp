#include "cjhub/console/sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

#include "cjhub/common/crypto.hpp"

namespace cjhub::console {

namespace {

constexpr std::string_view kPrefix = "v1.";

long long millis(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Sessions::Sessions(std::chrono::seconds idle_timeout) : idle_timeout_(idle_timeout) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw std::runtime_error("could not draw the console's session key from the random generator");
  }
}

std::string Sessions::mac(std::string_view stamp, std::string_view cert_sha256) const {
  std::string data;
  data.reserve(stamp.size() + 1 + cert_sha256.size());
  data.append(stamp).append("|").append(cert_sha256);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return to_hex(out, len);
}

std::string Sessions::issue(std::string_view cert_sha256, SystemTime now) const {
  const auto stamp = std::to_string(millis(now));
  return std::string(kPrefix) + stamp + "." + mac(stamp, cert_sha256);
}

Sessions::Check Sessions::check(std::string_view token, std::string_view cert_sha256, SystemTime now) const {
  if (token.empty()) return {Verdict::missing, {}};
  if (token.size() > 200 || !token.starts_with(kPrefix) || cert_sha256.empty()) return {Verdict::invalid, {}};
  const auto rest = token.substr(kPrefix.size());
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos) return {Verdict::invalid, {}};
  const auto stamp = rest.substr(0, dot);
  const auto given = rest.substr(dot + 1);
  long long at = 0;
  const auto [end, ec] = std::from_chars(stamp.data(), stamp.data() + stamp.size(), at);
  if (ec != std::errc() || end != stamp.data() + stamp.size()) return {Verdict::invalid, {}};
  const auto expected = mac(stamp, cert_sha256);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return {Verdict::invalid, {}};
  }
  const auto idle_ms = millis(now) - at;
  // A stamp from the future was not issued by this clock: refuse it rather than extend it.
  if (idle_ms < -60'000) return {Verdict::invalid, {}};
  if (idle_ms > std::chrono::duration_cast<std::chrono::milliseconds>(idle_timeout_).count()) {
    return {Verdict::expired, {}};
  }
  return {Verdict::ok, issue(cert_sha256, now)};
}

const char* to_string(Sessions::Verdict v) {
  switch (v) {
    case Sessions::Verdict::ok: return "ok";
    case Sessions::Verdict::missing: return "missing";
    case Sessions::Verdict::invalid: return "invalid";
    case Sessions::Verdict::expired: return "expired";
  }
  return "?";
}

}  // namespace cjhub::console
