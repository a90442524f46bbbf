// The server's TLS policy: TLS 1.2 minimum (1.3 preferred), AEAD ciphers only, a client
// certificate required, chained to the configured CA, checked against the CRL and required to be
// fit for client authentication (extendedKeyUsage clientAuth).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "cjhub/config/config.hpp"

namespace cjhub::ingress {

// Builds a server context from the configuration; throws std::runtime_error naming the file
// that could not be used.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const config::Tls& tls);

}  // namespace cjhub::ingress
