// The metric names a PromQL expression reads, for tests that hold the alert rules and the Grafana
// dashboard to the metrics the hub exports. A small scanner, not a parser: string literals, label
// matchers ({...}), ranges and subqueries ([...]), comments, numbers and durations are skipped;
// an identifier followed by `(` (or by `by`/`without`) is a function or an aggregation (after by,
// without, on, ignoring, group_left and group_right the parenthesised label list is skipped);
// keywords and Grafana variables ($name, ${name}) are not names. Everything else is a metric name.
#pragma once

#include <cctype>
#include <set>
#include <string>

namespace cjhub::test {

inline std::set<std::string> promql_metric_names(const std::string& expr) {
  static const std::set<std::string> keywords = {"by",    "without", "on",     "ignoring", "group_left", "group_right",
                                                 "bool",  "and",     "or",     "unless",   "offset",     "atan2",
                                                 "Inf",   "inf",     "NaN",    "nan"};
  static const std::set<std::string> label_lists = {"by", "without", "on", "ignoring", "group_left", "group_right"};
  std::set<std::string> names;
  const std::size_t n = expr.size();
  auto skip_string = [&](std::size_t i) {  // i at the opening quote; returns the index after the closing one
    const char q = expr[i++];
    while (i < n && expr[i] != q) i += (expr[i] == '\\' && q != '`') ? 2 : 1;
    return i + 1;
  };
  auto skip_group = [&](std::size_t i, char open, char close) {  // i at `open`
    int depth = 0;
    while (i < n) {
      const char c = expr[i];
      if (c == '"' || c == '\'' || c == '`') {
        i = skip_string(i);
        continue;
      }
      if (c == open) ++depth;
      if (c == close && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  };
  auto ident_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
  std::size_t i = 0;
  while (i < n) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(i);
    } else if (c == '{') {
      i = skip_group(i, '{', '}');
    } else if (c == '[') {
      i = skip_group(i, '[', ']');
    } else if (c == '#') {
      while (i < n && expr[i] != '\n') ++i;
    } else if (c == '$') {  // a Grafana variable: $name or ${name}
      ++i;
      if (i < n && expr[i] == '{') {
        i = skip_group(i, '{', '}');
      } else {
        while (i < n && ident_char(expr[i])) ++i;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(expr[i + 1])))) {
      while (i < n && (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '.')) ++i;  // 1e3, 0x1f, 5m
    } else if (ident_start(c)) {
      const std::size_t from = i;
      while (i < n && ident_char(expr[i])) ++i;
      const std::string word = expr.substr(from, i - from);
      std::size_t j = i;
      while (j < n && std::isspace(static_cast<unsigned char>(expr[j]))) ++j;
      bool call = j < n && expr[j] == '(';
      // An aggregation with its clause first: `max by (job) (...)`, `sum without (le) (...)`.
      for (const char* clause : {"by", "without"}) {
        const std::string cl(clause);
        if (expr.compare(j, cl.size(), cl) == 0 && (j + cl.size() >= n || !ident_char(expr[j + cl.size()]))) call = true;
      }
      if (label_lists.count(word) != 0) {
        if (call) i = skip_group(j, '(', ')');
      } else if (keywords.count(word) != 0 || call) {
        // a keyword, or a function or aggregation: its arguments are scanned as they come
      } else {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

}  // namespace cjhub::test
