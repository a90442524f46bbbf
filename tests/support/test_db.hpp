// A fresh PostgreSQL database per test (or fixture) on the harness's cluster (CJHUB_TEST_PG),
// dropped afterwards. Migrations are the daemon's own.
#pragma once

#include <memory>
#include <pqxx/pqxx>

#include "store/connection_impl.hpp"
#include <string>

namespace cjhub::test {

class TestDatabase {
 public:
  TestDatabase();  // creates cjhub_t_<random>; throws when the harness gave no cluster
  // The same on another cluster: `admin_url` names its postgres database, and may list several
  // hosts with query parameters (the two-site topology's URL).
  explicit TestDatabase(std::string admin_url);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  store::ConnectionPtr connect() const;  // without the store's prepared statements
  void migrate() const;
  // One-shot query helpers for assertions.
  long long count(const std::string& sql) const;
  std::string scalar(const std::string& sql) const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// True when the harness provides a cluster; tests skip (or, under CJHUB_REQUIRE_ALL_TIERS=1,
// fail) otherwise.
bool have_test_cluster();

}  // namespace cjhub::test

#define CJHUB_REQUIRE_CLUSTER()                                                         \
  do {                                                                                  \
    if (!::cjhub::test::have_test_cluster()) {                                          \
      if (::cjhub::test::env("CJHUB_REQUIRE_ALL_TIERS")) FAIL() << "CJHUB_TEST_PG unset"; \
      GTEST_SKIP() << "no PostgreSQL from the harness (run scripts/test)";              \
    }                                                                                   \
  } while (0)
