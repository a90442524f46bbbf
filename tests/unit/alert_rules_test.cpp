// The alerting as code in config/prometheus and config/grafana, read as files: every alert is
// labelled and annotated and has promtool cases that fire it and cases that do not, database
// gauges are aggregated with max (never summed), and the dashboard is well-formed. Whether the
// rules behave is promtool's part (config/promtool_test.sh); whether the names they read exist is
// Alerting.EveryMetricTheRulesAndTheDashboardReadIsExported (e2e).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <map>
#include <regex>
#include <set>

#include "support/promql_names.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

using test::promql_metric_names;
using test::source_dir;

const std::filesystem::path kRules = "config/prometheus/cjhub.rules.yml";

std::vector<YAML::Node> rules_of(const std::filesystem::path& file) {
  std::vector<YAML::Node> out;
  for (const auto& g : YAML::LoadFile((source_dir() / file).string())["groups"]) {
    for (const auto& r : g["rules"]) out.push_back(r);
  }
  return out;
}

// The Alerting subsection of docs/operations.md.
std::string alerting_section() {
  const auto doc = test::read_file(source_dir() / "docs" / "operations.md");
  const auto from = doc.find("\n### Alerting\n");
  if (from == std::string::npos) return "";
  const auto to = doc.find("\n## ", from + 1);
  return doc.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

TEST(PromqlNames, FindsMetricsAndSkipsFunctionsLabelsKeywordsAndVariables) {
  EXPECT_EQ(promql_metric_names(R"(max by (job, agency) (cjhub_endpoint_backlog{agency=~"CT.*", job="x"}) > 0)"),
            (std::set<std::string>{"cjhub_endpoint_backlog"}));
  EXPECT_EQ(promql_metric_names("histogram_quantile(0.99, sum by (le) (rate(cjhub_ingest_latency_seconds_bucket"
                                "{job=\"$job\"}[$__rate_interval])))"),
            (std::set<std::string>{"cjhub_ingest_latency_seconds_bucket"}));
  EXPECT_EQ(promql_metric_names("a:b:c > (14.4 * (1 - 0.999)) and on (job) b_total offset 5m unless ignoring (x) "
                                "group_left (y) c or vector(1) # d_total\n"),
            (std::set<std::string>{"a:b:c", "b_total", "c"}));
  EXPECT_EQ(promql_metric_names("time() - max without (instance) (x_seconds) > 1e3 and up{job=\"a}b\"} == bool 1"),
            (std::set<std::string>{"x_seconds", "up"}));
  EXPECT_EQ(promql_metric_names("sum(rate(y[5m:1m])) by (le) / ${var} + $v"), (std::set<std::string>{"y"}));
}

TEST(AlertRules, EveryAlertHasASeveritySummaryDescriptionAndRunbookAndIsDocumented) {
  const auto section = alerting_section();
  ASSERT_FALSE(section.empty()) << "docs/operations.md has no '### Alerting' subsection";
  int alerts = 0;
  for (const auto& r : rules_of(kRules)) {
    if (!r["alert"]) continue;
    ++alerts;
    const auto name = r["alert"].as<std::string>();
    const auto expr = r["expr"].as<std::string>();
    const auto severity = r["labels"]["severity"].as<std::string>("");
    EXPECT_TRUE(severity == "page" || severity == "ticket") << name << ": severity " << severity;
    const auto a = r["annotations"];
    for (const char* key : {"summary", "description", "runbook"}) {
      EXPECT_FALSE(a[key].as<std::string>("").empty()) << name << " has no " << key;
    }
    EXPECT_EQ(a["runbook"].as<std::string>(""), "docs/operations.md#alerting") << name;
    // An alert about an agency or an endpoint names it (the endpoint:* series keep both labels).
    const auto description = a["description"].as<std::string>("");
    const bool per_endpoint = expr.find("endpoint:cjhub_") != std::string::npos ||
                              expr.find("agency, endpoint)") != std::string::npos;
    const bool per_agency = per_endpoint || expr.find("agency)") != std::string::npos;
    if (per_agency) {
      EXPECT_NE(description.find("{{ $labels.agency }}"), std::string::npos) << name;
    }
    if (per_endpoint) {
      EXPECT_NE(description.find("{{ $labels.endpoint }}"), std::string::npos) << name;
    }
    EXPECT_NE(section.find("`" + name + "`"), std::string::npos) << name << " is not described in docs/operations.md, Alerting";
  }
  EXPECT_GE(alerts, 15);
}

TEST(AlertRules, EveryAlertHasPromtoolCasesWhereItFiresAndWhereItDoesNot) {
  std::set<std::string> names;
  for (const auto& r : rules_of(kRules)) {
    if (r["alert"]) names.insert(r["alert"].as<std::string>());
  }
  std::vector<std::string> groups;
  for (const auto& g : YAML::LoadFile((source_dir() / kRules).string())["groups"]) groups.push_back(g["name"].as<std::string>());
  std::map<std::string, int> firing, silent;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "config" / "prometheus" / "tests")) {
    if (entry.path().extension() != ".yml") continue;
    ++files;
    const auto doc = YAML::LoadFile(entry.path().string());
    bool loads_rules = false;
    for (const auto& f : doc["rule_files"]) loads_rules = loads_rules || f.as<std::string>() == "../cjhub.rules.yml";
    EXPECT_TRUE(loads_rules) << entry.path() << " does not test ../cjhub.rules.yml";
    // promtool evaluates groups in a random order unless told: the recording rules come first, so
    // that alerts read the ratios of the same evaluation and the expected values are stable.
    std::vector<std::string> order;
    for (const auto& g : doc["group_eval_order"]) order.push_back(g.as<std::string>());
    EXPECT_EQ(order, groups) << entry.path() << ": group_eval_order must list every group, in the rules' order";
    for (const auto& t : doc["tests"]) {
      for (const auto& c : t["alert_rule_test"]) {
        const auto name = c["alertname"].as<std::string>();
        EXPECT_EQ(names.count(name), 1u) << entry.path() << " tests an alert the rules do not have: " << name;
        (c["exp_alerts"].size() > 0 ? firing : silent)[name]++;
      }
    }
  }
  EXPECT_GE(files, 1);
  for (const auto& n : names) {
    EXPECT_GT(firing[n], 0) << n << ": no promtool case where it fires";
    EXPECT_GT(silent[n], 0) << n << ": no promtool case where it does not fire";
  }
}

// Every hub sharing the database reports the same database gauges: summing them would multiply
// them by the number of hubs.
TEST(AlertRules, DatabaseGaugesAreAggregatedWithMaxNeverSummed) {
  const std::vector<std::string> gauges = {"cjhub_endpoint_up",
                                           "cjhub_endpoint_availability_ratio",
                                           "cjhub_endpoint_backlog",
                                           "cjhub_endpoint_oldest_pending_seconds",
                                           "cjhub_endpoint_paused",
                                           "cjhub_endpoint_dead_letters",
                                           "cjhub_erasures_awaiting_confirmation",
                                           "cjhub_erasures_overdue",
                                           "cjhub_submitter_silent",
                                           "cjhub_submitter_last_submission_timestamp_seconds"};
  std::vector<std::pair<std::string, std::string>> exprs;  // where, expression
  for (const auto& r : rules_of(kRules)) {
    exprs.emplace_back(r["alert"] ? r["alert"].as<std::string>() : r["record"].as<std::string>(),
                       r["expr"].as<std::string>());
  }
  const auto dash = boost::json::parse(test::read_file(source_dir() / "config" / "grafana" / "cjhub.json"));
  for (const auto& p : dash.at("panels").as_array()) {
    if (const auto* targets = p.as_object().if_contains("targets")) {
      for (const auto& t : targets->as_array()) {
        exprs.emplace_back("dashboard: " + std::string(p.at("title").as_string()),
                           std::string(t.at("expr").as_string()));
      }
    }
  }
  int checked = 0;
  for (const auto& [where, expr] : exprs) {
    for (const auto& g : gauges) {
      const auto names = promql_metric_names(expr);
      if (names.count(g) == 0) continue;
      ++checked;
      const std::regex wrapped("max by \\([^)]*\\) \\(\\s*" + g + "(?![\\w:])");
      const std::regex bare("(^|[^:\\w])" + g + "(?![\\w:])");
      const auto uses = std::distance(std::sregex_iterator(expr.begin(), expr.end(), bare), std::sregex_iterator());
      const auto maxed = std::distance(std::sregex_iterator(expr.begin(), expr.end(), wrapped), std::sregex_iterator());
      EXPECT_EQ(uses, maxed) << where << ": " << g << " must be read as max by (...) (" << g << "...): " << expr;
    }
  }
  EXPECT_GE(checked, 15);
}

TEST(GrafanaDashboard, EveryPanelQueriesPrometheusAndEveryQueryNamesAMetric) {
  const auto dash = boost::json::parse(test::read_file(source_dir() / "config" / "grafana" / "cjhub.json")).as_object();
  EXPECT_EQ(dash.at("uid").as_string(), "cjhub");
  std::set<std::string> titles;
  int queries = 0;
  for (const auto& pv : dash.at("panels").as_array()) {
    const auto& p = pv.as_object();
    const std::string title(p.at("title").as_string());
    if (p.at("type").as_string() == "row") continue;
    EXPECT_TRUE(titles.insert(title).second) << "two panels titled " << title;
    const auto& targets = p.at("targets").as_array();
    EXPECT_FALSE(targets.empty()) << title;
    for (const auto& t : targets) {
      ++queries;
      EXPECT_FALSE(promql_metric_names(std::string(t.at("expr").as_string())).empty()) << title;
    }
  }
  EXPECT_GE(queries, 20);
  for (const char* wanted : {"Submissions by outcome", "Ingest latency", "Delivery attempts by outcome",
                             "Backlog per endpoint", "Oldest pending delivery per endpoint", "Endpoint up",
                             "Availability this month and error budget left", "Dead letters and paused endpoints",
                             "Erasures awaiting confirmation", "Erasures overdue", "Certificate and CRL expiry",
                             "Components up", "Silent submitters"}) {
    EXPECT_EQ(titles.count(wanted), 1u) << "no panel " << wanted;
  }
}

}  // namespace
}  // namespace cjhub
