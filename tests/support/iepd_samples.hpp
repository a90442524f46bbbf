// The test IEPDs' samples (tests/data/iepd, see its README): each IEPD's valid samples, and its
// invalid ones with the line and text of their first error from samples/invalid/expected.tsv.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cjhub::test {

struct InvalidSample {
  std::filesystem::path file;
  std::size_t line = 0;  // of the first error
  std::string says;      // a fragment of its message
};

// The .xml files of a directory, in name order.
inline std::vector<std::filesystem::path> xml_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".xml") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// `iepd`/samples/invalid/expected.tsv: a header line, then file, line, message fragment.
inline std::vector<InvalidSample> invalid_samples_of(const std::filesystem::path& iepd) {
  std::vector<InvalidSample> out;
  const auto dir = iepd / "samples" / "invalid";
  std::ifstream in(dir / "expected.tsv");
  std::string row;
  std::getline(in, row);  // header
  while (std::getline(in, row)) {
    if (row.empty()) continue;
    std::istringstream cells(row);
    std::string file, line, says;
    std::getline(cells, file, '\t');
    std::getline(cells, line, '\t');
    std::getline(cells, says);
    out.push_back({dir / file, std::stoul(line), says});
  }
  return out;
}

}  // namespace cjhub::test
