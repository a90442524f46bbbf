#include "cjhub/console/assets.hpp"

#include <map>
#include <string>

#include "console/asset_table.hpp"

namespace cjhub::console {

namespace {

std::string_view content_type_of(std::string_view path) {
  static const std::map<std::string_view, std::string_view> by_extension{
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
      {".png", "image/png"},                 {".json", "application/json"},
      {".ico", "image/x-icon"},              {".txt", "text/plain; charset=utf-8"}};
  const auto dot = path.rfind('.');
  if (dot != std::string_view::npos) {
    if (auto it = by_extension.find(path.substr(dot)); it != by_extension.end()) return it->second;
  }
  return "application/octet-stream";
}

const std::map<std::string_view, Asset>& table() {
  static const auto built = [] {
    std::map<std::string_view, Asset> t;
    for (std::size_t i = 0; i < generated::kFileCount; ++i) {
      const auto& f = generated::kFiles[i];
      const std::string_view path(f.path);
      t.emplace(path, Asset{path, content_type_of(path),
                            std::string_view(reinterpret_cast<const char*>(f.data), f.size)});
    }
    return t;
  }();
  return built;
}

}  // namespace

const Asset* find_asset(std::string_view path) {
  if (path.empty()) path = "index.html";
  if (path.front() == '/' || path.find("..") != std::string_view::npos || path.find('\\') != std::string_view::npos) {
    return nullptr;
  }
  const auto& t = table();
  const auto it = t.find(path);
  return it == t.end() ? nullptr : &it->second;
}

}  // namespace cjhub::console
