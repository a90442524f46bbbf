// The benchmark load generator against a real hub: the figures it prints agree with what the hub
// stored and delivered, and its search client counts the pages it read, so the suite's numbers
// (tests/bench/run) can be trusted.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

unsigned short free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// Runs a command, returns its exit status and standard output.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, out};
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The key=value pairs of the output's `result` line.
std::map<std::string, std::string> result_of(const std::string& out) {
  std::map<std::string, std::string> r;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("result ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      if (eq != std::string::npos) r[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  return r;
}

TEST(BenchTools, LoadgenFiguresAgreeWithWhatTheHubStoredAndDelivered) {
  CJHUB_REQUIRE_CLUSTER();
  char tmpl[] = "/tmp/cjhub-bench-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  const unsigned short p1 = free_port(), p2 = free_port();
  {
    std::ofstream f(dir / "agencies.yaml");
    f << "agencies:\n"
      << "  - {ori: CT0093000, name: New Haven, identities: [{san_uri: 'urn:cjhub:ori:CT0093000'}], publish: [ArrestPacket]}\n";
    int i = 0;
    for (auto port : {p1, p2}) {
      ++i;
      f << "  - ori: CTBENCH0" << i << "\n    name: Receiver " << i << "\n"
        << "    identities: [{san_uri: 'urn:cjhub:ori:CTBENCH0" << i << "'}]\n"
        << "    endpoints: [{name: main, url: 'https://localhost:" << port << "/inbox', max_in_flight: 8}]\n"
        << "    subscriptions: [{name: all, endpoint: main, types: [ArrestPacket]}]\n";
    }
  }
  TestDatabase db;
  HubOptions opts;
  opts.database_url = db.url();
  opts.agencies = dir / "agencies.yaml";
  opts.env = {{"CJHUB_DELIVERY_ENABLED", "true"}, {"CJHUB_POLL_INTERVAL_MS", "200"}, {"CJHUB_BACKOFF_INITIAL_MS", "200"}};
  HubProcess hub(opts);
  hub.start();

  // Open loop, 100 requests a second for 2 s over 4 connections: exactly 200 requests; the two
  // receivers run inside the load generator and time each delivery against its POST.
  const auto pki = pki_dir();
  const auto client = client_cert("newhaven-pd");
  std::ostringstream cmd;
  cmd << CJHUB_LOADGEN << " post --port " << hub.port() << " --ca " << (pki / "ca.crt") << " --cert " << client.cert
      << " --key " << client.key << " --file " << (data_dir() / "ciss" / "valid" / "arrest-packet-2.xml")
      << " --case-token OTN-2026-0000456 --connections 4 --seconds 2 --rate 100 --timeline 1 --sinks " << p1 << ","
      << p2 << " --sink-cert " << (pki / "sinks" / "despp.crt") << " --sink-key " << (pki / "sinks" / "despp.key")
      << " --drain-seconds 30 2>&1";
  const auto [status, out] = run(cmd.str());
  EXPECT_EQ(status, 0) << out << "\n---- hub log ----\n" << hub.log().substr(0, 20000);
  auto r = result_of(out);
  EXPECT_EQ(r["accepted"], "200") << out;
  EXPECT_EQ(r["errors"], "0") << out;
  EXPECT_EQ(r["deliveries"], "400") << out;
  EXPECT_EQ(r["expected"], "400") << out;
  EXPECT_GT(std::stod(r["e2e_p50_ms"]), 0.0) << out;
  EXPECT_GE(std::stod(r["e2e_p99_ms"]), std::stod(r["e2e_p50_ms"])) << out;
  EXPECT_GE(std::stod(r["p99_ms"]), std::stod(r["p50_ms"])) << out;
  EXPECT_NE(out.find("second 1: "), std::string::npos) << out;
  // What the hub says: every accepted message stored once, with its own case, delivered to both.
  EXPECT_EQ(db.count("SELECT count(*) FROM messages"), 200);
  EXPECT_EQ(db.count("SELECT count(DISTINCT case_key) FROM messages"), 200);
  EXPECT_EQ(db.count("SELECT count(*) FROM delivery_states WHERE state = 'delivered'"), 400);

  // A wrong port is a clear failure, not figures.
  const auto [bad, bad_out] = run(std::string(CJHUB_LOADGEN) + " post --port 1 --ca " + (pki / "ca.crt").string() +
                                  " --cert " + client.cert.string() + " --key " + client.key.string() + " --file " +
                                  (data_dir() / "ciss" / "valid" / "arrest-packet-2.xml").string() +
                                  " --connections 1 --seconds 1 2>&1");
  EXPECT_EQ(bad, 1) << bad_out;
  EXPECT_NE(bad_out.find("connection errors 1"), std::string::npos) << bad_out;
  if (::testing::Test::HasFailure()) std::cerr << "---- hub log ----\n" << hub.log().substr(0, 20000);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(BenchTools, LoadgenGetTimesEveryPageFollowingTheSearchCursorAndFailsOnARefusal) {
  CJHUB_REQUIRE_CLUSTER();
  TestDatabase db;
  HubOptions opts;
  opts.database_url = db.url();
  HubProcess hub(opts);
  hub.start();
  const auto pki = pki_dir();
  const auto client = client_cert("newhaven-pd");
  const auto tls = " --port " + std::to_string(hub.port()) + " --ca " + (pki / "ca.crt").string() + " --cert " +
                   client.cert.string() + " --key " + client.key.string();
  const auto [posted, post_out] =
      run(std::string(CJHUB_LOADGEN) + " post" + tls + " --file " +
          (data_dir() / "ciss" / "valid" / "arrest-packet-2.xml").string() +
          " --case-token OTN-2026-0000456 --connections 2 --count 120 2>&1");
  ASSERT_EQ(posted, 0) << post_out;
  ASSERT_EQ(db.count("SELECT count(*) FROM messages"), 120);

  char tmpl[] = "/tmp/cjhub-bench-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  std::ofstream(dir / "targets.txt") << "/v1/messages?limit=50\n/v1/messages?sender=CT0093000&limit=100\n";
  // 120 messages: pages of 50, 50, 20 for the first target, 100 and 20 for the second.
  const auto [status, out] = run(std::string(CJHUB_LOADGEN) + " get" + tls + " --targets " +
                                 (dir / "targets.txt").string() + " --pages 10 2>&1");
  EXPECT_EQ(status, 0) << out;
  auto r = result_of(out);
  EXPECT_EQ(r["answers"], "5") << out;
  EXPECT_EQ(r["items"], "240") << out;
  EXPECT_EQ(r["errors"], "0") << out;
  EXPECT_GE(std::stod(r["p99_ms"]), std::stod(r["p50_ms"])) << out;
  EXPECT_GT(std::stod(r["p50_ms"]), 0.0) << out;
  // --pages bounds the pages followed.
  const auto [one, one_out] = run(std::string(CJHUB_LOADGEN) + " get" + tls + " --targets " +
                                  (dir / "targets.txt").string() + " --pages 1 2>&1");
  EXPECT_EQ(one, 0) << one_out;
  EXPECT_EQ(result_of(one_out)["answers"], "2") << one_out;
  EXPECT_EQ(result_of(one_out)["items"], "150") << one_out;
  // An answer other than 200 is an error, named, and the exit status says so.
  std::ofstream(dir / "bad.txt") << "/v1/messages?colour=blue\n";
  const auto [bad, bad_out] =
      run(std::string(CJHUB_LOADGEN) + " get" + tls + " --targets " + (dir / "bad.txt").string() + " 2>&1");
  EXPECT_EQ(bad, 1) << bad_out;
  EXPECT_EQ(result_of(bad_out)["errors"], "1") << bad_out;
  EXPECT_NE(bad_out.find("400 for /v1/messages?colour=blue"), std::string::npos) << bad_out;
  if (::testing::Test::HasFailure()) std::cerr << "---- hub log ----\n" << hub.log().substr(0, 20000);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace cjhub::test
