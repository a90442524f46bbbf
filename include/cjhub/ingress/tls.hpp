// The server's TLS policy: TLS 1.2 minimum (1.3 preferred), AEAD ciphers only, a client
// certificate required, chained to the configured CA, checked against the CRL and required to be
// fit for client authentication (extendedKeyUsage clientAuth).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cjhub/config/config.hpp"

namespace cjhub::ingress {

// Builds a server context from the configuration; throws std::runtime_error naming the file
// that could not be used.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const config::Tls& tls);

// The state of TLS material on disk, for /readyz.
struct MaterialState {
  bool ok = true;        // false: expired, not yet valid, unreadable (or a CRL past its nextUpdate)
  bool warning = false;  // true: expires within the warning period (a CRL: within a day)
  std::string detail;
};
// Each (name, file): the first certificate's validity; a warning when fewer than `warn_days` remain.
MaterialState inspect_certificates(const std::vector<std::pair<std::string, std::filesystem::path>>& certs,
                                   int warn_days);
// Every CRL in the file: its nextUpdate.
MaterialState inspect_crl(const std::filesystem::path& file);

// For the metrics: the earliest notAfter of every certificate in a PEM file (a chain: the leaf and
// its intermediates; a CA bundle: each CA), in seconds since the Unix epoch. Empty when the file
// cannot be read or holds no certificate.
std::optional<std::int64_t> earliest_not_after(const std::filesystem::path& file);
// The earliest nextUpdate of the CRLs in a PEM file, in seconds since the Unix epoch. Empty when
// the file cannot be read or no CRL in it has a nextUpdate.
std::optional<std::int64_t> earliest_crl_next_update(const std::filesystem::path& file);

}  // namespace cjhub::ingress
