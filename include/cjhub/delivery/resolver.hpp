// Host names of the agencies' endpoints -> addresses, without letting one agency's slow DNS hold
// up another's deliveries. c-ares (the asynchronous resolver curl, Envoy and Node use) keeps every
// lookup in flight at once on one thread of its own; Asio's resolver would run getaddrinfo for
// every endpoint, one after another, on a single background thread.
//
// Answers are kept for their DNS time to live (capped); concurrent lookups of one name share one
// query; when a lookup fails or takes longer than its deadline, an expired answer no older than
// `stale_for` is used instead (a DNS outage does not stop deliveries to endpoints whose address is
// known). /etc/hosts is read first, as the system resolver does.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cjhub::delivery {

struct ResolverOptions {
  // "ip[:port],..." ("[v6]:port" for IPv6); empty: the servers of /etc/resolv.conf.
  std::string servers;
  std::chrono::milliseconds timeout{5000};  // a lookup's whole deadline, retries included
  std::chrono::seconds max_ttl{300};        // answers are kept for their TTL, at most this long
  std::chrono::seconds stale_for{3600};     // an expired answer may stand in this long after expiry
  std::size_t max_names = 10000;            // names kept in the cache
};

struct ResolveResult {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // empty on error
  std::string error;  // human-readable; empty on success
  bool stale = false;  // an expired answer stood in for a failed or late lookup
  bool cached = false;
};

struct ResolverStats {
  std::uint64_t lookups = 0;      // queries sent (cache misses, one per name however many wait)
  std::uint64_t cache_hits = 0;
  std::uint64_t failures = 0;     // lookups that failed or passed their deadline
  std::uint64_t stale_answers = 0;
};

class Resolver {
 public:
  // Throws std::invalid_argument for a malformed server list (see common/server_list.hpp).
  explicit Resolver(ResolverOptions options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Starts the resolver thread (reads /etc/resolv.conf unless servers are given). Throws when
  // c-ares cannot be initialised.
  void start();
  // Answers every waiting lookup with an error and joins the thread.
  void stop();

  // Calls `done` exactly once, on the resolver's thread (or on the caller's when the answer is
  // cached or the resolver is stopped): keep it short, post real work elsewhere. Never blocks.
  void resolve(const std::string& host, std::uint16_t port, std::function<void(ResolveResult)> done);

  ResolverStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cjhub::delivery
