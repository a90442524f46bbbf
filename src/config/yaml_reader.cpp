#include "config/yaml_reader.hpp"

#include <fmt/format.h>

namespace cjhub::config {

YamlMap::YamlMap(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    throw ConfigError(fmt::format("{}: must be a mapping", path_.empty() ? "(top level)" : path_));
  }
}

std::string YamlMap::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void YamlMap::fail(const std::string& key, const std::string& what) const {
  throw ConfigError(fmt::format("{}: {}", key_path(key), what));
}

bool YamlMap::has(const std::string& key) const {
  return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
}

YAML::Node YamlMap::child(const std::string& key) {
  seen_.insert(key);
  if (!node_ || !node_.IsMap()) return YAML::Node();
  YAML::Node c = node_[key];
  return c;
}

YAML::Node YamlMap::node(const std::string& key) { return child(key); }

YamlMap YamlMap::map(const std::string& key) {
  YAML::Node c = child(key);
  if (!c || c.IsNull()) fail(key, "is required");
  if (!c.IsMap()) fail(key, "must be a mapping");
  return YamlMap(c, key_path(key));
}

YamlMap YamlMap::map_or_empty(const std::string& key) {
  YAML::Node c = child(key);
  if (c && !c.IsNull() && !c.IsMap()) fail(key, "must be a mapping");
  return YamlMap(c && !c.IsNull() ? c : YAML::Node(YAML::NodeType::Map), key_path(key));
}

std::vector<YAML::Node> YamlMap::list(const std::string& key, bool required) {
  YAML::Node c = child(key);
  if (!c || c.IsNull()) {
    if (required) fail(key, "is required");
    return {};
  }
  if (!c.IsSequence()) fail(key, "must be a list");
  std::vector<YAML::Node> out;
  for (const auto& n : c) out.push_back(n);
  return out;
}

std::string YamlMap::str(const std::string& key) {
  YAML::Node c = child(key);
  if (!c || c.IsNull()) fail(key, "is required");
  if (!c.IsScalar()) fail(key, "must be a string");
  auto v = c.as<std::string>();
  if (v.empty()) fail(key, "must not be empty");
  return v;
}

std::string YamlMap::str_or(const std::string& key, std::string fallback) {
  YAML::Node c = child(key);
  if (!c || c.IsNull()) return fallback;
  if (!c.IsScalar()) fail(key, "must be a string");
  return c.as<std::string>();
}

std::uint64_t YamlMap::uint_or(const std::string& key, std::uint64_t fallback, std::uint64_t min,
                               std::uint64_t max) {
  YAML::Node c = child(key);
  if (!c || c.IsNull()) return fallback;
  if (!c.IsScalar()) fail(key, "must be a whole number");
  const auto text = c.as<std::string>();
  std::uint64_t v = 0;
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    fail(key, fmt::format("must be a whole number, not \"{}\"", text));
  }
  try {
    v = std::stoull(text);
  } catch (const std::exception&) {
    fail(key, fmt::format("number out of range: {}", text));
  }
  if (v < min || v > max) fail(key, fmt::format("must be between {} and {}, not {}", min, max, v));
  return v;
}

bool YamlMap::bool_or(const std::string& key, bool fallback) {
  YAML::Node c = child(key);
  if (!c || c.IsNull()) return fallback;
  const auto text = c.IsScalar() ? c.as<std::string>() : std::string();
  if (text == "true") return true;
  if (text == "false") return false;
  fail(key, "must be true or false");
}

std::vector<std::string> YamlMap::str_list(const std::string& key, bool required) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (const auto& n : list(key, required)) {
    if (!n.IsScalar() || n.as<std::string>().empty()) {
      fail(fmt::format("{}[{}]", key, i), "must be a non-empty string");
    }
    out.push_back(n.as<std::string>());
    ++i;
  }
  return out;
}

std::map<std::string, std::string> YamlMap::str_map(const std::string& key) {
  std::map<std::string, std::string> out;
  YAML::Node c = child(key);
  if (!c || c.IsNull()) return out;
  if (!c.IsMap()) fail(key, "must be a mapping");
  for (const auto& kv : c) {
    const auto k = kv.first.as<std::string>();
    if (!kv.second.IsScalar() || kv.second.as<std::string>().empty()) {
      fail(key + "." + k, "must be a non-empty string");
    }
    out[k] = kv.second.as<std::string>();
  }
  return out;
}

void YamlMap::finish() const {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    const auto k = kv.first.as<std::string>();
    if (!seen_.count(k)) throw ConfigError(fmt::format("{}: unknown key", key_path(k)));
  }
}

}  // namespace cjhub::config
