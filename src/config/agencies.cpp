#include "cjhub/config/agencies.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "cjhub/config/config.hpp"
#include "config/yaml_reader.hpp"

namespace cjhub::config {

const char* to_string(IdentityKind k) noexcept {
  switch (k) {
    case IdentityKind::san_uri: return "san_uri";
    case IdentityKind::subject: return "subject";
    case IdentityKind::sha256: return "sha256";
  }
  return "?";
}

const char* to_string(Role r) noexcept { return r == Role::operator_ ? "operator" : "agency"; }

namespace {

CertIdentity parse_identity(YamlMap m) {
  int count = 0;
  CertIdentity id{IdentityKind::san_uri, {}};
  if (m.has("san_uri")) { id = {IdentityKind::san_uri, m.str("san_uri")}; ++count; }
  if (m.has("subject")) { id = {IdentityKind::subject, m.str("subject")}; ++count; }
  if (m.has("sha256")) {
    auto v = m.str("sha256");
    v.erase(std::remove(v.begin(), v.end(), ':'), v.end());
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    static const std::regex hex("[0-9a-f]{64}");
    if (!std::regex_match(v, hex)) m.fail("sha256", "must be 64 hexadecimal digits (colons allowed)");
    id = {IdentityKind::sha256, v};
    ++count;
  }
  if (count != 1) {
    throw ConfigError(fmt::format("{}: give exactly one of san_uri, subject, sha256", m.path()));
  }
  m.finish();
  return id;
}

bool valid_https_url(const std::string& url) {
  static const std::regex re(R"(https://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[^\s]*)?)");
  return std::regex_match(url, re);
}

void parse_delivery(YamlMap& m, Agency& a, const std::vector<std::string>& known_types) {
  static const std::regex name_re("[A-Za-z0-9_.-]{1,64}");
  std::set<std::string> endpoint_names;
  std::size_t i = 0;
  for (const auto& n : m.list("endpoints", false)) {
    YamlMap e(n, fmt::format("{}.endpoints[{}]", m.path(), i++));
    Endpoint ep;
    ep.name = e.str("name");
    if (!std::regex_match(ep.name, name_re)) e.fail("name", "use letters, digits, _ . - (at most 64)");
    if (!endpoint_names.insert(ep.name).second) e.fail("name", "duplicate endpoint name");
    ep.url = e.str("url");
    if (!valid_https_url(ep.url)) e.fail("url", "must be an https:// URL");
    ep.max_in_flight = static_cast<int>(e.uint_or("max_in_flight", 4, 1, 256));
    ep.timeout_ms = static_cast<int>(e.uint_or("timeout_ms", 10000, 100, 600000));
    e.finish();
    a.endpoints.push_back(ep);
  }
  std::set<std::string> sub_names;
  i = 0;
  for (const auto& n : m.list("subscriptions", false)) {
    YamlMap s(n, fmt::format("{}.subscriptions[{}]", m.path(), i++));
    Subscription sub;
    sub.name = s.str("name");
    if (!std::regex_match(sub.name, name_re)) s.fail("name", "use letters, digits, _ . - (at most 64)");
    if (!sub_names.insert(sub.name).second) s.fail("name", "duplicate subscription name");
    sub.endpoint = s.str("endpoint");
    if (!endpoint_names.count(sub.endpoint)) {
      s.fail("endpoint", fmt::format("no endpoint named \"{}\" in this agency", sub.endpoint));
    }
    sub.types = s.str_list("types", true);
    if (sub.types.empty()) s.fail("types", "at least one message type is required");
    for (std::size_t k = 0; k < sub.types.size(); ++k) {
      if (std::find(known_types.begin(), known_types.end(), sub.types[k]) == known_types.end()) {
        s.fail(fmt::format("types[{}]", k), fmt::format("unknown message type \"{}\"", sub.types[k]));
      }
    }
    sub.origin_oris = s.str_list("origin_oris", false);
    sub.jurisdictions = s.str_list("jurisdictions", false);
    sub.own_cases_only = s.bool_or("own_cases_only", false);
    if (s.has("ack_required")) sub.ack_required = s.bool_or("ack_required", false);
    sub.retry_window_hours = static_cast<int>(s.uint_or("retry_window_hours", 72, 1, 24 * 90));
    s.finish();
    a.subscriptions.push_back(std::move(sub));
  }
}

}  // namespace

AgenciesFile parse_agencies(const std::string& yaml_text, const std::vector<std::string>& known_types) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("not valid YAML: line {}, column {}: {}", e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
  YamlMap top(root, "");
  AgenciesFile out;
  std::set<std::string> oris;
  std::set<std::pair<IdentityKind, std::string>> identities;
  std::size_t i = 0;
  static const std::regex ori_re("[A-Z0-9]{9}");
  static const std::regex operator_re("[A-Za-z0-9_.-]{1,32}");
  for (const auto& n : top.list("agencies", true)) {
    YamlMap m(n, fmt::format("agencies[{}]", i++));
    Agency a;
    a.ori = m.str("ori");
    a.name = m.str("name");
    const auto role = m.str_or("role", "agency");
    if (role == "agency") {
      a.role = Role::agency;
    } else if (role == "operator") {
      a.role = Role::operator_;
    } else {
      m.fail("role", "must be agency or operator");
    }
    const auto environment = m.str_or("environment", "production");
    if (environment == "sandbox") {
      a.sandbox = true;
    } else if (environment != "production") {
      m.fail("environment", "must be production or sandbox");
    }
    if (a.sandbox && a.role == Role::operator_) {
      m.fail("environment", "operators see every environment: an operator cannot be a sandbox agency");
    }
    if (a.role == Role::agency && !std::regex_match(a.ori, ori_re)) {
      m.fail("ori", "must be a 9-character ORI (upper-case letters and digits)");
    }
    if (a.role == Role::operator_ && !std::regex_match(a.ori, operator_re)) {
      m.fail("ori", "an operator id uses letters, digits, _ . - (at most 32)");
    }
    if (!oris.insert(a.ori).second) m.fail("ori", fmt::format("duplicate ORI {}", a.ori));
    std::size_t j = 0;
    for (const auto& idn : m.list("identities", true)) {
      auto id = parse_identity(YamlMap(idn, fmt::format("{}.identities[{}]", m.path(), j++)));
      if (!identities.insert({id.kind, id.value}).second) {
        throw ConfigError(fmt::format("{}.identities[{}]: this certificate identity is already "
                                      "mapped to another agency",
                                      m.path(), j - 1));
      }
      a.identities.push_back(std::move(id));
    }
    if (a.identities.empty()) m.fail("identities", "at least one identity is required");
    a.publish = m.str_list("publish", false);
    for (std::size_t k = 0; k < a.publish.size(); ++k) {
      if (std::find(known_types.begin(), known_types.end(), a.publish[k]) == known_types.end()) {
        m.fail(fmt::format("publish[{}]", k),
               fmt::format("unknown message type \"{}\"", a.publish[k]));
      }
    }
    std::sort(a.publish.begin(), a.publish.end());
    a.publish.erase(std::unique(a.publish.begin(), a.publish.end()), a.publish.end());
    parse_delivery(m, a, known_types);
    m.finish();
    out.agencies.push_back(std::move(a));
  }
  top.finish();
  return out;
}

AgenciesFile load_agencies(const std::filesystem::path& file, const std::vector<std::string>& known_types) {
  std::ifstream in(file);
  if (!in) throw ConfigError(fmt::format("cannot read agencies file {}", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_agencies(ss.str(), known_types);
}

}  // namespace cjhub::config
