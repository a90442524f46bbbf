#include "cjhub/store/database.hpp"

#include "store/connection_impl.hpp"
#include "store/translate.hpp"

#include <fmt/format.h>

#include <pqxx/except>
#include <pqxx/nontransaction>

#include "store/lanes.hpp"
#include "store/prepared.hpp"


namespace cjhub::store {

namespace sql {
namespace {

constexpr const char* kPing = "SELECT 1";
// Before a COMMIT whose success is promised to someone (a 202, a recorded acknowledgement): a
// COMMIT that waits for a synchronous standby and is cancelled by statement_timeout still returns
// success with only a warning, though the transaction may not have reached the standby.
constexpr const char* kNoTimeoutForCommit = "SET LOCAL statement_timeout = 0";

}  // namespace
}  // namespace sql

void Transaction::commit() {
  pqxx::work::commit();
  if (wake_) lanes::wake(conn());
}

void commit_durably(Transaction& tx) {
  tx.exec0(sql::kNoTimeoutForCommit);
  tx.commit();
}

ConnectionPtr connect(const std::string& url,
                                          std::chrono::milliseconds connect_timeout,
                                          std::chrono::milliseconds statement_timeout) {
  const auto seconds = std::max<long long>(1, (connect_timeout.count() + 999) / 1000);
  // libpq takes the first value of a repeated keyword in a key=value string; URIs take a query
  // parameter. Add connect_timeout only when the caller did not set one.
  std::string conninfo = url;
  if (conninfo.find("connect_timeout") == std::string::npos) {
    if (conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0) {
      conninfo += (conninfo.find('?') == std::string::npos ? "?" : "&");
      conninfo += fmt::format("connect_timeout={}", seconds);
    } else {
      conninfo += fmt::format(" connect_timeout={}", seconds);
    }
  }
  try {
    ConnectionPtr conn(new Connection(conninfo));
    if (statement_timeout.count() > 0) {
      conn->set_variable("statement_timeout", std::to_string(statement_timeout.count()));
    }
    prepare_statements(*conn);
    return conn;
  } catch (const pqxx::broken_connection& e) {
    throw DbUnavailable(e.what());
  }
}

void ConnectionDeleter::operator()(Connection* c) const noexcept { delete c; }

bool is_open(const Connection& c) noexcept { return c.is_open(); }

void ping(Connection& conn) {
  translate_errors([&] {
    pqxx::nontransaction tx(conn);
    tx.exec1(sql::kPing);
  });
}

bool is_connection_failure(const std::exception& e) noexcept {
  if (dynamic_cast<const DbUnavailable*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = s->sqlstate();
    return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
  }
  return false;
}

}  // namespace cjhub::store
