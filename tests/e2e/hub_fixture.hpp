// One real hub (binary, database, certificates, sockets) shared by the tests of a suite.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>

#include "support/hub_process.hpp"
#include "support/test_db.hpp"
#include "support/test_env.hpp"
#include "support/tls_client.hpp"

namespace cjhub::test {

class HubSuite : public ::testing::Test {
 protected:
  static void start_hub(HubOptions opts = {}) {
    if (!have_test_cluster()) return;
    db_ = std::make_unique<TestDatabase>();
    opts.database_url = db_->url();
    hub_ = std::make_unique<HubProcess>(std::move(opts));
    hub_->start();
  }
  static void TearDownTestSuite() {
    if (hub_ && ::testing::Test::HasFailure()) std::cerr << "---- hub log ----\n" << hub_->log();
    hub_.reset();
    db_.reset();
  }
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    ASSERT_TRUE(hub_) << "hub did not start";
  }
  static TlsClient client(const std::string& who) {
    TlsClient::Options o;
    o.port = hub_->port();
    if (!who.empty()) o.cert = client_cert(who);
    return TlsClient(o);
  }
  static std::string sample(const std::string& rel) { return read_file(data_dir() / "ciss" / rel); }
  static boost::json::object json(const HttpResult& r) { return boost::json::parse(r.body).as_object(); }
  static std::string problem_type(const HttpResult& r) {
    return std::string(json(r).at("type").as_string());
  }

  static inline std::unique_ptr<TestDatabase> db_;
  static inline std::unique_ptr<HubProcess> hub_;
};

// True when the connection is refused during or right after the handshake (with TLS 1.3 the
// server's verdict on the client certificate arrives after the client's handshake completes).
inline bool refused_by_tls(TlsClient& c) {
  if (c.connect()) return true;
  try {
    c.request("GET", "/healthz");
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

}  // namespace cjhub::test
