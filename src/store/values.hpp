// Converting values between C++ and SQL parameters, shared by the repositories.
#pragma once

#include <optional>
#include <pqxx/field>
#include <string>
#include <vector>

namespace cjhub::store::values {

// NULL for an empty text.
inline std::optional<std::string> opt(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// An empty text for NULL.
inline std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

inline std::optional<int> opt_int(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<int>(f.as<int>());
}

// One element of an array literal, quoted, with quotes and backslashes escaped.
inline void append_quoted(std::string& s, const std::string& v) {
  s += '"';
  for (const char c : v) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  s += '"';
}

// A text[] literal: {"a","b"}.
inline std::string text_array(const std::vector<std::string>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    append_quoted(s, v[i]);
  }
  return s + "}";
}

// A text[] literal with NULL elements.
inline std::string opt_text_array(const std::vector<std::optional<std::string>>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    if (v[i]) {
      append_quoted(s, *v[i]);
    } else {
      s += "NULL";
    }
  }
  return s + "}";
}

// A boolean[] literal: {t,f}.
inline std::string bool_array(const std::vector<bool>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::string(v[i] ? "t" : "f");
  return s + "}";
}

// A bigint[] / integer[] literal: {1,2,3}.
template <class T>
std::string int_array(const std::vector<T>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

}  // namespace cjhub::store::values
