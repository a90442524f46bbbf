// End to end: no agency can hurt another. An agency over its submission rate gets 429 with
// Retry-After while another is served; who is calling and whether it is within its rate are
// decided before the body is read; a 429 keeps the connection; slow handshakes from one address
// cannot take every connection.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "e2e/hub_fixture.hpp"
#include "support/prometheus.hpp"

namespace cjhub::test {
namespace {

using namespace std::chrono_literals;

class Fairness : public HubSuite {
 protected:
  static void SetUpTestSuite() {
    HubOptions o;
    o.env = {{"CJHUB_AGENCY_RATE_PER_S", "1"}, {"CJHUB_AGENCY_BURST", "3"}, {"CJHUB_MAX_HANDSHAKES_PER_ADDRESS", "4"}};
    start_hub(std::move(o));
  }
};

TEST_F(Fairness, AnAgencyOverItsRateGets429WithRetryAfterAndAnotherIsServed) {
  auto hpd = client("hartford-pd");
  std::vector<unsigned> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(hpd.request("POST", "/v1/messages", "<oops").status);
  EXPECT_EQ(statuses, (std::vector<unsigned>{400, 400, 400, 429})) << "a burst of 3, then refused";
  const auto limited = client("hartford-pd").request("POST", "/v1/messages", "<oops");
  ASSERT_EQ(limited.status, 429u) << limited.body;
  EXPECT_EQ(problem_type(limited), "https://localhost/problems/rate-limited");
  ASSERT_EQ(limited.headers.count("retry-after"), 1u);
  EXPECT_GE(std::stoi(limited.headers.at("retry-after")), 1);
  // Another agency has its own bucket.
  auto nhpd = client("newhaven-pd");
  EXPECT_EQ(nhpd.request("POST", "/v1/messages", "<oops").status, 400u);
  // A token comes back after a second.
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(client("hartford-pd").request("POST", "/v1/messages", "<oops").status, 400u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE outcome = 'refused:rate-limited'"), 1)
      << "refusals of one kind from one peer are aggregated";
  EXPECT_EQ(hub_->log().find("before its body: 429"), std::string::npos)
      << "a flood of 429s is counted and aggregated, not logged line by line";
}

// Clients refused 429 that send again at once on the same connection are read at their turns, one
// token apart (a flood costs the hub one refusal per connection and token, and the agency's
// accepted requests come one by one, not as a burst when a second is up); each turn is within the
// Retry-After the client was told; meanwhile other connections are served at once.
TEST_F(Fairness, RefusedConnectionsAreReadAgainAtTheirTurnsOneTokenApartWhileOthersAreServed) {
  auto hpd = client("hartford-pd");
  HttpResult first_refusal;
  for (int i = 0; i < 5 && first_refusal.status != 429u; ++i) first_refusal = hpd.request("POST", "/v1/messages", "<oops");
  ASSERT_EQ(first_refusal.status, 429u);
  const auto refused_at = std::chrono::steady_clock::now();
  auto second = client("hartford-pd");
  const auto second_refusal = second.request("POST", "/v1/messages", "<oops");
  ASSERT_EQ(second_refusal.status, 429u) << second_refusal.body;
  const auto told = [](const HttpResult& r) { return std::chrono::seconds(std::stoi(r.headers.at("retry-after"))); };
  ASSERT_EQ(first_refusal.headers.count("retry-after"), 1u);
  ASSERT_EQ(second_refusal.headers.count("retry-after"), 1u);
  EXPECT_GT(told(second_refusal), told(first_refusal)) << "the second turn is a token after the first";
  const std::string again =
      "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\n<oops";
  hpd.send(again);
  second.send(again);
  const auto other_started = std::chrono::steady_clock::now();
  EXPECT_EQ(client("newhaven-pd").request("POST", "/v1/messages", "<oops").status, 400u);
  EXPECT_LT(std::chrono::steady_clock::now() - other_started, 500ms) << "another agency waited";
  const auto first_next = hpd.receive();
  const auto first_waited = std::chrono::steady_clock::now() - refused_at;
  const auto second_next = second.receive();
  const auto second_waited = std::chrono::steady_clock::now() - refused_at;
  EXPECT_GE(first_waited, 800ms) << "the request after a 429 was read before the agency's next token (1 s)";
  EXPECT_LT(first_waited, told(first_refusal) + 300ms) << "read no later than the client was told";
  EXPECT_GE(second_waited - first_waited, 800ms) << "the second connection's turn is one token after the first's";
  EXPECT_LT(second_waited, told(second_refusal) + 300ms);
  for (const auto* next : {&first_next, &second_next}) {
    EXPECT_EQ(next->status, 400u) << "read when a token was back: " << next->body;
    EXPECT_EQ(problem_type(*next), "https://localhost/problems/malformed-xml") << "read from the right place";
  }
}

// A head announcing a large body, and no body: the refusal comes at once, not after the read
// timeout (the body is never waited for).
TEST_F(Fairness, IdentityAndRateAreJudgedBeforeTheBodyIsRead) {
  const std::string head =
      "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: 3000000\r\n\r\n";
  auto stranger = client("unknown-agency");
  auto started = std::chrono::steady_clock::now();
  stranger.send(head);
  const auto r = stranger.receive();
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_EQ(problem_type(r), "https://localhost/problems/unknown-client");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);

  auto hpd = client("hartford-pd");  // drain its bucket
  for (int i = 0; i < 5 && hpd.request("POST", "/v1/messages", "<oops").status != 429u; ++i) {
  }
  auto flooding = client("hartford-pd");
  started = std::chrono::steady_clock::now();
  flooding.send(head);
  const auto limited = flooding.receive();
  EXPECT_EQ(limited.status, 429u) << limited.body;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0);
}

// A 429 keeps the connection (a new TLS handshake per refusal would cost the hub more than the
// body): the refused body is read and thrown away and the next request on the same connection is
// answered. A client that waited for 100-continue sent no body: its connection is closed.
TEST_F(Fairness, A429KeepsTheConnectionAndTheNextRequestOnItIsAnswered) {
  auto hpd = client("hartford-pd");  // drain its bucket
  for (int i = 0; i < 5 && hpd.request("POST", "/v1/messages", "<oops").status != 429u; ++i) {
  }
  const std::string body(200 * 1024, 'x');
  auto c = client("hartford-pd");
  c.send("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  const auto limited = c.receive();
  ASSERT_EQ(limited.status, 429u) << limited.body;
  EXPECT_EQ(limited.headers.count("connection"), 0u) << "kept alive (HTTP/1.1 default), not closed";
  std::this_thread::sleep_for(1100ms);  // a token comes back
  c.send("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: 5\r\n\r\n<oops");
  const auto next = c.receive();  // throws if the hub had closed the connection
  EXPECT_EQ(next.status, 400u) << next.body;
  EXPECT_EQ(problem_type(next), "https://localhost/problems/malformed-xml") << "read from the right place";

  for (int i = 0; i < 5 && hpd.request("POST", "/v1/messages", "<oops").status != 429u; ++i) {
  }
  auto waiting = client("hartford-pd");
  waiting.send("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nExpect: 100-continue\r\n"
               "Content-Length: 5\r\n\r\n");
  const auto refused = waiting.receive();
  EXPECT_EQ(refused.status, 429u) << refused.body;
  ASSERT_EQ(refused.headers.count("connection"), 1u);
  EXPECT_EQ(refused.headers.at("connection"), "close");
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0);
}

int raw_connect(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

TEST_F(Fairness, SlowHandshakesFromOneAddressCannotTakeEveryConnection) {
  // Four connections that never start their handshake hold this address's four slots.
  std::vector<int> stalled;
  for (int i = 0; i < 4; ++i) {
    stalled.push_back(raw_connect(hub_->port()));
    ASSERT_GE(stalled.back(), 0);
  }
  std::this_thread::sleep_for(200ms);
  // The fifth is closed at once (end of stream, not a timeout).
  const int fifth = raw_connect(hub_->port());
  ASSERT_GE(fifth, 0);
  char byte = 0;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(::recv(fifth, &byte, 1, 0), 0) << "closed by the hub";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  ::close(fifth);
  // The stalled ones are still open (not the cap's victims).
  EXPECT_EQ(::recv(stalled[0], &byte, 1, MSG_DONTWAIT), -1);
  for (const int fd : stalled) ::close(fd);
  std::this_thread::sleep_for(200ms);
  auto ops = client("operator");
  ASSERT_EQ(ops.request("GET", "/healthz").status, 200u) << "once they are gone, a good client gets in";
  const auto metrics = parse_prometheus(ops.request("GET", "/metrics").body);
  EXPECT_GE(metrics.at("cjhub_connections_refused_handshaking_total"), 1);
  EXPECT_TRUE(hub_->running());
}

}  // namespace
}  // namespace cjhub::test
