// Database tier: the reconnecting session every long-lived thread holds. A connection the server
// kills is dropped on the failure, the next call opens a new one and LISTENs again, and a NOTIFY
// sent after the reconnect wakes the waiter; the backoff doubles to its bound and a successful
// round resets it.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <chrono>
#include <thread>

#include "cjhub/store/database.hpp"
#include "store/connection_impl.hpp"
#include "cjhub/store/session.hpp"
#include "store/lanes.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;
using test::TestDatabase;

class SessionDb : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    db_->migrate();
    admin_ = store::connect(db_->url(), 3000ms);
  }
  int backend_pid(store::Session& s) {
    return s.run([](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
    });
  }
  void kill_backend(int pid) {
    pqxx::nontransaction tx(*admin_);
    ASSERT_TRUE(tx.exec1("SELECT pg_terminate_backend(" + std::to_string(pid) + ")")[0].as<bool>());
  }
  void notify(const std::string& channel) {
    pqxx::nontransaction tx(*admin_);
    tx.exec0("NOTIFY " + channel);
  }
  std::unique_ptr<TestDatabase> db_;
  store::ConnectionPtr admin_;
};

TEST_F(SessionDb, AKilledConnectionIsDroppedAndTheNextCallListensAgain) {
  store::Session s(db_->url(), 3000ms, {}, {"cjhub_session_test"});
  const int first = backend_pid(s);
  EXPECT_EQ(s.generation(), 1u);
  EXPECT_TRUE(s.take_notified()) << "a fresh connection counts as a notification: nobody listened before";
  EXPECT_FALSE(s.take_notified());

  kill_backend(first);
  // The failure surfaces as the store's own type, and the dead connection is dropped.
  bool unavailable = false;
  for (int i = 0; i < 50 && !unavailable; ++i) {
    try {
      backend_pid(s);
      std::this_thread::sleep_for(20ms);
    } catch (const store::DbUnavailable&) {
      unavailable = true;
    }
  }
  ASSERT_TRUE(unavailable) << "the killed connection never failed";
  EXPECT_FALSE(s.connected());

  const int second = backend_pid(s);
  EXPECT_NE(second, first);
  EXPECT_EQ(s.generation(), 2u);
  EXPECT_TRUE(s.take_notified());

  // LISTEN holds on the new connection: a NOTIFY from elsewhere wakes the waiter.
  notify("cjhub_session_test");
  auto woken = store::Session::Woken::timeout;
  for (int i = 0; i < 20 && woken != store::Session::Woken::notification; ++i) woken = s.wait(250ms);
  EXPECT_EQ(woken, store::Session::Woken::notification);
  EXPECT_TRUE(s.take_notified());
  // Another channel does not.
  notify("cjhub_other_channel");
  EXPECT_EQ(s.wait(300ms), store::Session::Woken::timeout);
  EXPECT_FALSE(s.take_notified());
}

TEST_F(SessionDb, TheDispatchersAreWokenAfterTheTransactionCommitsNeverInsideIt) {
  store::Session s(db_->url(), 3000ms, {}, {"cjhub_deliveries"});
  backend_pid(s);
  EXPECT_TRUE(s.take_notified());  // the fresh connection
  auto conn = store::connect(db_->url(), 3000ms);
  {
    store::Transaction tx(*conn);
    store::lanes::notify(tx);
    tx.exec1("SELECT 1");
    EXPECT_EQ(s.wait(300ms), store::Session::Woken::timeout) << "no wake-up before the commit";
    tx.commit();
  }
  auto woken = store::Session::Woken::timeout;
  for (int i = 0; i < 20 && woken != store::Session::Woken::notification; ++i) woken = s.wait(250ms);
  EXPECT_EQ(woken, store::Session::Woken::notification) << "the wake-up follows the commit";
  EXPECT_TRUE(s.take_notified());
  {
    store::Transaction tx(*conn);
    store::lanes::notify(tx);
    tx.abort();
  }
  EXPECT_EQ(s.wait(500ms), store::Session::Woken::timeout) << "an aborted transaction wakes nobody";
  // The connection is free for the next transaction, and is not left without durable commits.
  pqxx::nontransaction n(*conn);
  EXPECT_EQ(n.exec1("SHOW synchronous_commit")[0].as<std::string>(), "on");
}

TEST_F(SessionDb, AConnectionKilledWhileWaitingIsDroppedByTheWait) {
  store::Session s(db_->url(), 3000ms, {}, {"cjhub_session_test"});
  kill_backend(backend_pid(s));
  bool failed = false;
  for (int i = 0; i < 20 && !failed; ++i) {
    try {
      s.wait(250ms);
    } catch (const store::DbUnavailable&) {
      failed = true;
    }
  }
  EXPECT_TRUE(failed) << "a connection closed by the server is reported by the wait";
  EXPECT_FALSE(s.connected());
  EXPECT_GT(backend_pid(s), 0);
  EXPECT_EQ(s.generation(), 2u);
}

TEST_F(SessionDb, BackoffDoublesToItsBoundAndASuccessfulRoundResetsIt) {
  // Nothing listens on this port: every connect fails.
  store::Session s("postgresql://cjhub@127.0.0.1:9/none", 1000ms);
  EXPECT_THROW(s.get(), store::DbUnavailable);
  std::vector<long long> seen;
  for (int i = 0; i < 6; ++i) {
    s.back_off();
    seen.push_back(s.current_backoff().count());
  }
  EXPECT_EQ(seen, (std::vector<long long>{100, 200, 400, 800, 1000, 1000}));
  // A stop request cuts the sleep short.
  const auto started = std::chrono::steady_clock::now();
  s.back_off([] { return true; });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);

  store::Session good(db_->url(), 3000ms);
  good.back_off();
  good.back_off();
  EXPECT_EQ(good.current_backoff(), 200ms);
  EXPECT_GT(backend_pid(good), 0);
  EXPECT_EQ(good.current_backoff(), 0ms) << "a round that succeeded starts the backoff again from the bottom";
}

TEST_F(SessionDb, AStatementErrorKeepsTheConnection) {
  store::Session s(db_->url(), 3000ms);
  const int pid = backend_pid(s);
  EXPECT_THROW(s.run([](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec0("SELECT no_such_column FROM no_such_table");
  }), pqxx::sql_error);
  EXPECT_TRUE(s.connected());
  EXPECT_EQ(backend_pid(s), pid);
  EXPECT_EQ(s.generation(), 1u);
}

}  // namespace
}  // namespace cjhub
