// End to end, for orchestrators and systemd: the plain-HTTP health listener answers /healthz and a
// bare /readyz and nothing else, says 503 from the first moment of a drain, and the hub speaks
// systemd's notify protocol (READY=1, WATCHDOG=1 while its loops answer, STOPPING=1).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include "cjhub/ops/service_manager.hpp"
#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

struct PlainAnswer {
  unsigned status = 0;
  std::string body;
  std::string allow;
};

// One plain HTTP/1.1 request to 127.0.0.1:port (throws when nothing listens).
PlainAnswer plain(unsigned short port, http::verb method, const std::string& target, std::size_t header_padding = 0) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.expires_after(5s);
  s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{method, target, 11};
  req.set(http::field::host, "localhost");
  if (header_padding > 0) req.set("X-Padding", std::string(header_padding, 'a'));
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return {res.result_int(), res.body(), std::string(res[http::field::allow])};
}

// A datagram socket standing in for systemd's notify socket: what the hub says, line by line.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    std::filesystem::remove(path);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  // Messages received until `until` (each a datagram such as "READY=1\nSTATUS=serving").
  std::vector<std::string> read_for(std::chrono::milliseconds d) {
    std::vector<std::string> out;
    const auto until = std::chrono::steady_clock::now() + d;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) out.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

int count_with(const std::vector<std::string>& msgs, const std::string& what) {
  int n = 0;
  for (const auto& m : msgs) n += m.find(what) != std::string::npos;
  return n;
}

class Probes : public ::testing::Test {
 protected:
  void SetUp() override {
    CJHUB_REQUIRE_CLUSTER();
    db_ = std::make_unique<TestDatabase>();
  }
  std::unique_ptr<TestDatabase> db_;
};

TEST_F(Probes, ThePlainHealthListenerServesHealthAndABareReadinessAndNothingElse) {
  HubOptions o;
  o.database_url = db_->url();
  o.env["CJHUB_HEALTH_ENABLED"] = "true";
  o.env["CJHUB_HEALTH_PORT"] = "0";
  HubProcess hub(o);
  hub.start();
  ASSERT_NE(hub.health_port(), 0) << hub.log();
  const auto health = plain(hub.health_port(), http::verb::get, "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "{\"status\":\"ok\"}\n");
  PlainAnswer ready;
  for (int i = 0; i < 50 && ready.status != 200; ++i) {  // the first database probe runs after start
    ready = plain(hub.health_port(), http::verb::get, "/readyz");
    if (ready.status != 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(ready.status, 200u) << ready.body;
  EXPECT_EQ(ready.body, "{\"status\":\"ready\"}\n") << "the status alone: no component names";
  EXPECT_EQ(plain(hub.health_port(), http::verb::head, "/readyz").status, 200u);
  // Nothing else: not the metrics, not the API, not another method.
  EXPECT_EQ(plain(hub.health_port(), http::verb::get, "/metrics").status, 404u);
  EXPECT_EQ(plain(hub.health_port(), http::verb::get, "/v1/messages").status, 404u);
  EXPECT_EQ(plain(hub.health_port(), http::verb::get, "/readyz/../metrics").status, 404u);
  const auto post = plain(hub.health_port(), http::verb::post, "/readyz");
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(post.allow, "GET, HEAD");
  // A request larger than a health check is refused.
  EXPECT_EQ(plain(hub.health_port(), http::verb::get, "/healthz", 8000).status, 413u);
  EXPECT_EQ(hub.terminate(), 0);
}

TEST_F(Probes, ThePlainHealthListenerIsOffUnlessEnabled) {
  HubOptions o;
  o.database_url = db_->url();
  HubProcess hub(o);
  hub.start();
  EXPECT_EQ(hub.health_port(), 0) << "not listening";
  EXPECT_EQ(hub.log().find("health listener"), std::string::npos) << "it is not started";
  EXPECT_EQ(hub.terminate(), 0);
}

// A drain held open by a client in the middle of a request (the listener waits for it up to the
// read timeout): from SIGTERM on, the plain /readyz answers 503 until the process is gone.
TEST_F(Probes, ReadinessIsUnavailableFromTheFirstMomentOfADrain) {
  HubOptions o;
  o.database_url = db_->url();
  o.env["CJHUB_HEALTH_ENABLED"] = "true";
  o.env["CJHUB_HEALTH_PORT"] = "0";
  o.env["CJHUB_READ_TIMEOUT_MS"] = "3000";
  HubProcess hub(o);
  hub.start();
  PlainAnswer ready;
  for (int i = 0; i < 50 && ready.status != 200; ++i) {
    ready = plain(hub.health_port(), http::verb::get, "/readyz");
    if (ready.status != 200) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(ready.status, 200u);
  TlsClient::Options co;
  co.port = hub.port();
  co.cert = client_cert("hartford-pd");
  TlsClient slow(co);
  ASSERT_FALSE(slow.connect());
  // A request under way: its head and the first bytes of its body, and no more.
  slow.send("POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\n"
            "Content-Length: 1000\r\n\r\n<ArrestPacket");
  std::this_thread::sleep_for(300ms);  // its head read: the hub waits for the body now
  const auto port = hub.health_port();
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(hub.pid(), SIGTERM), 0);
  int unavailable = 0, ready_after = 0;
  std::string answers;  // what each probe got, and when it was asked (ms after the signal)
  for (;;) {
    try {
      const auto asked = std::chrono::steady_clock::now() - sent;
      const auto r = plain(port, http::verb::get, "/readyz");
      answers += std::to_string(r.status) + "@" +
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(asked).count()) + " ";
      if (r.status == 503) {
        ++unavailable;
        EXPECT_EQ(r.body, "{\"status\":\"not ready\"}\n");
      } else if (unavailable > 0 || asked > 500ms) {
        // A probe asked before the hub took the signal may still be ready; none after.
        ++ready_after;
      }
    } catch (const std::exception&) {
      break;  // the listener is gone: the process is exiting
    }
    if (std::chrono::steady_clock::now() - sent > 20s) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(unavailable, 5) << "503 for the drain's length (about the 3 s read timeout): " << answers;
  EXPECT_EQ(ready_after, 0) << "never ready again once the drain began: " << answers;
  EXPECT_EQ(hub.wait_exit(20s), 0) << "the drain ends in a clean exit\n" << hub.log();
  EXPECT_NE(hub.log().find("draining"), std::string::npos) << hub.log();
}

TEST_F(Probes, TheHubTellsSystemdItIsReadyPingsItsWatchdogAndSaysWhenItStops) {
  const auto path = std::filesystem::temp_directory_path() / ("cjhub-notify-" + std::to_string(::getpid()) + ".sock");
  NotifySocket notify(path);
  // What systemd passes to a Type=notify service with WatchdogSec.
  HubOptions with_systemd;
  with_systemd.database_url = db_->url();
  with_systemd.env["NOTIFY_SOCKET"] = path.string();
  with_systemd.env["WATCHDOG_USEC"] = "400000";  // pings every 200 ms
  HubProcess served(with_systemd);
  served.start();
  const auto first = notify.read_for(1500ms);
  ASSERT_FALSE(first.empty()) << served.log();
  EXPECT_NE(first.front().find("READY=1"), std::string::npos) << first.front();
  EXPECT_GE(count_with(first, "WATCHDOG=1"), 4) << "every half of WATCHDOG_USEC while the loops answer";
  ::kill(served.pid(), SIGTERM);
  const auto last = notify.read_for(1500ms);
  EXPECT_EQ(count_with(last, "STOPPING=1"), 1);
  EXPECT_EQ(served.wait_exit(20s), 0) << served.log();
}

// The watchdog pings only while every liveness check passes, and says which part stopped answering.
TEST(ServiceManagerWatchdog, PingsStopWhileAPartDoesNotAnswerAndResumeAfter) {
  const auto path = std::filesystem::temp_directory_path() / ("cjhub-wd-" + std::to_string(::getpid()) + ".sock");
  NotifySocket notify(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);  // every 100 ms
  ::unsetenv("WATCHDOG_PID");
  std::atomic<bool> hung{false};
  {
    ops::ServiceManager sm({[&hung]() -> std::optional<std::string> {
      if (hung) return std::string("the test's loop");
      return std::nullopt;
    }});
    sm.start();
    EXPECT_EQ(sm.watchdog_interval(), std::chrono::microseconds(200000));
    const auto healthy = notify.read_for(600ms);
    EXPECT_EQ(count_with(healthy, "READY=1"), 1);
    EXPECT_GE(count_with(healthy, "WATCHDOG=1"), 3);
    hung = true;
    notify.read_for(150ms);  // a ping may have been under way
    EXPECT_EQ(count_with(notify.read_for(600ms), "WATCHDOG=1"), 0) << "no ping while a part hangs";
    hung = false;
    EXPECT_GE(count_with(notify.read_for(600ms), "WATCHDOG=1"), 3);
    sm.stopping();
    EXPECT_EQ(count_with(notify.read_for(300ms), "STOPPING=1"), 1);
    sm.stop(std::chrono::steady_clock::now());
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace cjhub::test
