#include "cjhub/common/csv.hpp"

namespace cjhub {

std::string csv_cell(const std::string& value) {
  const bool formula = !value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' ||
                                          value[0] == '\t' || value[0] == '\r');
  if (!formula && value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string out = formula ? "\"'" : "\"";
  for (const char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace cjhub
