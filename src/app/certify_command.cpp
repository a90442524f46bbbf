// `cjhub certify`: the certification kit on the command line (see src/certify).
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cjhub/app/commands.hpp"
#include "cjhub/certify/kit.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/validation/validator.hpp"

namespace cjhub::app {

int certify(const CertifyArgs& args) {
  auto c = load_config(args.config);
  if (!c) return 2;
  log::setup(c->logging);
  const auto criteria_file = args.criteria.empty() ? args.config.parent_path() / "certification.yaml" : args.criteria;
  certify::KitOptions opts;
  opts.ori = args.agency;
  opts.level = args.level;
  opts.actor = cli_actor();
  opts.progress = ::isatty(STDERR_FILENO) != 0;
  if (!args.since.empty()) {
    const auto since = certify::parse_datetime(args.since);
    if (!since) {
      std::cerr << "cjhub: --since must be an RFC 3339 time with an offset, e.g. 2026-12-01T00:00:00Z\n";
      return 2;
    }
    opts.since_us = *since;
  }
  validation::XercesRuntime xerces;
  certify::Criteria criteria;
  certify::Evidence evidence;
  try {
    criteria = certify::load_criteria(criteria_file.string());
    auto conn = store::connect(c->database.url, c->database.connect_timeout);
    evidence = certify::gather(*conn, *c, criteria, opts);
  } catch (const certify::CriteriaError& e) {
    std::cerr << "cjhub: certification criteria: " << e.what() << "\n";
    return 2;
  } catch (const certify::KitError& e) {
    std::cerr << "cjhub: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: could not read the hub's records: " << e.what() << "\n";
    return 3;
  }
  const auto report = certify::grade(criteria, args.level, evidence);
  std::vector<std::filesystem::path> files;
  try {
    files = certify::write_reports(report, args.out);
  } catch (const std::exception& e) {
    std::cerr << "cjhub: " << e.what() << "\n";
    return 3;
  }
  std::cout << fmt::format("{} ({}), level {} ({}), criteria {} {}\n", report.agency_name, report.ori, report.level,
                           report.level_name, criteria.title, criteria.version);
  for (const auto& r : report.results) {
    std::cout << fmt::format("{:<4}  {:<18}  {}\n", r.passed ? "PASS" : "FAIL", r.criterion->id, r.summary);
  }
  std::cout << fmt::format("{}: {} of {} criteria met\n", report.passed() ? "PASSED" : "NOT PASSED",
                           report.results.size() - report.failures(), report.results.size());
  for (const auto& f : files) std::cout << "report: " << f.string() << "\n";
  return report.passed() ? 0 : 1;
}

}  // namespace cjhub::app
