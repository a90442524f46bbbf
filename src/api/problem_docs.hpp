// The problem types' documentation (docs/problems.md, compiled into the binary) as HTML pages:
// GET /problems answers the whole page, GET /problems/<slug> the section of one type, so every
// problem type URI the hub answers with resolves to its documentation.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cjhub::api {

// docs/problems.md as it was built in (generated: problems_doc.cpp).
std::string_view problems_markdown();

struct ProblemDocSection {
  std::string slug;      // the "## <slug>" heading
  std::string markdown;  // the section's text after its heading
};

// The page's introduction (before the first section) and its sections, in page order.
struct ProblemDocs {
  std::string introduction;
  std::vector<ProblemDocSection> sections;
};
ProblemDocs parse_problem_docs(std::string_view markdown);

// HTML pages: the whole documentation, or one type's section (none: no such slug).
std::string problems_page_html();
std::optional<std::string> problem_page_html(std::string_view slug);

}  // namespace cjhub::api
