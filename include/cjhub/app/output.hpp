// How the commands write what they list: a table for people, CSV (RFC 4180 cells) or JSON Lines
// (one object per line, the admin API's field names), each row written as soon as it is read so
// that memory does not grow with what is listed.
#pragma once

#include <boost/json/object.hpp>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace cjhub::app {

enum class Format { table, csv, json };
std::optional<Format> parse_format(const std::string& s);

// A table with fixed column widths; the header is written before the first row (or by finish()
// when there was none). The last column is not padded.
class TableWriter {
 public:
  struct Column {
    std::string header;
    int width = 0;
    bool right = false;  // numbers
  };
  TableWriter(std::ostream& out, std::vector<Column> columns);
  void row(const std::vector<std::string>& cells);
  void finish();

 private:
  void header();
  std::ostream& out_;
  std::vector<Column> columns_;
  bool started_ = false;
};

// One CSV line: each cell quoted per RFC 4180 (and protected against spreadsheet formulas) by
// csv_cell; lines end in LF.
void write_csv_line(std::ostream& out, const std::vector<std::string>& cells);
// One JSON Lines record.
void write_json_line(std::ostream& out, const boost::json::object& o);

// A JSON value as a table or CSV cell: strings as they are, null as empty, the rest serialized.
std::string cell_text(const boost::json::value& v);

}  // namespace cjhub::app
