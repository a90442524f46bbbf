// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
// must be a # HELP / # TYPE comment or `name{labels} value`; anything else fails the parse.
#pragma once

#include <map>
#include <regex>
#include <stdexcept>
#include <string>

namespace cjhub::test {

// series ("name{labels}" exactly as written) -> value
inline std::map<std::string, double> parse_prometheus(const std::string& text) {
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$)");
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> out;
  std::size_t start = 0, line_no = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const auto line = text.substr(start, end - start);
    ++line_no;
    start = end + 1;
    if (line.empty()) continue;
    std::smatch m;
    if (std::regex_match(line, comment)) continue;
    if (!std::regex_match(line, m, sample)) {
      throw std::runtime_error("not Prometheus text at line " + std::to_string(line_no) + ": " + line);
    }
    out[m[1].str()] = std::stod(m[5].str());
  }
  return out;
}

}  // namespace cjhub::test
