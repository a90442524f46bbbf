#include "support/test_db.hpp"

#include <openssl/rand.h>

#include "cjhub/common/crypto.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/migrations.hpp"
#include "support/test_env.hpp"

namespace cjhub::test {

bool have_test_cluster() { return env("CJHUB_TEST_PG").has_value(); }

namespace {
std::string with_database(const std::string& admin, const std::string& db) {
  // admin is postgresql://user@host:port[,host:port...]/postgres[?parameters]
  const auto query = admin.find('?');
  const auto path = admin.substr(0, query);
  const auto slash = path.rfind('/');
  return path.substr(0, slash + 1) + db + (query == std::string::npos ? "" : admin.substr(query));
}
}  // namespace

TestDatabase::TestDatabase() : TestDatabase(require_env("CJHUB_TEST_PG")) {}

TestDatabase::TestDatabase(std::string admin_url) : admin_url_(std::move(admin_url)) {
  unsigned char r[6];
  RAND_bytes(r, sizeof r);
  name_ = "cjhub_t_" + to_hex(r, sizeof r);
  url_ = with_database(admin_url_, name_);
  pqxx::connection admin(admin_url_);
  pqxx::nontransaction tx(admin);
  // Bounded: on the two-site topology a commit waits for the synchronous standby.
  tx.exec0("SET statement_timeout = '60s'");
  tx.exec0("CREATE DATABASE " + name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction tx(admin);
    tx.exec0("SET statement_timeout = '60s'");
    tx.exec0("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
  }
}

store::ConnectionPtr TestDatabase::connect() const {
  return store::ConnectionPtr(new store::Connection(url_));
}

void TestDatabase::migrate() const {
  auto c = store::connect(url_, std::chrono::milliseconds(5000));
  store::migrate(*c);
}

long long TestDatabase::count(const std::string& sql) const {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<long long>();
}

std::string TestDatabase::scalar(const std::string& sql) const {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  const auto f = tx.exec1(sql)[0];
  return f.is_null() ? std::string() : f.as<std::string>();
}

}  // namespace cjhub::test
