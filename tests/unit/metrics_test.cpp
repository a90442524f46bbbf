// The metrics registry: collectors' samples rendered as one family per name, summed across
// collectors, gone once removed; the build's identity.
#include <gtest/gtest.h>

#include <string>

#include "cjhub/ops/metrics.hpp"
#include "support/prometheus.hpp"

namespace cjhub::test {
namespace {

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(MetricsRegistry, CollectorsOfOneSeriesAreSummedUnderOneFamily) {
  auto& r = metrics::registry();
  metrics::CollectorRegistration a, b;
  a.set([](std::vector<metrics::Sample>& out) {
    out.push_back({"cjhub_test_rounds_total", "Rounds.", "counter", "", 3});
    out.push_back({"cjhub_test_backlog", "Backlog.", "gauge", "endpoint=\"1\"", 7});
  });
  b.set([](std::vector<metrics::Sample>& out) {
    out.push_back({"cjhub_test_rounds_total", "Rounds.", "counter", "", 4});
    out.push_back({"cjhub_test_backlog", "Backlog.", "gauge", "endpoint=\"2\"", 0.5});
  });
  std::string text;
  r.render(text);
  EXPECT_EQ(count_of(text, "# TYPE cjhub_test_rounds_total counter\n"), 1);
  EXPECT_EQ(count_of(text, "# TYPE cjhub_test_backlog gauge\n"), 1);
  const auto m = parse_prometheus(text);  // throws on anything that is not Prometheus text
  EXPECT_EQ(m.at("cjhub_test_rounds_total"), 7);
  EXPECT_EQ(m.at("cjhub_test_backlog{endpoint=\"1\"}"), 7);
  EXPECT_EQ(m.at("cjhub_test_backlog{endpoint=\"2\"}"), 0.5);
  b.reset();
  text.clear();
  r.render(text);
  EXPECT_EQ(parse_prometheus(text).at("cjhub_test_rounds_total"), 3);
  a.reset();
  text.clear();
  r.render(text);
  EXPECT_EQ(text.find("cjhub_test_"), std::string::npos) << "removed collectors report nothing";
}

TEST(MetricsRegistry, TheBuildIsNamedWithItsStartTime) {
  auto& r = metrics::registry();
  r.set_build("1.2.3", "abc\"def");
  std::string text;
  r.render(text);
  const auto m = parse_prometheus(text);
  EXPECT_EQ(m.at("cjhub_build_info{version=\"1.2.3\",commit=\"abc\\\"def\"}"), 1) << "label values escaped";
  EXPECT_GT(m.at("process_start_time_seconds"), 1.7e9);
}

}  // namespace
}  // namespace cjhub::test
