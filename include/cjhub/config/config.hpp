// The hub's configuration: one YAML file, validated completely before anything starts.
// Every error names the key (e.g. "limits.max_body_bytes: must be between 1024 and 67108864").
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cjhub/common/log.hpp"
#include "cjhub/validation/validator.hpp"

namespace cjhub::config {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Listener {
  std::string address = "0.0.0.0";
  unsigned short port = 8443;  // 0 = any free port (tests)
  std::size_t max_connections = 1024;
  // Connections from one address still in the TLS handshake: a slow-handshake flood from one
  // place cannot take every slot of max_connections.
  std::size_t max_handshakes_per_address = 32;
  // The address agencies reach the hub at (https://host[:port][/prefix], no trailing slash). Problem
  // types are <public_url>/problems/<slug> (docs/problems.md). When not configured: https:// and the
  // server certificate's first DNS name, with the port unless it is 443 or 0.
  std::string public_url;
};

// The plain-HTTP health listener, for orchestrators (kubelet, Docker health checks) that cannot
// present a client certificate: `/healthz` and a bare `/readyz` status, nothing else. Off unless
// enabled; bind it to localhost or a management address.
struct HealthListener {
  bool enabled = false;
  std::string address = "127.0.0.1";
  unsigned short port = 8080;  // 0 = any free port (tests)
};

struct Tls {
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
  std::filesystem::path client_ca;   // bundle of CAs that issue agency certificates
  std::optional<std::filesystem::path> crl;  // PEM CRL(s) of those CAs; checked when set
  std::string min_version = "1.2";   // "1.2" or "1.3"
  int expiry_warning_days = 30;      // /readyz warns when a certificate expires sooner
  int verify_depth = 4;              // most intermediate CAs between a client certificate and its root
};

struct Database {
  std::string url;                      // libpq connection string or URI
  std::size_t pool_size = 4;            // connections for reads (status, readiness)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{30000};  // bounds every statement of the hub
};

struct Limits {
  // A message type's body limit unless it sets its own (message_types[].max_body_bytes).
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  // What the listener reads at most: the largest of max_body_bytes and every type's own limit
  // (computed when the file is read; a reload that raises a type's limit beyond it takes a restart).
  std::size_t max_request_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_element_depth = 256;
  // A keep-alive connection is closed (after its answer) once it is this old or has carried this
  // many requests, so no session outlives a change of trust for long.
  std::chrono::milliseconds max_connection_age{600000};
  std::size_t max_requests_per_connection = 1000;
  std::size_t max_namespaces = 100;             // distinct namespace URIs per document
  std::size_t max_namespace_uri_length = 1024;  // characters per namespace URI
  std::size_t namespace_renewal_bytes = 8u << 20;  // URI bytes collected before schemas are reloaded
};

// The agency directory in memory: reread from the database every `refresh_interval` (and on
// NOTIFY); older than `max_age` (the database unreachable that long), the hub refuses requests
// that need an identity (503 directory-stale) rather than trust a list it cannot confirm.
struct Identity {
  std::chrono::seconds refresh_interval{30};
  std::chrono::seconds max_age{120};
};

struct Ingest {
  std::size_t group_max_messages = 128;  // most messages committed in one transaction
  std::size_t queue_capacity = 8192;     // accepted-but-uncommitted messages; beyond -> 503
  std::size_t queue_max_bytes = 256u << 20;  // and their bodies' total size; beyond -> 503
  unsigned agency_queue_share_percent = 50;  // most of either one agency may hold; beyond -> 503
  // Per-agency token bucket on submissions: a sustained rate and a burst; beyond -> 429.
  double agency_rate_per_s = 100;
  std::size_t agency_burst = 500;
  std::size_t writers = 1;               // group-commit threads (each with its own connection)
  // A commit that has not returned after this long is answered outcome-unknown (0: never).
  std::chrono::milliseconds answer_within{10000};
};

// Fan-out to the agencies' endpoints. Absent section: the hub stores messages but delivers none.
struct Delivery {
  bool enabled = false;
  std::filesystem::path client_cert;  // the hub's own client certificate for endpoints
  std::filesystem::path client_key;
  std::filesystem::path ca_bundle;    // CAs trusted for endpoint certificates
  std::size_t claim_batch = 256;      // most deliveries claimed in one round
  std::chrono::milliseconds poll_interval{1000};  // backstop when no NOTIFY arrives
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{300000};
  unsigned backoff_multiplier = 2;
  unsigned jitter_percent = 20;
  std::chrono::seconds max_retry_after{3600};  // a longer Retry-After is capped
  unsigned pause_after_failures = 50;          // consecutive failures before an endpoint is paused
  std::size_t threads = 1;                     // outbound I/O threads (per dispatcher)
  std::size_t max_answer_bytes = 64 * 1024;    // an endpoint's answer body beyond this fails the attempt
  // How often an endpoint that keeps up with the log reads it (each read that finds entries
  // records how far it read, a version of the cursor's row); one catching up reads at once. 0:
  // at every announcement (lowest latency, a version per read).
  std::chrono::milliseconds read_log_every{50};
  // How often an endpoint's stored cursor moves (the rounds between record their delivered entries
  // with their answers, only inserted); at once for an endpoint being given up or a hub stopping.
  // 0: at every round. Every move is a row version a long snapshot (a backup) keeps.
  std::chrono::milliseconds move_cursor_every{1000};
  struct Dns {                                 // endpoint host names -> addresses
    std::string servers;                       // "ip[:port],..."; empty: /etc/resolv.conf
    std::chrono::milliseconds timeout{5000};   // a lookup's deadline (not the endpoint's)
    std::chrono::seconds max_ttl{300};         // answers kept for their TTL, at most this
    std::chrono::seconds stale_for{3600};      // an expired answer used when DNS fails
  } dns;
  std::size_t dispatchers = 1;                 // independent dispatchers in this process, each with
                                               // its own database connection (they share work as
                                               // several hubs do: row locks and leases)
};

// Erasure by operation of law (CGS 54-142a, 54-142e).
struct Erasure {
  std::chrono::seconds ack_deadline{30LL * 24 * 3600};  // every recipient must confirm by then
  std::chrono::seconds follow_up{20LL * 24 * 3600};     // unconfirmed recipients are chased from then
  std::string later_messages = "reject";                // reject (409 case-erased) or accept
};

// The sandbox's court (docs/vendor-guide.md, The sandbox): a sandbox agency on whose behalf the hub
// sends, when a sandbox vendor asks (POST /v1/sandbox/court/{type}), a document about the vendor's
// own case, filled in from a template per message type.
struct Sandbox {
  std::string court_ori;                              // empty: no sandbox court
  std::map<std::string, std::filesystem::path> templates;  // message type -> template file
};

// The console in the browser (docs/operations.md, The console).
struct Console {
  std::chrono::seconds idle_timeout{900};  // a session ends after this long without a request
};

// The audit trail (CJIS AU-11: keep at least one year).
struct Audit {
  std::chrono::hours retention{24 * 400};
  std::chrono::milliseconds seal_interval{1000};  // new records are sealed onto the chain this often
  // The running hub checks the chain's most recent blocks this often (0: never; ops::AuditVerifier),
  // at most this many records a pass.
  std::chrono::seconds verify_interval{900};
  long long verify_records = 100000;
};

// Housekeeping of the hot tables (docs/operations.md, Retention).
struct Retention {
  std::chrono::hours payload_after{24 * 30};     // payloads nothing needs any more
  std::chrono::hours deliveries_after{24 * 90};  // finished deliveries (not erasure ledgers, not dead letters)
  std::chrono::minutes interval{60};
};

// Endpoint availability (docs/operations.md, The scorecard): idle endpoints are probed, what the
// dispatchers see is written per minute, and the scorecard is measured against the objective.
struct Watchers {
  std::chrono::seconds interval{300};       // an endpoint nothing was sent to for this long is probed
  std::chrono::seconds flush_interval{60};  // what the dispatcher saw is written this often
  double objective = 0.999;                 // availability objective (error budget: 1 - objective)
  std::chrono::hours keep_minutes{24 * 14};
  std::chrono::hours keep_hours{24 * 90};
  std::chrono::hours keep_days{24 * 800};
  std::chrono::hours keep_outages{24 * 800};
  // Silence: an agency whose accepted submissions averaged at least `silence_min_daily` a day over
  // the `silence_baseline_days` before the last `silence_after` has had nothing accepted since.
  int silence_baseline_days = 14;
  long long silence_min_daily = 10;
  std::chrono::hours silence_after{24};
  std::chrono::hours keep_submitter_days{24 * 800};
};

struct Workers {
  std::size_t io_threads = 0;  // 0 = one per core
};

struct MessageType {
  validation::MessageTypeSpec spec;  // name, root, schema files (absolute), namespaces, keys
  bool ack_required = false;
  // The document's origin ORI must be the authenticated sender's ORI (refused with 403
  // otherwise). Turn off only for exchanges whose origin field names someone else by design.
  bool origin_must_match_sender = true;
  // Keys with a fixed value instead of a path (`erasure: true` for a type that erases by its
  // nature, `ack_status: {value: completed}`).
  std::map<std::string, std::string> constants;
  // Keys whose document value is translated (`ack_status: {path: ..., map: {Success: completed}}`);
  // a value the map does not name is refused.
  std::map<std::string, std::map<std::string, std::string>> value_maps;
};

// The message types in force: loaded with the configuration, replaced whole on SIGHUP. A reader
// keeps the snapshot it took (find() shares ownership of it), so a reload never changes a type
// under a request that is being admitted.
class TypeTable {
 public:
  explicit TypeTable(std::vector<MessageType> types = {});
  std::shared_ptr<const MessageType> find(const std::string& name) const;
  std::shared_ptr<const std::vector<MessageType>> all() const;
  void replace(std::vector<MessageType> types);

 private:
  std::shared_ptr<const std::vector<MessageType>> types_;
};

struct Config {
  std::filesystem::path source;  // the file this came from
  Listener listener;
  HealthListener health_listener;
  Tls tls;
  Database database;
  Limits limits;
  Identity identity;
  Ingest ingest;
  Workers workers;
  Delivery delivery;
  Erasure erasure;
  Sandbox sandbox;
  Console console;
  Audit audit;
  Retention retention;
  Watchers watchers;
  log::Settings logging;
  std::vector<MessageType> message_types;  // as loaded from the file
  // The types in force (message_types until a reload replaces them); shared by copies.
  std::shared_ptr<TypeTable> types = std::make_shared<TypeTable>();

  // The type in force by name (null if none), from the current snapshot of `types`.
  std::shared_ptr<const MessageType> find_type(const std::string& name) const;
  std::vector<validation::MessageTypeSpec> type_specs() const;
};

// The routing keys a message type may name (all optional: without message_id a submission needs an
// Idempotency-Key header; without origin_ori the origin is the sending agency).
const std::vector<std::string>& known_keys();

// Parses and validates; relative paths resolve against the file's directory. `${VAR}` and
// `${VAR:-default}` in any value are replaced from the environment (so one file serves several
// sites, and passwords need not be written in it).
Config load(const std::filesystem::path& file);
Config parse(const std::string& yaml_text, const std::filesystem::path& base_dir);

}  // namespace cjhub::config
