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
// The node and its replication. sync_state is NULL for a role without pg_read_all_stats. Asked
// every second by each hub's readiness probe, and dearer to plan than to run.
constexpr const char* kDescribeNodeName = "describe_node";
constexpr const char* kDescribeNode =
    "SELECT coalesce(host(inet_server_addr()) || ':' || inet_server_port(), 'local socket'), pg_is_in_recovery(), "
    "current_setting('synchronous_standby_names'), current_setting('synchronous_commit'), "
    "(SELECT count(*) FROM pg_stat_replication), "
    "CASE WHEN EXISTS (SELECT 1 FROM pg_stat_replication WHERE sync_state IS NULL) THEN -1 "
    "ELSE (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')) END";
// Before a COMMIT whose success is promised to someone (a 202, a recorded acknowledgement): a
// COMMIT that waits for a synchronous standby and is cancelled by statement_timeout still returns
// success with only a warning, though the transaction may not have reached the standby.
constexpr const char* kNoTimeoutForCommit = "SET LOCAL statement_timeout = 0";
constexpr const char* kNoWaitForCommit = "SET LOCAL synchronous_commit = off";

}  // namespace
}  // namespace sql

void Transaction::commit() {
  pqxx::work::commit();
  lanes::settle(conn(), settle_);
  if (wake_) lanes::wake(conn());
}

void commit_durably(Transaction& tx) {
  tx.exec0(sql::kNoTimeoutForCommit);
  tx.commit();
}

void commit_without_waiting(Transaction& tx) {
  tx.exec0(sql::kNoWaitForCommit);
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

void prepare_database_statements(Connection& conn) { conn.prepare(sql::kDescribeNodeName, sql::kDescribeNode); }

void ping(Connection& conn) {
  translate_errors([&] {
    pqxx::nontransaction tx(conn);
    tx.exec1(sql::kPing);
  });
}

NodeInfo describe_node(Connection& conn) {
  return translate_errors([&] {
    pqxx::nontransaction tx(conn);
    const auto r = tx.exec_prepared1(sql::kDescribeNodeName);
    NodeInfo n;
    n.address = r[0].as<std::string>();
    n.standby = r[1].as<bool>();
    n.synchronous_standby_names = r[2].as<std::string>();
    n.synchronous_commit = r[3].as<std::string>();
    n.standbys = r[4].as<long long>();
    n.synchronous_standbys = r[5].as<long long>();
    return n;
  });
}

std::string NodeInfo::replication() const {
  const bool waits = !synchronous_standby_names.empty() && synchronous_commit != "local" && synchronous_commit != "off";
  if (waits) {
    if (synchronous_standbys > 0 || (synchronous_standbys < 0 && standbys > 0)) return "synchronous";
    return "synchronous, no standby connected";
  }
  return standbys > 0 ? "asynchronous" : "none";
}

bool is_connection_failure(const std::exception& e) noexcept {
  if (dynamic_cast<const DbUnavailable*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return connection_lost_state(s->sqlstate());
  }
  return false;
}

}  // namespace cjhub::store
