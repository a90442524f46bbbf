// A strict view over a YAML mapping: every key read is remembered, finish() rejects the rest,
// and every error names the full key path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cjhub/config/config.hpp"

namespace cjhub::config {

class YamlMap {
 public:
  YamlMap(YAML::Node node, std::string path);

  bool has(const std::string& key) const;
  YamlMap map(const std::string& key);               // required mapping
  YamlMap map_or_empty(const std::string& key);      // optional mapping
  std::vector<YAML::Node> list(const std::string& key, bool required);
  std::string str(const std::string& key);           // required non-empty string
  std::string str_or(const std::string& key, std::string fallback);
  std::uint64_t uint_or(const std::string& key, std::uint64_t fallback, std::uint64_t min,
                        std::uint64_t max);
  bool bool_or(const std::string& key, bool fallback);
  std::vector<std::string> str_list(const std::string& key, bool required);
  std::map<std::string, std::string> str_map(const std::string& key);  // optional
  YAML::Node node(const std::string& key);           // any node, as it is (marked as read)
  void finish() const;  // throws ConfigError for every key not read

  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> seen_;
  YAML::Node child(const std::string& key);
};

}  // namespace cjhub::config
