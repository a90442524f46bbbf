// End to end: the metrics behind the alert rules and the dashboard (config/prometheus,
// config/grafana) against a running hub with delivery (the delivery fixture's four sinks): every
// metric name they read is one the hub exports; the certificate, CRL and audit-check metrics.
#include <yaml-cpp/yaml.h>

#include <regex>

#include "e2e/delivery_fixture.hpp"
#include "support/prometheus.hpp"
#include "support/promql_names.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class Alerting : public DeliverySuite {
 protected:
  // The families /metrics declares (# TYPE name type).
  static std::map<std::string, std::string> families(const std::string& text) {
    std::map<std::string, std::string> out;
    static const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)$)");
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_match(line, m, type_line)) out[m[1].str()] = m[2].str();
    }
    return out;
  }
  std::string scrape(TlsClient& ops) {
    const auto r = ops.request("GET", "/metrics");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.body;
  }
  // Polls /metrics until `pred` holds for its parsed samples (or 15 s pass).
  std::map<std::string, double> scrape_until(TlsClient& ops, const std::function<bool(const std::map<std::string, double>&)>& pred) {
    std::map<std::string, double> m;
    const auto until = std::chrono::steady_clock::now() + 15s;
    do {
      m = parse_prometheus(scrape(ops));
      if (pred(m)) break;
      std::this_thread::sleep_for(200ms);
    } while (std::chrono::steady_clock::now() < until);
    return m;
  }
};

// Every name the rules' expressions and the dashboard's queries read, except the recording
// rules' own and Prometheus's `up`, must be a family of the hub's /metrics (a histogram's
// _bucket, _sum and _count by the histogram). The metrics of the endpoint watchers, submitter
// telemetry and components come with the scorecard; until then they are reported missing here.
TEST_F(Alerting, EveryMetricTheRulesAndTheDashboardReadIsExported) {
  start_sinks();
  start_hub({{"CJHUB_AUDIT_VERIFY_INTERVAL_S", "1"}});
  auto hpd = client("hartford-pd");
  const auto r = post(hpd, "CT0064000", sample("valid/arrest-packet-1.xml"));
  ASSERT_EQ(r.status, 202u) << r.body;
  EXPECT_TRUE(wait_for_all({message_id(r)}, 20s).ok());
  auto ops = client("operator");
  // Labelled series are there once a delivery happened and the audit check ran.
  scrape_until(ops, [](const auto& m) {
    return m.count("cjhub_delivery_attempts_total{outcome=\"delivered\"}") && m.count("cjhub_audit_verification_failures");
  });
  const auto exported = families(scrape(ops));

  std::map<std::string, std::set<std::string>> used;  // name -> where
  std::set<std::string> recorded;
  for (const auto& g : YAML::LoadFile((source_dir() / "config/prometheus/cjhub.rules.yml").string())["groups"]) {
    for (const auto& rule : g["rules"]) {
      const auto where = rule["alert"] ? "alert " + rule["alert"].as<std::string>() : "record " + rule["record"].as<std::string>();
      if (rule["record"]) recorded.insert(rule["record"].as<std::string>());
      for (const auto& n : promql_metric_names(rule["expr"].as<std::string>())) used[n].insert(where);
    }
  }
  const auto dash = boost::json::parse(read_file(source_dir() / "config/grafana/cjhub.json")).as_object();
  int queries = 0;
  for (const auto& p : dash.at("panels").as_array()) {
    if (const auto* targets = p.as_object().if_contains("targets")) {
      for (const auto& t : targets->as_array()) {
        ++queries;
        for (const auto& n : promql_metric_names(std::string(t.at("expr").as_string()))) {
          used[n].insert("panel " + std::string(p.at("title").as_string()));
        }
      }
    }
  }
  static const std::regex label_values(R"(label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*))");
  for (const auto& v : dash.at("templating").at("list").as_array()) {
    if (const auto* q = v.as_object().if_contains("definition")) {
      const std::string def(q->as_string());
      std::smatch m;
      if (std::regex_search(def, m, label_values)) used[m[1].str()].insert("variable " + std::string(v.at("name").as_string()));
    }
  }
  ASSERT_GE(queries, 20);
  ASSERT_GE(used.size(), 20u);

  std::vector<std::string> missing;
  int checked = 0;
  for (const auto& [name, where] : used) {
    if (recorded.count(name) != 0 || name == "up") continue;
    ++checked;
    bool found = exported.count(name) != 0;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        const auto it = exported.find(name.substr(0, name.size() - s.size()));
        found = found || (it != exported.end() && it->second == "histogram");
      }
    }
    if (!found) {
      std::string list;
      for (const auto& w : where) list += (list.empty() ? "" : ", ") + w;
      std::cout << "missing from /metrics: " << name << " (read by " << list << ")\n";
      missing.push_back(name);
    }
  }
  std::cout << checked << " metric names read by the rules and the dashboard, " << missing.size() << " missing\n";
  EXPECT_TRUE(missing.empty()) << missing.size() << " metric name(s) the rules or the dashboard read are not exported";
}

// The hub's certificates and CRL as metrics: the earliest notAfter of each file (server chain,
// agency CA bundle, delivery client chain, endpoint CA bundle) and the CRL's nextUpdate, all in
// the future for the dev PKI and equal to what openssl prints.
TEST_F(Alerting, CertificateAndCrlDatesAreExportedFromTheFilesInUse) {
  start_sinks();
  start_hub();
  auto ops = client("operator");
  const auto m = scrape_until(ops, [](const auto& s) { return s.count("cjhub_crl_next_update_timestamp_seconds") != 0; });
  const auto now = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch()).count());
  // `openssl x509 -enddate` of the first certificate of a file, as Unix time.
  auto openssl_date = [](const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[256];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    if (p != nullptr) ::pclose(p);
    std::tm tm{};
    const auto eq = out.find('=');
    if (eq == std::string::npos || strptime(out.c_str() + eq + 1, "%b %d %H:%M:%S %Y GMT", &tm) == nullptr) return -1.0;
    return static_cast<double>(timegm(&tm));
  };
  const auto pki = pki_dir();
  for (const char* c : {"server", "ca", "client", "endpoint_ca"}) {
    const auto key = std::string("cjhub_certificate_expiry_timestamp_seconds{certificate=\"") + c + "\"}";
    ASSERT_EQ(m.count(key), 1u) << key;
    EXPECT_GT(m.at(key), now) << key;
  }
  EXPECT_EQ(m.at("cjhub_certificate_expiry_timestamp_seconds{certificate=\"server\"}"),
            openssl_date("openssl x509 -noout -enddate -in " + (pki / "server.crt").string()));
  EXPECT_EQ(m.at("cjhub_certificate_expiry_timestamp_seconds{certificate=\"client\"}"),
            openssl_date("openssl x509 -noout -enddate -in " + (pki / "hub-client.crt").string()));
  EXPECT_GT(m.at("cjhub_crl_next_update_timestamp_seconds"), now);
  EXPECT_EQ(m.at("cjhub_crl_next_update_timestamp_seconds"),
            openssl_date("openssl crl -noout -nextupdate -in " + (pki / "crl.pem").string()));
}

// The periodic audit check of a running hub: intact, then a record altered in the database is
// reported within a few checks, as a failure count and a failed check.
TEST_F(Alerting, TheRunningHubsAuditCheckReportsAnAlteredRecord) {
  start_sinks();
  start_hub({{"CJHUB_AUDIT_VERIFY_INTERVAL_S", "1"}, {"CJHUB_AUDIT_SEAL_INTERVAL_MS", "100"}});
  auto hpd = client("hartford-pd");
  const auto r = post(hpd, "CT0064000", sample("valid/arrest-packet-1.xml"));
  ASSERT_EQ(r.status, 202u) << r.body;
  EXPECT_TRUE(wait_for_all({message_id(r)}, 20s).ok());
  auto ops = client("operator");
  auto m = scrape_until(ops, [](const auto& s) {
    const auto it = s.find("cjhub_audit_verifications_total{result=\"intact\"}");
    return it != s.end() && it->second >= 2;  // at least one check after the submission's records were sealed
  });
  ASSERT_EQ(m.count("cjhub_audit_verification_failures"), 1u);
  EXPECT_EQ(m.at("cjhub_audit_verification_failures"), 0);
  EXPECT_EQ(m.at("cjhub_audit_verifications_total{result=\"failed\"}"), 0);
  EXPECT_GT(m.at("cjhub_audit_verification_last_success_timestamp_seconds"), 0);
  ASSERT_GT(db_->count("SELECT count(*) FROM audit_blocks"), 0);

  {
    auto conn = db_->connect();
    pqxx::work tx(*conn);
    tx.exec0("UPDATE audit_log SET outcome = 'refused:forbidden' WHERE id = "
             "(SELECT ids[1] FROM audit_blocks ORDER BY block_seq DESC LIMIT 1)");
    tx.commit();
  }
  m = scrape_until(ops, [](const auto& s) {
    const auto it = s.find("cjhub_audit_verification_failures");
    return it != s.end() && it->second > 0;
  });
  EXPECT_EQ(m["cjhub_audit_verification_failures"], 1);
  EXPECT_GE(m["cjhub_audit_verifications_total{result=\"failed\"}"], 1);
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (hub_->log().find("audit check: the audit trail is NOT intact") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(hub_->log().find("was altered: its hash does not match its content"), std::string::npos);
}

}  // namespace
}  // namespace cjhub::test
