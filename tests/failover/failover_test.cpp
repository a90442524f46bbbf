// Failover tier: two hubs, one per site, on the two-site PostgreSQL topology (scripts/ha: Patroni,
// a three-member etcd, synchronous replication), each reaching the database through the
// multi-host URL. Under load from two agencies, one at each site: (a) the primary's postmaster killed with -9,
// (b) the whole primary site lost at once (its PostgreSQL node, its Patroni and its hub),
// (c) an operator's switchover, (d) the synchronous standby lost while the primary lives. After
// each, the delivery invariants (support/invariants.hpp): every message answered 202 is stored
// and delivered, lost = 0, no order violation, copies of a message only with its delivery id.
// Each prints the time without a primary and the time until ingest answered 202 again.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <sys/wait.h>

#include "e2e/delivery_fixture.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// scripts/ha, as scripts/test names it in CJHUB_TEST_HA_CTL.
std::string ha_ctl() {
  const char* c = std::getenv("CJHUB_TEST_HA_CTL");
  return c != nullptr ? c : "";
}

// Runs `scripts/ha ARGS`, bounded to `limit` seconds (timeout(1) kills it after that), and returns
// its output (trimmed); `ok` is whether it exited 0 in time.
std::string ha(const std::string& args, bool* ok = nullptr, int limit = 60) {
  const std::string cmd = "CJHUB_HA_NO_DEPS=1 timeout -k 5 " + std::to_string(limit) + " " + ha_ctl() + " " + args + " 2>&1";
  std::string out;
  int rc = -1;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::array<char, 512> buf{};
    while (fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
    rc = pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 124) out += "\n[scripts/ha " + args + " did not finish within " + std::to_string(limit) + " s]";
  if (ok != nullptr) *ok = WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
  return out;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class Failover : public DeliverySuite {
 protected:
  // Each step of the set-up and the tear-down, with the seconds since the test began: when a test
  // runs out of time, its output says where.
  void step(const std::string& what) {
    std::cout << "[failover +" << seconds(Clock::now() - began_) << " s] " << what << std::endl;
  }
  void SetUp() override {
    began_ = Clock::now();
    DeliverySuite::SetUp();
    if (ha_ctl().empty()) {
      if (env("CJHUB_REQUIRE_ALL_TIERS")) FAIL() << "CJHUB_TEST_HA_CTL is not set (scripts/test sets it)";
      GTEST_SKIP() << "CJHUB_TEST_HA_CTL is not set";
    }
    bool ok = false;
    // Bounded below the tier's timeout, so a topology that does not come up fails with its logs.
    const auto out = ha("start", &ok, 190);
    step("scripts/ha start: " + std::string(ok ? "ready" : "failed"));
    ASSERT_TRUE(ok) << out << "\n" << ha("logs 40");
    // Whatever the test before left, both sites serve: a leader and a synchronous standby.
    ha("start-site site-a");
    ha("start-site site-b");
    ASSERT_TRUE((ha("wait-healthy 90", &ok, 100), ok)) << ha("status") << "\n" << ha("logs 40");
    step("a leader and a synchronous standby");
    db_ = std::make_unique<TestDatabase>(ha("url postgres"));
    // The database is created on the leader, and the URL names site a first. libpq tries the next
    // node only when one cannot be reached or cannot take connections yet, not when it answers
    // that the database does not exist: a standby that has not yet replayed the CREATE DATABASE
    // would fail every connection (the test before may have left site a the standby).
    for (const auto until = Clock::now() + 30s;;) {
      try {
        pqxx::connection c(db_->url());
        break;
      } catch (const std::exception& e) {
        ASSERT_LT(Clock::now(), until) << "the test database did not reach both sites: " << e.what();
        std::this_thread::sleep_for(100ms);
      }
    }
    step("the test database on both sites");
    start_sinks();
    step("database and sinks ready");
  }
  void TearDown() override {
    step("the test's body is over");
    for (auto* s : {&a_, &b_}) s->finish();
    DeliverySuite::TearDown();
    step("hubs, sinks and the test database gone");
    if (ha_ctl().empty()) return;
    // The next test starts from two healthy sites.
    ha("start-site site-a");
    ha("start-site site-b");
    bool ok = false;
    const auto status = ha("wait-healthy 90", &ok, 100);
    step(ok ? "both sites healthy again" : "the sites are not healthy again: " + status + "\n" + ha("logs 40"));
  }

  // Two hubs on the multi-host URL: hub_ at the current primary's site, hub2_ at the other.
  void start_hubs() {
    auto o = hub_options();
    hub_ = std::make_unique<HubProcess>(o);
    hub_->start();
    hub2_ = std::make_unique<HubProcess>(o);
    hub2_->start();
  }
  // One agency per site's hub (Hartford PD at site a, New Haven PD at site b), each sending a
  // message again with its key until it is answered 202. Site a's client turns to site b's hub
  // when its own is gone, as a client given both sites' addresses would.
  void start_senders(const std::string& tag) {
    a_.resend = b_.resend = true;
    b_.new_haven = true;
    start_sender(a_, 6, tag + "A-", [this]() -> std::optional<unsigned short> {
      if (hub_ && hub_->running()) return hub_->port();
      if (hub2_ && hub2_->running()) return hub2_->port();
      return std::nullopt;
    });
    start_sender(b_, 6, tag + "B-", [this]() -> std::optional<unsigned short> {
      if (!hub2_ || !hub2_->running()) return std::nullopt;
      return hub2_->port();
    });
  }
  // Both hubs, both senders, and the load flowing through both before the fault.
  void start_load(const std::string& tag) {
    start_hubs();
    step("both hubs started");
    start_senders(tag);
    wait_for_load(10);
    step("load flowing through both hubs");
  }
  // Waits until both senders have `n` more messages accepted (the load runs before the fault).
  void wait_for_load(std::size_t n) {
    const auto a0 = a_.accepted(), b0 = b_.accepted();
    const auto until = Clock::now() + 30s;
    while (Clock::now() < until && (a_.accepted() < a0 + n || b_.accepted() < b0 + n)) std::this_thread::sleep_for(50ms);
    ASSERT_GE(a_.accepted(), a0 + n) << "site a's hub accepted nothing under load";
    ASSERT_GE(b_.accepted(), b0 + n) << "site b's hub accepted nothing under load";
  }
  // Ingest across a fault at `t`: the longest pause between two 202s of either sender from a
  // second before it on, and when, counted from `t`, ingest answered 202 again after that pause.
  struct Pause {
    double longest = 0, resumed_after = 0;
  };
  Pause ingest_pause(Clock::time_point t) {
    std::vector<Clock::time_point> all;
    for (auto* s : {&a_, &b_}) {
      std::lock_guard lock(s->m);
      for (const auto& a : s->accepted_at) {
        if (a >= t - 1s) all.push_back(a);
      }
    }
    std::sort(all.begin(), all.end());
    Pause p;
    for (std::size_t i = 1; i < all.size(); ++i) {
      const double gap = seconds(all[i] - all[i - 1]);
      if (gap > p.longest) p = {gap, seconds(all[i] - t)};
    }
    return p;
  }
  // The member that leads now (empty while none does).
  std::string leader() { return ha("leader"); }
  // Polls until a member other than `old` leads; returns when it was seen.
  std::optional<Clock::time_point> wait_new_leader(const std::string& old, std::chrono::seconds limit) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
      const auto l = leader();
      if (!l.empty() && l != old) return Clock::now();
      std::this_thread::sleep_for(200ms);
    }
    return std::nullopt;
  }
  // Makes a fault (`scripts/ha COMMAND`) and waits for a member other than `old` to lead; returns
  // when it was seen (nullopt, with a failure, when the command failed or no leader came).
  std::optional<Clock::time_point> fail_over(const std::string& command, const std::string& old) {
    bool ok = false;
    const auto out = ha(command, &ok);
    EXPECT_TRUE(ok) << "scripts/ha " << command << ": " << out;
    if (!ok) return std::nullopt;
    const auto promoted = wait_new_leader(old, 60s);
    EXPECT_TRUE(promoted) << "no new leader after " << command << ": " << ha("status");
    step("scripts/ha " + command + (promoted ? ": a new leader" : ": no new leader"));
    return promoted;
  }
  // Every message answered 202 by either hub is stored and delivered to each recipient, in case
  // order, without loss; prints the figures.
  void check_invariants(const std::string& what, Sender& first, Sender* second) {
    first.finish();
    if (second) second->finish();
    std::vector<std::string> ids;
    for (auto* s : {&first, second}) {
      if (!s) continue;
      std::lock_guard lock(s->m);
      ids.insert(ids.end(), s->ids.begin(), s->ids.end());
    }
    ASSERT_GT(ids.size(), 20u);
    const auto report = wait_for_all(ids, 120s);
    EXPECT_EQ(report.stored, static_cast<long long>(ids.size())) << "every 202 is stored: " << report.summary();
    // Every message was sent until answered 202 with its key: an in-doubt commit resolved by the
    // retry is one message, never two.
    EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE sender_ori IN ('CT0064000', 'CT0093000')"),
              static_cast<long long>(ids.size()))
        << "a retried message was stored twice, or a stored one was never answered 202";
    const long unknown = first.outcome_unknown + (second ? second->outcome_unknown.load() : 0);
    const long replayed = first.replayed + (second ? second->replayed.load() : 0);
    EXPECT_EQ(report.expected_deliveries, 3 * static_cast<long long>(ids.size()))
        << "DESPP, DCJ and Judicial each get every arrest packet: " << report.summary();
    EXPECT_TRUE(report.ok()) << what << ": " << report.summary();
    std::cout << what << ": " << report.summary() << " outcome_unknown=" << unknown << " replayed=" << replayed << "\n";
  }
  // /readyz's database component of a hub, as an operator sees it.
  boost::json::object database_readiness(HubProcess& hub) {
    try {
      auto ops = client("operator", &hub);
      const auto r = ops.request("GET", "/readyz");
      return boost::json::parse(r.body).at("components").at("database").as_object();
    } catch (const std::exception&) {
      return {};
    }
  }
  static std::string field(const boost::json::object& o, const char* k) {
    const auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : "";
  }

  Sender a_, b_;
  Clock::time_point began_ = Clock::now();
};

// Readiness names the node a hub reaches and says the replication is synchronous; after a
// failover it names the new primary.
TEST_F(Failover, ReadinessNamesThePrimaryAndSynchronousReplication) {
  start_hubs();
  step("both hubs started");
  const auto l = leader();
  ASSERT_FALSE(l.empty());
  boost::json::object db;
  const auto synchronous_by = Clock::now() + 20s;
  while (Clock::now() < synchronous_by) {
    db = database_readiness(*hub_);
    if (field(db, "replication") == "synchronous") break;
    std::this_thread::sleep_for(200ms);
  }
  step("readiness read from site a's hub");
  EXPECT_EQ(field(db, "role"), "primary") << boost::json::serialize(db);
  EXPECT_EQ(field(db, "replication"), "synchronous") << boost::json::serialize(db);
  const auto first_node = field(db, "node");
  EXPECT_NE(first_node.find("127.0.0.1:"), std::string::npos) << boost::json::serialize(db);
  bool ok = false;
  ha("kill-primary", &ok);
  ASSERT_TRUE(ok);
  ASSERT_TRUE(wait_new_leader(l, 30s)) << ha("status");
  const auto until = Clock::now() + 30s;
  while (Clock::now() < until) {
    db = database_readiness(*hub2_);
    if (!field(db, "node").empty() && field(db, "node") != first_node && db.at("ok").as_bool()) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_NE(field(db, "node"), first_node) << "readiness still names the old primary: " << boost::json::serialize(db);
  EXPECT_EQ(field(db, "role"), "primary") << boost::json::serialize(db);
}

// (a) kill -9 of the primary's postmaster under load from both sites' hubs.
TEST_F(Failover, KillingThePrimaryLosesNothingThatWasAnswered202) {
  ASSERT_NO_FATAL_FAILURE(start_load("OTN-FA-"));
  const auto old = leader();
  const auto killed_at = Clock::now();
  const auto promoted = fail_over("kill-primary", old);
  ASSERT_TRUE(promoted);
  wait_for_load(10);
  const auto pause = ingest_pause(killed_at);
  std::cout << "kill -9 primary: without a primary " << seconds(*promoted - killed_at) << " s; ingest paused "
            << pause.longest << " s, 202 again " << pause.resumed_after << " s after the kill; refused "
            << (a_.refused + b_.refused) << " (503: " << (a_.unavailable + b_.unavailable) << ")\n";
  EXPECT_EQ(a_.refused + b_.refused, a_.unavailable + b_.unavailable) << "every refusal is the promised 503";
  check_invariants("kill -9 primary", a_, &b_);
}

// (b) The primary's whole site at once: its PostgreSQL node, its Patroni and its hub.
TEST_F(Failover, LosingThePrimarySiteLosesNothingAndTheOtherSiteCarriesOn) {
  ASSERT_NO_FATAL_FAILURE(start_load("OTN-FB-"));
  const auto old = leader();
  ASSERT_FALSE(old.empty());
  const auto lost_at = Clock::now();
  hub_->kill9();  // the primary site's hub goes with it
  const auto promoted = fail_over("crash-site " + old, old);
  ASSERT_TRUE(promoted);
  const auto until = Clock::now() + 60s;
  std::optional<Clock::time_point> again;
  while (Clock::now() < until && !(again = b_.first_accepted_after(*promoted))) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(again) << "the surviving site's hub did not accept again";
  std::this_thread::sleep_for(2s);
  const auto pause = ingest_pause(lost_at);
  std::cout << "primary site lost: without a primary " << seconds(*promoted - lost_at) << " s; ingest paused "
            << pause.longest << " s, 202 again " << pause.resumed_after << " s after the loss\n";
  // The surviving hub delivers what both accepted, the lost hub's leased work included.
  check_invariants("primary site lost", a_, &b_);
}

// (c) An operator's switchover under load.
TEST_F(Failover, ASwitchoverUnderLoadLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(start_load("OTN-FC-"));
  const auto old = leader();
  const auto asked_at = Clock::now();
  const auto promoted = fail_over("switchover", old);
  ASSERT_TRUE(promoted);
  wait_for_load(10);
  const auto pause = ingest_pause(asked_at);
  std::cout << "switchover: new leader " << seconds(*promoted - asked_at) << " s after the request; ingest paused "
            << pause.longest << " s, 202 again " << pause.resumed_after << " s after the request\n";
  EXPECT_EQ(a_.refused + b_.refused, a_.unavailable + b_.unavailable) << "every refusal is the promised 503";
  check_invariants("switchover", a_, &b_);
}

// (d) The synchronous standby lost while the primary lives. With synchronous_mode_strict off
// (scripts/ha's default), commits wait until Patroni drops the lost standby from
// synchronous_standby_names (about its ttl), then the primary accepts alone and readiness says
// the replication is "none"; nothing answered 202 is lost.
TEST_F(Failover, LosingTheSynchronousStandbyPausesCommitsThenThePrimaryGoesOnAlone) {
  ASSERT_NO_FATAL_FAILURE(start_load("OTN-FD-"));
  const auto standby = ha("sync-standby");
  ASSERT_FALSE(standby.empty());
  const auto primary = leader();
  const auto lost_at = Clock::now();
  bool ok = false;
  ha("crash-site " + standby, &ok);
  ASSERT_TRUE(ok);
  boost::json::object db;
  std::optional<Clock::time_point> alone;
  const auto until = Clock::now() + 60s;
  while (Clock::now() < until) {
    db = database_readiness(*hub_);
    if (field(db, "replication") == "none") {
      alone = Clock::now();
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(alone) << "readiness never showed the primary alone: " << boost::json::serialize(db);
  EXPECT_EQ(leader(), primary) << "the primary stays the primary";
  wait_for_load(10);
  const auto pause = ingest_pause(lost_at);
  std::cout << "synchronous standby lost: replication none after " << seconds(*alone - lost_at)
            << " s; ingest paused " << pause.longest << " s, 202 again " << pause.resumed_after
            << " s after the loss; refused " << (a_.refused + b_.refused) << "\n";
  check_invariants("synchronous standby lost", a_, &b_);
}

}  // namespace
}  // namespace cjhub::test
