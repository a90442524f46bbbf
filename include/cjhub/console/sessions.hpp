// Console sessions: what a browser must send beside its certificate.
//
// A browser presents its client certificate on every request it makes to the hub, including one a
// hostile page elsewhere makes it send; the certificate alone therefore proves who holds the
// browser, not that the console asked. The console's page obtains a session token
// (POST /console/session) and sends it in a header with every request; a page on another origin
// can neither read the token nor set the header without a CORS preflight the hub never grants.
//
// Tokens carry no state on the server: `v1.<last activity, ms since the epoch>.<HMAC-SHA256>`
// over the time and the certificate's fingerprint, under a key drawn when the process starts.
// Each accepted request returns a refreshed token, so a session lives while it is used and ends
// after `idle_timeout` without a request; a restarted hub ends every session.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include "cjhub/common/time.hpp"

namespace cjhub::console {

class Sessions {
 public:
  // Draws the signing key (throws std::runtime_error when the random generator fails).
  explicit Sessions(std::chrono::seconds idle_timeout);

  enum class Verdict {
    ok,
    missing,         // no token at all
    invalid,         // not a token this process issued, or issued to another certificate
    expired,         // issued here, but idle for longer than the timeout
  };
  struct Check {
    Verdict verdict = Verdict::missing;
    std::string refreshed;  // when ok: the token to send back (activity now)
  };

  // A token for the certificate with this fingerprint, active at `now`.
  std::string issue(std::string_view cert_sha256, SystemTime now) const;
  Check check(std::string_view token, std::string_view cert_sha256, SystemTime now) const;
  std::chrono::seconds idle_timeout() const { return idle_timeout_; }

 private:
  std::string mac(std::string_view stamp, std::string_view cert_sha256) const;

  std::array<unsigned char, 32> key_{};
  std::chrono::seconds idle_timeout_;
};

const char* to_string(Sessions::Verdict v);

}  // namespace cjhub::console
