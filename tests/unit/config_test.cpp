// Configuration validation: the example file loads; every kind of mistake stops start-up with a
// message naming the key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include <unistd.h>

#include "cjhub/config/agencies.hpp"
#include "cjhub/config/config.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::source_dir;

// The example file with TLS paths pointed at files that exist (any file: only existence is
// checked here).
std::string example_yaml() { return test::read_file(source_dir() / "config" / "cjhub.example.yaml"); }

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto d = source_dir() / "config";
    setenv("CJHUB_TLS_DIR", (source_dir() / "tests" / "data" / "config" / "fake-tls").c_str(), 1);
    setenv("CJHUB_DATABASE_URL", "postgresql://u@127.0.0.1:1/db", 1);
    setenv("CJHUB_PORT", "9443", 1);
  }
  void TearDown() override {  // what a test set for itself, gone even when it failed half-way
    unsetenv("CJHUB_READ_LOG_EVERY_MS");
    unsetenv("CJHUB_MOVE_CURSOR_EVERY_MS");
  }
  config::Config parse(const std::string& yaml) { return config::parse(yaml, source_dir() / "config"); }

  // Replaces the first match of `pattern` in the example and expects a ConfigError mentioning `key`.
  void expect_error(const std::string& pattern, const std::string& replacement, const std::string& key) {
    const auto yaml = std::regex_replace(example_yaml(), std::regex(pattern), replacement,
                                         std::regex_constants::format_first_only);
    ASSERT_NE(yaml, example_yaml()) << "pattern not found: " << pattern;
    try {
      parse(yaml);
      FAIL() << "expected a ConfigError naming " << key;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
};

TEST_F(ConfigTest, ExampleFileLoadsWithEnvironment) {
  const auto c = parse(example_yaml());
  EXPECT_EQ(c.listener.port, 9443);
  EXPECT_EQ(c.database.url, "postgresql://u@127.0.0.1:1/db");
  EXPECT_EQ(c.limits.max_body_bytes, 4u * 1024 * 1024);
  ASSERT_EQ(c.message_types.size(), 5u);
  const auto erasure = c.find_type("ErasureNotice");
  ASSERT_NE(erasure, nullptr);
  EXPECT_TRUE(erasure->ack_required);
  EXPECT_FALSE(c.find_type("ArrestPacket")->ack_required);
  EXPECT_EQ(erasure->spec.root_local_name, "ErasureNotice");
  ASSERT_EQ(erasure->spec.schema_files.size(), 1u);
  EXPECT_TRUE(std::filesystem::path(erasure->spec.schema_files[0]).is_absolute());
  EXPECT_TRUE(std::filesystem::exists(erasure->spec.schema_files[0]));
  EXPECT_EQ(erasure->spec.namespaces.at("nc"), "http://release.niem.gov/niem/niem-core/5.0/");
  EXPECT_GE(c.workers.io_threads, 1u);
  // The protections of the review's findings are on by default.
  EXPECT_EQ(c.delivery.max_answer_bytes, 64u * 1024);
  EXPECT_EQ(c.limits.max_namespaces, 100u);
  EXPECT_EQ(c.limits.max_namespace_uri_length, 1024u);
  EXPECT_EQ(c.ingest.agency_queue_share_percent, 50u);
  EXPECT_EQ(c.ingest.agency_burst, 500u);
  EXPECT_EQ(c.listener.max_handshakes_per_address, 32u);
  EXPECT_EQ(c.identity.max_age, std::chrono::seconds(120));
  EXPECT_EQ(c.limits.max_requests_per_connection, 1000u);
  EXPECT_EQ(c.tls.verify_depth, 4);
  // Delivery's clocks: what the benchmarks measured (docs/benchmarks.md, sections b and h).
  EXPECT_EQ(c.delivery.read_log_every, std::chrono::milliseconds(50));
  EXPECT_EQ(c.delivery.move_cursor_every, std::chrono::milliseconds(1000));
}

TEST_F(ConfigTest, DefaultsApplyWhenVariablesAreUnset) {
  unsetenv("CJHUB_PORT");
  EXPECT_EQ(parse(example_yaml()).listener.port, 8443);
}

TEST_F(ConfigTest, MissingVariableWithoutDefaultIsNamed) {
  const auto yaml = std::regex_replace(example_yaml(), std::regex(R"(\$\{CJHUB_DATABASE_URL:-[^}]*\})"),
                                       "${CJHUB_NO_SUCH_VARIABLE}");
  try {
    parse(yaml);
    FAIL();
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("database.url"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CJHUB_NO_SUCH_VARIABLE"), std::string::npos) << e.what();
  }
}

TEST_F(ConfigTest, UnknownKeysAreErrors) {
  expect_error(R"(  max_connections: 1024)", "  max_connections: 1024\n  maxconnections: 5", "listener.maxconnections");
  expect_error(R"(\nlimits:)", "\nlimitz: {}\nlimits:", "limitz");
}

TEST_F(ConfigTest, BadValuesAreNamed) {
  expect_error(R"(max_body_bytes: 4194304)", "max_body_bytes: 12", "limits.max_body_bytes");
  expect_error(R"(max_body_bytes: 4194304)", "max_body_bytes: lots", "limits.max_body_bytes");
  expect_error(R"(min_version: "1.2")", "min_version: \"1.0\"", "tls.min_version");
  expect_error(R"(format: \$\{CJHUB_LOG_FORMAT:-text\})", "format: xml", "logging.format");
  expect_error(R"(retention_days: 400)", "retention_days: 0", "audit.retention_days");
  expect_error(R"(verify_records: 100000)", "verify_records: 0", "audit.verify_records");
  expect_error(R"(verify_interval_s: \$\{CJHUB_AUDIT_VERIFY_INTERVAL_S:-900\})", "verify_interval_s: 86401",
               "audit.verify_interval_s");
  expect_error(R"(payload_days: 30)", "payload_days: 0", "retention.payload_days");
  expect_error(R"(interval_minutes: 60)", "interval_minutes: 100000", "retention.interval_minutes");
  expect_error(R"(group_max_messages: 128)", "group_max_messages: 0", "ingest.group_max_messages");
  expect_error(R"(port: \$\{CJHUB_PORT:-8443\})", "port: 70000", "listener.port");
  expect_error(R"(modules: \{\})", "modules: {nosuchmodule: debug}", "logging.modules.nosuchmodule");
  expect_error(R"(read_log_every_ms: \$\{CJHUB_READ_LOG_EVERY_MS:-50\})", "read_log_every_ms: 1001",
               "delivery.read_log_every_ms");
  expect_error(R"(move_cursor_every_ms: \$\{CJHUB_MOVE_CURSOR_EVERY_MS:-1000\})", "move_cursor_every_ms: -1",
               "delivery.move_cursor_every_ms");
}

// Delivery's clocks are the operator's to set, from nothing (every read and every round) to the
// slowest each allows.
TEST_F(ConfigTest, DeliveryReadsAndMovesItsCursorsOnClocksTheOperatorSets) {
  setenv("CJHUB_READ_LOG_EVERY_MS", "0", 1);
  setenv("CJHUB_MOVE_CURSOR_EVERY_MS", "0", 1);
  auto c = parse(example_yaml());
  EXPECT_EQ(c.delivery.read_log_every, std::chrono::milliseconds(0));
  EXPECT_EQ(c.delivery.move_cursor_every, std::chrono::milliseconds(0));
  setenv("CJHUB_READ_LOG_EVERY_MS", "1000", 1);
  setenv("CJHUB_MOVE_CURSOR_EVERY_MS", "60000", 1);
  c = parse(example_yaml());
  EXPECT_EQ(c.delivery.read_log_every, std::chrono::milliseconds(1000));
  EXPECT_EQ(c.delivery.move_cursor_every, std::chrono::milliseconds(60000));
}

TEST_F(ConfigTest, MissingFilesAreNamed) {
  expect_error(R"(/server\.crt)", "/nope.crt", "tls.server_cert");
  expect_error(R"(\.\./schemas/ciss/1\.0/ciss\.xsd)", "../schemas/ciss/1.0/missing.xsd", "message_types[0].schemas[0]");
}

TEST_F(ConfigTest, TheSandboxCourtNeedsItsOriAndTemplatesThatExist) {
  const auto c = parse(example_yaml());
  EXPECT_EQ(c.sandbox.court_ori, "CTJUD00SB");
  ASSERT_EQ(c.sandbox.templates.size(), 2u);
  EXPECT_EQ(c.sandbox.templates.at("ErasureNotice"), source_dir() / "config" / "sandbox" / "erasure-notice.xml");
  expect_error(R"(/erasure-notice\.xml)", "/nope.xml", "sandbox.templates.ErasureNotice");
  expect_error(R"(court_ori: \$\{CJHUB_SANDBOX_COURT_ORI:-CTJUD00SB\})", "court_ori: ''", "sandbox.court_ori");
}

TEST_F(ConfigTest, MessageTypeMistakesAreNamed) {
  expect_error(R"(message_id: ciss:ArrestPacket/)", "message_id: zz:ArrestPacket/", "message_types[0].keys.message_id");
  expect_error(R"(message_id: ciss:ArrestPacket/)", "message_id: ciss:CaseUpdate/", "message_types[0].keys.message_id");
  expect_error(R"(      case_key: ciss:ArrestPacket)", "      case_number: ciss:ArrestPacket", "message_types[0].keys.case_number");
  expect_error(R"(- name: EarlyArrestNotification)", "- name: ArrestPacket", "duplicate message type");
  expect_error(R"(ack_required: true)", "ack_required: maybe", "message_types[3].ack_required");
}

// Problem types are <public_url>/problems/<slug>: by default the server certificate's DNS name with
// the listener's port (none for 443), else what the file says, which must be a plain https URL.
TEST_F(ConfigTest, PublicUrlDefaultsToTheServerCertificatesNameAndMustBeHttps) {
  // fake-tls holds no certificate: the name falls back to localhost.
  EXPECT_EQ(parse(example_yaml()).listener.public_url, "https://localhost:9443");

  const auto dir = std::filesystem::temp_directory_path() / ("cjhub-public-url-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=ignored.example "
                   "-addext subjectAltName=DNS:cjhub.example.gov,DNS:other.example.gov -keyout " +
                   (dir / "server.key").string() + " -out " + (dir / "server.crt").string() + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  for (const auto& f : std::filesystem::directory_iterator(source_dir() / "tests" / "data" / "config" / "fake-tls")) {
    if (f.path().stem() == "server") continue;
    std::filesystem::copy_file(f.path(), dir / f.path().filename(), std::filesystem::copy_options::overwrite_existing);
  }
  setenv("CJHUB_TLS_DIR", dir.c_str(), 1);
  EXPECT_EQ(parse(example_yaml()).listener.public_url, "https://cjhub.example.gov:9443");
  setenv("CJHUB_PORT", "443", 1);
  EXPECT_EQ(parse(example_yaml()).listener.public_url, "https://cjhub.example.gov");
  std::filesystem::remove_all(dir);
  setenv("CJHUB_TLS_DIR", (source_dir() / "tests" / "data" / "config" / "fake-tls").c_str(), 1);

  const auto with = [&](const std::string& url) {
    return std::regex_replace(example_yaml(), std::regex("\\nlistener:\\n"), "\nlistener:\n  public_url: " + url + "\n",
                              std::regex_constants::format_first_only);
  };
  EXPECT_EQ(parse(with("https://gw.example.gov/cjhub")).listener.public_url, "https://gw.example.gov/cjhub");
  EXPECT_EQ(parse(with("https://[2001:db8::1]:8443")).listener.public_url, "https://[2001:db8::1]:8443");
  for (const auto* bad : {"http://cjhub.example.gov", "https://cjhub.example.gov/", "https://cjhub.example.gov/?a=1",
                          "https://cjhub.example.gov/#x", "https://", "cjhub.example.gov", "https://a b.gov"}) {
    try {
      parse(with(std::string("'") + bad + "'"));
      ADD_FAILURE() << "accepted listener.public_url " << bad;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("listener.public_url"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ConfigTest, NotYaml) {
  EXPECT_THROW(parse("listener: [unclosed"), config::ConfigError);
  EXPECT_THROW(parse(""), config::ConfigError);
  EXPECT_THROW(parse("- just\n- a list\n"), config::ConfigError);
}

const std::vector<std::string> kTypes = {"ArrestPacket", "CaseUpdate", "ErasureNotice",
                                         "EarlyArrestNotification", "Acknowledgement"};

TEST(AgenciesFile, ExampleLoads) {
  const auto f = config::load_agencies(source_dir() / "config" / "agencies.example.yaml", kTypes);
  ASSERT_EQ(f.agencies.size(), 6u);
  EXPECT_EQ(f.agencies[1].ori, "CT0064000");
  EXPECT_EQ(f.agencies[1].identities.at(0).kind, config::IdentityKind::san_uri);
  EXPECT_EQ(f.agencies[5].role, config::Role::operator_);
  EXPECT_TRUE(f.agencies[5].publish.empty());
}

void expect_agencies_error(const std::string& yaml, const std::string& needle) {
  try {
    config::parse_agencies(yaml, kTypes);
    FAIL() << "expected an error mentioning " << needle;
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(AgenciesFile, MistakesAreNamed) {
  const std::string ok = "agencies:\n  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: urn:x}]\n";
  EXPECT_NO_THROW(config::parse_agencies(ok, kTypes));
  expect_agencies_error("agencies:\n  - ori: ct64\n    name: x\n    identities: [{san_uri: u}]\n", "agencies[0].ori");
  expect_agencies_error(ok + "    publish: [Warrant]\n", "agencies[0].publish[0]");
  expect_agencies_error(ok + "    colour: blue\n", "agencies[0].colour");
  expect_agencies_error("agencies:\n  - ori: CT0064000\n    name: x\n    identities: [{san_uri: u, subject: \"CN=x\"}]\n",
                        "exactly one");
  expect_agencies_error("agencies:\n  - ori: CT0064000\n    name: x\n    identities: [{sha256: abc}]\n", "sha256");
  expect_agencies_error(ok + "  - ori: CT0093000\n    name: y\n    identities: [{san_uri: urn:x}]\n",
                        "already mapped");
  expect_agencies_error(ok + "  - ori: CT0064000\n    name: y\n    identities: [{san_uri: urn:y}]\n", "duplicate ORI");
  expect_agencies_error(ok + "    role: admin\n", "agencies[0].role");
  expect_agencies_error(ok + "    environment: staging\n", "agencies[0].environment");
  expect_agencies_error(ok + "    environment: sandbox\n    role: operator\n", "operator cannot be a sandbox");
}

TEST(AgenciesFile, AnAgencyIsProductionUnlessMarkedSandbox) {
  const auto f = config::parse_agencies(
      "agencies:\n  - ori: CT0064000\n    name: Hartford\n    identities: [{san_uri: urn:x}]\n"
      "  - ori: CTSBX0001\n    name: Vendor sandbox\n    environment: sandbox\n    identities: [{san_uri: urn:y}]\n"
      "  - ori: CT0093000\n    name: New Haven\n    environment: production\n    identities: [{san_uri: urn:z}]\n",
      kTypes);
  ASSERT_EQ(f.agencies.size(), 3u);
  EXPECT_FALSE(f.agencies[0].sandbox);
  EXPECT_TRUE(f.agencies[1].sandbox);
  EXPECT_FALSE(f.agencies[2].sandbox);
}

TEST(AgenciesFile, FingerprintsAreNormalised) {
  const std::string fp = "AB:CD:" + std::string(60, 'E');
  const auto f = config::parse_agencies(
      "agencies:\n  - ori: CT0064000\n    name: x\n    identities: [{sha256: \"" + fp + "\"}]\n", kTypes);
  EXPECT_EQ(f.agencies[0].identities[0].value, "abcd" + std::string(60, 'e'));
}

}  // namespace
}  // namespace cjhub
