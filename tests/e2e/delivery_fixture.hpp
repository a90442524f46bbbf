// A hub with four receiving agencies, each running a real `cjhub sink` over mutual TLS:
//   DESPP (CTDESPP00)        arrest packets, early arrests, case updates, erasure notices
//   Hartford PD (CT0064000)  case updates and erasure notices of its own cases; receipts
//   DCJ (CTDCJ0000)          arrest packets, case updates, erasure notices
//   Judicial (CTJUD0000)     arrest packets, early arrests; receipts
#pragma once

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
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
    // The agencies confirm deletion ("completed"), as the erasure ledger expects of them; such a
    // sink logs case keys only as their SHA-256.
    for (auto* s : {despp_.get(), hartford_.get(), dcj_.get(), judicial_.get()}) {
      s->base_args = {"--ack-status", "completed"};
    }
  }
  void TearDown() override {
    if (HasFailure()) {
      for (auto* h : {hub_.get(), hub2_.get()}) {
        if (!h) continue;
        // The start and the end of the log: what went wrong, and what the hub did afterwards.
        const auto log = h->log();
        std::cerr << "---- hub log ----\n" << log.substr(0, 15000);
        if (log.size() > 15000) std::cerr << "\n[...]\n" << log.substr(std::max(log.size() - 30000, std::size_t{15000}));
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

  // The receiving agencies' subscriptions: written into the agencies file and used by the invariant
  // checker to say who must receive what.
  static const std::vector<ModelSubscription>& subscriptions() {
    static const std::vector<ModelSubscription> table{
        {"CTJUD0000", "arrests", {"ArrestPacket", "EarlyArrestNotification"}, false},
        {"CTJUD0000", "receipts", {"Acknowledgement"}, false},
        {"CT0064000", "own-cases", {"CaseUpdate", "ErasureNotice"}, true},
        {"CT0064000", "receipts", {"Acknowledgement"}, false},
        {"CTDESPP00", "all", {"ArrestPacket", "EarlyArrestNotification", "CaseUpdate", "ErasureNotice"}, false},
        {"CTDCJ0000", "prosecution", {"ArrestPacket", "CaseUpdate", "ErasureNotice"}, false},
    };
    return table;
  }

  std::filesystem::path write_agencies(int endpoint_timeout_ms = 2000) {
    auto ep = [&](SinkProcess& s) {
      return "    endpoints:\n      - {name: main, url: \"" + s.url() + "\", max_in_flight: 4, timeout_ms: " +
             std::to_string(endpoint_timeout_ms) + "}\n";
    };
    // Subscriptions come from the one table the invariant checker routes by (subscriptions()).
    auto subs = [&](const std::string& ori) {
      std::string out;
      for (const auto& sub : subscriptions()) {
        if (sub.ori != ori) continue;
        std::string types;
        for (const auto& t : sub.types) types += (types.empty() ? "" : ", ") + t;
        out += "      - {name: " + sub.name + ", endpoint: main, types: [" + types + "]" +
               (sub.own_cases_only ? ", own_cases_only: true" : "") + "}\n";
      }
      return out.empty() ? out : "    subscriptions:\n" + out;
    };
    std::ofstream f(dir_ / "agencies.yaml");
    f << "agencies:\n"
      << "  - ori: CTJUD0000\n    name: Judicial Branch\n    identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}]\n"
      << "    publish: [CaseUpdate, ErasureNotice, Acknowledgement]\n"
      << ep(*judicial_) << subs("CTJUD0000")
      << "  - ori: CT0064000\n    name: Hartford Police Department\n    identities: [{san_uri: 'urn:cjhub:ori:CT0064000'}]\n"
      << "    publish: [ArrestPacket, EarlyArrestNotification, Acknowledgement]\n"
      << ep(*hartford_) << subs("CT0064000")
      << "  - ori: CT0093000\n    name: New Haven Police Department\n    identities: [{san_uri: 'urn:cjhub:ori:CT0093000'}]\n"
      << "    publish: [ArrestPacket, EarlyArrestNotification, Acknowledgement]\n"
      << "  - ori: CTDESPP00\n    name: DESPP\n    identities: [{san_uri: 'urn:cjhub:ori:CTDESPP00'}]\n"
      << "    publish: [Acknowledgement]\n"
      << ep(*despp_) << subs("CTDESPP00")
      << "  - ori: CTDCJ0000\n    name: Division of Criminal Justice\n    identities: [{san_uri: 'urn:cjhub:ori:CTDCJ0000'}]\n"
      << "    publish: [Acknowledgement]\n"
      << ep(*dcj_) << subs("CTDCJ0000")
      << "  - ori: ops1\n    name: Operations\n    role: operator\n    identities: [{san_uri: 'urn:cjhub:operator:ops1'}]\n";
    return dir_ / "agencies.yaml";
  }

  // The sandbox: a vendor (CT0064000, Hartford's certificate and sink, subscribed to its own cases'
  // court messages), the sandbox court and a sandbox DESPP (its sink), `more` agencies, an operator.
  std::filesystem::path write_sandbox_agencies(const std::string& vendor_name, const std::string& vendor_publish,
                                               const std::string& despp_types, const std::string& more = "") {
    auto ep = [](SinkProcess& s) {
      return "    endpoints:\n      - {name: main, url: \"" + s.url() + "\", max_in_flight: 4, timeout_ms: 2000}\n";
    };
    const auto file = dir_ / "sandbox-agencies.yaml";
    std::ofstream(file)
        << "agencies:\n"
        << "  - ori: CT0064000\n    name: " << vendor_name << "\n    environment: sandbox\n"
        << "    identities: [{san_uri: 'urn:cjhub:ori:CT0064000'}]\n"
        << "    publish: [" << vendor_publish << "]\n"
        << ep(*hartford_)
        << "    subscriptions:\n      - {name: own, endpoint: main, types: [CaseUpdate, ErasureNotice], own_cases_only: true}\n"
        << "  - ori: CTJUD0000\n    name: Sandbox court\n    environment: sandbox\n"
        << "    identities: [{san_uri: 'urn:cjhub:ori:CTJUD0000'}]\n"
        << "    publish: [CaseUpdate, ErasureNotice]\n"
        << "  - ori: CTDESPP00\n    name: Sandbox DESPP\n    environment: sandbox\n"
        << "    identities: [{san_uri: 'urn:cjhub:ori:CTDESPP00'}]\n"
        << "    publish: [Acknowledgement]\n"
        << ep(*despp_)
        << "    subscriptions:\n      - {name: all, endpoint: main, types: [" << despp_types << "]}\n"
        << more
        << "  - ori: ops1\n    name: Operations\n    role: operator\n    identities: [{san_uri: 'urn:cjhub:operator:ops1'}]\n";
    return file;
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
  // The same from New Haven PD.
  static std::string new_haven_arrest_packet(const std::string& case_key, int n) {
    auto doc = sample("valid/arrest-packet-2.xml");
    replace_all(doc, "OTN-2026-0000456", case_key);
    replace_all(doc, "CT0093000-20260418-000352", "CT0093000-" + case_key + "-" + std::to_string(n));
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

  // Posts a message as `sender_ori` and, when it is answered 202, records what was sent and when,
  // for the invariant checker (thread-safe; any client).
  HttpResult post(TlsClient& c, const std::string& sender_ori, const std::string& body) {
    const auto sent_at = std::chrono::steady_clock::now();
    auto r = c.request("POST", "/v1/messages", body);
    if (r.status == 202u) {
      auto m = describe_sent(sender_ori, body);
      m.id = message_id(r);
      m.sent_at = sent_at;
      m.answered_at = std::chrono::steady_clock::now();
      m.answered_wall = std::chrono::system_clock::now();
      sent_.add(std::move(m));
    }
    return r;
  }
  static std::string message_id(const HttpResult& r) {
    return std::string(boost::json::parse(r.body).at("message_id").as_string());
  }

  // A client that submits arrest packets over `cases` cases (case keys `tag` + n) until stopped,
  // reconnecting after any failure; keeps the ids answered 202 with when each answer came, and
  // counts everything else. With `resend`, a message not answered 202 (a 503, an in-doubt commit,
  // a connection lost before the answer) is sent again, with the same key, until it is.
  struct Sender {
    bool resend = false;
    bool new_haven = false;  // New Haven PD sends instead of Hartford PD
    std::atomic<long> outcome_unknown{0};  // 503 outcome-unknown answers
    std::atomic<long> replayed{0};         // 202s that replayed an earlier commit of the same key
    std::mutex m;
    std::vector<std::string> ids;
    std::vector<std::chrono::steady_clock::time_point> accepted_at;  // of each id
    std::atomic<bool> stop{false};
    std::atomic<long> refused{0}, errors{0};
    std::atomic<long> unavailable{0};  // of the refusals, 503s (the promised answer in an outage)
    std::thread thread;
    std::size_t accepted() {
      std::lock_guard lock(m);
      return ids.size();
    }
    // When the first 202 after `t` came (none yet: nullopt).
    std::optional<std::chrono::steady_clock::time_point> first_accepted_after(std::chrono::steady_clock::time_point t) {
      std::lock_guard lock(m);
      for (const auto& a : accepted_at) {
        if (a > t) return a;
      }
      return std::nullopt;
    }
    void finish() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  };
  // `port`: the hub to send to now (nullopt: none is up, wait).
  void start_sender(Sender& s, int cases, const std::string& tag, std::function<std::optional<unsigned short>()> port) {
    s.thread = std::thread([this, &s, cases, tag, port] {
      std::unique_ptr<TlsClient> c;
      for (int i = 0; !s.stop; ++i) {
        bool sent = false;
        try {
          if (!c) {
            const auto p = port();
            if (!p) throw std::runtime_error("hub down");
            TlsClient::Options o;
            o.port = *p;
            o.cert = client_cert(s.new_haven ? "newhaven-pd" : "hartford-pd");
            c = std::make_unique<TlsClient>(o);
          }
          const auto key = tag + std::to_string(i % cases);
          const auto r = s.new_haven ? post(*c, "CT0093000", new_haven_arrest_packet(key, i))
                                     : post(*c, "CT0064000", arrest_packet(key, i));
          if (r.status == 202u) {
            sent = true;
            const auto h = r.headers.find("idempotent-replayed");
            if (h != r.headers.end() && h->second == "true") ++s.replayed;
            std::lock_guard lock(s.m);
            s.ids.emplace_back(message_id(r));
            s.accepted_at.push_back(std::chrono::steady_clock::now());
          } else {
            ++s.refused;
            if (r.status == 503u) ++s.unavailable;
            if (r.body.find("outcome-unknown") != std::string::npos) ++s.outcome_unknown;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        } catch (const std::exception&) {
          ++s.errors;
          c.reset();
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
        if (s.resend && !sent) --i;
      }
    });
  }

  // Polls until every expected delivery of `ids` is seen at its recipient (or the deadline passes).
  // `ids` must have been sent through post(). The report fails on an empty set.
  InvariantReport wait_for_all(const std::vector<std::string>& ids, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    const auto under_test = sent_.of(ids);
    InvariantReport r;
    do {
      r = check_delivery_invariants(*db_, under_test, sent_.all(), subscriptions(), receipts());
      if (r.lost == 0 || r.expected_deliveries == 0) break;
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
  SentLog sent_;  // what the test's clients sent and got 202 for
};

}  // namespace cjhub::test
