// What a release promises: the OpenAPI document and the CHANGELOG name the project's version, and
// every problem type the hub can answer is an https URI documented by its own section of
// docs/problems.md, which the hub serves.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/problem_docs.hpp"
#include "cjhub/intake/problem.hpp"
#include "support/test_env.hpp"

namespace cjhub {
namespace {

TEST(Release, OpenApiVersionIsTheProjectVersion) {
  const auto doc = YAML::LoadFile((test::source_dir() / "docs" / "openapi.yaml").string());
  EXPECT_EQ(doc["info"]["version"].as<std::string>(), CJHUB_PROJECT_VERSION)
      << "docs/openapi.yaml info.version must be the VERSION of CMakeLists.txt's project()";
}

// Clients must survive members a minor release adds: no schema of the OpenAPI document closes
// itself with `additionalProperties: false`, and the document has schemas to check.
TEST(Release, OpenApiSchemasLeaveRoomForNewMembers) {
  const auto doc = YAML::LoadFile((test::source_dir() / "docs" / "openapi.yaml").string());
  std::vector<std::string> closed;
  int objects = 0;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n, const std::string& at) {
    if (n.IsMap()) {
      if (n["type"] && n["type"].IsScalar() && n["type"].as<std::string>() == "object") ++objects;
      const auto ap = n["additionalProperties"];
      if (ap && ap.IsScalar() && ap.as<std::string>() == "false") closed.push_back(at);
      for (const auto& kv : n) walk(kv.second, at + "/" + kv.first.as<std::string>());
    } else if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i) walk(n[i], at + "/" + std::to_string(i));
    }
  };
  walk(doc, "");
  EXPECT_GT(objects, 20) << "the document's object schemas were not found";
  EXPECT_TRUE(closed.empty()) << "closed to new members: " << ::testing::PrintToString(closed);
}

TEST(Release, TheChangelogHasASectionForTheProjectVersion) {
  const auto text = test::read_file(test::source_dir() / "CHANGELOG.md");
  EXPECT_NE(text.find("## [" CJHUB_PROJECT_VERSION "] - "), std::string::npos)
      << "CHANGELOG.md has no \"## [" CJHUB_PROJECT_VERSION "] - <date>\" section";
  EXPECT_NE(text.find("## [Unreleased]"), std::string::npos);
}

TEST(ProblemDocs, EveryProblemTypeHasItsOwnSectionWithItsStatusAndNoOther) {
  const auto docs = api::parse_problem_docs(api::problems_markdown());
  std::vector<std::string> documented;
  for (const auto& s : docs.sections) documented.push_back(s.slug);
  std::vector<std::string> expected;
  for (const auto p : intake::all_problems()) expected.push_back(intake::info(p).slug);
  EXPECT_EQ(std::set<std::string>(documented.begin(), documented.end()),
            std::set<std::string>(expected.begin(), expected.end()));
  EXPECT_EQ(documented.size(), expected.size()) << "a slug documented twice";
  for (const auto p : intake::all_problems()) {
    const auto& i = intake::info(p);
    for (const auto& s : docs.sections) {
      if (s.slug != i.slug) continue;
      EXPECT_NE(s.markdown.find("**" + std::to_string(i.status) + "**"), std::string::npos)
          << i.slug << ": the section does not state its status " << i.status;
      EXPECT_NE(s.markdown.find(i.title), std::string::npos) << i.slug << ": the section does not give its title";
    }
  }
}

TEST(ProblemDocs, TypesAreHttpsUrisUnderThePublicUrlAndTheirPagesRender) {
  intake::set_problem_base("https://cjhub.example.gov:8443");
  EXPECT_EQ(intake::type_uri(intake::Problem::schema_invalid), "https://cjhub.example.gov:8443/problems/schema-invalid");
  intake::set_problem_base("https://localhost");
  EXPECT_EQ(intake::type_uri(intake::Problem::idempotency_conflict), "https://localhost/problems/idempotency-conflict");
  EXPECT_EQ(intake::info(intake::Problem::idempotency_conflict).status, 422u) << "the IETF Idempotency-Key draft";
  EXPECT_EQ(intake::info(intake::Problem::case_erased).status, 409u);

  const auto page = api::problem_page_html("schema-invalid");
  ASSERT_TRUE(page.has_value());
  EXPECT_NE(page->find("<section id=\"schema-invalid\">"), std::string::npos) << *page;
  EXPECT_NE(page->find("<strong>422</strong>"), std::string::npos) << *page;
  EXPECT_EQ(page->find("<section id=\"malformed-xml\">"), std::string::npos) << "one section only";
  EXPECT_FALSE(api::problem_page_html("no-such-problem").has_value());
  EXPECT_FALSE(api::problem_page_html("").has_value());
  const auto all = api::problems_page_html();
  for (const auto p : intake::all_problems()) {
    EXPECT_NE(all.find(std::string("<section id=\"") + intake::info(p).slug + "\">"), std::string::npos)
        << intake::info(p).slug;
  }
  EXPECT_EQ(all.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace cjhub
