// The console's static files (src/console/assets, compiled into the binary).
#pragma once

#include <string_view>

namespace cjhub::console {

struct Asset {
  std::string_view path;          // relative to /console/
  std::string_view content_type;  // from the file's extension
  std::string_view bytes;
};

// The asset at `path` (relative to /console/; empty means index.html), or none. Paths with "..",
// a leading '/' or a backslash never match.
const Asset* find_asset(std::string_view path);

}  // namespace cjhub::console
