// Documents made from templates (intake::fill_template): the sandbox court's case updates and
// erasure notices.
#include <gtest/gtest.h>

#include "cjhub/intake/template.hpp"

namespace cjhub::intake {
namespace {

TEST(Template, EveryPlaceholderIsReplacedByItsValueEscapedForXml) {
  const auto doc = fill_template("<a id=\"{{id}}\"><b>{{key}}</b><c>{{key}}</c></a>",
                                 {{"id", "x\"y"}, {"key", "OTN-<1>&'2'"}});
  EXPECT_EQ(doc, "<a id=\"x&quot;y\"><b>OTN-&lt;1&gt;&amp;&apos;2&apos;</b><c>OTN-&lt;1&gt;&amp;&apos;2&apos;</c></a>");
  EXPECT_EQ(fill_template("no placeholders", {}), "no placeholders");
  EXPECT_EQ(fill_template("{{a}}{{b}}", {{"a", "1"}, {"b", ""}}), "1") << "adjacent, and an empty value";
}

TEST(Template, APlaceholderWithoutAValueOrUnclosedIsAnErrorNamingIt) {
  try {
    fill_template("<a>{{case_key}}</a><b>{{docket}}</b>", {{"case_key", "OTN-1"}});
    FAIL() << "a hole in the document";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("{{docket}}"), std::string::npos) << e.what();
  }
  EXPECT_THROW(fill_template("<a>{{case_key</a>", {{"case_key", "x"}}), TemplateError);
}

TEST(Template, AValueThatLooksLikeAPlaceholderIsNotFilledAgain) {
  EXPECT_EQ(fill_template("{{a}}", {{"a", "{{b}}"}, {"b", "no"}}), "{{b}}");
}

}  // namespace
}  // namespace cjhub::intake
