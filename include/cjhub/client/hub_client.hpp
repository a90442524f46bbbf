// A client of the hub's API over mutual TLS: one connection, kept alive between requests and
// opened again when the hub closed it. The transport only: what to send and what an answer means
// is the caller's (see submit.hpp). Not thread-safe: one HubClient per thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cjhub::client {

struct HttpsUrl {
  std::string host;  // name or address (IPv6 without brackets)
  std::string port;  // "443" when absent
  std::string path;  // path prefix without the trailing '/', may be empty
};
// https://host[:port][/prefix] -> parts; nullopt for anything else.
std::optional<HttpsUrl> parse_https_url(std::string_view url);

struct Credentials {
  std::filesystem::path cert;  // the agency's client certificate chain (PEM)
  std::filesystem::path key;   // its private key (PEM)
  std::filesystem::path ca;    // verifies the hub's server certificate
};

struct Answer {
  unsigned status = 0;  // 0: no answer (the transport failed: see `error`)
  std::string error;    // the step that failed and why ("connect: Connection refused")
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The first header of that name (case-insensitive), or empty.
  std::string header(std::string_view name) const;
};

class HubClient {
 public:
  // Loads the certificates (throws std::runtime_error naming the file that is wrong).
  HubClient(const std::string& hub_url, const Credentials& tls, std::chrono::milliseconds timeout);
  ~HubClient();
  HubClient(const HubClient&) = delete;
  HubClient& operator=(const HubClient&) = delete;

  // One request; `target` is the path below the hub URL ("/v1/messages"); `headers` are added
  // (or replace the client's own, such as User-Agent). Never throws for what the network or the
  // hub does: a failure is an Answer with status 0. `abandon`, when given, is asked every 50 ms
  // while the exchange is under way; once it says true the exchange is given up (status 0).
  Answer request(std::string_view method, const std::string& target, const std::string& body = {},
                 const std::vector<std::pair<std::string, std::string>>& headers = {},
                 const std::function<bool()>& abandon = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cjhub::client
