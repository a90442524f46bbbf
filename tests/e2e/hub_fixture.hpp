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
  // Starts the suite's hub. A failure is kept and fails every test of the suite in SetUp: an
  // exception escaping SetUpTestSuite would make gtest skip the tests, and a skip is no verdict.
  static void start_hub(HubOptions opts = {}) {
    start_error_.clear();
    if (!have_test_cluster()) return;
    try {
      db_ = std::make_unique<TestDatabase>();
      opts.database_url = db_->url();
      hub_ = std::make_unique<HubProcess>(std::move(opts));
      hub_->start();
    } catch (const std::exception& e) {
      start_error_ = e.what();
      if (hub_) start_error_ += "\n---- hub log ----\n" + hub_->log();
      hub_.reset();
    }
  }
  static void TearDownTestSuite() {
    if (hub_ && ::testing::Test::HasFailure()) std::cerr << "---- hub log ----\n" << hub_->log();
    hub_.reset();
    db_.reset();
  }
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    ASSERT_TRUE(start_error_.empty()) << "the suite's hub did not start: " << start_error_;
    ASSERT_TRUE(hub_) << "the suite's hub was not started";
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
  static inline std::string start_error_;
};

// What became of a connection attempt: refused during or right after the handshake (with TLS 1.3
// the server's verdict on the client certificate arrives after the client's handshake completes,
// as an alert on the first read), with the reason OpenSSL gives (the alert's text); or served.
struct TlsVerdict {
  bool refused = false;
  std::string reason;  // e.g. "sslv3 alert certificate revoked"; empty when served
};
inline TlsVerdict tls_verdict(TlsClient& c) {
  if (const auto ec = c.connect()) return {true, ec.message()};
  try {
    const auto r = c.request("GET", "/healthz");
    return {false, "served with HTTP " + std::to_string(r.status)};
  } catch (const boost::system::system_error& e) {
    return {true, e.code().message()};
  }
}

}  // namespace cjhub::test
