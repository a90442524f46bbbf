// End to end: answers a client can read. A client that sends a whole oversized body or header
// without waiting for `100 Continue` gets its 413 or 431 every time (the hub closes in stages,
// not with a reset).

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class Framing : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub(); }
};

TEST_F(Framing, AWholeOversizedBodySentWithoutWaitingGets413EveryTime) {
  // The example listener reads up to 16 MiB (the arrest packet's limit); 17 MiB of body follow the
  // head at once, as curl -H 'Expect:' or Python's http.client send them.
  const std::string body(17u << 20, 'x');
  const std::string request = "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  int got = 0;
  for (int i = 0; i < 20; ++i) {
    auto c = client("hartford-pd");
    try {
      const auto r = c.raw(request);
      EXPECT_EQ(r.status, 413u) << r.body;
      EXPECT_EQ(problem_type(r), "https://localhost/problems/payload-too-large");
      got += r.status == 413u;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "attempt " << i << ": no answer, " << e.what();
    }
  }
  EXPECT_EQ(got, 20);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0);
}

TEST_F(Framing, AWholeOversizedHeaderGets431EveryTime) {
  // 64 KiB of header fields (the limit is 16 KiB), then a body, all at once.
  std::string request = "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n";
  for (int i = 0; i < 64; ++i) request += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'f') + "\r\n";
  request += "Content-Length: 5000000\r\n\r\n" + std::string(5000000, 'x');
  int got = 0;
  for (int i = 0; i < 20; ++i) {
    auto c = client("hartford-pd");
    try {
      const auto r = c.raw(request);
      EXPECT_EQ(r.status, 431u) << r.body;
      got += r.status == 431u;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "attempt " << i << ": no answer, " << e.what();
    }
  }
  EXPECT_EQ(got, 20);
  EXPECT_TRUE(hub_->running());
}

}  // namespace
}  // namespace cjhub::test
