// The one place libpqxx's failures become the store's error types (cjhub/store/database.hpp).
// Internal to the store: every repository function runs its statements through it.
#pragma once
#include <pqxx/except>

#include "cjhub/store/database.hpp"

namespace cjhub::store {

// The SQLSTATEs that mean "this connection no longer reaches a primary that can take the work":
// 08xxx connection failures; 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
// now; 25006 read-only transaction (the node was demoted to a standby under the connection, or
// the connection reached a standby). The caller drops the connection and reconnects, and with a
// multi-host URL (target_session_attrs=read-write) libpq finds the new primary.
inline bool connection_lost_state(const std::string& state) noexcept {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" || state == "25006";
}

// Runs `fn` and translates pqxx failures into DbUnavailable / DbOutcomeUnknown / DbRetryable /
// DbInvalidValue; other SQL errors are rethrown as they are (a bug or a schema problem).

template <class F>
auto translate_errors(F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::in_doubt_error& e) {
    throw DbOutcomeUnknown(e.what());
    // libpqxx 6 throws the rollbacks (SQLSTATE class 40) as classes of their own, not as
    // sql_error, and keeps no SQLSTATE in them: they are told apart by class.
  } catch (const pqxx::statement_completion_unknown& e) {
    throw DbOutcomeUnknown(e.what());
  } catch (const pqxx::deadlock_detected& e) {
    throw DbRetryable("40P01", e.what());
  } catch (const pqxx::serialization_failure& e) {
    throw DbRetryable("40001", e.what());
  } catch (const pqxx::broken_connection& e) {
    throw DbUnavailable(e.what());
  } catch (const pqxx::data_exception& e) {
    throw DbInvalidValue(e.what());
  } catch (const pqxx::sql_error& e) {
    if (connection_lost_state(e.sqlstate())) throw DbUnavailable(e.what());
    throw;
  }
}

}  // namespace cjhub::store
