// Shared helpers for every test tier: where the sources, the binary and the harness's resources are.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace cjhub::test {

std::filesystem::path source_dir();  // the repository root
std::filesystem::path data_dir();    // tests/data
std::filesystem::path binary();      // the cjhub executable under test
// ../shared/corpus next to the repository (CJHUB_CORPUS_DIR overrides); empty if absent.
std::filesystem::path corpus_dir();

// Variables set by scripts/test (the harness). Tests that need them are skipped with a message
// when they are absent, except under CJHUB_REQUIRE_ALL_TIERS=1 (CI), where their absence fails.
std::optional<std::string> env(const char* name);
std::string require_env(const char* name);  // fails the current test (FAIL) when absent

std::string read_file(const std::filesystem::path& p);

}  // namespace cjhub::test
