// A DNS server for tests, on 127.0.0.1 (UDP, any free port): answers A queries for the names it
// is given (AAAA with no records), each after its own delay and with its own TTL, and NXDOMAIN
// for every other name. Queries are answered concurrently (a slow name does not hold up the
// others) and counted per name, so a test can see how often the hub asked.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace cjhub::test {

class DnsServer {
 public:
  struct Name {
    std::string address = "127.0.0.1";  // IPv4
    std::uint32_t ttl = 0;
    std::chrono::milliseconds delay{0};
    bool servfail = false;  // answer SERVFAIL instead
  };

  DnsServer();
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Adds or changes a name (case-insensitive, without the trailing dot). Thread-safe.
  void set(const std::string& name, Name n);
  // "127.0.0.1:PORT", as delivery.dns_servers takes it.
  std::string address() const;
  // A queries received for `name` so far (retries included).
  int queries(const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cjhub::test
