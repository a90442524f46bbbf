// The console in a real browser: Debian's Chromium, headless, driven by Selenium
// (tests/browser/console_test.py), presenting the operator's and an agency's certificates from NSS
// databases of their own. This test gives it a hub with traffic to look at: four receiving
// agencies (the delivery suite's), an arrest packet delivered to three of them and dead-lettered
// at the Judicial Branch (its receiver refused it), a New Haven PD message Hartford PD must not
// see, and an erasure. The script walks the pages, acts, and fails on an accessibility violation
// (axe-core) or any error in the page's console; its screenshots are kept in the artefacts
// directory (CJHUB_BROWSER_ARTEFACTS, or a temporary one named in the output).
#include <sys/wait.h>

#include <cstdio>

#include "e2e/delivery_fixture.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class ConsoleBrowser : public DeliverySuite {
 protected:
  // Runs the script with `env` and returns its exit status, its output appended to `out`.
  static int run_script(const std::map<std::string, std::string>& env, std::string& out) {
    std::string cmd;
    for (const auto& [k, v] : env) cmd += k + "='" + v + "' ";
    cmd += "timeout 150 /usr/bin/python3 " + (source_dir() / "tests/browser/console_test.py").string() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void wait_for_state(TlsClient& c, const std::string& id, const std::string& ori, const std::string& state) {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (recipient_state(c, id, ori) != state && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(recipient_state(c, id, ori), state) << id << " at " << ori;
  }
};

TEST_F(ConsoleBrowser, AnOperatorAndAnAgencyUseTheConsoleInChromium) {
  for (const char* tool : {"/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/certutil", "/usr/bin/pk12util"}) {
    ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " is missing: scripts/test installs the browser tier's packages";
  }
  const auto axe = source_dir() / "tests/browser/node_modules/axe-core/axe.min.js";
  ASSERT_TRUE(std::filesystem::exists(axe)) << axe << " is missing: scripts/test runs npm ci in tests/browser";

  start_sinks();
  judicial_->stop();
  judicial_->start({"--status", "400"});  // refuses what it is sent: a dead letter to replay
  start_hub();
  auto hpd = client("hartford-pd");
  const std::string case_key = "OTN-2026-0004711";
  const auto sent = post(hpd, "CT0064000", arrest_packet(case_key, 1));
  ASSERT_EQ(sent.status, 202u) << sent.body;
  const auto id = message_id(sent);
  wait_for_state(hpd, id, "CTDESPP00", "delivered");
  wait_for_state(hpd, id, "CTJUD0000", "dead");
  judicial_->stop();
  judicial_->start();  // fixed: the replay will be delivered

  auto nhpd = client("newhaven-pd");
  auto other_doc = sample("valid/arrest-packet-2.xml");
  replace_all(other_doc, "OTN-2026-", "OTN-2026-9");
  const auto other = post(nhpd, "CT0093000", other_doc);
  ASSERT_EQ(other.status, 202u) << other.body;

  // An erasure of another Hartford case, so the ledger has a row to show and export.
  const std::string erased_case = "OTN-2026-0004712";
  ASSERT_EQ(post(hpd, "CT0064000", arrest_packet(erased_case, 2)).status, 202u);
  auto court = client("judicial");
  auto notice = sample("valid/erasure-notice-1.xml");
  replace_all(notice, "OTN-2026-0000123", erased_case);
  replace_all(notice, "CTJUD0000-20270703-004512", "CTJUD0000-20270703-994712");
  const auto erasure = court.request("POST", "/v1/messages", notice);
  ASSERT_EQ(erasure.status, 202u) << erasure.body;

  auto ops = client("operator");
  const auto dead = ops.request("GET", "/v1/admin/dead-letters?agency=CTJUD0000");
  ASSERT_EQ(dead.status, 200u) << dead.body;
  const auto listed = boost::json::parse(dead.body);
  const auto& letters = listed.at("dead_letters").as_array();
  ASSERT_EQ(letters.size(), 1u) << dead.body;
  const std::string dead_delivery(letters[0].at("delivery_id").as_string());

  std::filesystem::path artefacts;
  if (const auto* keep = std::getenv("CJHUB_BROWSER_ARTEFACTS"); keep != nullptr && *keep != '\0') {
    artefacts = keep;
  } else {
    artefacts = dir_ / "browser";
  }
  std::filesystem::create_directories(artefacts);
  const auto pki = pki_dir();
  std::string out;
  const int status = run_script(
      {{"CJHUB_CONSOLE_URL", "https://localhost:" + std::to_string(hub_->port()) + "/console/"},
       {"CJHUB_CA", (pki / "ca.crt").string()},
       {"CJHUB_OPERATOR_CERT", (pki / "clients/operator.crt").string()},
       {"CJHUB_OPERATOR_KEY", (pki / "clients/operator.key").string()},
       {"CJHUB_AGENCY_CERT", (pki / "clients/hartford-pd.crt").string()},
       {"CJHUB_AGENCY_KEY", (pki / "clients/hartford-pd.key").string()},
       {"CJHUB_CASE_KEY", case_key},
       {"CJHUB_OTHER_MESSAGE_ID", message_id(other)},
       {"CJHUB_PAUSE_ENDPOINT", "CTDCJ0000/main"},
       {"CJHUB_DEAD_DELIVERY_ID", dead_delivery},
       {"CJHUB_ARTEFACTS", artefacts.string()},
       {"CJHUB_AXE", axe.string()},
       {"CJHUB_BROWSER_TIMEOUT_S", "120"}},
      out);
  std::cout << out << "\nartefacts: " << artefacts << "\n";
  if (status == 77) GTEST_SKIP() << "the browser could not be given the certificate policy: " << out;
  ASSERT_EQ(status, 0) << out;

  // What the browser did is what the hub did: the replay was delivered, the endpoint resumed, and
  // both actions are in the audit trail under the operator's identity.
  wait_for_state(hpd, id, "CTJUD0000", "delivered");
  const auto eps = boost::json::parse(ops.request("GET", "/v1/admin/endpoints").body);
  for (const auto& e : eps.at("endpoints").as_array()) {
    EXPECT_FALSE(e.at("paused").as_bool()) << "resumed in the browser: " << boost::json::serialize(e);
  }
  const auto until = std::chrono::steady_clock::now() + 10s;
  long long actions = 0;
  while (std::chrono::steady_clock::now() < until) {
    actions = db_->count(
        "SELECT count(DISTINCT outcome) FROM audit_log WHERE action = 'admin' AND actor LIKE '%ops1%' "
        "AND outcome IN ('paused', 'resumed', 'replayed')");
    if (actions == 3) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(actions, 3) << "pause, resume and replay are audited under the operator's identity";
  for (const char* shot : {"operator-overview.png", "operator-messages.png", "operator-endpoints.png",
                           "operator-erasures.png", "agency-messages.png"}) {
    EXPECT_TRUE(std::filesystem::exists(artefacts / shot)) << shot << " was not saved in " << artefacts;
  }
}

}  // namespace
}  // namespace cjhub::test
