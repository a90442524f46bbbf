// End to end: the hostile input corpus (tests/data/hostile/cases.tsv) against the real hub over
// mutual TLS. Every case gets its expected status and problem type, nothing is stored (except the
// few cases that must be accepted as what they really are, with the case key named in the file),
// the hub stays up and its peak memory stays bounded.
#include <chrono>
#include <fstream>
#include <thread>
#include <sstream>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

struct Case {
  std::string name, how, problem, what;
  unsigned status = 0;
};

std::vector<Case> load_cases() {
  std::vector<Case> out;
  std::ifstream in(data_dir() / "hostile" / "cases.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ss(line);
    Case c;
    std::string status;
    std::getline(ss, c.name, '\t');
    std::getline(ss, c.how, '\t');
    std::getline(ss, status, '\t');
    std::getline(ss, c.problem, '\t');
    std::getline(ss, c.what, '\t');
    c.status = static_cast<unsigned>(std::stoul(status));
    out.push_back(std::move(c));
  }
  return out;
}

const std::string kRootOpen = R"(<?xml version="1.0" encoding="UTF-8"?>)"
                              "\n<ciss:ArrestPacket xmlns:ciss=\"http://cjhub.example.org/ciss/1.0/\"";
const std::string kRootClose = "</ciss:ArrestPacket>";

// Bodies too big to keep as files.
std::string generate(const std::string& spec) {
  const auto colon = spec.find(':');
  const auto kind = spec.substr(0, colon);
  const std::size_t n = colon == std::string::npos ? 0 : std::stoul(spec.substr(colon + 1));
  if (kind == "deep") {
    std::string s = kRootOpen + ">";
    for (std::size_t i = 0; i < n; ++i) s += "<a>";
    for (std::size_t i = 0; i < n; ++i) s += "</a>";
    return s + kRootClose;
  }
  if (kind == "attribute") return kRootOpen + " big=\"" + std::string(n, 'A') + "\">" + kRootClose;
  if (kind == "text") return kRootOpen + "><ciss:Note>" + std::string(n, 'x') + "</ciss:Note>" + kRootClose;
  if (kind == "attributes") {
    std::string s = kRootOpen;
    for (std::size_t i = 0; i < n; ++i) s += " a" + std::to_string(i) + "=\"v\"";
    return s + ">" + kRootClose;
  }
  if (kind == "name") {
    const std::string name(n, 'n');
    return "<?xml version=\"1.0\"?>\n<" + name + "/>";
  }
  if (kind == "namespaces") {
    std::string s = kRootOpen;
    for (std::size_t i = 0; i < n; ++i) {
      s += " xmlns:p" + std::to_string(i) + "=\"urn:hostile:" + std::string(200, 'u') + ":" + std::to_string(i) + "\"";
    }
    return s + ">" + kRootClose;
  }
  if (kind == "nsuri") {  // one namespace URI of n characters
    return kRootOpen + " xmlns:p=\"urn:" + std::string(n - 4, 'u') + "\">" + kRootClose;
  }
  if (kind == "nsdistinct") {  // n short distinct URIs besides the root's own
    std::string s = kRootOpen;
    for (std::size_t i = 0; i < n; ++i) s += " xmlns:p" + std::to_string(i) + "=\"urn:d:" + std::to_string(i) + "\"";
    return s + ">" + kRootClose;
  }
  if (kind == "utf32" || kind == "utf32-bom") {  // big-endian UCS-4
    const std::string text = "<?xml version=\"1.0\" encoding=\"UTF-32\"?><Invoice xmlns=\"urn:example:billing\"/>";
    std::string s = kind == "utf32-bom" ? std::string("\0\0\xFE\xFF", 4) : std::string();
    for (const char c : text) s += std::string("\0\0\0", 3) + c;
    return s;
  }
  if (kind == "utf16be-nobom") {
    const std::string text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Invoice xmlns=\"urn:example:billing\"/>";
    std::string s;
    for (const char c : text) s += std::string(1, '\0') + c;
    return s;
  }
  if (kind == "bom-utf8-says-utf16") {
    return "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-16\"?><Invoice xmlns=\"urn:example:billing\"/>";
  }
  if (kind == "bom-utf16-says-utf8") {
    const std::string text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Invoice xmlns=\"urn:example:billing\"/>";
    std::string s = "\xFF\xFE";
    for (const char c : text) s += std::string(1, c) + '\0';
    return s;
  }
  if (kind == "ebcdic") {  // "<?xml" in EBCDIC (IBM037), then a declaration naming it
    return std::string("\x4C\x6F\xA7\x94\x93\x40", 6) + std::string(40, '\x40');
  }
  if (kind == "utf16") {
    const std::string text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Invoice xmlns=\"urn:example:billing\"/>";
    std::string s = "\xFF\xFE";  // little-endian BOM
    for (const char c : text) {
      s += c;
      s += '\0';
    }
    return s;
  }
  if (kind == "longkey") {  // a valid arrest packet whose case key is n bytes long
    auto doc = read_file(data_dir() / "ciss" / "valid" / "arrest-packet-1.xml");
    const std::string key = "OTN-2026-0000123";
    doc.replace(doc.find(key), key.size(), std::string(n, 'K'));
    return doc;
  }
  if (kind == "oversized") {  // the request head and the start of its body: refused before the rest
    return "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: " +
           std::to_string(n) + "\r\n\r\n" + kRootOpen + ">" + std::string(1024, 'x');
  }
  throw std::runtime_error("unknown generator " + spec);
}

// The hub's peak resident memory so far (VmHWM): a spike that came and went still counts.
long peak_resident_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class Hostile : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub(); }
};

TEST_F(Hostile, EveryCaseOfTheCorpusIsRefusedAsExpectedAndNothingIsStored) {
  const auto cases = load_cases();
  ASSERT_GE(cases.size(), 40u);
  std::size_t checked = 0;
  long long accepted = 0;  // the cases that must be taken as what they really are (202)
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " (" + c.what + ")");
    auto hpd = client("hartford-pd");
    HttpResult r;
    try {
      if (c.how.rfind("raw:", 0) == 0) {
        r = hpd.raw(read_file(data_dir() / "hostile" / c.how.substr(4)));
      } else if (c.how.rfind("gen:oversized", 0) == 0) {
        r = hpd.raw(generate(c.how.substr(4)));
      } else {
        const auto body = c.how.rfind("gen:", 0) == 0 ? generate(c.how.substr(4))
                                                      : read_file(data_dir() / "hostile" / c.how.substr(5));
        r = hpd.request("POST", "/v1/messages", body);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "no answer: " << e.what();
      continue;
    }
    EXPECT_EQ(r.status, c.status) << r.body.substr(0, 400);
    if (c.status == 202u) {
      // Accepted as what it really is: the problem column names the case key it must be stored with.
      ASSERT_EQ(c.problem.rfind("case_key=", 0), 0u) << "a 202 case names its stored case key";
      if (r.status == 202u) {
        const std::string id(json(r).at("message_id").as_string());
        EXPECT_EQ(db_->scalar("SELECT case_key FROM messages WHERE id = '" + id + "'"), c.problem.substr(9));
        ++accepted;
      }
    } else if (r.headers["content-type"].rfind("application/problem+json", 0) == 0) {
      EXPECT_EQ(problem_type(r), "https://localhost/problems/" + c.problem) << r.body.substr(0, 400);
    } else {
      ADD_FAILURE() << "not a problem document: " << r.headers["content-type"] << " " << r.body.substr(0, 200);
    }
    ASSERT_TRUE(hub_->running()) << "the hub died";
    ++checked;
  }
  EXPECT_EQ(checked, cases.size());
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), accepted) << "something hostile was stored";
  const long peak = peak_resident_kb(hub_->pid());
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 256 * 1024) << "peak resident memory during the corpus: " << peak << " kB";
  auto ops = client("operator");
  EXPECT_EQ(ops.request("GET", "/healthz").status, 200u);
  std::cout << "hostile corpus: " << checked << " cases, nothing stored, hub peak RSS " << peak / 1024 << " MB\n";
}

// A good request with garbage pipelined right behind it on the same connection: the good one is
// answered, the garbage gets 400 and the connection is closed; the hub keeps serving.
TEST_F(Hostile, GarbagePipelinedBehindAGoodRequestIsRefusedAfterItsAnswer) {
  auto c = client("hartford-pd");
  const auto first = c.raw(std::string("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n") +
                           "\x16\x03\x01 NOT HTTP \x01\x02\xff\r\n\r\n");
  EXPECT_EQ(first.status, 200u) << first.body;
  HttpResult second;
  ASSERT_NO_THROW(second = c.receive()) << "the garbage got no answer";
  EXPECT_EQ(second.status, 400u) << second.body;
  EXPECT_EQ(problem_type(second), "https://localhost/problems/bad-request");
  EXPECT_EQ(second.headers["connection"], "close");
  EXPECT_THROW(c.receive(), std::exception) << "the connection stays open after garbage";
  EXPECT_TRUE(hub_->running());
  auto other = client("hartford-pd");
  EXPECT_EQ(other.request("GET", "/healthz").status, 200u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0);
}

// Slow clients (slowloris): a request header or body that trickles in is cut off at the whole
// operation's deadline, however often bytes arrive; meanwhile other clients are served at once.
class SlowClients : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub({{}, {}, {{"CJHUB_READ_TIMEOUT_MS", "1500"}}, {}}); }
};

TEST_F(SlowClients, ATricklingHeaderOrBodyIsCutOffAtTheDeadlineAndOthersAreServed) {
  for (const bool body : {false, true}) {
    SCOPED_TRACE(body ? "slow body" : "slow header");
    auto slow = client("hartford-pd");
    const auto t0 = std::chrono::steady_clock::now();
    slow.send(body ? "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
                     "Content-Length: 100000\r\n\r\n<a>"
                   : "POST /v1/messages HTTP/1.1\r\nHost: x\r\n");
    bool cut = false;
    // One byte every 200 ms, for up to 6 s: each arrives in time, the whole never does.
    for (int i = 0; i < 30 && !cut; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      try {
        slow.send(body ? "x" : "X-Drip: 1\r\n");
      } catch (const std::exception&) {
        cut = true;
      }
      if (i == 2) {  // meanwhile another client is answered at once
        auto other = client("hartford-pd");
        const auto t = std::chrono::steady_clock::now();
        EXPECT_EQ(other.request("GET", "/healthz").status, 200u);
        EXPECT_LT(std::chrono::steady_clock::now() - t, std::chrono::seconds(1));
      }
    }
    if (!cut) {
      try {
        slow.receive();
      } catch (const std::exception&) {
        cut = true;
      }
    }
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(cut) << "the connection was never closed";
    EXPECT_GE(took, std::chrono::milliseconds(1400));
    EXPECT_LT(took, std::chrono::milliseconds(5000)) << "not cut off at the 1.5 s deadline";
  }
  EXPECT_TRUE(hub_->running());
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0);
}

}  // namespace
}  // namespace cjhub::test
