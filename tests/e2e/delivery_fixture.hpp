// A hub with four receiving agencies, each running a real `cjhub sink` over mutual TLS:
//   DESPP (CTDESPP00)        arrest packets, early arrests, case updates, erasure notices
//   Hartford PD (CT0064000)  case updates and erasure notices of its own cases; receipts
//   DCJ (CTDCJ0000)          arrest packets, case updates, erasure notices
//   Judicial (CTJUD0000)     arrest packets, early arrests; receipts
#pragma once

#include <fstream>
#include <thread>

#include "e2e/hub_fixture.hpp"
#include "support/invariants.hpp"

namespace cjhub::test {

class DeliverySuite : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    char tmpl[] = "/tmp/cjhub-delivery-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = std::make_unique<TestDatabase>();
    despp_ = std::make_unique<SinkProcess>("despp", "CTDESPP00", dir_);
    hartford_ = std::make_unique<SinkProcess>("hartford-pd", "CT0064000", dir_);
    dcj_ = std::make_unique<SinkProcess>("dcj", "CTDCJ0000", dir_);
    judicial_ = std::make_unique<SinkProcess>("judicial", "CTJUD0000", dir_);
  }
  void TearDown() override {
    if (HasFailure()) {
      for (auto* h : {hub_.get(), hub2_.get()}) {
        if (h) std::cerr << "---- hub log ----\n" << h->log().substr(0, 20000);
      }
    }
    hub2_.reset();
    hub_.reset();
    for (auto* s : {despp_.get(), hartford_.get(), dcj_.get(), judicial_.get()}) {
      if (s) s->stop();
    }
    db_.reset();
    std::error_code ec;
    if (!env("CJHUB_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir_, ec);
  }

  void start_sinks() {
    for (auto* s : {despp_.get(), hartford_.get(), dcj_.get(), judicial_.get()}) {
      if (!s->running()) s->start();
    }
  }

  std::filesystem::path write_agencies(int endpoint_timeout_ms = 2000) {
    auto ep = [&](SinkProcess& s) {
      return "    endpoints:\n      - {name: main, url: \"" + s.url() + "\", max_in_flight: 4, timeout_ms: " +
             std::to_string(endpoint_timeout_ms) + "}\n";
    };
    std::ofstream f(dir_ / "agencies.yaml");
    f << "agencies:\n"
      << "  - ori: CTJUD0000\n    name: Judicial Branch\n    identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}]\n"
      << "    publish: [CaseUpdate, ErasureNotice, Acknowledgement]\n"
      << ep(*judicial_)
      << "    subscriptions:\n"
      << "      - {name: arrests, endpoint: main, types: [ArrestPacket, EarlyArrestNotification]}\n"
      << "      - {name: receipts, endpoint: main, types: [Acknowledgement]}\n"
      << "  - ori: CT0064000\n    name: Hartford Police Department\n    identities: [{san_uri: 'urn:cjhub:ori:CT0064000'}]\n"
      << "    publish: [ArrestPacket, EarlyArrestNotification, Acknowledgement]\n"
      << ep(*hartford_)
      << "    subscriptions:\n"
      << "      - {name: own-cases, endpoint: main, types: [CaseUpdate, ErasureNotice], own_cases_only: true}\n"
      << "      - {name: receipts, endpoint: main, types: [Acknowledgement]}\n"
      << "  - ori: CT0093000\n    name: New Haven Police Department\n    identities: [{san_uri: 'urn:cjhub:ori:CT0093000'}]\n"
      << "    publish: [ArrestPacket, EarlyArrestNotification, Acknowledgement]\n"
      << "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:cjhub:ori:CTDESPP00'}]\n"
      << "    publish: [Acknowledgement]\n"
      << ep(*despp_)
      << "    subscriptions:\n"
      << "      - {name: all, endpoint: main, types: [ArrestPacket, EarlyArrestNotification, CaseUpdate, ErasureNotice]}\n"
      << "  - ori: CTDCJ0000\n    name: Division of Criminal Justice\n    identities: [{san_uri: 'urn:cjhub:ori:CTDCJ0000'}]\n"
      << "    publish: [Acknowledgement]\n"
      << ep(*dcj_)
      << "    subscriptions:\n"
      << "      - {name: prosecution, endpoint: main, types: [ArrestPacket, CaseUpdate, ErasureNotice]}\n"
      << "  - ori: ops1\n    name: Operations\n    role: operator\n    identities: [{san_uri: 'urn:cjhub:operator:ops1'}]\n";
    return dir_ / "agencies.yaml";
  }

  HubOptions hub_options(std::map<std::string, std::string> extra = {}) {
    HubOptions o;
    o.database_url = db_->url();
    o.agencies = write_agencies();
    o.env = {{"CJHUB_DELIVERY_ENABLED", "true"},
             {"CJHUB_POLL_INTERVAL_MS", "200"},
             {"CJHUB_BACKOFF_INITIAL_MS", "100"},
             {"CJHUB_BACKOFF_MAX_MS", "500"},
             {"CJHUB_CONNECT_TIMEOUT_MS", "1000"},
             {"CJHUB_PAUSE_AFTER_FAILURES", "1000000"}};
    for (auto& [k, v] : extra) o.env[k] = v;
    return o;
  }

  void start_hub(std::map<std::string, std::string> extra = {}) {
    hub_ = std::make_unique<HubProcess>(hub_options(std::move(extra)));
    hub_->start();
  }

  TlsClient client(const std::string& who, HubProcess* hub = nullptr) {
    TlsClient::Options o;
    o.port = (hub ? hub : hub_.get())->port();
    o.cert = client_cert(who);
    return TlsClient(o);
  }

  static std::string sample(const std::string& rel) { return read_file(data_dir() / "ciss" / rel); }

  // An arrest packet for a case of our own, from Hartford PD.
  static std::string arrest_packet(const std::string& case_key, int n) {
    auto doc = sample("valid/arrest-packet-1.xml");
    replace_all(doc, "OTN-2026-0000123", case_key);
    replace_all(doc, "CT0064000-20260315-000871", "CT0064000-" + case_key + "-" + std::to_string(n));
    return doc;
  }
  static void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  }

  std::map<std::string, std::vector<boost::json::object>> receipts() const {
    return {{"CTDESPP00", despp_->receipts()},
            {"CT0064000", hartford_->receipts()},
            {"CTDCJ0000", dcj_->receipts()},
            {"CTJUD0000", judicial_->receipts()}};
  }

  // Polls until every delivery of `ids` is seen at its recipient (or the deadline passes).
  InvariantReport wait_for_all(const std::vector<std::string>& ids, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    InvariantReport r;
    do {
      r = check_delivery_invariants(*db_, ids, receipts());
      if (r.lost == 0 && r.expected_deliveries > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < until);
    return r;
  }

  // State of one recipient's delivery of a message, from the sender's status API.
  static std::string recipient_state(TlsClient& c, const std::string& id, const std::string& ori) {
    const auto r = c.request("GET", "/v1/messages/" + id);
    if (r.status != 200) return "http " + std::to_string(r.status);
    const auto v = boost::json::parse(r.body);
    for (const auto& d : v.at("recipients").as_array()) {
      if (d.at("recipient_ori").as_string() == ori) return std::string(d.at("state").as_string());
    }
    return "none";
  }

  std::filesystem::path dir_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SinkProcess> despp_, hartford_, dcj_, judicial_;
  std::unique_ptr<HubProcess> hub_, hub2_;
};

}  // namespace cjhub::test
