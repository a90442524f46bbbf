// The declarative agencies file (config/agencies.example.yaml): who may connect, as which agency,
// and what each agency may publish. Applied to the database with `cjhub apply -f FILE`.
#pragma once

#include <filesystem>
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

struct Agency {
  std::string ori;   // 9-character ORI (operators: any unique id of up to 32 characters)
  std::string name;
  Role role = Role::agency;
  std::vector<CertIdentity> identities;
  std::vector<std::string> publish;  // message type names it may post
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
