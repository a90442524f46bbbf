// End to end, for an operator onboarding an exchange: SIGHUP puts a new message type in force
// without a restart and without dropping an open connection; a configuration that cannot be
// loaded keeps the types in force, shows on /readyz and is audited as failed.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

namespace fs = std::filesystem;

// A type the example configuration does not have: an asynchronous response from another
// exchange (tests/data/validation/keys), registered with a message id only.
std::string async_response_type(const fs::path& schema) {
  return "\n  - name: AsyncResponse\n"
         "    root: {namespace: \"urn:cjhub:test:keys\", name: AsyncResponse}\n"
         "    schemas: [" + schema.string() + "]\n"
         "    namespaces: {k: \"urn:cjhub:test:keys\"}\n"
         "    keys:\n"
         "      message_id: k:AsyncResponse/Header/Id\n";
}

std::string response(const std::string& id) {
  return std::regex_replace(read_file(data_dir() / "validation" / "keys" / "response.xml"), std::regex("RESP-1"), id);
}

class TypeReload : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
    char tmpl[] = "/tmp/cjhub-types-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // The example configuration with its schema and template paths made absolute, so the copy can
    // live here.
    base_ = std::regex_replace(read_file(source_dir() / "config" / "cjhub.example.yaml"), std::regex(R"(\.\./schemas/)"),
                               (source_dir() / "schemas").string() + "/");
    base_ = std::regex_replace(base_, std::regex(R"(:-sandbox\})"), ":-" + (source_dir() / "config" / "sandbox").string() + "}");
    write(base_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string& text) const {
    // Written beside and renamed, as an operator's editor or configuration manager does.
    std::ofstream(dir_ / "cjhub.yaml.new") << text;
    fs::rename(dir_ / "cjhub.yaml.new", dir_ / "cjhub.yaml");
  }
  fs::path config() const { return dir_ / "cjhub.yaml"; }
  // Sends SIGHUP and waits for the audit record it leaves (the reload is done when it is written).
  void sighup(HubProcess& hub, std::int64_t nth) {
    ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
    for (int i = 0; i < 100 && db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP'") < nth; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP'"), nth) << hub.log();
  }
  static TlsClient client_of(unsigned short port, const std::string& who) {
    TlsClient::Options o;
    o.port = port;
    o.cert = client_cert(who);
    return TlsClient(o);
  }
  static std::string problem(const HttpResult& r) {
    return std::string(boost::json::parse(r.body).as_object().at("type").as_string());
  }
  // The example agencies with Hartford PD allowed to publish AsyncResponse too, applied with the
  // configuration that names the type; waits until the running hub's directory has it.
  void allow_hartford_to_publish_async_response(HubProcess& hub) {
    const auto agencies = std::regex_replace(read_file(source_dir() / "config" / "agencies.example.yaml"),
                                             std::regex(R"((ori: CT0064000[\s\S]*?publish: \[)([^\]]*)\])"),
                                             "$1$2, AsyncResponse]", std::regex_constants::format_first_only);
    ASSERT_NE(agencies.find("Acknowledgement, AsyncResponse]"), std::string::npos) << agencies;
    std::ofstream(dir_ / "agencies.yaml") << agencies;
    const auto reloads = [&] { return count_of(hub.log(), "agency directory reloaded"); };
    const auto before = reloads();
    std::string out;
    ASSERT_EQ(hub.run_command({"apply", "-c", config().string(), "-f", (dir_ / "agencies.yaml").string()}, &out), 0)
        << out;
    for (int i = 0; i < 100 && reloads() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_GT(reloads(), before) << hub.log();
  }
  static std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::unique_ptr<TestDatabase> db_;
  fs::path dir_;
  std::string base_;
};

TEST_F(TypeReload, SighupAddsATypeOnAnOpenConnectionAndABrokenFileKeepsTheTypesInForce) {
  HubOptions o;
  o.database_url = db_->url();
  o.config = config();
  HubProcess hub(o);
  hub.start();
  auto hpd = client_of(hub.port(), "hartford-pd");
  auto r = hpd.request("POST", "/v1/messages", response("RESP-1"));
  ASSERT_EQ(r.status, 422u) << r.body;
  EXPECT_EQ(problem(r), "https://localhost/problems/unknown-message-type");

  // The type added to the file, Hartford PD allowed to publish it (`cjhub apply`), SIGHUP: the
  // same connection (never reopened: a request on a connection the hub had closed would throw)
  // now gets 202, and the message is stored as that type.
  write(base_ + async_response_type(data_dir() / "validation" / "keys" / "exchange.xsd"));
  allow_hartford_to_publish_async_response(hub);
  sighup(hub, 1);
  ASSERT_TRUE(hpd.connected());
  r = hpd.request("POST", "/v1/messages", response("RESP-2"));
  EXPECT_EQ(r.status, 202u) << r.body << "\n" << hub.log();
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE message_type = 'AsyncResponse' AND document_id = 'RESP-2'"),
            1);
  EXPECT_NE(hub.log().find("added: AsyncResponse"), std::string::npos) << hub.log();
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP' AND outcome = 'reloaded' AND "
                       "detail LIKE '%added: AsyncResponse%'"),
            1);
  // The CISS types still validate as before.
  r = hpd.request("POST", "/v1/messages", read_file(data_dir() / "ciss/valid/arrest-packet-1.xml"));
  EXPECT_EQ(r.status, 202u) << r.body;

  // A file naming a schema that is not there: the reload fails, the types in force stay (the new
  // type still answers 202), /readyz shows a warning on `schemas` (still ready), the audit says failed.
  write(base_ + async_response_type(dir_ / "no-such.xsd"));
  sighup(hub, 2);
  EXPECT_NE(hub.log().find("reloading the message types failed, keeping the current ones"), std::string::npos)
      << hub.log();
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE actor = 'signal:SIGHUP' AND outcome = 'failed' AND "
                       "detail LIKE '%message types kept%no-such.xsd%'"),
            1);
  r = hpd.request("POST", "/v1/messages", response("RESP-3"));
  EXPECT_EQ(r.status, 202u) << r.body;
  auto ops = client_of(hub.port(), "operator");
  auto ready = ops.request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200u) << ready.body;
  const auto schemas = boost::json::parse(ready.body).at("components").at("schemas").as_object();
  EXPECT_EQ(schemas.at("state").as_string(), "warning") << ready.body;
  EXPECT_NE(std::string(schemas.at("detail").as_string()).find("no-such.xsd"), std::string::npos) << ready.body;

  // The type removed again: it is refused as unknown on the same connection, and the warning clears.
  write(base_);
  sighup(hub, 3);
  r = hpd.request("POST", "/v1/messages", response("RESP-4"));
  EXPECT_EQ(r.status, 422u) << r.body;
  EXPECT_EQ(problem(r), "https://localhost/problems/unknown-message-type");
  EXPECT_NE(hub.log().find("removed: AsyncResponse"), std::string::npos) << hub.log();
  ready = ops.request("GET", "/readyz");
  EXPECT_EQ(boost::json::parse(ready.body).at("components").at("schemas").at("state").as_string(), "ok") << ready.body;
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages WHERE message_type = 'AsyncResponse'"), 2);
  EXPECT_EQ(hub.terminate(), 0);
}

}  // namespace
}  // namespace cjhub::test
