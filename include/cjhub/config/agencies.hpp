// The declarative agencies file (config/agencies.example.yaml): who may connect, as which agency,
// and what each agency may publish. Applied to the database with `cjhub apply -f FILE`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cjhub::config {

enum class IdentityKind { san_uri, subject, sha256 };
const char* to_string(IdentityKind k) noexcept;

struct CertIdentity {
  IdentityKind kind;
  std::string value;  // san_uri as-is; subject as RFC 2253; sha256 as 64 lower-case hex digits
  friend bool operator==(const CertIdentity&, const CertIdentity&) = default;
};

enum class Role { agency, operator_ };
const char* to_string(Role r) noexcept;

// An HTTPS endpoint where an agency receives deliveries.
struct Endpoint {
  std::string name;  // unique within the agency
  std::string url;   // https://host[:port]/path
  int max_in_flight = 4;  // deliveries sent to it at once (per hub process)
  int timeout_ms = 10000;  // to write a delivery and read the answer
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// What an agency wants delivered, and where.
struct Subscription {
  std::string name;  // unique within the agency
  std::string endpoint;  // an Endpoint::name of the same agency
  std::vector<std::string> types;  // message type names
  std::vector<std::string> origin_oris;    // only messages originated by these agencies (empty: any)
  std::vector<std::string> jurisdictions;  // only these court locations (empty: any)
  bool own_cases_only = false;  // only cases this agency originated a message of
  std::optional<bool> ack_required;  // unset: the message type's setting
  int retry_window_hours = 72;       // then undeliverable deliveries become dead letters
  friend bool operator==(const Subscription&, const Subscription&) = default;
};

struct Agency {
  std::string ori;   // 9-character ORI (operators: any unique id of up to 32 characters)
  std::string name;
  Role role = Role::agency;
  std::vector<CertIdentity> identities;
  std::vector<std::string> publish;  // message type names it may post
  std::vector<Endpoint> endpoints;
  std::vector<Subscription> subscriptions;
  // `environment: sandbox`: a vendor's test agency. Its messages are validated, stored and routed
  // as in production, but only among sandbox agencies, and its case keys are its own.
  bool sandbox = false;
  friend bool operator==(const Agency&, const Agency&) = default;
};

struct AgenciesFile {
  std::vector<Agency> agencies;
};

// Throws ConfigError naming the entry and key. `known_types` are the configured message type
// names; an agency may only be allowed to publish those.
AgenciesFile load_agencies(const std::filesystem::path& file,
                           const std::vector<std::string>& known_types);
AgenciesFile parse_agencies(const std::string& yaml_text,
                            const std::vector<std::string>& known_types);

}  // namespace cjhub::config
