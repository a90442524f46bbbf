#include "cjhub/delivery/resolver.hpp"

#include <ares.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "cjhub/common/log.hpp"
#include "cjhub/common/server_list.hpp"

namespace cjhub::delivery {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Resolver::Impl {
  struct Waiter {
    std::uint16_t port = 0;
    std::function<void(ResolveResult)> done;
    Clock::time_point deadline;
  };
  struct Request {
    std::string host;
    Waiter waiter;
  };
  struct Entry {
    std::vector<asio::ip::address> addresses;
    Clock::time_point fresh_until;
    Clock::time_point stale_until;
  };
  struct Query {
    Impl* impl;
    std::string host;
  };

  explicit Impl(ResolverOptions o) : opts(std::move(o)), servers(normalise_server_list(opts.servers, 53)) {}

  ResolverOptions opts;
  const std::string servers;

  std::mutex mutex;  // queue, cache, running/stopping
  std::deque<Request> queue;
  std::unordered_map<std::string, Entry> cache;
  bool running = false;
  bool stopping = false;

  // On the resolver thread only:
  ares_channel channel = nullptr;
  std::unordered_map<std::string, std::vector<Waiter>> pending;  // one query per name in flight

  std::thread thread;
  int wake_fd = -1;
  std::atomic<std::uint64_t> lookups{0}, hits{0}, failures{0}, stale{0};

  static std::vector<asio::ip::tcp::endpoint> endpoints(const std::vector<asio::ip::address>& a, std::uint16_t port) {
    std::vector<asio::ip::tcp::endpoint> out;
    out.reserve(a.size());
    for (const auto& x : a) out.emplace_back(x, port);
    return out;
  }

  // Under the mutex: a fresh answer, or none.
  std::optional<std::vector<asio::ip::address>> fresh(const std::string& host, Clock::time_point now) {
    const auto it = cache.find(host);
    if (it == cache.end() || it->second.fresh_until <= now) return std::nullopt;
    return it->second.addresses;
  }

  // What a waiter gets when its lookup failed: an expired answer if there is one young enough.
  ResolveResult fallback(const std::string& host, std::string error) {
    ResolveResult r;
    {
      std::lock_guard lock(mutex);
      const auto it = cache.find(host);
      if (it != cache.end() && it->second.stale_until > Clock::now()) {
        r.endpoints = endpoints(it->second.addresses, 0);
        r.stale = true;
      }
    }
    if (r.stale) {
      stale.fetch_add(1, std::memory_order_relaxed);
      log::get("delivery")->warn("resolving {} failed ({}); using its last known address", host, error);
    } else {
      r.error = std::move(error);
    }
    return r;
  }

  static void answer(Waiter& w, ResolveResult r) {
    for (auto& ep : r.endpoints) ep.port(w.port);
    auto done = std::move(w.done);
    done(std::move(r));
  }

  void store(const std::string& host, std::vector<asio::ip::address> addresses, int ttl_s) {
    const auto now = Clock::now();
    const auto ttl = std::min<std::chrono::seconds>(std::chrono::seconds(std::max(ttl_s, 0)), opts.max_ttl);
    std::lock_guard lock(mutex);
    if (cache.size() >= opts.max_names && cache.find(host) == cache.end()) {
      std::erase_if(cache, [&](const auto& kv) { return kv.second.stale_until <= now; });
      if (cache.size() >= opts.max_names) cache.erase(cache.begin());
    }
    auto& e = cache[host];
    e.addresses = std::move(addresses);
    e.fresh_until = now + ttl;
    e.stale_until = e.fresh_until + opts.stale_for;
  }

  static void on_answer(void* arg, int status, int /*timeouts*/, struct ares_addrinfo* res) {
    std::unique_ptr<Query> q(static_cast<Query*>(arg));
    Impl& self = *q->impl;
    std::vector<asio::ip::address> addresses;
    int ttl = -1;
    if (status == ARES_SUCCESS && res != nullptr) {
      for (auto* n = res->nodes; n != nullptr; n = n->ai_next) {
        if (n->ai_family == AF_INET && n->ai_addrlen >= static_cast<ares_socklen_t>(sizeof(sockaddr_in))) {
          const auto* sa = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
          asio::ip::address_v4::bytes_type b;
          std::memcpy(b.data(), &sa->sin_addr, b.size());
          addresses.emplace_back(asio::ip::address_v4(b));
        } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= static_cast<ares_socklen_t>(sizeof(sockaddr_in6))) {
          const auto* sa = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
          asio::ip::address_v6::bytes_type b;
          std::memcpy(b.data(), &sa->sin6_addr, b.size());
          addresses.emplace_back(asio::ip::address_v6(b, sa->sin6_scope_id));
        } else {
          continue;
        }
        ttl = ttl < 0 ? n->ai_ttl : std::min(ttl, n->ai_ttl);
      }
    }
    if (res != nullptr) ares_freeaddrinfo(res);

    auto waiters = std::move(self.pending[q->host]);
    self.pending.erase(q->host);
    if (!addresses.empty()) {
      self.store(q->host, addresses, ttl);
      for (auto& w : waiters) {
        ResolveResult r;
        r.endpoints = endpoints(addresses, 0);
        answer(w, std::move(r));
      }
      return;
    }
    std::string error = status == ARES_SUCCESS ? std::string("the name has no IPv4 or IPv6 address")
                        : status == ARES_EDESTRUCTION ? std::string("the resolver stopped")
                        : status == ARES_ETIMEOUT
                            ? fmt::format("no answer from DNS within {} ms", self.opts.timeout.count())
                            : std::string(ares_strerror(status));
    // A failure counts once, for the callers it answers: waiters already past their deadline were
    // counted when they expired.
    if (status != ARES_EDESTRUCTION && !waiters.empty()) self.failures.fetch_add(1, std::memory_order_relaxed);
    for (auto& w : waiters) answer(w, self.fallback(q->host, error));
  }

  void begin(Request r) {
    if (auto a = [&] {
          std::lock_guard lock(mutex);
          return fresh(r.host, Clock::now());
        }()) {
      hits.fetch_add(1, std::memory_order_relaxed);
      ResolveResult res;
      res.endpoints = endpoints(*a, 0);
      res.cached = true;
      return answer(r.waiter, std::move(res));
    }
    auto& list = pending[r.host];
    const bool first = list.empty() && !querying(r.host);
    list.push_back(std::move(r.waiter));
    if (!first) return;  // one query per name: this waiter shares it
    lookups.fetch_add(1, std::memory_order_relaxed);
    in_flight.insert(r.host);
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(channel, r.host.c_str(), nullptr, &hints, &Impl::on_answer_tracked, new Query{this, r.host});
  }

  // Names whose query is still running, even when every waiter has already given up on it.
  std::unordered_set<std::string> in_flight;
  bool querying(const std::string& host) const { return in_flight.count(host) != 0; }
  static void on_answer_tracked(void* arg, int status, int timeouts, struct ares_addrinfo* res) {
    auto* q = static_cast<Query*>(arg);
    q->impl->in_flight.erase(q->host);
    on_answer(arg, status, timeouts, res);
  }

  // Waiters past their deadline get the stale answer or an error; the query itself goes on and
  // fills the cache for whoever asks next.
  Clock::time_point expire_waiters() {
    const auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto it = pending.begin(); it != pending.end();) {
      auto& list = it->second;
      std::vector<Waiter> late;
      for (auto w = list.begin(); w != list.end();) {
        if (w->deadline <= now) {
          late.push_back(std::move(*w));
          w = list.erase(w);
        } else {
          next = std::min(next, w->deadline);
          ++w;
        }
      }
      const std::string host = it->first;
      it = list.empty() ? pending.erase(it) : std::next(it);
      if (!late.empty()) failures.fetch_add(1, std::memory_order_relaxed);
      for (auto& w : late) {
        answer(w, fallback(host, fmt::format("no answer from DNS within {} ms", opts.timeout.count())));
      }
    }
    return next;
  }

  void run() {
    for (;;) {
      std::deque<Request> batch;
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
        batch.swap(queue);
      }
      for (auto& r : batch) begin(std::move(r));
      const auto next_deadline = expire_waiters();

      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM + 1];
      nfds_t n = 0;
      fds[n++] = pollfd{wake_fd, POLLIN, 0};
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events != 0) fds[n++] = pollfd{socks[i], events, 0};
      }
      timeval max_tv{1, 0};
      timeval tv{};
      const timeval* t = ares_timeout(channel, &max_tv, &tv);
      auto wait_ms = t->tv_sec * 1000 + t->tv_usec / 1000;
      const auto until_deadline =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_deadline - Clock::now()).count();
      wait_ms = std::clamp<long>(std::min<long>(wait_ms, until_deadline), 0, 1000);
      ::poll(fds, n, static_cast<int>(wait_ms) + 1);
      if (fds[0].revents & POLLIN) {
        std::uint64_t v;
        [[maybe_unused]] auto rd = ::read(wake_fd, &v, sizeof v);
      }
      for (nfds_t i = 1; i < n; ++i) {
        const bool rd = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
        const bool wr = (fds[i].revents & POLLOUT) != 0;
        if (rd || wr) ares_process_fd(channel, rd ? fds[i].fd : ARES_SOCKET_BAD, wr ? fds[i].fd : ARES_SOCKET_BAD);
      }
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retries and timeouts
    }
    // Stopping: c-ares answers its queries with ARES_EDESTRUCTION, which reaches their waiters.
    ares_destroy(channel);
    channel = nullptr;
    for (auto& [host, list] : pending) {
      for (auto& w : list) {
        ResolveResult r;
        r.error = "the resolver stopped";
        answer(w, std::move(r));
      }
    }
    pending.clear();
  }
};

Resolver::Resolver(ResolverOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Resolver::~Resolver() { stop(); }

void Resolver::start() {
  auto& i = *impl_;
  if (i.thread.joinable()) return;
  if (const int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS) {
    throw std::runtime_error(std::string("DNS resolver: ") + ares_strerror(rc));
  }
  ares_options o{};
  int mask = 0;
  // Two tries per server; c-ares doubles the wait on the second, so the tries fit in the deadline.
  o.timeout = static_cast<int>(std::max<long>(100, i.opts.timeout.count() / 3));
  mask |= ARES_OPT_TIMEOUTMS;
  o.tries = 2;
  mask |= ARES_OPT_TRIES;
  if (const int rc = ares_init_options(&i.channel, &o, mask); rc != ARES_SUCCESS) {
    ares_library_cleanup();
    throw std::runtime_error(std::string("DNS resolver: cannot initialise: ") + ares_strerror(rc));
  }
  if (!i.servers.empty()) {
    if (const int rc = ares_set_servers_ports_csv(i.channel, i.servers.c_str()); rc != ARES_SUCCESS) {
      ares_destroy(i.channel);
      ares_library_cleanup();
      throw std::runtime_error(fmt::format("DNS resolver: servers {}: {}", i.servers, ares_strerror(rc)));
    }
  }
  i.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (i.wake_fd < 0) {
    ares_destroy(i.channel);
    ares_library_cleanup();
    throw std::runtime_error("DNS resolver: eventfd failed");
  }
  {
    std::lock_guard lock(i.mutex);
    i.running = true;
    i.stopping = false;
  }
  i.thread = std::thread([&i] { i.run(); });
}

void Resolver::stop() {
  auto& i = *impl_;
  if (!i.thread.joinable()) return;
  if (std::this_thread::get_id() == i.thread.get_id()) {  // released from one of its own callbacks
    {
      std::lock_guard lock(i.mutex);
      i.stopping = true;
    }
    i.thread.detach();
    return;
  }
  std::deque<Impl::Request> left;
  {
    std::lock_guard lock(i.mutex);
    i.stopping = true;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(i.wake_fd, &one, sizeof one);
  i.thread.join();
  {
    std::lock_guard lock(i.mutex);
    i.running = false;
    left.swap(i.queue);
  }
  for (auto& r : left) {
    ResolveResult res;
    res.error = "the resolver stopped";
    Impl::answer(r.waiter, std::move(res));
  }
  ::close(i.wake_fd);
  i.wake_fd = -1;
  ares_library_cleanup();
}

void Resolver::resolve(const std::string& host, std::uint16_t port, std::function<void(ResolveResult)> done) {
  auto& i = *impl_;
  Impl::Waiter w{port, std::move(done), Clock::now() + i.opts.timeout};
  boost::system::error_code ec;
  if (const auto literal = asio::ip::make_address(host, ec); !ec) {
    ResolveResult r;
    r.endpoints.emplace_back(literal, port);
    return Impl::answer(w, std::move(r));
  }
  std::optional<std::vector<asio::ip::address>> hit;
  bool accepted = false;
  {
    std::lock_guard lock(i.mutex);
    hit = i.fresh(host, Clock::now());
    if (!hit && i.running && !i.stopping) {
      i.queue.push_back(Impl::Request{host, std::move(w)});
      accepted = true;
    }
  }
  if (hit) {
    i.hits.fetch_add(1, std::memory_order_relaxed);
    ResolveResult r;
    r.endpoints = Impl::endpoints(*hit, port);
    r.cached = true;
    return Impl::answer(w, std::move(r));
  }
  if (!accepted) {
    ResolveResult r;
    r.error = "the resolver is not running";
    return Impl::answer(w, std::move(r));
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(i.wake_fd, &one, sizeof one);
}

ResolverStats Resolver::stats() const {
  const auto& i = *impl_;
  return {i.lookups.load(), i.hits.load(), i.failures.load(), i.stale.load()};
}

}  // namespace cjhub::delivery
