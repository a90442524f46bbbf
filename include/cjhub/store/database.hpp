// Connections and the store's error policy: database failures become typed exceptions.
//   DbUnavailable  - no connection, connection lost, server shutting down (HTTP 503, retry)
//   DbOutcomeUnknown - COMMIT was sent but its result is unknown (HTTP 503; a retry with the
//                     same idempotency key returns the stored result if it did commit)
//   DbRetryable    - the server rolled the transaction back (deadlock, serialization failure)
//   DbInvalidValue - a value of the right shape the server still cannot use (a 13th month)
//   anything else is a bug or a schema problem and is logged as an error.
// The translation happens once, inside the store (src/store/translate.hpp).
#pragma once

#include "cjhub/store/connection.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace cjhub::store {

struct DbUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct DbOutcomeUnknown : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The transaction was rolled back by the server (deadlock, serialization failure): nothing of it
// was committed, and running it again may succeed.
struct DbRetryable : std::runtime_error {
  DbRetryable(std::string sqlstate, const std::string& what) : std::runtime_error(what), state(std::move(sqlstate)) {}
  std::string state;  // 40P01 deadlock, 40001 serialization failure
};

// A parameter PostgreSQL refused as a value (SQLSTATE class 22: out of range, bad date): the
// caller's input, not the database, was wrong.
struct DbInvalidValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Opens a connection (connect_timeout applied) and prepares every named statement. A non-zero
// statement_timeout bounds every statement on it (no request waits on the database forever).
// Throws DbUnavailable when the server cannot be reached.
ConnectionPtr connect(const std::string& url, std::chrono::milliseconds connect_timeout,
                      std::chrono::milliseconds statement_timeout = {});

// One round trip (SELECT 1); throws DbUnavailable when the server does not answer.
void ping(Connection& conn);

// The PostgreSQL node a connection reaches and how it replicates, as /readyz shows it.
struct NodeInfo {
  std::string address;                  // host:port as the server sees it ("local socket" over one)
  bool standby = false;                 // in recovery: it refuses writes
  std::string synchronous_standby_names;  // empty: no commit waits for a standby
  std::string synchronous_commit;       // on, remote_apply, remote_write, local or off
  long long standbys = 0;               // standbys streaming from it (pg_stat_replication)
  long long synchronous_standbys = 0;   // of those, synchronous (-1: not visible to this role)
  // "synchronous" (a commit waits for a standby that is connected), "synchronous, no standby
  // connected" (commits wait until one is), "asynchronous" (standbys, but a commit does not wait
  // for them), "none" (no standby).
  std::string replication() const;
};
// One round trip; throws DbUnavailable when the server does not answer.
NodeInfo describe_node(Connection& conn);

// True for exceptions that mean "the database is not reachable right now".
bool is_connection_failure(const std::exception& e) noexcept;

}  // namespace cjhub::store
