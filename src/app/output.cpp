#include "cjhub/app/output.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <ostream>

#include "cjhub/common/csv.hpp"

namespace cjhub::app {

std::optional<Format> parse_format(const std::string& s) {
  if (s == "table") return Format::table;
  if (s == "csv") return Format::csv;
  if (s == "json") return Format::json;
  return std::nullopt;
}

TableWriter::TableWriter(std::ostream& out, std::vector<Column> columns) : out_(out), columns_(std::move(columns)) {}

void TableWriter::header() {
  if (started_) return;
  started_ = true;
  std::vector<std::string> h;
  for (const auto& c : columns_) h.push_back(c.header);
  row(h);
}

void TableWriter::row(const std::vector<std::string>& cells) {
  header();
  std::string line;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const std::string cell = i < cells.size() ? cells[i] : "";
    const auto& c = columns_[i];
    if (i > 0) line += "  ";
    if (i + 1 == columns_.size()) {
      line += cell;
    } else if (c.right) {
      line += fmt::format("{:>{}}", cell, c.width);
    } else {
      line += fmt::format("{:<{}}", cell, c.width);
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out_ << line << '\n';
}

void TableWriter::finish() {
  header();
  out_.flush();
}

void write_csv_line(std::ostream& out, const std::vector<std::string>& cells) {
  bool first = true;
  for (const auto& c : cells) {
    if (!first) out << ',';
    out << csv_cell(c);
    first = false;
  }
  out << '\n';
}

void write_json_line(std::ostream& out, const boost::json::object& o) { out << boost::json::serialize(o) << '\n'; }

std::string cell_text(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "";
  return boost::json::serialize(v);
}

}  // namespace cjhub::app
