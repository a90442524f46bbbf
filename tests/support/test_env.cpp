#include "support/test_env.hpp"

#include <gtest/gtest.h>

#include <cjhub/validation/validator.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cjhub::test {

std::filesystem::path source_dir() { return CJHUB_SOURCE_DIR; }
std::filesystem::path data_dir() { return source_dir() / "tests" / "data"; }
std::filesystem::path binary() { return CJHUB_BINARY; }

std::filesystem::path corpus_dir() {
  if (auto v = env("CJHUB_CORPUS_DIR")) return *v;
  auto p = source_dir().parent_path() / "shared" / "corpus";
  return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string require_env(const char* name) {
  auto v = env(name);
  if (!v) throw std::runtime_error(std::string("test harness variable ") + name +
                                   " is not set: run the tests through scripts/test");
  return *v;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
// Xerces is initialised once per test process, as in main().
class XercesEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { runtime_ = std::make_unique<validation::XercesRuntime>(); }
  void TearDown() override { runtime_.reset(); }

 private:
  std::unique_ptr<validation::XercesRuntime> runtime_;
};
[[maybe_unused]] auto* const xerces_env =
    ::testing::AddGlobalTestEnvironment(new XercesEnvironment);
}  // namespace

}  // namespace cjhub::test
