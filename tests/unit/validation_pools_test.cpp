// Grammar pools per schema set (src/validation): two exchanges that ship different subsets of one
// namespace (data/validation/pools/a and b, as two NIEM IEPDs ship different subsets of
// niem-core) each validate against their own, whatever the order of the types; types that list
// the same files share a pool; the root is read from the bytes to choose the pool, and by a
// parser for other encodings; a namespace two files supply in one pool is an error naming both;
// schema paths are normalised, and a missing or backslashed import fails the load.
#include <gtest/gtest.h>

#include <algorithm>

#include "cjhub/validation/validator.hpp"
#include "support/test_env.hpp"
#include "validation/internal.hpp"

namespace cjhub::validation {
namespace {

namespace fs = std::filesystem;

fs::path pools_dir() { return test::data_dir() / "validation" / "pools"; }

MessageTypeSpec exchange(const std::string& x, const std::string& root) {
  MessageTypeSpec t;
  t.name = root;
  t.root_namespace = "urn:cjhub:test:" + x;
  t.root_local_name = root;
  t.schema_files = {(pools_dir() / x / "root.xsd").string()};
  t.namespaces = {{"m", t.root_namespace}};
  t.keys = {{"message_id", "m:" + root + "/m:Id"}};
  return t;
}

std::string message(const std::string& x, const std::string& item) {
  const std::string X = x == "a" ? "A" : "B";
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<m:Message" + X + " xmlns:m=\"urn:cjhub:test:" + x +
         "\" xmlns:s=\"urn:cjhub:test:shared\"><m:Id>id-" + x + "</m:Id><s:Item>" + item + "</s:Item></m:Message" +
         X + ">";
}

std::string describe(const Outcome& o) {
  std::string s = to_string(o.verdict);
  for (const auto& i : o.issues) s += " | " + std::to_string(i.line) + ":" + std::to_string(i.column) + " " + i.message;
  return s;
}

TEST(ValidationPools, EachExchangeValidatesAgainstItsOwnSubsetInEveryOrder) {
  std::vector<MessageTypeSpec> types{exchange("a", "MessageA"), exchange("b", "MessageB")};
  std::sort(types.begin(), types.end(), [](const auto& l, const auto& r) { return l.name < r.name; });
  int orders = 0;
  do {
    SCOPED_TRACE("order: " + types[0].name + ", " + types[1].name);
    const auto set = SchemaSet::load(types, Limits{});
    EXPECT_EQ(set->pool_count(), 2u);
    Validator v(set);
    const auto a = v.validate(message("a", "<s:A>x</s:A>"));
    EXPECT_TRUE(a.ok()) << describe(a);
    EXPECT_EQ(a.type_name, "MessageA");
    EXPECT_EQ(a.first("message_id"), "id-a");
    const auto b = v.validate(message("b", "<s:B>y</s:B><s:C>7</s:C>"));
    EXPECT_TRUE(b.ok()) << describe(b);
    EXPECT_EQ(b.first("message_id"), "id-b");
    // Valid under the other exchange's subset, invalid under its own: refused.
    const auto a_with_b = v.validate(message("a", "<s:B>y</s:B>"));
    EXPECT_EQ(a_with_b.verdict, Verdict::invalid) << describe(a_with_b);
    ASSERT_FALSE(a_with_b.issues.empty());
    EXPECT_EQ(a_with_b.issues[0].line, 2u);
    const auto b_with_a = v.validate(message("b", "<s:A>x</s:A>"));
    EXPECT_EQ(b_with_a.verdict, Verdict::invalid) << describe(b_with_a);
    // A root no type registers is still refused as such.
    EXPECT_EQ(v.validate("<m:Nope xmlns:m=\"urn:cjhub:test:a\"/>").verdict, Verdict::unknown_type);
    ++orders;
  } while (std::next_permutation(types.begin(), types.end(), [](const auto& l, const auto& r) { return l.name < r.name; }));
  EXPECT_EQ(orders, 2);
}

TEST(ValidationPools, TypesThatListTheSameFilesShareOnePool) {
  auto a1 = exchange("a", "MessageA");
  auto a2 = exchange("a", "OtherA");
  a2.keys = {{"message_id", "m:OtherA/m:Id"}};
  // The same file named another way (a dot segment, a doubled slash) is the same file.
  a2.schema_files = {(pools_dir() / "a" / "." / "root.xsd").string()};
  a2.schema_files[0].insert(a2.schema_files[0].rfind('/'), "/");
  const auto set = SchemaSet::load({a1, a2, exchange("b", "MessageB")}, Limits{});
  EXPECT_EQ(set->pool_count(), 2u);
  Validator v(set);
  const auto other = v.validate("<m:OtherA xmlns:m=\"urn:cjhub:test:a\"><m:Id>o</m:Id></m:OtherA>");
  EXPECT_TRUE(other.ok()) << describe(other);
  EXPECT_EQ(other.type_name, "OtherA");
}

std::string load_error_of(std::vector<MessageTypeSpec> types) {
  try {
    SchemaSet::load(std::move(types), Limits{});
  } catch (const SchemaLoadError& e) {
    return e.what();
  }
  return "(no SchemaLoadError)";
}

// One pool holding both exchanges (one type listing both root files) would need two definitions
// of urn:cjhub:test:shared: an error naming both files, whatever their order.
TEST(ValidationPools, ANamespaceSuppliedByTwoDifferentFilesInOnePoolIsAnError) {
  for (const bool a_first : {true, false}) {
    auto t = exchange("a", "MessageA");
    t.schema_files = {(pools_dir() / "a" / "root.xsd").string(), (pools_dir() / "b" / "root.xsd").string()};
    if (!a_first) std::swap(t.schema_files[0], t.schema_files[1]);
    const auto what = load_error_of({t});
    EXPECT_NE(what.find("urn:cjhub:test:shared is supplied by two different files"), std::string::npos) << what;
    EXPECT_NE(what.find((pools_dir() / "a" / "shared.xsd").lexically_normal().string()), std::string::npos) << what;
    EXPECT_NE(what.find((pools_dir() / "b" / "shared.xsd").lexically_normal().string()), std::string::npos) << what;
  }
}

fs::path paths_dir() { return test::data_dir() / "validation" / "paths"; }

MessageTypeSpec paths_type(const std::string& file) {
  MessageTypeSpec t;
  t.name = "Paths";
  t.root_namespace = "urn:cjhub:test:paths";
  t.root_local_name = "Paths";
  t.schema_files = {(paths_dir() / file).string()};
  return t;
}

TEST(ValidationPools, OneFileReachedByTwoSpellingsOfItsPathIsLoadedOnce) {
  const auto set = SchemaSet::load({paths_type("root.xsd")}, Limits{});
  EXPECT_TRUE(set->warnings().empty()) << set->warnings().front();
  Validator v(set);
  const auto ok = v.validate(
      "<p:Paths xmlns:p='urn:cjhub:test:paths' xmlns:o='urn:cjhub:test:one' xmlns:t='urn:cjhub:test:two'>"
      "<o:One>1</o:One><t:Two><o:One>2</o:One></t:Two></p:Paths>");
  EXPECT_TRUE(ok.ok()) << describe(ok);
}

TEST(ValidationPools, AMissingOrBackslashedImportFailsTheLoadNamingIt) {
  const auto missing = load_error_of({paths_type("missing-import.xsd")});
  EXPECT_NE(missing.find("dir/gone.xsd"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
  EXPECT_NE(missing.find("missing-import.xsd"), std::string::npos) << "the importing file is named: " << missing;
  const auto backslash = load_error_of({paths_type("backslash-import.xsd")});
  EXPECT_NE(backslash.find("backslash"), std::string::npos) << backslash;
  EXPECT_NE(backslash.find("dir\\one.xsd"), std::string::npos) << backslash;
}

std::string to_utf16le_with_bom(const std::string& ascii) {
  std::string out = "\xFF\xFE";
  for (const char c : ascii) {
    out += c;
    out += '\0';
  }
  return out;
}

TEST(ValidationPools, ADocumentInAnotherEncodingFindsItsPoolToo) {
  const auto set = SchemaSet::load({exchange("a", "MessageA"), exchange("b", "MessageB")}, Limits{});
  Validator v(set);
  std::string doc = message("b", "<s:B>y</s:B>");
  doc.replace(doc.find("UTF-8"), 5, "UTF-16");
  const auto b = v.validate(to_utf16le_with_bom(doc));
  EXPECT_TRUE(b.ok()) << describe(b);
  EXPECT_EQ(b.type_name, "MessageB");
}

TEST(ValidationPools, TheRootIsReadFromTheBytesOnlyWhenThatIsCertain) {
  using detail::sniff_root;
  using Root = std::optional<std::pair<std::string, std::string>>;
  EXPECT_EQ(sniff_root("<a:R xmlns:a='urn:x'/>"), (Root{{"urn:x", "R"}}));
  EXPECT_EQ(sniff_root("\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- c --><?pi x?>\n<R xmlns=\"urn:y\" b=\"1>2\">"),
            (Root{{"urn:y", "R"}}));
  EXPECT_EQ(sniff_root("<R/>"), (Root{{"", "R"}}));
  EXPECT_EQ(sniff_root("<R a = 'x' xmlns:p='urn:p'\n xmlns = 'urn:d' >"), (Root{{"urn:d", "R"}}));
  // Uncertain: left to the parser.
  EXPECT_EQ(sniff_root("<p:R xmlns:q='urn:q'/>"), Root{}) << "prefix not declared on the root";
  EXPECT_EQ(sniff_root("<p:R xmlns:p='urn:&#112;'/>"), Root{}) << "a reference in the declaration";
  EXPECT_EQ(sniff_root("<?xml version='1.0' encoding='ISO-8859-1'?><R/>"), Root{});
  EXPECT_EQ(sniff_root(to_utf16le_with_bom("<R/>")), Root{});
  EXPECT_EQ(sniff_root("<!DOCTYPE R><R/>"), Root{});
  EXPECT_EQ(sniff_root("<R a='unterminated"), Root{});
  EXPECT_EQ(sniff_root("<R a='1'b='2'/>"), Root{}) << "attributes must be separated";
  EXPECT_EQ(sniff_root("text"), Root{});
  EXPECT_EQ(sniff_root(""), Root{});
}

}  // namespace
}  // namespace cjhub::validation
