// Converting values between C++ and SQL parameters, shared by the repositories.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/binarystring>
#include <pqxx/field>
#include <string>
#include <string_view>
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

// A bytea[] parameter in PostgreSQL's binary array format (array_recv): sent as binary, so the
// bytes are neither hex-encoded here nor decoded by the server.
inline pqxx::binarystring bytea_array(const std::vector<std::string_view>& v) {
  std::string s;
  std::size_t total = 20;
  for (const auto e : v) total += 4 + e.size();
  s.reserve(total);
  const auto put32 = [&s](std::uint32_t x) {
    const char b[4] = {static_cast<char>(x >> 24), static_cast<char>(x >> 16), static_cast<char>(x >> 8),
                       static_cast<char>(x)};
    s.append(b, 4);
  };
  constexpr std::uint32_t kByteaOid = 17;
  put32(1);  // dimensions
  put32(0);  // no NULL elements
  put32(kByteaOid);
  put32(static_cast<std::uint32_t>(v.size()));
  put32(1);  // lower bound
  for (const auto e : v) {
    put32(static_cast<std::uint32_t>(e.size()));
    s.append(e);
  }
  return pqxx::binarystring(s.data(), s.size());
}

}  // namespace cjhub::store::values
