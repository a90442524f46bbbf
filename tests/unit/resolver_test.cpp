// The delivery resolver (src/delivery/resolver.cpp) against a real DNS server on loopback
// (tests/support/dns_server.hpp): a slow name does not hold up the others, one query per name
// however many wait, answers kept for their TTL, a deadline kept, the last known address used
// when DNS fails; and the server list of the configuration.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "cjhub/common/server_list.hpp"
#include "cjhub/delivery/resolver.hpp"
#include "support/dns_server.hpp"

namespace cjhub::delivery {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::DnsServer;

struct Timed {
  ResolveResult result;
  std::chrono::milliseconds after{};
};

// Starts a lookup now; the future holds its answer and how long it took.
std::future<Timed> lookup(Resolver& r, const std::string& host, std::uint16_t port = 443) {
  auto p = std::make_shared<std::promise<Timed>>();
  auto f = p->get_future();
  const auto t0 = Clock::now();
  r.resolve(host, port, [p, t0](ResolveResult res) {
    p->set_value(Timed{std::move(res), std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0)});
  });
  return f;
}

Timed wait(std::future<Timed>& f) {
  if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("no answer within 10 s");
  return f.get();
}

ResolverOptions options(const DnsServer& dns) {
  ResolverOptions o;
  o.servers = dns.address();
  o.timeout = 5000ms;
  return o;
}

TEST(Resolver, ASlowNameDoesNotHoldUpTheOthers) {
  DnsServer dns;
  dns.set("slow.sink.test", {.delay = 1500ms});
  for (int i = 0; i < 20; ++i) dns.set("fast" + std::to_string(i) + ".sink.test", {.address = "127.0.0." + std::to_string(i + 1)});
  Resolver r(options(dns));
  r.start();
  auto slow = lookup(r, "slow.sink.test");
  std::this_thread::sleep_for(50ms);  // the slow query is in flight first
  std::vector<std::future<Timed>> fast;
  for (int i = 0; i < 20; ++i) fast.push_back(lookup(r, "fast" + std::to_string(i) + ".sink.test", 8443));
  for (int i = 0; i < 20; ++i) {
    const auto t = wait(fast[i]);
    ASSERT_TRUE(t.result.error.empty()) << t.result.error;
    ASSERT_EQ(t.result.endpoints.size(), 1u);
    EXPECT_EQ(t.result.endpoints[0].address().to_string(), "127.0.0." + std::to_string(i + 1));
    EXPECT_EQ(t.result.endpoints[0].port(), 8443);
    EXPECT_LT(t.after.count(), 500) << "fast" << i << " waited behind the slow name";
  }
  const auto s = wait(slow);
  EXPECT_TRUE(s.result.error.empty()) << s.result.error;
  EXPECT_GE(s.after.count(), 1400);
  EXPECT_FALSE(s.result.stale);
}

TEST(Resolver, ConcurrentLookupsOfOneNameShareOneQuery) {
  DnsServer dns;
  dns.set("dcj.sink.test", {.delay = 300ms});
  Resolver r(options(dns));
  r.start();
  std::vector<std::future<Timed>> all;
  for (int i = 0; i < 10; ++i) all.push_back(lookup(r, "dcj.sink.test", static_cast<std::uint16_t>(9000 + i)));
  for (int i = 0; i < 10; ++i) {
    const auto t = wait(all[i]);
    ASSERT_EQ(t.result.endpoints.size(), 1u) << t.result.error;
    EXPECT_EQ(t.result.endpoints[0].port(), 9000 + i) << "each waiter gets its own port";
  }
  EXPECT_EQ(dns.queries("dcj.sink.test"), 1);
  EXPECT_EQ(r.stats().lookups, 1u);
}

TEST(Resolver, AnswersAreKeptForTheirTimeToLiveOnly) {
  DnsServer dns;
  dns.set("kept.sink.test", {.ttl = 60});
  dns.set("zero.sink.test", {.ttl = 0});
  Resolver r(options(dns));
  r.start();
  for (int i = 0; i < 3; ++i) {
    auto k = lookup(r, "kept.sink.test");
    const auto t = wait(k);
    ASSERT_TRUE(t.result.error.empty()) << t.result.error;
    EXPECT_EQ(t.result.cached, i > 0);
    auto z = lookup(r, "zero.sink.test");
    const auto tz = wait(z);
    ASSERT_TRUE(tz.result.error.empty()) << tz.result.error;
    EXPECT_FALSE(tz.result.cached);
  }
  EXPECT_EQ(dns.queries("kept.sink.test"), 1);
  EXPECT_EQ(dns.queries("zero.sink.test"), 3);
  EXPECT_EQ(r.stats().cache_hits, 2u);
}

TEST(Resolver, ALookupPastItsDeadlineIsAnErrorInTime) {
  DnsServer dns;
  dns.set("late.sink.test", {.delay = 3000ms});
  auto o = options(dns);
  o.timeout = 500ms;
  o.stale_for = 0s;
  Resolver r(o);
  r.start();
  auto f = lookup(r, "late.sink.test");
  const auto t = wait(f);
  EXPECT_TRUE(t.result.endpoints.empty());
  EXPECT_NE(t.result.error.find("500 ms"), std::string::npos) << t.result.error;
  EXPECT_GE(t.after.count(), 450);
  EXPECT_LT(t.after.count(), 1200);
  // The query's own timeout lands next to the deadline; whichever comes first, the lookup failed once.
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(r.stats().failures, 1u);
}

TEST(Resolver, WhenDnsFailsTheLastKnownAddressStandsInForAWhile) {
  DnsServer dns;
  dns.set("despp.sink.test", {.address = "127.0.0.9", .ttl = 1});
  auto o = options(dns);
  o.stale_for = 3600s;
  Resolver r(o);
  r.start();
  auto first = lookup(r, "despp.sink.test");
  ASSERT_TRUE(wait(first).result.error.empty());
  dns.set("despp.sink.test", {.servfail = true});
  std::this_thread::sleep_for(1100ms);  // past the TTL
  auto second = lookup(r, "despp.sink.test");
  const auto t = wait(second);
  EXPECT_TRUE(t.result.error.empty()) << t.result.error;
  EXPECT_TRUE(t.result.stale);
  ASSERT_EQ(t.result.endpoints.size(), 1u);
  EXPECT_EQ(t.result.endpoints[0].address().to_string(), "127.0.0.9");
  EXPECT_GE(dns.queries("despp.sink.test"), 2) << "the expired answer was asked for again first";
  EXPECT_EQ(r.stats().stale_answers, 1u);

  // Without a stale window the same failure is an error naming what DNS said.
  auto o2 = options(dns);
  o2.stale_for = 0s;
  Resolver strict(o2);
  strict.start();
  auto f = lookup(strict, "despp.sink.test");
  const auto e = wait(f);
  EXPECT_TRUE(e.result.endpoints.empty());
  EXPECT_FALSE(e.result.error.empty());
}

TEST(Resolver, AnUnknownNameIsAnErrorAndALiteralNeedsNoLookup) {
  DnsServer dns;
  Resolver r(options(dns));
  r.start();
  auto f = lookup(r, "nobody.sink.test");
  const auto t = wait(f);
  EXPECT_TRUE(t.result.endpoints.empty());
  EXPECT_FALSE(t.result.error.empty());
  auto lit = lookup(r, "::1", 7);
  const auto l = wait(lit);
  ASSERT_EQ(l.result.endpoints.size(), 1u);
  EXPECT_EQ(l.result.endpoints[0].address().to_string(), "::1");
  EXPECT_EQ(dns.queries("::1"), 0);
}

TEST(Resolver, AStoppedResolverAnswersEveryWaiterAndEveryLaterCall) {
  DnsServer dns;
  dns.set("hang.sink.test", {.delay = 10000ms});
  Resolver r(options(dns));
  r.start();
  auto f = lookup(r, "hang.sink.test");
  std::this_thread::sleep_for(100ms);
  r.stop();
  const auto t = wait(f);
  EXPECT_NE(t.result.error.find("stopped"), std::string::npos) << t.result.error;
  EXPECT_LT(t.after.count(), 2000);
  auto later = lookup(r, "hang.sink.test");
  EXPECT_FALSE(wait(later).result.error.empty());
}

TEST(ServerList, AddressesArePutInOneFormAndMistakesAreNamed) {
  EXPECT_EQ(normalise_server_list("", 53), "");
  EXPECT_EQ(normalise_server_list("  ", 53), "");
  EXPECT_EQ(normalise_server_list("10.0.0.2", 53), "10.0.0.2:53");
  EXPECT_EQ(normalise_server_list("10.0.0.2:5353, ::1 ,[fd00::1]:54", 53), "10.0.0.2:5353,[::1]:53,[fd00::1]:54");
  for (const char* bad : {"dns.example.org", "10.0.0.2:0", "10.0.0.2:70000", "10.0.0.2:x", "[10.0.0.2]:53",
                          "[::1", "10.0.0.2,,10.0.0.3", "10.0.0.2,"}) {
    try {
      normalise_server_list(bad, 53);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).size(), 0u) << bad;
    }
  }
}

}  // namespace
}  // namespace cjhub::delivery
