// Connections and the store's error policy: database failures become typed exceptions.
//   DbUnavailable  - no connection, connection lost, server shutting down (HTTP 503, retry)
//   DbOutcomeUnknown - COMMIT was sent but its result is unknown (HTTP 503; a retry with the
//                     same idempotency key returns the stored result if it did commit)
//   anything else from pqxx is a bug or a schema problem and is logged as an error.
#pragma once

#include <chrono>
#include <memory>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <stdexcept>
#include <string>

namespace cjhub::store {

// Commits with no statement timeout on the COMMIT itself: a synchronous-replication wait is never
// cut short into a success that did not reach the standby.
void commit_durably(pqxx::work& tx);

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

// Opens a connection (connect_timeout applied) and prepares every named statement. A non-zero
// statement_timeout bounds every statement on it (no request waits on the database forever).
// Throws DbUnavailable when the server cannot be reached.
std::unique_ptr<pqxx::connection> connect(const std::string& url,
                                          std::chrono::milliseconds connect_timeout,
                                          std::chrono::milliseconds statement_timeout = {});

// Runs `fn` and translates pqxx connection-level failures into DbUnavailable / DbOutcomeUnknown.
template <class F>
auto translate_errors(F&& fn) -> decltype(fn());

// One round trip (SELECT 1); throws DbUnavailable when the server does not answer.
void ping(pqxx::connection& conn);

// True for exceptions that mean "the database is not reachable right now".
bool is_connection_failure(const std::exception& e) noexcept;

}  // namespace cjhub::store

#include "cjhub/store/database_impl.hpp"
