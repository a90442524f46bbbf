// One CSV cell (RFC 4180), safe to open in a spreadsheet.
#pragma once

#include <string>

namespace cjhub {

// Quotes the cell when it holds a comma, a quote or a line break (quotes doubled). A cell that
// starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read by a spreadsheet as a
// formula (CSV injection): it is prefixed with a single quote and quoted, so it shows as text.
std::string csv_cell(const std::string& value);

}  // namespace cjhub
