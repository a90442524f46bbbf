#include "cjhub/config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "cjhub/common/crypto.hpp"
#include "cjhub/common/server_list.hpp"
#include "config/yaml_reader.hpp"

namespace cjhub::config {

namespace fs = std::filesystem;

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = {"message_id",   "case_key", "origin_ori",
                                                "jurisdiction", "erasure",  "ack_ref",
                                                "ack_status",   "ack_reason", "charges"};
  return keys;
}

TypeTable::TypeTable(std::vector<MessageType> types)
    : types_(std::make_shared<const std::vector<MessageType>>(std::move(types))) {}

std::shared_ptr<const std::vector<MessageType>> TypeTable::all() const { return std::atomic_load(&types_); }

std::shared_ptr<const MessageType> TypeTable::find(const std::string& name) const {
  auto snapshot = all();
  for (const auto& t : *snapshot) {
    if (t.spec.name == name) return std::shared_ptr<const MessageType>(snapshot, &t);
  }
  return nullptr;
}

void TypeTable::replace(std::vector<MessageType> types) {
  std::atomic_store(&types_, std::make_shared<const std::vector<MessageType>>(std::move(types)));
}

std::shared_ptr<const MessageType> Config::find_type(const std::string& name) const { return types->find(name); }

std::vector<validation::MessageTypeSpec> Config::type_specs() const {
  std::vector<validation::MessageTypeSpec> out;
  out.reserve(message_types.size());
  for (const auto& t : message_types) out.push_back(t.spec);
  return out;
}

namespace {

// listener.public_url: https, a host name or an address literal, an optional port, an optional path
// prefix; no query, fragment or trailing slash (problem types append /problems/<slug>).
bool valid_public_url(const std::string& url) {
  static const std::regex re(
      R"(https://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*)");
  return url.size() <= 512 && std::regex_match(url, re);
}

std::string derived_public_url(const Config& c) {
  auto host = certificate_host_name(c.tls.server_cert.string());
  if (host.empty() || host.find_first_of("/?#@ ") != std::string::npos) host = "localhost";
  std::string url = "https://" + host;
  if (c.listener.port != 0 && c.listener.port != 443) url += ":" + std::to_string(c.listener.port);
  return url;
}

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}

fs::path existing_file(YamlMap& m, const std::string& key, const fs::path& base) {
  auto p = resolve(base, m.str(key));
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) m.fail(key, fmt::format("file not found: {}", p.string()));
  return p;
}

// ${VAR} and ${VAR:-default} in any scalar value, so one file serves several sites.
std::string expand_env(const std::string& text, const std::string& key_path) {
  static const std::regex var(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\})");
  std::string out;
  std::size_t last = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), var); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out += text.substr(last, static_cast<std::size_t>(m.position()) - last);
    const char* v = std::getenv(m[1].str().c_str());
    if (v != nullptr && *v != '\0') {
      out += v;
    } else if (m[2].matched) {
      out += m[3].str();
    } else {
      throw ConfigError(fmt::format("{}: environment variable {} is not set", key_path, m[1].str()));
    }
    last = static_cast<std::size_t>(m.position() + m.length());
  }
  out += text.substr(last);
  return out;
}

void expand_tree(YAML::Node node, const std::string& path) {
  if (node.IsScalar()) {
    const auto text = node.Scalar();
    if (text.find("${") != std::string::npos) node = expand_env(text, path);
  } else if (node.IsMap()) {
    for (auto kv : node) {
      const auto key = kv.first.as<std::string>();
      expand_tree(kv.second, path.empty() ? key : path + "." + key);
    }
  } else if (node.IsSequence()) {
    std::size_t i = 0;
    for (auto item : node) expand_tree(item, fmt::format("{}[{}]", path, i++));
  }
}

std::chrono::milliseconds ms_or(YamlMap& m, const std::string& key, std::chrono::milliseconds def,
                                std::uint64_t min, std::uint64_t max) {
  return std::chrono::milliseconds(
      m.uint_or(key, static_cast<std::uint64_t>(def.count()), min, max));
}

// Steps are prefix:Local or Local (the "" namespace if mapped, else no namespace: an unqualified
// element); the last may be an attribute, @name or @prefix:name. The first is the root.
void check_key_path(YamlMap& keys, const std::string& key, const std::string& path,
                    const validation::MessageTypeSpec& spec) {
  std::stringstream ss(path);
  std::string step;
  bool first = true;
  bool after_attribute = false;
  while (std::getline(ss, step, '/')) {
    if (after_attribute) keys.fail(key, "an attribute step (@name) must be the last");
    const bool attribute = !step.empty() && step.front() == '@';
    if (attribute) {
      if (first) keys.fail(key, "the first step must be the root element, not an attribute");
      step.erase(0, 1);
      after_attribute = true;
    }
    const auto colon = step.find(':');
    if (step.empty() || colon == 0 || (colon != std::string::npos && colon + 1 == step.size())) {
      keys.fail(key, fmt::format("step \"{}\" must be prefix:LocalName, LocalName or @name", step));
    }
    std::string uri;
    if (colon != std::string::npos) {
      const auto prefix = step.substr(0, colon);
      if (!spec.namespaces.count(prefix)) {
        keys.fail(key, fmt::format("prefix \"{}\" is not declared in namespaces", prefix));
      }
      uri = spec.namespaces.at(prefix);
    } else if (!attribute && spec.namespaces.count("")) {
      uri = spec.namespaces.at("");
    }
    const auto local = colon == std::string::npos ? step : step.substr(colon + 1);
    if (first && (uri != spec.root_namespace || local != spec.root_local_name)) {
      keys.fail(key, "the first step must be the root element");
    }
    first = false;
  }
  if (first) keys.fail(key, "must not be empty");
}

// Keys whose value may be fixed by configuration, and what a fixed or mapped value may be.
bool may_be_constant(const std::string& key) {
  return key == "erasure" || key == "ack_status" || key == "ack_reason" || key == "jurisdiction";
}
void check_key_value(YamlMap& keys, const std::string& key, const std::string& value) {
  if (key == "ack_status" && value != "received" && value != "completed" && value != "rejected") {
    keys.fail(key, fmt::format("\"{}\": an acknowledgement status is received, completed or rejected", value));
  }
  if (key == "erasure" && value != "true" && value != "1" && value != "false" && value != "0") {
    keys.fail(key, fmt::format("\"{}\": an erasure indicator is true, 1, false or 0", value));
  }
}

MessageType parse_type(YamlMap m, const fs::path& base) {
  MessageType t;
  auto& s = t.spec;
  s.name = m.str("name");
  static const std::regex name_re("[A-Za-z][A-Za-z0-9_.-]{0,63}");
  if (!std::regex_match(s.name, name_re)) {
    m.fail("name", "must start with a letter and use letters, digits, _ . - (at most 64)");
  }
  auto root = m.map("root");
  s.root_namespace = root.str("namespace");
  s.root_local_name = root.str("name");
  root.finish();
  std::size_t i = 0;
  for (const auto& f : m.str_list("schemas", true)) {
    auto p = resolve(base, f);
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) {
      m.fail(fmt::format("schemas[{}]", i), fmt::format("file not found: {}", p.string()));
    }
    s.schema_files.push_back(p.string());
    ++i;
  }
  s.namespaces = m.str_map("namespaces");
  auto keys = m.map_or_empty("keys");
  for (const auto& k : known_keys()) {
    if (!keys.has(k)) continue;
    const auto n = keys.node(k);
    if (n.IsScalar()) {
      const auto text = n.as<std::string>();
      if (k == "erasure" && (text == "true" || text == "false")) {  // `erasure: true`: by its nature
        t.constants[k] = text;
        continue;
      }
      check_key_path(keys, k, text, s);
      s.keys.push_back({k, text});
      continue;
    }
    if (!n.IsMap()) keys.fail(k, "must be a path, {path: ..., map: {...}} or {value: ...}");
    YamlMap km(n, keys.key_path(k));
    if (km.has("value")) {
      if (!may_be_constant(k)) keys.fail(k, "cannot be a fixed value (only erasure, ack_status, ack_reason, jurisdiction)");
      t.constants[k] = km.str("value");
      check_key_value(keys, k, t.constants[k]);
    } else {
      const auto path = km.str("path");
      check_key_path(keys, k, path, s);
      s.keys.push_back({k, path});
      if (km.has("map")) {
        auto map = km.str_map("map");
        if (map.empty()) km.fail("map", "must name at least one value");
        for (const auto& [from, to] : map) check_key_value(keys, k, to);
        t.value_maps[k] = std::move(map);
      }
    }
    km.finish();
  }
  keys.finish();
  t.ack_required = m.bool_or("ack_required", false);
  t.origin_must_match_sender = m.bool_or("origin_must_match_sender", true);
  // 0 until the types are read: then limits.max_body_bytes for a type without its own.
  s.max_body_bytes = m.uint_or("max_body_bytes", 0, 1024, 64u << 20);
  m.finish();
  return t;
}

}  // namespace

Config parse(const std::string& yaml_text, const fs::path& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("not valid YAML: line {}, column {}: {}", e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
  if (!root || root.IsNull()) throw ConfigError("the configuration is empty");
  expand_tree(root, "");
  YamlMap top(root, "");
  Config c;

  {
    auto l = top.map("listener");
    c.listener.address = l.str_or("address", c.listener.address);
    c.listener.port = static_cast<unsigned short>(l.uint_or("port", c.listener.port, 0, 65535));
    c.listener.max_connections = l.uint_or("max_connections", c.listener.max_connections, 1, 100000);
    c.listener.max_handshakes_per_address =
        l.uint_or("max_handshakes_per_address", c.listener.max_handshakes_per_address, 1, 100000);
    if (l.has("public_url")) {
      c.listener.public_url = l.str("public_url");
      if (!valid_public_url(c.listener.public_url)) {
        l.fail("public_url", "must be an https URL with a host and no query, fragment or trailing slash "
                             "(e.g. https://cjhub.example.gov or https://gw.example.gov/cjhub)");
      }
    }
    l.finish();
  }
  {
    auto h = top.map_or_empty("health_listener");
    c.health_listener.enabled = h.bool_or("enabled", false);
    c.health_listener.address = h.str_or("address", c.health_listener.address);
    c.health_listener.port = static_cast<unsigned short>(h.uint_or("port", c.health_listener.port, 0, 65535));
    h.finish();
  }
  {
    auto t = top.map("tls");
    c.tls.server_cert = existing_file(t, "server_cert", base_dir);
    c.tls.server_key = existing_file(t, "server_key", base_dir);
    c.tls.client_ca = existing_file(t, "client_ca", base_dir);
    if (t.has("crl")) c.tls.crl = existing_file(t, "crl", base_dir);
    c.tls.expiry_warning_days = static_cast<int>(t.uint_or("expiry_warning_days", 30, 0, 3650));
    c.tls.verify_depth = static_cast<int>(t.uint_or("verify_depth", 4, 1, 10));
    c.tls.min_version = t.str_or("min_version", c.tls.min_version);
    if (c.tls.min_version != "1.2" && c.tls.min_version != "1.3") {
      t.fail("min_version", "must be \"1.2\" or \"1.3\"");
    }
    t.finish();
  }
  if (c.listener.public_url.empty()) c.listener.public_url = derived_public_url(c);
  {
    auto d = top.map("database");
    c.database.url = d.str("url");
    c.database.pool_size = d.uint_or("pool_size", c.database.pool_size, 1, 64);
    c.database.connect_timeout = ms_or(d, "connect_timeout_ms", c.database.connect_timeout, 100, 60000);
    c.database.statement_timeout = ms_or(d, "statement_timeout_ms", c.database.statement_timeout, 100, 3600000);
    d.finish();
  }
  {
    auto l = top.map_or_empty("limits");
    c.limits.max_body_bytes = l.uint_or("max_body_bytes", c.limits.max_body_bytes, 1024, 64u << 20);
    c.limits.max_header_bytes = l.uint_or("max_header_bytes", c.limits.max_header_bytes, 1024, 1u << 20);
    c.limits.handshake_timeout = ms_or(l, "handshake_timeout_ms", c.limits.handshake_timeout, 100, 600000);
    c.limits.read_timeout = ms_or(l, "read_timeout_ms", c.limits.read_timeout, 100, 600000);
    c.limits.write_timeout = ms_or(l, "write_timeout_ms", c.limits.write_timeout, 100, 600000);
    c.limits.idle_timeout = ms_or(l, "idle_timeout_ms", c.limits.idle_timeout, 100, 3600000);
    c.limits.max_element_depth = l.uint_or("max_element_depth", c.limits.max_element_depth, 8, 10000);
    c.limits.max_connection_age = ms_or(l, "max_connection_age_ms", c.limits.max_connection_age, 1000, 86400000);
    c.limits.max_requests_per_connection =
        l.uint_or("max_requests_per_connection", c.limits.max_requests_per_connection, 1, 1000000);
    c.limits.max_namespaces = l.uint_or("max_namespaces", c.limits.max_namespaces, 4, 10000);
    c.limits.max_namespace_uri_length =
        l.uint_or("max_namespace_uri_length", c.limits.max_namespace_uri_length, 64, 65536);
    c.limits.namespace_renewal_bytes =
        l.uint_or("namespace_renewal_bytes", c.limits.namespace_renewal_bytes, 64u << 10, 1u << 30);
    l.finish();
  }
  {
    auto d = top.map_or_empty("identity");
    c.identity.refresh_interval =
        std::chrono::seconds(d.uint_or("refresh_interval_s", c.identity.refresh_interval.count(), 1, 3600));
    c.identity.max_age = std::chrono::seconds(d.uint_or("max_directory_age_s", c.identity.max_age.count(), 2, 86400));
    if (c.identity.max_age <= c.identity.refresh_interval) {
      d.fail("max_directory_age_s", "must be longer than refresh_interval_s");
    }
    d.finish();
  }
  {
    auto g = top.map_or_empty("ingest");
    c.ingest.group_max_messages = g.uint_or("group_max_messages", c.ingest.group_max_messages, 1, 10000);
    c.ingest.queue_capacity = g.uint_or("queue_capacity", c.ingest.queue_capacity, 1, 1000000);
    c.ingest.queue_max_bytes = g.uint_or("queue_max_bytes", c.ingest.queue_max_bytes, 1u << 20, 16ull << 30);
    c.ingest.writers = g.uint_or("writers", c.ingest.writers, 1, 16);
    c.ingest.answer_within = std::chrono::milliseconds(
        g.uint_or("answer_within_ms", static_cast<std::uint64_t>(c.ingest.answer_within.count()), 0, 600000));
    c.ingest.agency_queue_share_percent =
        static_cast<unsigned>(g.uint_or("agency_queue_share_percent", c.ingest.agency_queue_share_percent, 1, 100));
    c.ingest.agency_rate_per_s =
        static_cast<double>(g.uint_or("agency_rate_per_s", static_cast<std::size_t>(c.ingest.agency_rate_per_s), 1, 1000000));
    c.ingest.agency_burst = g.uint_or("agency_burst", c.ingest.agency_burst, 1, 10000000);
    g.finish();
  }
  if (top.has("delivery")) {
    auto d = top.map("delivery");
    auto& dl = c.delivery;
    dl.enabled = d.bool_or("enabled", true);
    dl.client_cert = existing_file(d, "client_cert", base_dir);
    dl.client_key = existing_file(d, "client_key", base_dir);
    dl.ca_bundle = existing_file(d, "ca_bundle", base_dir);
    dl.claim_batch = d.uint_or("claim_batch", dl.claim_batch, 1, 10000);
    dl.poll_interval = ms_or(d, "poll_interval_ms", dl.poll_interval, 10, 60000);
    dl.connect_timeout = ms_or(d, "connect_timeout_ms", dl.connect_timeout, 100, 60000);
    dl.backoff_initial = ms_or(d, "backoff_initial_ms", dl.backoff_initial, 10, 3600000);
    dl.backoff_max = ms_or(d, "backoff_max_ms", dl.backoff_max, 10, 86400000);
    if (dl.backoff_max < dl.backoff_initial) d.fail("backoff_max_ms", "must not be less than backoff_initial_ms");
    dl.backoff_multiplier = static_cast<unsigned>(d.uint_or("backoff_multiplier", dl.backoff_multiplier, 1, 10));
    dl.jitter_percent = static_cast<unsigned>(d.uint_or("jitter_percent", dl.jitter_percent, 0, 100));
    dl.max_retry_after = std::chrono::seconds(d.uint_or("max_retry_after_s", 3600, 1, 86400));
    dl.pause_after_failures = static_cast<unsigned>(d.uint_or("pause_after_failures", dl.pause_after_failures, 1, 1000000));
    dl.threads = d.uint_or("threads", dl.threads, 1, 16);
    dl.max_answer_bytes = d.uint_or("max_answer_bytes", dl.max_answer_bytes, 1024, 16u << 20);
    dl.read_log_every = ms_or(d, "read_log_every_ms", dl.read_log_every, 0, 1000);
    dl.move_cursor_every = ms_or(d, "move_cursor_every_ms", dl.move_cursor_every, 0, 60000);
    dl.dispatchers = d.uint_or("dispatchers", dl.dispatchers, 1, 16);
    dl.dns.servers = d.str_or("dns_servers", "");
    try {
      normalise_server_list(dl.dns.servers, 53);
    } catch (const std::invalid_argument& e) {
      d.fail("dns_servers", e.what());
    }
    dl.dns.timeout = ms_or(d, "dns_timeout_ms", dl.dns.timeout, 100, 60000);
    dl.dns.max_ttl = std::chrono::seconds(d.uint_or("dns_max_ttl_s", dl.dns.max_ttl.count(), 0, 86400));
    dl.dns.stale_for = std::chrono::seconds(d.uint_or("dns_stale_s", dl.dns.stale_for.count(), 0, 7 * 86400));
    d.finish();
  }
  {
    auto e = top.map_or_empty("erasure");
    c.erasure.ack_deadline = std::chrono::seconds(e.uint_or("ack_deadline_s", c.erasure.ack_deadline.count(), 1, 365LL * 24 * 3600));
    c.erasure.follow_up = std::chrono::seconds(e.uint_or("follow_up_s", c.erasure.follow_up.count(), 1, 365LL * 24 * 3600));
    if (c.erasure.follow_up > c.erasure.ack_deadline) e.fail("follow_up_s", "must not be after ack_deadline_s");
    c.erasure.later_messages = e.str_or("later_messages", c.erasure.later_messages);
    if (c.erasure.later_messages != "reject" && c.erasure.later_messages != "accept") {
      e.fail("later_messages", "must be reject or accept");
    }
    e.finish();
  }
  {
    auto sb = top.map_or_empty("sandbox");
    c.sandbox.court_ori = sb.str_or("court_ori", "");
    if (sb.has("templates")) {
      auto t = sb.map("templates");
      for (const auto& [type, file] : sb.str_map("templates")) {
        auto path = resolve(base_dir, file);
        std::error_code ec;
        if (!fs::is_regular_file(path, ec)) t.fail(type, fmt::format("file not found: {}", path.string()));
        c.sandbox.templates[type] = path;
      }
    }
    if (c.sandbox.court_ori.empty() != c.sandbox.templates.empty()) {
      sb.fail(c.sandbox.court_ori.empty() ? "court_ori" : "templates",
              "a sandbox court needs both court_ori and templates");
    }
    sb.finish();
  }
  {
    auto cn = top.map_or_empty("console");
    c.console.idle_timeout = std::chrono::seconds(cn.uint_or("idle_timeout_s", c.console.idle_timeout.count(), 5, 86400));
    cn.finish();
  }
  {
    auto a = top.map_or_empty("audit");
    c.audit.retention = std::chrono::hours(24 * a.uint_or("retention_days", 400, 1, 36500));
    c.audit.seal_interval = std::chrono::milliseconds(a.uint_or("seal_interval_ms", 1000, 50, 600000));
    c.audit.verify_interval = std::chrono::seconds(a.uint_or("verify_interval_s", 900, 0, 86400));
    c.audit.verify_records = static_cast<long long>(a.uint_or("verify_records", 100000, 1, 100000000));
    a.finish();
  }
  {
    auto r = top.map_or_empty("retention");
    c.retention.payload_after = std::chrono::hours(24 * r.uint_or("payload_days", 30, 1, 36500));
    c.retention.deliveries_after = std::chrono::hours(24 * r.uint_or("delivery_days", 90, 1, 36500));
    c.retention.interval = std::chrono::minutes(r.uint_or("interval_minutes", 60, 1, 1440));
    r.finish();
  }
  {
    auto w = top.map_or_empty("watchers");
    c.watchers.interval = std::chrono::seconds(w.uint_or("interval_s", 300, 1, 86400));
    c.watchers.flush_interval = std::chrono::seconds(w.uint_or("flush_interval_s", 60, 1, 3600));
    if (w.has("objective_percent")) {
      double pct = 0;
      try {
        pct = w.node("objective_percent").as<double>();
      } catch (const YAML::Exception&) {
        w.fail("objective_percent", "must be a number");
      }
      if (!(pct > 0 && pct < 100)) w.fail("objective_percent", "must be above 0 and below 100");
      c.watchers.objective = pct / 100.0;
    }
    c.watchers.keep_minutes = std::chrono::hours(24 * w.uint_or("minute_days", 14, 1, 36500));
    c.watchers.keep_hours = std::chrono::hours(24 * w.uint_or("hour_days", 90, 1, 36500));
    c.watchers.keep_days = std::chrono::hours(24 * w.uint_or("day_days", 800, 1, 36500));
    c.watchers.keep_outages = std::chrono::hours(24 * w.uint_or("outage_days", 800, 1, 36500));
    c.watchers.keep_submitter_days = std::chrono::hours(24 * w.uint_or("submitter_days", 800, 1, 36500));
    c.watchers.silence_baseline_days = static_cast<int>(w.uint_or("silence_baseline_days", 14, 1, 365));
    c.watchers.silence_min_daily = static_cast<long long>(w.uint_or("silence_min_daily", 10, 1, 10000000));
    c.watchers.silence_after = std::chrono::hours(w.uint_or("silence_after_hours", 24, 1, 24 * 365));
    w.finish();
  }
  {
    auto w = top.map_or_empty("workers");
    c.workers.io_threads = w.uint_or("io_threads", c.workers.io_threads, 0, 256);
    if (c.workers.io_threads == 0) c.workers.io_threads = std::max(1u, std::thread::hardware_concurrency());
    w.finish();
  }
  {
    auto l = top.map_or_empty("logging");
    static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    c.logging.level = l.str_or("level", "info");
    if (!levels.count(c.logging.level)) l.fail("level", "must be one of trace, debug, info, warn, error, critical, off");
    c.logging.format = l.str_or("format", "text");
    if (c.logging.format != "text" && c.logging.format != "json") l.fail("format", "must be text or json");
    c.logging.module_levels = l.str_map("modules");
    for (const auto& [module, level] : c.logging.module_levels) {
      const auto& names = log::module_names();
      if (std::find(names.begin(), names.end(), module) == names.end()) {
        l.fail("modules." + module, "unknown module");
      }
      if (!levels.count(level)) l.fail("modules." + module, "unknown level");
    }
    l.finish();
  }
  {
    std::size_t i = 0;
    std::set<std::string> names;
    std::set<std::pair<std::string, std::string>> roots;
    for (const auto& n : top.list("message_types", true)) {
      const auto path = fmt::format("message_types[{}]", i++);
      auto t = parse_type(YamlMap(n, path), base_dir);
      if (!names.insert(t.spec.name).second) {
        throw ConfigError(fmt::format("{}.name: duplicate message type \"{}\"", path, t.spec.name));
      }
      if (!roots.insert({t.spec.root_namespace, t.spec.root_local_name}).second) {
        throw ConfigError(fmt::format("{}.root: another type already has this root element", path));
      }
      c.message_types.push_back(std::move(t));
    }
    if (c.message_types.empty()) throw ConfigError("message_types: at least one type is required");
    // Each type's body limit (its own, or limits.max_body_bytes); the listener reads up to the
    // largest, and the validator refuses a document larger than its type allows.
    c.limits.max_request_bytes = c.limits.max_body_bytes;
    for (auto& t : c.message_types) {
      if (t.spec.max_body_bytes == 0) t.spec.max_body_bytes = c.limits.max_body_bytes;
      c.limits.max_request_bytes = std::max(c.limits.max_request_bytes, t.spec.max_body_bytes);
    }
    c.types = std::make_shared<TypeTable>(c.message_types);
  }
  top.finish();
  return c;
}

Config load(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError(fmt::format("cannot read configuration file {}", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  auto base = fs::absolute(file).parent_path();
  auto c = parse(ss.str(), base);
  c.source = fs::absolute(file);
  return c;
}

}  // namespace cjhub::config
