// The kit's reports: HTML for people, JSON for tools, JUnit XML for the vendor's CI. All three
// carry the same results: each criterion with pass or fail, its summary and its evidence.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <fstream>

#include "cjhub/certify/kit.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/common/xml_text.hpp"

namespace cjhub::certify {

namespace {

std::string at(std::int64_t us) { return rfc3339(SystemTime(std::chrono::microseconds(us))); }

std::string base_name(const Report& r) { return fmt::format("certification-{}-level{}", r.ori, r.level); }

}  // namespace

std::string report_json(const Report& r) {
  boost::json::array results;
  for (const auto& x : r.results) {
    boost::json::array evidence;
    for (const auto& line : x.evidence) evidence.emplace_back(line);
    results.push_back(boost::json::object{{"id", x.criterion->id},
                                          {"title", x.criterion->title},
                                          {"level", x.criterion->level},
                                          {"check", to_string(x.criterion->check)},
                                          {"passed", x.passed},
                                          {"summary", x.summary},
                                          {"evidence", std::move(evidence)}});
  }
  return boost::json::serialize(boost::json::object{
             {"agency", boost::json::object{{"ori", r.ori}, {"name", r.agency_name}}},
             {"level", r.level},
             {"level_name", r.level_name},
             {"criteria", boost::json::object{{"version", r.criteria_version}, {"title", r.criteria_title}}},
             {"since", at(r.since_us)},
             {"generated_at", at(r.generated_us)},
             {"passed", r.passed()},
             {"failures", r.failures()},
             {"results", std::move(results)}}) +
         "\n";
}

std::string report_junit(const Report& r) {
  const auto suite = fmt::format("{} level {} ({} {})", r.ori, r.level, r.criteria_title, r.criteria_version);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"cjhub certification\" tests=\"{}\" failures=\"{}\">\n", r.results.size(),
                     r.failures());
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" timestamp=\"{}\">\n",
                     xml_text(suite), r.results.size(), r.failures(), at(r.generated_us).substr(0, 19));
  for (const auto& x : r.results) {
    std::string lines;
    for (const auto& l : x.evidence) lines += l + "\n";
    out += fmt::format("    <testcase classname=\"certification.level{}\" name=\"{}\">\n", x.criterion->level,
                       xml_text(x.criterion->id + ": " + x.criterion->title));
    if (!x.passed) {
      out += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n", xml_text(x.summary),
                         to_string(x.criterion->check), xml_text(lines));
    }
    out += fmt::format("      <system-out>{}</system-out>\n", xml_text(x.summary + "\n" + lines));
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string report_html(const Report& r) {
  std::string rows;
  for (const auto& x : r.results) {
    std::string evidence;
    for (const auto& l : x.evidence) evidence += "<li>" + xml_text(l) + "</li>";
    rows += fmt::format(
        "<tr class=\"{0}\"><td>{1}</td><td>{2}</td><td><strong>{3}</strong></td><td>{4}{5}</td></tr>\n",
        x.passed ? "pass" : "fail", xml_text(x.criterion->id), xml_text(x.criterion->title), x.passed ? "pass" : "FAIL",
        xml_text(x.summary), evidence.empty() ? "" : "<ul>" + evidence + "</ul>");
  }
  return fmt::format(
      R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{0} level {1} certification: {2}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #999;padding:.4em;vertical-align:top;text-align:left}}tr.pass td:nth-child(3){{color:#1a6e1a}}
tr.fail td:nth-child(3){{color:#b00020}}ul{{margin:.3em 0;padding-left:1.2em;font-size:.9em}}</style></head>
<body><h1>{3} ({0}): level {1}, {4}</h1>
<p id="verdict"><strong>{2}</strong>: {5} of {6} criteria met.</p>
<p>Criteria: {7} {8}. Traffic since {9}; graded at {10}.</p>
<table><thead><tr><th>Criterion</th><th>What it asks</th><th>Result</th><th>Evidence</th></tr></thead><tbody>
{11}</tbody></table></body></html>
)",
      xml_text(r.ori), r.level, r.passed() ? "PASSED" : "NOT PASSED", xml_text(r.agency_name), xml_text(r.level_name),
      r.results.size() - r.failures(), r.results.size(), xml_text(r.criteria_title), xml_text(r.criteria_version),
      at(r.since_us), at(r.generated_us), rows);
}

std::vector<std::filesystem::path> write_reports(const Report& r, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> out;
  const auto write = [&](const std::string& ext, const std::string& text) {
    const auto p = dir / (base_name(r) + ext);
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + p.string());
    out.push_back(p);
  };
  write(".html", report_html(r));
  write(".json", report_json(r));
  write(".xml", report_junit(r));
  return out;
}

}  // namespace cjhub::certify
