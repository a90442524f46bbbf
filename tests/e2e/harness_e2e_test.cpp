// The harness's own verdicts: a suite whose hub cannot start must fail, never be skipped.
// `BrokenHubProbe` is left out of ctest's discovery (tests/CMakeLists.txt); `HarnessGate` runs this
// same binary with a filter on it and reads the verdict gtest gives.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

class BrokenHubProbe : public HubSuite {
 protected:
  static void SetUpTestSuite() {
    if (!env("CJHUB_HARNESS_PROBE")) return;
    HubOptions o;
    o.config = data_dir() / "config" / "does-not-exist.yaml";  // cjhub apply and serve refuse it
    start_hub(o);
  }
  void SetUp() override {
    if (!env("CJHUB_HARNESS_PROBE")) GTEST_SKIP() << "run through HarnessGate.*";
    HubSuite::SetUp();
  }
};

TEST_F(BrokenHubProbe, NeedsTheHub) {
  auto c = client("hartford-pd");
  EXPECT_EQ(c.request("GET", "/healthz").status, 200u);
}

struct Run {
  int status = -1;
  std::string output;
};

Run run_self(const std::string& filter) {
  Run r;
  const auto self = std::filesystem::read_symlink("/proc/self/exe").string();
  const auto cmd = "CJHUB_HARNESS_PROBE=1 '" + self + "' --gtest_filter='" + filter + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// The child's output as a failure message: its gtest markers defused, or ctest would read this
// test's own verdict from them.
std::string quoted(std::string s) {
  for (std::size_t at = 0; (at = s.find("[  ", at)) != std::string::npos;) s.replace(at, 3, "[ ");
  return s;
}

TEST(HarnessGate, ASuiteWhoseHubCannotStartFailsInsteadOfSkipping) {
  CJHUB_REQUIRE_CLUSTER();
  // gtest's markers, named so that no failure message of this test spells them out.
  const std::string failed_probe = "[  FAILED  ] BrokenHubProbe.NeedsTheHub";
  const std::string skipped = "[  SKIPPED ]";
  const auto r = run_self("BrokenHubProbe.*");
  EXPECT_NE(r.status, 0) << quoted(r.output);
  EXPECT_NE(r.output.find(failed_probe), std::string::npos) << quoted(r.output);
  EXPECT_EQ(r.output.find(skipped), std::string::npos) << quoted(r.output);
  EXPECT_NE(r.output.find("the suite's hub did not start"), std::string::npos) << quoted(r.output);
}

}  // namespace
}  // namespace cjhub::test
