// End to end: the hostile input corpus (tests/data/hostile/cases.tsv) against the real hub over
// mutual TLS. Every case gets its expected status and problem type, nothing is stored, the hub
// stays up and its resident memory stays bounded.
#include <fstream>
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
  if (kind == "utf16") {
    const std::string text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Invoice xmlns=\"urn:example:billing\"/>";
    std::string s = "\xFF\xFE";  // little-endian BOM
    for (const char c : text) {
      s += c;
      s += '\0';
    }
    return s;
  }
  if (kind == "oversized") {  // the request head and the start of its body: refused before the rest
    return "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: " +
           std::to_string(n) + "\r\n\r\n" + kRootOpen + ">" + std::string(1024, 'x');
  }
  throw std::runtime_error("unknown generator " + spec);
}

long resident_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
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
    if (r.headers["content-type"].rfind("application/problem+json", 0) == 0) {
      EXPECT_EQ(problem_type(r), "urn:cjhub:problem:" + c.problem) << r.body.substr(0, 400);
    } else {
      ADD_FAILURE() << "not a problem document: " << r.headers["content-type"] << " " << r.body.substr(0, 200);
    }
    ASSERT_TRUE(hub_->running()) << "the hub died";
    ++checked;
  }
  EXPECT_EQ(checked, cases.size());
  EXPECT_EQ(db_->count("SELECT count(*) FROM messages"), 0) << "something hostile was stored";
  const long rss = resident_kb(hub_->pid());
  EXPECT_GT(rss, 0);
  EXPECT_LT(rss, 256 * 1024) << "resident memory after the corpus: " << rss << " kB";
  auto ops = client("operator");
  EXPECT_EQ(ops.request("GET", "/healthz").status, 200u);
  std::cout << "hostile corpus: " << checked << " cases, nothing stored, hub RSS " << rss / 1024 << " MB\n";
}

}  // namespace
}  // namespace cjhub::test
