// Unit tier: exchanges on three NIEM versions beside the CISS types, registered in
// tests/data/config/exchanges.yaml over the IEPDs of tests/data/iepd (a city's NIEM 5.0 / jxdm 7.2
// exchanges whose niem-core and jxdm subsets differ from the CISS ones, a state broker's NIEM 4.0
// arrest and NIEM 3.0 expungement exchanges). In every order of the entries, every valid sample
// of every exchange is accepted as its own type and every invalid one is refused at its line; a
// type whose files put two IEPDs in one pool fails naming both niem-core files; beside the NIBRS
// 4.2 IEPD (../shared/corpus), the NIEM 3.0 exchange keeps its own niem-core 3.0 subset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cjhub/config/config.hpp"
#include "cjhub/validation/validator.hpp"
#include "support/iepd_samples.hpp"
#include "support/test_env.hpp"

namespace cjhub::validation {
namespace {

namespace fs = std::filesystem;

fs::path iepd_dir() { return test::data_dir() / "iepd"; }

config::Config load_config(const std::string& name) {
  const auto src = test::source_dir().string();
  setenv("CJHUB_TLS_DIR", (src + "/tests/data/config/fake-tls").c_str(), 1);
  setenv("CJHUB_DATABASE_URL", "postgresql://unit@127.0.0.1:1/none", 1);
  return config::load(test::data_dir() / "config" / name);
}

// A sample and the schema directory whose types must take it (a type's root schema file lies
// under that directory).
struct Sample {
  fs::path file;
  fs::path home;
  std::size_t line = 0;  // invalid samples: the line of the first error
  std::string says;      // invalid samples: a fragment of its message
};

using test::xml_files;

std::vector<fs::path> iepds() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(iepd_dir())) {
    if (e.is_directory()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Sample> valid_samples() {
  std::vector<Sample> out;
  for (const auto& f : xml_files(test::data_dir() / "ciss" / "valid")) out.push_back({f, test::source_dir() / "schemas", 0, ""});
  for (const auto& d : iepds()) {
    for (const auto& f : xml_files(d / "samples" / "valid")) out.push_back({f, d, 0, ""});
  }
  return out;
}

std::vector<Sample> invalid_samples() {
  std::vector<Sample> out;
  for (const auto& d : iepds()) {
    for (auto& s : test::invalid_samples_of(d)) out.push_back({s.file, d, s.line, s.says});
  }
  return out;
}

bool under(const fs::path& file, const fs::path& dir) {
  const auto f = fs::weakly_canonical(file).string();
  const auto d = fs::weakly_canonical(dir).string() + "/";
  return f.rfind(d, 0) == 0;
}

const MessageTypeSpec* type_named(const std::vector<MessageTypeSpec>& types, const std::string& name) {
  for (const auto& t : types) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string describe(const Outcome& o) {
  std::string s = std::string(to_string(o.verdict)) + " as '" + o.type_name + "'";
  for (const auto& i : o.issues) s += " | " + std::to_string(i.line) + ":" + std::to_string(i.column) + " " + i.message;
  return s;
}

// Checks every sample against one loaded set; returns the number of verdicts that were wrong.
int check_samples(const std::shared_ptr<const SchemaSet>& set, const std::vector<Sample>& valid,
                  const std::vector<Sample>& invalid) {
  Validator v(set);
  int wrong = 0;
  for (const auto& s : valid) {
    const auto o = v.validate(test::read_file(s.file));
    const auto* t = type_named(set->types(), o.type_name);
    const bool right = o.ok() && t != nullptr && under(t->schema_files.at(0), s.home);
    EXPECT_TRUE(right) << s.file << ": " << describe(o);
    wrong += right ? 0 : 1;
  }
  for (const auto& s : invalid) {
    const auto o = v.validate(test::read_file(s.file));
    const bool right = o.verdict == Verdict::invalid && !o.issues.empty() && o.issues[0].line == s.line &&
                       o.issues[0].message.find(s.says) != std::string::npos;
    EXPECT_TRUE(right) << s.file << ": expected invalid at line " << s.line << " saying '" << s.says
                       << "', got " << describe(o);
    wrong += right ? 0 : 1;
  }
  return wrong;
}

class Exchanges : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    xerces_ = std::make_unique<XercesRuntime>();
    config_ = std::make_unique<config::Config>(load_config("exchanges.yaml"));
  }
  static void TearDownTestSuite() {
    config_.reset();
    xerces_.reset();
  }
  static inline std::unique_ptr<XercesRuntime> xerces_;
  static inline std::unique_ptr<config::Config> config_;
};

TEST_F(Exchanges, TheDataHoldsThreeNiemVersionsAndEnoughSamples) {
  const auto specs = config_->type_specs();
  std::set<std::string> versions;
  for (const auto& t : specs) {
    for (const auto& [prefix, uri] : t.namespaces) {
      if (uri.find("release.niem.gov/niem/niem-core/") != std::string::npos) versions.insert(uri);
    }
  }
  EXPECT_GE(versions.size(), 3u) << "niem-core versions named by the types";
  EXPECT_GE(iepds().size(), 3u);
  for (const auto& d : iepds()) {
    EXPECT_GE(xml_files(d / "samples" / "valid").size(), 2u) << d;
    EXPECT_GE(xml_files(d / "samples" / "invalid").size(), 2u) << d;
  }
  // Every invalid sample is in the manifest, and the manifest names no file that is not there.
  std::size_t listed = 0;
  for (const auto& s : invalid_samples()) {
    EXPECT_TRUE(fs::exists(s.file)) << s.file;
    ++listed;
  }
  std::size_t files = 0;
  for (const auto& d : iepds()) files += xml_files(d / "samples" / "invalid").size();
  EXPECT_EQ(listed, files);
}

// The five entries that belong to different schema sets (one CISS type and the four others) in
// all 120 orders, the other CISS types after them: every verdict is the same in every order.
TEST_F(Exchanges, EverySampleGetsItsOwnVerdictInEveryOrderOfTheEntries) {
  auto specs = config_->type_specs();
  const std::set<std::string> ciss_rest{"EarlyArrestNotification", "CaseUpdate", "ErasureNotice", "Acknowledgement"};
  std::vector<MessageTypeSpec> permuted, rest;
  for (auto& t : specs) (ciss_rest.count(t.name) ? rest : permuted).push_back(std::move(t));
  ASSERT_EQ(permuted.size(), 5u) << "ArrestPacket and the four types of tests/data/iepd";
  ASSERT_EQ(rest.size(), 4u);
  const auto by_name = [](const auto& l, const auto& r) { return l.name < r.name; };
  std::sort(permuted.begin(), permuted.end(), by_name);
  const auto valid = valid_samples();
  const auto invalid = invalid_samples();
  ASSERT_GE(valid.size(), 20u);
  ASSERT_GE(invalid.size(), 6u);
  int orders = 0, wrong_orders = 0;
  do {
    std::vector<MessageTypeSpec> types = permuted;
    types.insert(types.end(), rest.begin(), rest.end());
    std::string order;
    for (const auto& t : permuted) order += t.name + " ";
    SCOPED_TRACE("order: " + order);
    const auto set = SchemaSet::load(types, Limits{});
    EXPECT_EQ(set->pool_count(), 4u);
    if (check_samples(set, valid, invalid) > 0) ++wrong_orders;
    ++orders;
  } while (std::next_permutation(permuted.begin(), permuted.end(), by_name));
  EXPECT_EQ(orders, 120);
  EXPECT_EQ(wrong_orders, 0);
}

// One type listing the CISS and the city root schemas puts two niem-core 5.0 subsets in one pool:
// the load fails naming both files (check-config and start-up report this error).
TEST_F(Exchanges, TwoIepdsInOnePoolFailNamingBothNiemCoreFiles) {
  const auto conflict = load_config("exchanges-conflict.yaml");
  try {
    SchemaSet::load(conflict.type_specs(), Limits{});
    FAIL() << "the conflicting pool loaded";
  } catch (const SchemaLoadError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("http://release.niem.gov/niem/niem-core/5.0/ is supplied by two different files"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find((test::source_dir() / "schemas/niem/niem-core/5.0/niem-core.xsd").lexically_normal().string()),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(iepd_dir().lexically_normal().string() + "/city-5.0/"), std::string::npos) << what;
  }
}

// The NIBRS 4.2 IEPD ships its own niem-core 3.0 subset too: beside the state's NIEM 3.0
// expungement exchange, in both orders, each keeps its own.
TEST_F(Exchanges, TheNiem30ExchangeAndNibrsEachKeepTheirOwnSubset) {
  if (test::corpus_dir().empty()) GTEST_SKIP() << "../shared/corpus is not present";
  setenv("CJHUB_CORPUS_DIR", test::corpus_dir().c_str(), 1);
  const auto nibrs_types = load_config("nibrs.yaml").type_specs();
  const auto* nibrs = type_named(nibrs_types, "NibrsSubmission");
  ASSERT_NE(nibrs, nullptr);
  const auto specs = config_->type_specs();
  const auto* expunge = type_named(specs, "StateExpungementOrder");
  ASSERT_NE(expunge, nullptr);
  std::vector<Sample> valid, invalid;
  for (const auto& f : xml_files(test::corpus_dir() / "nibrs-4.2" / "iep-sample")) {
    valid.push_back({f, test::corpus_dir() / "nibrs-4.2", 0, ""});
  }
  ASSERT_EQ(valid.size(), 7u);
  for (const auto& s : valid_samples()) {
    if (under(s.file, iepd_dir() / "state-3.0")) valid.push_back(s);
  }
  for (const auto& s : invalid_samples()) {
    if (under(s.file, iepd_dir() / "state-3.0")) invalid.push_back(s);
  }
  ASSERT_GT(valid.size(), 7u);
  for (const bool nibrs_first : {true, false}) {
    SCOPED_TRACE(nibrs_first ? "NIBRS first" : "NIBRS second");
    std::vector<MessageTypeSpec> types{*nibrs, *expunge};
    if (!nibrs_first) std::swap(types[0], types[1]);
    const auto set = SchemaSet::load(types, Limits{});
    EXPECT_EQ(set->pool_count(), 2u);
    EXPECT_EQ(check_samples(set, valid, invalid), 0);
  }
}

}  // namespace
}  // namespace cjhub::validation
