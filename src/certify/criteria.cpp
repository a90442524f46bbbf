#include "cjhub/certify/criteria.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <regex>

namespace cjhub::certify {

namespace {

constexpr std::pair<Check, const char*> kChecks[] = {
    {Check::accepted, "accepted"},
    {Check::clean_submissions, "clean_submissions"},
    {Check::required_data, "required_data"},
    {Check::timeliness, "timeliness"},
    {Check::idempotent_retries, "idempotent_retries"},
    {Check::certificate, "certificate"},
    {Check::delivery_order, "delivery_order"},
    {Check::delivery_answers, "delivery_answers"},
    {Check::duplicate_redelivery, "duplicate_redelivery"},
    {Check::erasure_acknowledged, "erasure_acknowledged"},
};

// The keys each check reads (besides id, title, check); any other key is a mistake in the file.
const std::map<Check, std::set<std::string>>& keys_of() {
  static const std::map<Check, std::set<std::string>> k = {
      {Check::accepted, {"message_type", "min", "with"}},
      {Check::clean_submissions, {"last", "refusals"}},
      {Check::required_data, {"message_type", "fields"}},
      {Check::timeliness, {"message_type", "event_time", "max_minutes"}},
      {Check::idempotent_retries, {}},
      {Check::certificate, {"min_days"}},
      {Check::delivery_order, {"min"}},
      {Check::delivery_answers, {"min", "max_percent"}},
      {Check::duplicate_redelivery, {"wait_seconds"}},
      {Check::erasure_acknowledged, {"min", "within_hours"}},
  };
  return k;
}

long long positive(const YAML::Node& n, const std::string& where) {
  long long v = 0;
  try {
    v = n.as<long long>();
  } catch (const YAML::Exception&) {
    throw CriteriaError(where + " must be a whole number");
  }
  if (v < 0) throw CriteriaError(where + " must not be negative");
  return v;
}

std::string text(const YAML::Node& n, const std::string& where) {
  if (!n || !n.IsScalar() || n.Scalar().empty()) throw CriteriaError(where + " must be a non-empty string");
  return n.Scalar();
}

Field read_field(const YAML::Node& n, const std::string& where) {
  if (!n.IsMap()) throw CriteriaError(where + " must be a map with name and path");
  Field f;
  for (const auto& kv : n) {
    const auto key = kv.first.Scalar();
    if (key == "name") f.name = text(kv.second, where + ".name");
    else if (key == "path") f.path = text(kv.second, where + ".path");
    else if (key == "format") f.format = text(kv.second, where + ".format");
    else if (key == "pattern") f.pattern = text(kv.second, where + ".pattern");
    else if (key == "code_list") f.code_list = text(kv.second, where + ".code_list");
    else if (key == "every") f.every = kv.second.as<bool>();
    else throw CriteriaError(fmt::format("{}: unknown key '{}' (name, path, format, pattern, code_list, every)", where, key));
  }
  if (f.path.empty()) throw CriteriaError(where + ".path is required");
  if (f.name.empty()) f.name = f.path;
  if (!f.format.empty() && f.format != "date" && f.format != "datetime") {
    throw CriteriaError(where + ".format must be date or datetime");
  }
  if (!f.pattern.empty()) {
    try {
      std::regex re(f.pattern);
    } catch (const std::regex_error& e) {
      throw CriteriaError(fmt::format("{}.pattern is not a regular expression: {}", where, e.what()));
    }
  }
  return f;
}

std::set<std::string> read_code_list(const YAML::Node& n, const std::filesystem::path& base, const std::string& where) {
  std::set<std::string> codes;
  if (n.IsSequence()) {
    for (const auto& c : n) codes.insert(c.as<std::string>());
  } else if (n.IsMap() && n["file"]) {
    auto p = std::filesystem::path(n["file"].as<std::string>());
    if (p.is_relative()) p = base / p;
    std::ifstream in(p);
    if (!in) throw CriteriaError(fmt::format("{}: cannot read {}", where, p.string()));
    for (std::string line; std::getline(in, line);) {
      if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
      const auto b = line.find_first_not_of(" \t\r");
      if (b == std::string::npos) continue;
      const auto e = line.find_last_not_of(" \t\r");
      codes.insert(line.substr(b, e - b + 1));
    }
  } else {
    throw CriteriaError(where + " must be a list of codes or {file: PATH}");
  }
  if (codes.empty()) throw CriteriaError(where + " is empty");
  return codes;
}

Criterion read_criterion(const YAML::Node& n, int level, const std::string& where) {
  if (!n.IsMap()) throw CriteriaError(where + " must be a map");
  Criterion c;
  c.level = level;
  c.id = text(n["id"], where + ".id");
  const auto at = where + " (" + c.id + ")";
  c.title = text(n["title"], at + ".title");
  const auto check = text(n["check"], at + ".check");
  bool known = false;
  for (const auto& [k, name] : kChecks) {
    if (check == name) {
      c.check = k;
      known = true;
    }
  }
  if (!known) {
    std::string all;
    for (const auto& [k, name] : kChecks) all += (all.empty() ? "" : ", ") + std::string(name);
    throw CriteriaError(fmt::format("{}.check: unknown check '{}' (one of {})", at, check, all));
  }
  const auto& allowed = keys_of().at(c.check);
  for (const auto& kv : n) {
    const auto key = kv.first.Scalar();
    if (key == "id" || key == "title" || key == "check") continue;
    if (!allowed.count(key)) throw CriteriaError(fmt::format("{}: check {} takes no key '{}'", at, check, key));
    const auto& v = kv.second;
    if (key == "message_type") c.message_type = text(v, at + ".message_type");
    else if (key == "min") c.min = positive(v, at + ".min");
    else if (key == "last") c.last = positive(v, at + ".last");
    else if (key == "max_minutes") c.max_minutes = positive(v, at + ".max_minutes");
    else if (key == "min_days") c.min_days = positive(v, at + ".min_days");
    else if (key == "within_hours") c.within_hours = positive(v, at + ".within_hours");
    else if (key == "wait_seconds") c.wait_seconds = positive(v, at + ".wait_seconds");
    else if (key == "max_percent") c.max_percent = positive(v, at + ".max_percent");
    else if (key == "refusals") {
      for (const auto& r : v) c.refusals.insert(r.as<std::string>());
    } else if (key == "fields") {
      if (!v.IsSequence() || v.size() == 0) throw CriteriaError(at + ".fields must be a non-empty list");
      for (std::size_t i = 0; i < v.size(); ++i) c.fields.push_back(read_field(v[i], fmt::format("{}.fields[{}]", at, i)));
    } else if (key == "with" || key == "event_time") {
      c.fields.push_back(read_field(v, at + "." + key));
    }
  }
  const bool typed = c.check == Check::accepted || c.check == Check::required_data || c.check == Check::timeliness;
  if (typed && c.message_type.empty()) throw CriteriaError(at + ".message_type is required");
  if (c.check == Check::timeliness && c.fields.empty()) throw CriteriaError(at + ".event_time is required");
  if (c.check == Check::clean_submissions && c.refusals.empty()) throw CriteriaError(at + ".refusals is required");
  return c;
}

}  // namespace

const char* to_string(Check c) noexcept {
  for (const auto& [k, name] : kChecks) {
    if (k == c) return name;
  }
  return "?";
}

std::vector<const Criterion*> Criteria::for_level(int level) const {
  std::set<int> levels{level};
  if (auto it = includes.find(level); it != includes.end()) levels.insert(it->second.begin(), it->second.end());
  std::vector<const Criterion*> out;
  for (const auto& c : criteria) {
    if (levels.count(c.level)) out.push_back(&c);
  }
  return out;
}

Criteria load_criteria(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw CriteriaError(fmt::format("{}: {}", path, e.what()));
  }
  Criteria c;
  c.source = path;
  try {
    c.version = text(root["version"], "version");
    c.title = root["title"] ? root["title"].as<std::string>() : "Certification";
    if (root["window_days"]) c.window_days = static_cast<int>(positive(root["window_days"], "window_days"));
    const auto base = std::filesystem::path(path).parent_path();
    if (root["code_lists"]) {
      for (const auto& kv : root["code_lists"]) {
        const auto name = kv.first.Scalar();
        c.code_lists[name] = read_code_list(kv.second, base, "code_lists." + name);
      }
    }
    const auto levels = root["levels"];
    if (!levels || !levels.IsSequence() || levels.size() == 0) throw CriteriaError("levels must be a non-empty list");
    std::set<std::string> ids;
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const auto& l = levels[i];
      const auto where = fmt::format("levels[{}]", i);
      const int level = static_cast<int>(positive(l["level"], where + ".level"));
      if (c.level_names.count(level)) throw CriteriaError(fmt::format("{}: level {} is defined twice", where, level));
      c.level_names[level] = l["name"] ? l["name"].as<std::string>() : fmt::format("Level {}", level);
      if (l["includes"]) {
        for (const auto& inc : l["includes"]) {
          const int other = inc.as<int>();
          if (!c.level_names.count(other)) {
            throw CriteriaError(fmt::format("{}.includes: level {} is not defined before it", where, other));
          }
          c.includes[level].insert(other);
          if (auto it = c.includes.find(other); it != c.includes.end()) {
            c.includes[level].insert(it->second.begin(), it->second.end());
          }
        }
      }
      const auto list = l["criteria"];
      if (!list || !list.IsSequence()) throw CriteriaError(where + ".criteria must be a list");
      for (std::size_t j = 0; j < list.size(); ++j) {
        auto crit = read_criterion(list[j], level, fmt::format("{}.criteria[{}]", where, j));
        if (!ids.insert(crit.id).second) throw CriteriaError("criterion " + crit.id + " is defined twice");
        for (const auto& f : crit.fields) {
          if (!f.code_list.empty() && !c.code_lists.count(f.code_list)) {
            throw CriteriaError(fmt::format("{}: field '{}' names code list '{}', which code_lists does not define",
                                            crit.id, f.name, f.code_list));
          }
        }
        c.criteria.push_back(std::move(crit));
      }
    }
  } catch (const CriteriaError& e) {
    throw CriteriaError(fmt::format("{}: {}", path, e.what()));
  } catch (const YAML::Exception& e) {
    throw CriteriaError(fmt::format("{}: {}", path, e.what()));
  }
  return c;
}

}  // namespace cjhub::certify
