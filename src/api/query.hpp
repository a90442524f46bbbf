// Query-string helpers for the GET handlers.
#pragma once

#include <cctype>
#include <map>
#include <initializer_list>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cjhub::api {

inline std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Every name=value pair in order, decoded, repeats kept (a part without '=' is a name with an
// empty value).
inline std::vector<std::pair<std::string, std::string>> query_pairs(const std::string& target) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto q = target.find('?');
  if (q == std::string::npos) return out;
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto part = rest.substr(0, amp);
    if (!part.empty()) {
      const auto eq = part.find('=');
      out.emplace_back(percent_decode(part.substr(0, eq)),
                       eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

// The pairs as a map: a repeated name keeps its last value.
inline std::map<std::string, std::string> query_params(const std::string& target) {
  std::map<std::string, std::string> out;
  for (auto& [name, value] : query_pairs(target)) out[std::move(name)] = std::move(value);
  return out;
}

inline std::optional<std::string> get(const std::map<std::string, std::string>& m, const char* k) {
  const auto it = m.find(k);
  return it == m.end() || it->second.empty() ? std::nullopt : std::optional<std::string>(it->second);
}

// An ISO 8601 date or date-time as PostgreSQL reads it (2026-11-21, 2026-11-21T03:00:00Z,
// 2026-11-21T03:00:00.5-05:00). In a query string '+' means a space: write Z or %2B.
inline bool valid_timestamp(const std::string& s) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)");
  return s.size() <= 40 && std::regex_match(s, re);
}

// An RFC 3339 date-time (section 5.6): 2026-11-21T03:00:00Z, 2026-11-21T03:00:00.123456-05:00;
// fractions up to microseconds (what the store keeps), every field in its range (a leap second
// is not: PostgreSQL has none). In a query string '+' means a space: write Z or %2B.
inline bool valid_rfc3339(const std::string& s) {
  static const std::regex re(
      R"((\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([Zz]|[+-](\d{2}):(\d{2})))");
  std::smatch m;
  if (s.size() > 40 || !std::regex_match(s, m, re)) return false;
  const auto n = [&](int i) { return std::stoi(m[i].str()); };
  const int year = n(1), month = n(2), day = n(3);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) return false;
  if (n(4) > 23 || n(5) > 59 || n(6) > 59) return false;
  return !m[9].matched || (n(9) <= 23 && n(10) <= 59);
}

// The first of `values` that is set but not a timestamp, or null.
inline const char* bad_timestamp(std::initializer_list<std::pair<const char*, const std::optional<std::string>*>> values) {
  for (const auto& [name, v] : values) {
    if (*v && !valid_timestamp(**v)) return name;
  }
  return nullptr;
}

}  // namespace cjhub::api
